"""``/api/v1/community/kpis``: the community's totals, never one household's figures.

Public (and member) tokens get the figures only when at least ``MIN_CONTRIBUTORS`` members
sent data for the period: with fewer, a total could reveal a household's consumption. Admins
always get them.
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


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def kpis(totals: Totals) -> dict[str, Any]:
    """Return the figures of a period's totals (kWh, and self-sufficiency as a fraction)."""
    kwh = {quantity: round(totals.kwh.get(quantity, 0.0), 3) for quantity in QUANTITIES}
    consumption, imported = kwh["consumption_kwh"], kwh["import_kwh"]
    sufficiency = _ratio(consumption - imported, consumption)
    return {**kwh, "self_sufficiency": None if sufficiency is None else round(sufficiency, 4)}


@routes.get("/api/v1/community/kpis")
async def community_kpis(request: web.Request) -> web.Response:
    """Return the community's totals for a time range (any token; see the module's rule)."""
    token = require(request, Scope.PUBLIC, Scope.MEMBER, Scope.ADMIN)
    start, end = time_range(request)
    totals = await request.app[STORE].totals(start, end)
    suppressed = token.scope is not Scope.ADMIN and totals.members < MIN_CONTRIBUTORS
    figures = dict.fromkeys([*QUANTITIES, "self_sufficiency"]) if suppressed else kpis(totals)
    return web.json_response(
        {
            "start": utc_text(start),
            "end": utc_text(end),
            "members_contributing": totals.members,
            "suppressed": suppressed,
            **figures,
        }
    )
