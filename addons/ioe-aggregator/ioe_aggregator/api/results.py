"""Results through the API: a member's results now and over a period, and publishing everyone's."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import cast

from aiohttp import web

from ioe_aggregator.api.auth import require, require_member_access
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.keys import CONFIG, REGISTRY, RESULTS
from ioe_aggregator.protocol.codec import checked
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.results.member_energy import Period, PeriodKind, member_energy

routes = web.RouteTableDef()


@routes.get("/api/v1/members/{member}/results")
async def member_results(request: web.Request) -> web.Response:
    """Return a member's results computed now (read, or the member's own token)."""
    member_id = request.match_info["member"]
    require_member_access(request, member_id)
    snapshot = await request.app[RESULTS].compute()
    if member_id not in snapshot.results:
        raise Refused(Kind.NOT_FOUND, f"no active member {member_id!r}")
    return web.json_response(checked(snapshot.results[member_id]))


@routes.get("/api/v1/members/{member}/energy")
async def member_energy_of_period(request: web.Request) -> web.Response:
    """Return a member's consumption against their share over a local day, month or year.

    Read, or the member's own token: the figures their results already publish, over time.
    """
    member_id = request.match_info["member"]
    require_member_access(request, member_id)
    await request.app[REGISTRY].get(member_id)
    zone = request.app[CONFIG].results.zone
    now = datetime.now(UTC)
    # The document has checked both: a period it names, a real day.
    kind = cast(PeriodKind, request.query.get("period", "day"))
    day = date.fromisoformat(request.query["date"]) if "date" in request.query else None
    period = Period.containing(kind, day or now.astimezone(zone).date())
    shares = await request.app[RESULTS].engine.shares(period.hours(zone), now, member=member_id)
    # A year is 8,760 hours of pandas work: not on the event loop.
    figures = await asyncio.to_thread(member_energy, shares, member_id, period, zone)
    return web.json_response(figures)


@routes.post("/api/v1/results/publish")
async def publish_results(request: web.Request) -> web.Response:
    """Compute and publish every member's results and forecast, the community's state (manage).

    A replica that does not lead computes them and has the leader publish them.
    """
    require(request, Permission.MANAGE)
    snapshot, forecasts = await request.app[RESULTS].publish_everything()
    return web.json_response(
        {
            "computed_at": utc_text(snapshot.computed_at),
            "members": len(snapshot.results),
            "forecasts": len(forecasts.members),
            "state": checked(snapshot.state),
            "signal": checked(snapshot.signal),
        }
    )
