"""Who is calling: a token, a Home Assistant user through ingress, or a signed-in browser.

Every ``/api/v1`` request but signing in is identified, in this order, by
- ``Authorization: Bearer <token>``: looked up each time (a revoked or expired token fails at
  once);
- the Home Assistant user the Supervisor's ingress proxy names (``X-Remote-User-Id``,
  ``X-Remote-User-Name``, ``X-Remote-User-Display-Name``), believed only on a request that
  came from the proxy's own address (``peers.through_ingress``); from anywhere else the headers
  count for nothing, and are logged;
- the session cookie of a browser signed in with a password (``auth.sessions``);
- the cookie of a member's portal session (``auth.portal``); the portal's page says so with
  ``X-IoE-Portal``, and its calls then count as the portal's whatever other cookie the
  browser holds. A portal session reaches only ``PORTAL_ROUTES``, each of them its own
  member's: never the control centre, never sending readings.
A change (any method but GET, HEAD and OPTIONS) made through ingress or a session also needs
the caller's CSRF token. What the caller may then do is their role's (``auth.roles``), checked
by each route with ``require``.

Missing or bad tokens are counted by address (the user's, behind the ingress proxy) and for
all addresses together, and answered 429 with Retry-After once there were too many (see
``ioe_aggregator.auth.failed_logins``). Failures are audited and logged by the route's
pattern, never by the path as sent (a token pasted into a URL would end up in both). Each new
(caller, address) pair is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import logging
import time

from aiohttp import hdrs, web

from ioe_aggregator import audit
from ioe_aggregator.api.errors import error
from ioe_aggregator.api.peers import client_address, through_ingress
from ioe_aggregator.auth import portal, sessions, tokens, users
from ioe_aggregator.auth.failed_logins import FailedLogins, Failure
from ioe_aggregator.auth.roles import Caller, Permission, Via
from ioe_aggregator.keys import STORE
from ioe_aggregator.refusals import Kind, Refused

_LOGGER = logging.getLogger(__name__)
PROTECTED_PREFIX = "/api/v1/"
NO_SUCH_PATH = "(no such path)"
# Signing in is the one request that comes with no credentials yet (with a password, or to
# the portal with an access link or code).
SIGN_IN = ("POST", "/api/v1/session")
PORTAL_SIGN_IN = ("POST", "/api/v1/portal/session")
# What a portal session may reach: the member's own figures and data (the routes check the
# member in the path), the community's aggregates (the >= 5 members rule applies), itself.
PORTAL_ROUTES = frozenset(
    {
        "GET /api/v1/portal/session",
        "DELETE /api/v1/portal/session",
        "GET /api/v1/members/{member}",
        "GET /api/v1/members/{member}/results",
        "GET /api/v1/members/{member}/energy",
        "GET /api/v1/members/{member}/months",
        "GET /api/v1/members/{member}/readings",
        "GET /api/v1/members/{member}/export.csv",
        "GET /api/v1/members/{member}/data.json",
        "GET /api/v1/members/{member}/data.csv",
        "GET /api/v1/community/kpis",
    }
)
WHO_AM_I = ("GET", "/api/v1/session")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HA_USER_ID = "X-Remote-User-Id"
HA_USER_NAME = "X-Remote-User-Name"
HA_USER_DISPLAY_NAME = "X-Remote-User-Display-Name"
CALLER = web.RequestKey("caller", Caller)
# What the caller's CSRF token is bound to (None: a token, which needs none).
CSRF_BINDING = web.RequestKey("csrf_binding", str)
PORTAL_SESSION = web.RequestKey("portal_session", portal.PortalSession)
FAILED_LOGINS = web.AppKey("failed_logins", FailedLogins)
SEEN_LOGINS = web.AppKey("seen_logins", set[tuple[str, str]])
CSRF_KEY = web.AppKey("csrf_key", str)
# The (caller, address) pairs whose first login is remembered; past it, logins are audited anew.
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
    """Identify the caller of every /api/v1 request, and check the CSRF token of changes."""
    if not request.path.startswith(PROTECTED_PREFIX) or (request.method, request.path) in (
        SIGN_IN,
        PORTAL_SIGN_IN,
    ):
        return await handler(request)
    app = request.app
    address = client_address(request)
    if HA_USER_ID in request.headers and not through_ingress(request):
        _LOGGER.warning(
            "Ignored the Home Assistant user headers of a request from %s: only the ingress "
            "proxy may name a user",
            request.remote,
        )
    caller = await _identify(request, address)
    if isinstance(caller, web.Response):
        return caller
    if caller.via is Via.PORTAL and route_of(request) not in PORTAL_ROUTES:
        _LOGGER.warning(
            "Refused %s from %s (%s): not a route of the portal",
            route_of(request),
            address,
            caller.actor,
        )
        return error(403, "portal_only", "a member's portal reaches only its own member's data")
    if (binding := request.get(CSRF_BINDING)) is not None and request.method not in SAFE_METHODS:
        presented_csrf = request.headers.get(sessions.CSRF_HEADER, "")
        if not sessions.csrf_matches(app[CSRF_KEY], binding, presented_csrf):
            _LOGGER.warning(
                "Refused %s from %s (%s): no valid CSRF token",
                route_of(request),
                address,
                caller.actor,
            )
            return error(403, "csrf", "this change lacks the page's CSRF token; reload the page")
    await audit_first_login(request, caller, address)
    request[CALLER] = caller
    return await handler(request)


async def _identify(request: web.Request, address: str) -> Caller | web.Response:
    """Return who is calling, or the answer that refuses them."""
    if hdrs.AUTHORIZATION in request.headers:
        return await _token_caller(request, address)
    if portal.HEADER in request.headers:
        return await _portal_caller(request, request.cookies.get(portal.COOKIE))
    if through_ingress(request) and (ha_user := request.headers.get(HA_USER_ID, "").strip()):
        return await _ingress_caller(request, ha_user)
    if (caller := await _cookie_caller(request)) is not None:
        return caller
    if (request.method, request.path) == WHO_AM_I:
        # The control centre's first question, before anyone signed in: not a failed login
        # (counted, a few page loads would lock its manager out).
        return error(401, "unauthorized", "nobody is signed in")
    return _refuse(request, Failure(address, route_of(request), token_given=False))


async def _token_caller(request: web.Request, address: str) -> Caller | web.Response:
    scheme, _, presented = request.headers[hdrs.AUTHORIZATION].partition(" ")
    presented = presented.strip()
    token = None
    if scheme.lower() == "bearer" and presented:
        token = await tokens.authenticate(request.app[STORE], presented)
    if token is None:
        return _refuse(request, Failure(address, route_of(request), bool(presented)))
    return token.caller


async def _ingress_caller(request: web.Request, ha_user: str) -> Caller:
    headers = request.headers
    name = headers.get(HA_USER_DISPLAY_NAME) or headers.get(HA_USER_NAME) or ""
    user = await users.ingress_user(request.app[STORE], ha_user, name)
    if user.disabled is not None:
        raise Refused(Kind.FORBIDDEN, "this user is disabled", code="user_disabled")
    request[CSRF_BINDING] = f"ingress:{user.id}"
    return user.caller(Via.INGRESS)


async def _session_caller(request: web.Request, cookie: str) -> Caller | web.Response:
    session = await sessions.find(request.app[STORE], cookie)
    if session is None:
        response = error(401, "session_expired", "the session has ended; sign in again")
        response.del_cookie(sessions.COOKIE)
        return response
    request[CSRF_BINDING] = session.binding
    return session.user.caller(Via.SESSION)


async def _cookie_caller(request: web.Request) -> Caller | web.Response | None:
    """Return the caller a cookie names: a control centre session first, then a portal's.

    A portal's without its header is a download the portal's page links to (a link sends
    no header): it counts only on the portal's routes. Elsewhere (the control centre, opened
    in the same browser) nobody is signed in.
    """
    if (cookie := request.cookies.get(sessions.COOKIE)) is not None:
        return await _session_caller(request, cookie)
    portal_cookie = request.cookies.get(portal.COOKIE)
    if portal_cookie is not None and route_of(request) in PORTAL_ROUTES:
        return await _portal_caller(request, portal_cookie)
    return None


async def _portal_caller(request: web.Request, cookie: str | None) -> Caller | web.Response:
    if cookie is None:
        # The portal's first question, before the member signed in: not a failed login.
        return error(401, "portal_signed_out", "nobody is signed in to the portal")
    found = await portal.find(request.app[STORE], cookie)
    if found is None:
        response = error(
            401, "portal_session_ended", "the portal session has ended; open your link again"
        )
        response.del_cookie(portal.COOKIE, path="/")
        return response
    request[CSRF_BINDING] = found.binding
    request[PORTAL_SESSION] = found
    return found.caller


async def audit_first_login(request: web.Request, caller: Caller, address: str) -> None:
    """Write to the audit log the first login of a (caller, address) pair since the start."""
    seen = request.app[SEEN_LOGINS]
    if (caller.actor, address) in seen:
        return
    if len(seen) >= MAX_SEEN_LOGINS:
        seen.clear()
    seen.add((caller.actor, address))
    async with request.app[STORE].transaction() as tx:
        await audit.record(
            tx,
            caller.actor,
            audit.Action.LOGIN,
            caller.actor,
            {"address": address, "via": caller.via},
        )


def count_failure(request: web.Request, failure: Failure) -> str | None:
    """Count a failed login; return the Retry-After (seconds) once there were too many."""
    wait = request.app[FAILED_LOGINS].failed(
        failure, now=time.monotonic(), at_us=time.time_ns() // 1000
    )
    return str(int(wait) + 1) if wait else None


def _refuse(request: web.Request, failure: Failure) -> web.Response:
    if retry_after := count_failure(request, failure):
        return error(
            429,
            "too_many_failures",
            "too many failed logins; try again later",
            headers={"Retry-After": retry_after},
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


def caller_of(request: web.Request) -> Caller:
    """Return who is behind an identified request."""
    return request[CALLER]


def require(request: web.Request, permission: Permission) -> Caller:
    """Return the caller; answer 403 unless their role grants ``permission``."""
    caller = request[CALLER]
    if not caller.can(permission):
        if caller.role is None and caller.via is not Via.TOKEN:
            raise Refused(
                Kind.FORBIDDEN,
                "an admin of the community has not given you a role yet",
                code="no_role",
            )
        raise Refused(Kind.FORBIDDEN, f"this needs the {permission} permission")
    return caller


def require_member(request: web.Request) -> str:
    """Return the member a member token speaks for; answer 403 for any other caller.

    A member's portal session is refused too: it reads, and never sends.
    """
    caller = request[CALLER]
    if caller.member is None or caller.via is not Via.TOKEN:
        raise Refused(Kind.FORBIDDEN, "this needs a member's token")
    return caller.member


def require_broker(request: web.Request) -> None:
    """Answer 403 unless the caller is a broker's token (scope ``broker``)."""
    if not request[CALLER].broker:
        raise Refused(Kind.FORBIDDEN, "this needs a broker's token")


def require_member_access(request: web.Request, member_id: str) -> Caller:
    """Return the caller; answer 403 unless they may read every member or are that member."""
    caller = request[CALLER]
    if caller.member != member_id and not caller.can(Permission.READ):
        raise Refused(Kind.FORBIDDEN, "a member token reaches only its own member's data")
    return caller
