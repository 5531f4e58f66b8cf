"""``/api/v1/audit``: the audit log (admin)."""

from __future__ import annotations

from aiohttp import web

from ioe_aggregator import audit
from ioe_aggregator.api.auth import require
from ioe_aggregator.api.errors import ApiError
from ioe_aggregator.auth.tokens import Scope
from ioe_aggregator.keys import STORE

routes = web.RouteTableDef()


@routes.get("/api/v1/audit")
async def audit_log(request: web.Request) -> web.Response:
    """Return audit entries, oldest first (``limit``, default 1000)."""
    require(request, Scope.ADMIN)
    try:
        limit = int(request.query.get("limit", "1000"))
    except ValueError as err:
        raise ApiError(400, "invalid", "limit must be a whole number") from err
    entries = await audit.entries(request.app[STORE], limit=max(1, min(limit, 10000)))
    return web.json_response([entry.as_dict() for entry in entries])
