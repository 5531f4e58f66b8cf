"""Who is calling: bearer tokens checked on every request, scopes, and failed-login limits.

Every ``/api/v1`` request needs ``Authorization: Bearer <token>``; the token is looked up each
time (a revoked token fails at once). An address that fails ``MAX_FAILURES`` times within
``WINDOW_S`` is refused (429) for ``LOCKOUT_S``, whatever it presents. Failures and each new
(token, address) pair are written to the audit log.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
import logging
import time

from aiohttp import web

from ioe_aggregator import audit
from ioe_aggregator.api.errors import ApiError, error
from ioe_aggregator.auth import tokens
from ioe_aggregator.auth.tokens import Scope, Token
from ioe_aggregator.keys import STORE

_LOGGER = logging.getLogger(__name__)
MAX_FAILURES = 5
WINDOW_S = 60.0
LOCKOUT_S = 300.0
PROTECTED_PREFIX = "/api/v1/"
TOKEN = web.RequestKey("token", Token)

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FailedLogins:
    """Failed attempts by address, and the addresses locked out."""

    def __init__(self) -> None:
        """Start with no failures."""
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def locked(self, address: str, now: float) -> float:
        """Return the seconds an address stays locked out (0 when it is not)."""
        return max(0.0, self._locked_until.get(address, 0.0) - now)

    def failed(self, address: str, now: float) -> None:
        """Count a failure; lock the address out when it has failed too often."""
        recent = self._failures.setdefault(address, deque())
        recent.append(now)
        while recent and recent[0] < now - WINDOW_S:
            recent.popleft()
        if len(recent) >= MAX_FAILURES:
            self._locked_until[address] = now + LOCKOUT_S
            recent.clear()
            _LOGGER.warning(
                "Too many failed logins from %s: refused for %.0f s", address, LOCKOUT_S
            )


FAILED_LOGINS = web.AppKey("failed_logins", FailedLogins)
SEEN_LOGINS = web.AppKey("seen_logins", set[tuple[str, str]])


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Check the bearer token of every /api/v1 request."""
    if not request.path.startswith(PROTECTED_PREFIX):
        return await handler(request)
    app = request.app
    address = request.remote or "unknown"
    now = time.monotonic()
    if wait := app[FAILED_LOGINS].locked(address, now):
        return error(
            429,
            "too_many_failures",
            "too many failed logins; try again later",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    token = None
    if scheme.lower() == "bearer" and presented:
        token = await tokens.authenticate(app[STORE], presented.strip())
    if token is None:
        app[FAILED_LOGINS].failed(address, now)
        async with app[STORE].transaction() as tx:
            await audit.record(
                tx,
                f"address:{address}",
                audit.Action.LOGIN_FAILED,
                request.path,
                {"method": request.method, "token_given": bool(presented)},
            )
        _LOGGER.warning(
            "Refused %s %s from %s: no valid token", request.method, request.path, address
        )
        return error(
            401,
            "unauthorized",
            "a valid API token is required",
            headers={"WWW-Authenticate": 'Bearer realm="ioe-aggregator"'},
        )
    if (token.id, address) not in app[SEEN_LOGINS]:
        app[SEEN_LOGINS].add((token.id, address))
        async with app[STORE].transaction() as tx:
            await audit.record(tx, token.actor, audit.Action.LOGIN, token.id, {"address": address})
    request[TOKEN] = token
    return await handler(request)


def require(request: web.Request, *scopes: Scope) -> Token:
    """Return the caller's token; answer 403 unless it has one of the scopes."""
    token = request[TOKEN]
    if token.scope not in scopes:
        raise ApiError(403, "forbidden", f"this needs a token of scope {' or '.join(scopes)}")
    return token


def require_member(request: web.Request) -> str:
    """Return the member a member token speaks for; answer 403 for any other token."""
    token = require(request, Scope.MEMBER)
    if token.member is None:
        raise ApiError(403, "forbidden", "this token belongs to no member")
    return token.member


def require_member_access(request: web.Request, member_id: str) -> Token:
    """Return the caller's token; answer 403 unless it is an admin or that member's own."""
    token = require(request, Scope.ADMIN, Scope.MEMBER)
    if token.scope is Scope.MEMBER and token.member != member_id:
        raise ApiError(403, "forbidden", "a member token reaches only its own member's data")
    return token
