"""The distributor's data in the store: its source, its meter, its quantities and qualities.

The distributor measures each member at its supply point (CUPS) and bills with it. Its data is
kept apart from what the member's own meters send (``source``), on the ``grid`` meter, with the
quantities below.
"""

from __future__ import annotations

from typing import Final

# The store's source for the distributor's data, whether it came from Datadis or a CSV export:
# both are the distributor's reading of one meter, so a later copy replaces an earlier one.
SOURCE: Final = "distributor"
# The supply point's meter, as the distributor reads it.
METER: Final = "grid"
# Energy from the grid, to the grid (surplus), generation allocated to the member, and the part
# of it the member used at once (collective self-consumption).
IMPORT: Final = "import_kwh"
EXPORT: Final = "export_kwh"
GENERATION: Final = "generation_kwh"
SELF_CONSUMPTION: Final = "self_consumption_kwh"
# How the distributor got a value.
MEASURED: Final = "measured"
ESTIMATED: Final = "estimated"
