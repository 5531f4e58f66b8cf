"""``/api/v1/tokens``: admin and public tokens for other systems (admin)."""

from __future__ import annotations

from aiohttp import web

from ioe_aggregator.api.auth import require
from ioe_aggregator.api.errors import ApiError
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.auth import tokens
from ioe_aggregator.auth.tokens import Scope
from ioe_aggregator.keys import STORE

routes = web.RouteTableDef()


@routes.get("/api/v1/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    """List every token, never its secret (admin)."""
    require(request, Scope.ADMIN)
    return web.json_response(
        [token.as_dict() for token in await tokens.all_tokens(request.app[STORE])]
    )


@routes.post("/api/v1/tokens")
async def add_token(request: web.Request) -> web.Response:
    """Create an admin or public token; the answer holds it, shown only this once (admin)."""
    caller = require(request, Scope.ADMIN)
    body = await json_body(request)
    scope, label = body.get("scope"), body.get("label")
    if scope not in (Scope.ADMIN, Scope.PUBLIC):
        raise ApiError(
            400, "invalid", "scope: expected admin or public (members get theirs when added)"
        )
    if not isinstance(label, str) or not label.strip():
        raise ApiError(400, "invalid", "label: say who or what uses the token")
    async with request.app[STORE].transaction() as tx:
        token, presented = await tokens.issue(
            tx, scope=Scope(scope), label=label.strip(), actor=caller.actor
        )
    return web.json_response({**token.as_dict(), "token": presented}, status=201)


@routes.post("/api/v1/tokens/{token}/revoke")
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke a token at once (admin)."""
    caller = require(request, Scope.ADMIN)
    token_id = request.match_info["token"]
    async with request.app[STORE].transaction() as tx:
        revoked = await tokens.revoke(tx, token_id, actor=caller.actor)
    if not revoked:
        raise ApiError(404, "not_found", f"no active token {token_id!r}")
    return web.json_response({"id": token_id, "revoked": True})
