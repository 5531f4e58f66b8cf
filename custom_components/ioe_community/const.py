"""Constants of the IoE Community integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "ioe_community"
LOGGER = logging.getLogger(__package__)

CONF_CUPS: Final = "cups"
