"""Who is calling: bearer tokens checked on every request, scopes, and failed-login limits.

Every ``/api/v1`` request needs ``Authorization: Bearer <token>``; the token is looked up each
time (a revoked or expired token fails at once). A valid token always passes; missing or bad
ones are counted by address (the user's, behind the ingress proxy) and for all addresses
together, and answered 429 with Retry-After once there were too many (see
``ioe_aggregator.auth.failed_logins``). Failures are audited and logged by the route's
pattern, never by the path as sent (a token pasted into a URL would end up in both). Each new
(token, address) pair is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import logging
import time

from aiohttp import hdrs, web

from ioe_aggregator import audit
from ioe_aggregator.api.errors import error
from ioe_aggregator.api.peers import client_address
from ioe_aggregator.auth import tokens
from ioe_aggregator.auth.failed_logins import FailedLogins, Failure
from ioe_aggregator.auth.tokens import Scope, Token
from ioe_aggregator.keys import STORE
from ioe_aggregator.refusals import Kind, Refused

_LOGGER = logging.getLogger(__name__)
PROTECTED_PREFIX = "/api/v1/"
NO_SUCH_PATH = "(no such path)"
TOKEN = web.RequestKey("token", Token)
FAILED_LOGINS = web.AppKey("failed_logins", FailedLogins)
SEEN_LOGINS = web.AppKey("seen_logins", set[tuple[str, str]])
# The (token, address) pairs whose first login is remembered; past it, logins are audited anew.
MAX_SEEN_LOGINS = 10_000

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route_of(request: web.Request) -> str:
    """Return the request's method and route pattern, as failures are logged and audited.

    ``GET /api/v1/members/{member}/readings``, never the path or query as sent; an unknown
    method or path is named as such.
    """
    method = request.method if request.method in hdrs.METH_ALL else "(other method)"
    resource = request.match_info.route.resource
    return f"{method} {NO_SUCH_PATH if resource is None else resource.canonical}"


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Check the bearer token of every /api/v1 request."""
    if not request.path.startswith(PROTECTED_PREFIX):
        return await handler(request)
    app = request.app
    address = client_address(request)
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    presented = presented.strip()
    token = None
    if scheme.lower() == "bearer" and presented:
        token = await tokens.authenticate(app[STORE], presented)
    if token is None:
        return _refuse(request, Failure(address, route_of(request), bool(presented)))
    seen = app[SEEN_LOGINS]
    if (token.id, address) not in seen:
        if len(seen) >= MAX_SEEN_LOGINS:
            seen.clear()
        seen.add((token.id, address))
        async with app[STORE].transaction() as tx:
            await audit.record(tx, token.actor, audit.Action.LOGIN, token.id, {"address": address})
    request[TOKEN] = token
    return await handler(request)


def _refuse(request: web.Request, failure: Failure) -> web.Response:
    wait = request.app[FAILED_LOGINS].failed(
        failure, now=time.monotonic(), at_us=time.time_ns() // 1000
    )
    if wait:
        return error(
            429,
            "too_many_failures",
            "too many failed logins; try again later",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    _LOGGER.warning("Refused %s from %s: no valid token", failure.route, failure.address)
    return error(
        401,
        "unauthorized",
        "a valid API token is required",
        headers={"WWW-Authenticate": 'Bearer realm="ioe-aggregator"'},
    )


async def write_failed_logins(app: web.Application) -> None:
    """Write the counted failed logins to the audit log now and then (a supervised task)."""
    await app[FAILED_LOGINS].write_periodically(app[STORE])


def require(request: web.Request, *scopes: Scope) -> Token:
    """Return the caller's token; answer 403 unless it has one of the scopes."""
    token = request[TOKEN]
    if token.scope not in scopes:
        raise Refused(Kind.FORBIDDEN, f"this needs a token of scope {' or '.join(scopes)}")
    return token


def require_member(request: web.Request) -> str:
    """Return the member a member token speaks for; answer 403 for any other token."""
    token = require(request, Scope.MEMBER)
    if token.member is None:
        raise Refused(Kind.FORBIDDEN, "this token belongs to no member")
    return token.member


def require_member_access(request: web.Request, member_id: str) -> Token:
    """Return the caller's token; answer 403 unless it is an admin or that member's own."""
    token = require(request, Scope.ADMIN, Scope.MEMBER)
    if token.scope is Scope.MEMBER and token.member != member_id:
        raise Refused(Kind.FORBIDDEN, "a member token reaches only its own member's data")
    return token
