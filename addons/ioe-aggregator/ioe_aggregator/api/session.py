"""``/api/v1/session``: who the control centre is talking to, and what they may do.

This is the token part of the session endpoint: a caller with an admin bearer token is the
community's admin (every permission); member and public tokens never reach the control centre
(403). Users who come through Home Assistant's ingress, cookie sessions with their sign-in and
sign-out, and CSRF values extend this module; until then ``csrf`` is always null (a bearer
token is not sent by a browser on its own, so it needs none).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ioe_aggregator.api.auth import require
from ioe_aggregator.auth.tokens import Scope, Token
from ioe_aggregator.keys import CONFIG

routes = web.RouteTableDef()

# What each role may do, in the order the control centre checks them.
PERMISSIONS = {
    "admin": ("read", "manage", "administer"),
    "operator": ("read", "manage"),
    "viewer": ("read",),
}


def _token_session(request: web.Request, token: Token) -> dict[str, Any]:
    config = request.app[CONFIG]
    return {
        "user": {"id": f"token:{token.id}", "name": token.label, "role": "admin", "via": "token"},
        "permissions": list(PERMISSIONS["admin"]),
        "csrf": None,
        "community": {"id": config.community_id, "name": config.results.community_name},
        # A token carries no one's language: the browser's decides.
        "language": None,
    }


@routes.get("/api/v1/session")
async def show_session(request: web.Request) -> web.Response:
    """Return the caller, their role and permissions, and the community (admin token)."""
    token = require(request, Scope.ADMIN)
    return web.json_response(_token_session(request, token))
