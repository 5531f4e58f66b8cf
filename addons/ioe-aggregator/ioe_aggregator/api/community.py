"""``/api/v1/community/kpis``: the community's totals, never one household's figures.

Each figure is the total of one measure of the protocol (``FIGURES``: a meter and a quantity),
so that nothing is counted twice: a home's consumption already holds its car's charging, and
its own panels are not the community's plant (only registered plants count as the community's
generation).

Public (and member) tokens get a figure only when at least ``MIN_CONTRIBUTORS`` members sent
its measure in every quarter hour of the period that has any: a total of one is one home's
meter, and two totals over overlapping periods differ by the quarters between them, so each
interval must hide its households on its own. Each measure is counted on its own, since one
home may be the only one to send, say, its export; a figure computed from a withheld one
(grid independence) is withheld with it. Callers who may read the members' figures
(viewers, operators, admins) get every figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from ioe_aggregator.api.auth import caller_of
from ioe_aggregator.api.requests import time_range
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.keys import STORE
from ioe_aggregator.protocol.codec import (
    BATTERY_CHARGE,
    BATTERY_DISCHARGE,
    COMMUNITY_PLANT,
    EV_CHARGING,
    HOME_CONSUMPTION,
    ROOFTOP_PV,
    SUPPLY_EXPORT,
    SUPPLY_IMPORT,
    Measure,
)
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.store import Totals

routes = web.RouteTableDef()
MIN_CONTRIBUTORS = 5
# Each figure, and the measure it totals (docs/protocol.md, "Community figures").
FIGURES: Final[Mapping[str, Measure]] = {
    "consumption_kwh": HOME_CONSUMPTION,
    "generation_kwh": COMMUNITY_PLANT,
    "import_kwh": SUPPLY_IMPORT,
    "export_kwh": SUPPLY_EXPORT,
    "rooftop_generation_kwh": ROOFTOP_PV,
    "ev_charging_kwh": EV_CHARGING,
    "battery_charge_kwh": BATTERY_CHARGE,
    "battery_discharge_kwh": BATTERY_DISCHARGE,
}
# The share of the homes' consumption not taken from the grid, and what it is computed from.
GRID_INDEPENDENCE = "grid_independence"
INDEPENDENCE_INPUTS = ("consumption_kwh", "import_kwh")


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def kpis(totals: Totals) -> dict[str, Any]:
    """Return the figures of a period's totals (kWh, and grid independence as a fraction)."""
    kwh = {name: round(totals.kwh.get(measure, 0.0), 3) for name, measure in FIGURES.items()}
    consumption, imported = kwh["consumption_kwh"], kwh["import_kwh"]
    independence = _ratio(consumption - imported, consumption)
    return {
        **kwh,
        GRID_INDEPENDENCE: None if independence is None else round(independence, 4),
    }


def withheld(totals: Totals) -> list[str]:
    """Return the figures too few members contributed to (withheld from public and members)."""
    hidden = [name for name, measure in FIGURES.items() if totals.sparse.get(measure, 0) > 0]
    if any(name in hidden for name in INDEPENDENCE_INPUTS):
        hidden.append(GRID_INDEPENDENCE)
    return hidden


@routes.get("/api/v1/community/kpis")
async def community_kpis(request: web.Request) -> web.Response:
    """Return the community's totals for a time range (any caller; see the module's rule)."""
    caller = caller_of(request)
    start, end = time_range(request)
    reads_all = caller.can(Permission.READ)
    totals = await request.app[STORE].totals(
        start, end, min_contributors=None if reads_all else MIN_CONTRIBUTORS
    )
    figures = kpis(totals)
    hidden = [] if reads_all else withheld(totals)
    figures.update(dict.fromkeys(hidden))
    return web.json_response(
        {
            "start": utc_text(start),
            "end": utc_text(end),
            "members_contributing": totals.members,
            "contributors": {
                name: totals.contributors.get(measure, 0) for name, measure in FIGURES.items()
            },
            "suppressed": bool(hidden),
            "withheld": hidden,
            **figures,
        }
    )
