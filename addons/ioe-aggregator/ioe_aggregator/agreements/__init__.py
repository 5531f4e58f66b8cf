"""Sharing agreements: which β hold on which days, as the CLI and API record them.

An agreement is either static (one β per member) or hourly (one β per member and elapsed
local hour of one year, as in the distributor's coefficient file), and holds from its first
day to its last (inclusive; open-ended until another one starts). ``model.py`` is the
agreement, ``shares.py`` its β, ``book.py`` the agreements on record.
"""

from ioe_aggregator.agreements.book import Agreements
from ioe_aggregator.agreements.model import Agreement
from ioe_aggregator.agreements.shares import (
    REGISTRY_SCHEMES,
    Shares,
    check_file,
    file_content,
    shares_from_coefficients,
    shares_from_comparison,
    shares_from_file,
    shares_from_scheme,
)

__all__ = [
    "REGISTRY_SCHEMES",
    "Agreement",
    "Agreements",
    "Shares",
    "check_file",
    "file_content",
    "shares_from_coefficients",
    "shares_from_comparison",
    "shares_from_file",
    "shares_from_scheme",
]
