"""Run the aggregator's command line: ``python -m ioe_aggregator``."""

import sys

from ioe_aggregator.cli import main

sys.exit(main())
