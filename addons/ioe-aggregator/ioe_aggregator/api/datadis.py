"""``/api/v1/datadis``: how the Datadis sync goes (read), and a sync started now (manage)."""

from __future__ import annotations

from aiohttp import web

from ioe_aggregator import audit
from ioe_aggregator.api.auth import require
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.datadis.status import datadis_status
from ioe_aggregator.keys import CONFIG, DATADIS_RUNS, STORE
from ioe_aggregator.refusals import Kind, Refused

routes = web.RouteTableDef()


@routes.get("/api/v1/datadis")
async def status(request: web.Request) -> web.Response:
    """Return the account's last login, each member's sync and the service's syncs (read)."""
    require(request, Permission.READ)
    runs = request.app[DATADIS_RUNS]
    # The runs before the store: a sync that finishes while the store is read is then reported
    # as running, never as finished beside the members' statuses from before its end.
    running, last = runs.current, runs.last
    found = await datadis_status(request.app[STORE], request.app[CONFIG])
    return web.json_response(
        {
            **found,
            "running": None if running is None else running.as_dict(),
            "last_sync": None if last is None else last.as_dict(),
        }
    )


@routes.post("/api/v1/datadis/sync")
async def sync_now(request: web.Request) -> web.Response:
    """Start a sync of every linked member now, in the background (manage)."""
    caller = require(request, Permission.MANAGE)
    if request.app[CONFIG].datadis is None:
        raise Refused(
            Kind.CONFLICT,
            "Datadis is not configured: set datadis_username and datadis_password",
            code="datadis_not_configured",
        )
    run = request.app[DATADIS_RUNS].ask()
    async with request.app[STORE].transaction() as tx:
        await audit.record(tx, caller.actor, audit.Action.DATADIS_SYNC, "datadis")
    return web.json_response(run.as_dict(), status=202)
