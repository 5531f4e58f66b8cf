"""``/api/v1/completeness``: the members' data per local day, for the control centre's heat-map."""

from __future__ import annotations

from aiohttp import web

from ioe_aggregator.api.auth import require
from ioe_aggregator.api.requests import day_range
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.history.completeness import completeness
from ioe_aggregator.keys import CONFIG, REGISTRY, STORE

routes = web.RouteTableDef()


@routes.get("/api/v1/completeness")
async def member_days(request: web.Request) -> web.Response:
    """Return every member's (or one's) share of quarter hours present per day and source (read)."""
    require(request, Permission.READ)
    first, last = day_range(request)
    timezone = request.app[CONFIG].results.timezone
    registry = request.app[REGISTRY]
    if (only := request.query.get("member")) is not None:
        members = [(await registry.get(only)).id]
    else:
        members = [member.id for member in await registry.members()]
    found = await completeness(request.app[STORE], members, first, last)
    return web.json_response(
        {"from": first.isoformat(), "to": last.isoformat(), "timezone": timezone, **found.as_dict()}
    )
