"""``/api/v1/tokens``: tokens for other systems, with a role or public (administer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ioe_aggregator.api.auth import require
from ioe_aggregator.api.formats import moment
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.auth import tokens
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.auth.tokens import Scope
from ioe_aggregator.keys import STORE
from ioe_aggregator.refusals import Kind, Refused

routes = web.RouteTableDef()


@routes.get("/api/v1/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    """List every token, never its secret (administer)."""
    require(request, Permission.ADMINISTER)
    return web.json_response(
        [token.as_dict() for token in await tokens.all_tokens(request.app[STORE])]
    )


def _expiry(body: dict[str, Any]) -> datetime | None:
    """Return when a new token expires: ``expires`` or ``expires_in_days`` (None: never)."""
    if (days := body.get("expires_in_days")) is not None:
        return tokens.expiry_in_days(int(days))
    if (expires := body.get("expires")) is None:
        return None
    try:
        return moment(expires).astimezone(UTC)
    except OverflowError as err:
        raise Refused(Kind.INVALID, f"expires: {expires!r} is out of range") from err


@routes.post("/api/v1/tokens")
async def add_token(request: web.Request) -> web.Response:
    """Create a token with a role or public; the answer holds it, shown only this once."""
    caller = require(request, Permission.ADMINISTER)
    body = await json_body(request)
    expires = _expiry(body)
    async with request.app[STORE].transaction() as tx:
        token, presented = await tokens.issue(
            tx,
            scope=Scope(body["scope"]),
            label=body["label"].strip(),
            actor=caller.actor,
            expires=expires,
        )
    return web.json_response({**token.as_dict(), "token": presented}, status=201)


@routes.post("/api/v1/tokens/{token}/revoke")
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke a token at once; never the last active admin token (409) (administer)."""
    caller = require(request, Permission.ADMINISTER)
    token_id = request.match_info["token"]
    async with request.app[STORE].transaction() as tx:
        revoked = await tokens.revoke(tx, token_id, actor=caller.actor)
    if not revoked:
        raise Refused(Kind.NOT_FOUND, f"no active token {token_id!r}")
    return web.json_response({"id": token_id, "revoked": True})
