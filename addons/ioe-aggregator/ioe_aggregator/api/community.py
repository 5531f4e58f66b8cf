"""``/api/v1/community/kpis``: the community's totals, never one household's figures.

Public (and member) tokens get a quantity's total only when at least ``MIN_CONTRIBUTORS``
members sent that quantity in every quarter hour of the period that has any: a total of one is
one home's meter, and two totals over overlapping periods differ by the quarters between them,
so each interval must hide its households on its own. Each quantity is counted on its own,
since one home may be the only one to send, say, its export; a figure computed from a withheld
one (self-sufficiency) is withheld with it. Admins always get every figure.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ioe_aggregator.api.auth import require
from ioe_aggregator.api.requests import time_range
from ioe_aggregator.auth.tokens import Scope
from ioe_aggregator.keys import STORE
from ioe_aggregator.protocol import utc_text
from ioe_aggregator.store import Totals

routes = web.RouteTableDef()
MIN_CONTRIBUTORS = 5
QUANTITIES = ("consumption_kwh", "generation_kwh", "import_kwh", "export_kwh")
# What self-sufficiency is computed from.
SUFFICIENCY_INPUTS = ("consumption_kwh", "import_kwh")


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def kpis(totals: Totals) -> dict[str, Any]:
    """Return the figures of a period's totals (kWh, and self-sufficiency as a fraction)."""
    kwh = {quantity: round(totals.kwh.get(quantity, 0.0), 3) for quantity in QUANTITIES}
    consumption, imported = kwh["consumption_kwh"], kwh["import_kwh"]
    sufficiency = _ratio(consumption - imported, consumption)
    return {**kwh, "self_sufficiency": None if sufficiency is None else round(sufficiency, 4)}


def withheld(totals: Totals) -> list[str]:
    """Return the figures too few members contributed to for anyone but an admin."""
    hidden = [q for q in QUANTITIES if totals.sparse.get(q, 0) > 0]
    if any(q in hidden for q in SUFFICIENCY_INPUTS):
        hidden.append("self_sufficiency")
    return hidden


@routes.get("/api/v1/community/kpis")
async def community_kpis(request: web.Request) -> web.Response:
    """Return the community's totals for a time range (any token; see the module's rule)."""
    token = require(request, Scope.PUBLIC, Scope.MEMBER, Scope.ADMIN)
    start, end = time_range(request)
    totals = await request.app[STORE].totals(start, end, min_contributors=MIN_CONTRIBUTORS)
    figures = kpis(totals)
    hidden = [] if token.scope is Scope.ADMIN else withheld(totals)
    figures.update(dict.fromkeys(hidden))
    return web.json_response(
        {
            "start": utc_text(start),
            "end": utc_text(end),
            "members_contributing": totals.members,
            "contributors": {q: totals.contributors.get(q, 0) for q in QUANTITIES},
            "suppressed": bool(hidden),
            "withheld": hidden,
            **figures,
        }
    )
