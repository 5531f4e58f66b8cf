"""A member's months in €, and all their data to download (read, or the member themselves).

Every download is audited, as the readings' export is: who took whose data, and how much.
"""

from __future__ import annotations

from datetime import UTC, datetime
import json

from aiohttp import web

from ioe_aggregator import audit
from ioe_aggregator.api.auth import require_member_access
from ioe_aggregator.auth.roles import Caller
from ioe_aggregator.keys import AGREEMENTS, CONFIG, REGISTRY, RESULTS, STORE
from ioe_aggregator.members import data

routes = web.RouteTableDef()


@routes.get("/api/v1/members/{member}/months")
async def member_months(request: web.Request) -> web.Response:
    """Return a member's energy and savings per local month of a year (default: this one)."""
    member_id = request.match_info["member"]
    require_member_access(request, member_id)
    await request.app[REGISTRY].get(member_id)
    config = request.app[CONFIG]
    now = datetime.now(UTC)
    year = int(request.query.get("year", now.astimezone(config.results.zone).year))
    engine = request.app[RESULTS].engine
    found = await data.months(request.app[STORE], engine, config, member_id, year=year, now=now)
    return web.json_response(found)


async def _everything(request: web.Request, kind: str) -> tuple[str, dict[str, object]]:
    """Return the member's id and all their data, auditing who took it and as what."""
    member_id = request.match_info["member"]
    caller: Caller = require_member_access(request, member_id)
    app = request.app
    now = datetime.now(UTC)
    found = await data.member_data(
        store=app[STORE],
        engine=app[RESULTS].engine,
        agreements=app[AGREEMENTS],
        config=app[CONFIG],
        member=await app[REGISTRY].get(member_id),
        now=now,
    )
    async with app[STORE].transaction() as tx:
        await audit.record(
            tx,
            caller.actor,
            audit.Action.EXPORT,
            member_id,
            {"kind": kind, "hours": len(found["hourly"])},
        )
    return member_id, found


def _attachment(member_id: str, extension: str) -> dict[str, str]:
    name = f"{member_id}_{datetime.now(UTC):%Y%m%d}_data.{extension}"
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@routes.get("/api/v1/members/{member}/data.json")
async def member_data_json(request: web.Request) -> web.Response:
    """Return everything kept about a member as one JSON document (access and portability)."""
    member_id, found = await _everything(request, "json")
    return web.Response(
        text=json.dumps(found, ensure_ascii=False, indent=1),
        content_type="application/json",
        charset="utf-8",
        headers=_attachment(member_id, "json"),
    )


@routes.get("/api/v1/members/{member}/data.csv")
async def member_data_csv(request: web.Request) -> web.Response:
    """Return a member's hours (consumption, share, coefficient, source) as CSV."""
    member_id, found = await _everything(request, "csv")
    return web.Response(
        text=data.hourly_csv(found),
        content_type="text/csv",
        charset="utf-8",
        headers=_attachment(member_id, "csv"),
    )
