"""``/api/v1/audit``: the audit log, newest first, a page at a time (administer)."""

from __future__ import annotations

from aiohttp import web

from ioe_aggregator import audit
from ioe_aggregator.api.auth import FAILED_LOGINS, require
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.keys import STORE

routes = web.RouteTableDef()


@routes.get("/api/v1/audit")
async def audit_log(request: web.Request) -> web.Response:
    """Return ``{"entries": [...], "next": cursor}``: ``limit`` entries older than ``before``.

    Failed logins counted in memory are written first, so that the page is up to date.
    """
    require(request, Permission.ADMINISTER)
    limit = int(request.query.get("limit", audit.DEFAULT_PAGE))
    store = request.app[STORE]
    await request.app[FAILED_LOGINS].write(store)
    page = await audit.page(store, limit=limit, before=request.query.get("before"))
    return web.json_response(page.as_dict())
