"""``/api/v1/session``: who is calling, signing in with a password, and signing out.

The control centre asks it first: the answer names the caller, their role and permissions,
and the CSRF token their changes must carry. Signing in needs TLS (or a browser on this very
machine): a password never crosses a network in the clear; through Home Assistant's ingress
nobody signs in (Home Assistant names the user). A wrong password counts as a
failed login of the caller's address (``auth.failed_logins``), and during a lockout even the
right one waits.
"""

from __future__ import annotations

from collections import Counter
import ipaddress
import time
from typing import Any

from aiohttp import web

from ioe_aggregator import audit
from ioe_aggregator.api.auth import CSRF_BINDING, CSRF_KEY, FAILED_LOGINS, SIGN_IN, caller_of
from ioe_aggregator.api.errors import error
from ioe_aggregator.api.peers import client_address, through_ingress
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.auth import passwords, sessions, users
from ioe_aggregator.auth.failed_logins import Failure
from ioe_aggregator.auth.roles import Caller, Via
from ioe_aggregator.keys import CONFIG, STORE
from ioe_aggregator.refusals import Kind, Refused

routes = web.RouteTableDef()
# Sign-ins whose password is being checked, by address.
SIGNING_IN = web.AppKey("signing_in", Counter[str])
MAX_SIGNING_IN = 8


def _answer(request: web.Request, caller: Caller, binding: str | None) -> dict[str, Any]:
    config = request.app[CONFIG]
    csrf = None if binding is None else sessions.csrf_token(request.app[CSRF_KEY], binding)
    return {
        "user": {
            "id": caller.actor.partition(":")[2],
            "name": caller.name,
            "role": None if caller.role is None else caller.role.value,
            "via": caller.via.value,
        },
        "permissions": sorted(permission.value for permission in caller.permissions),
        "csrf": csrf,
        "community": {"id": config.community_id, "name": config.results.community_name},
        "language": None,
    }


@routes.get("/api/v1/session")
async def show_session(request: web.Request) -> web.Response:
    """Return the caller (a person, or a token with a role); 403 for member and public tokens."""
    caller = caller_of(request)
    if caller.via is Via.TOKEN and caller.role is None:
        raise Refused(Kind.FORBIDDEN, "a member's or public token has no control centre")
    return web.json_response(_answer(request, caller, request.get(CSRF_BINDING)))


def _private_line(request: web.Request) -> bool:
    """Whether a password may come this way: TLS, or this machine."""
    if request.secure:
        return True
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def check_the_way_in(request: web.Request) -> None:
    """Refuse a sign-in that comes the wrong way (ingress, plain HTTP, not JSON).

    A member's portal signs in the same way (``api.portal``).
    """
    if through_ingress(request):
        # Home Assistant names its user there; a cookie set on its address would reach
        # Home Assistant and every other add-on.
        raise Refused(
            Kind.FORBIDDEN,
            "through Home Assistant you are signed in already",
            code="ingress_signs_in",
        )
    if not _private_line(request):
        raise Refused(
            Kind.FORBIDDEN,
            "sign in over HTTPS: a password never travels in the clear",
            code="https_required",
        )
    if request.content_type != "application/json":
        # A form on another site can post text/plain, not JSON: it cannot sign a browser in
        # as someone else.
        raise Refused(Kind.INVALID, "send the sign-in as application/json", code="not_json")


@routes.post("/api/v1/session")
async def sign_in(request: web.Request) -> web.Response:
    """Sign in with a user name and password; the answer sets the session's cookie.

    One sign-in at a time per address, and at most ``MAX_SIGNING_IN`` in all: a burst of them
    would get past the lockout (a failure counts once its hash is done) and queue up hashes
    that everyone's sign-ins would then wait behind.
    """
    check_the_way_in(request)
    address = client_address(request)
    failed_logins = request.app[FAILED_LOGINS]
    if wait := failed_logins.locked(address, now=time.monotonic()):
        return too_many(wait)
    signing_in = request.app[SIGNING_IN]
    if signing_in[address] or signing_in.total() >= MAX_SIGNING_IN:
        return too_many(1.0)
    signing_in[address] += 1
    try:
        return await _sign_in(request, address)
    finally:
        signing_in[address] -= 1
        if not signing_in[address]:
            del signing_in[address]


async def _sign_in(request: web.Request, address: str) -> web.Response:
    failed_logins = request.app[FAILED_LOGINS]
    body = await json_body(request)
    store = request.app[STORE]
    user, stored_hash = await users.with_password(store, body["username"].strip().lower())
    if not await passwords.password_matches(body["password"], stored_hash) or user is None:
        failure = Failure(address, " ".join(SIGN_IN), token_given=True)
        if wait := failed_logins.failed(
            failure, now=time.monotonic(), at_us=time.time_ns() // 1000
        ):
            return too_many(wait)
        return error(401, "invalid_login", "wrong user name or password")
    async with store.transaction() as tx:
        presented = await sessions.start(tx, user)
        await audit.record(
            tx, user.actor, audit.Action.LOGIN, user.actor, {"address": address, "via": "session"}
        )
    response = web.json_response(
        _answer(request, user.caller(Via.SESSION), sessions.binding(presented))
    )
    response.set_cookie(
        sessions.COOKIE,
        presented,
        max_age=sessions.LIFETIME_S,
        httponly=True,
        secure=request.secure,
        samesite="Strict",
        path="/",
    )
    return response


def too_many(wait: float) -> web.Response:
    """Return the answer to a sign-in during a lockout (``wait`` seconds more)."""
    return error(
        429,
        "too_many_failures",
        "too many failed sign-ins; try again later",
        headers={"Retry-After": str(int(wait) + 1)},
    )


@routes.delete("/api/v1/session")
async def sign_out(request: web.Request) -> web.Response:
    """End the browser's session (a no-op for ingress users and tokens)."""
    caller = caller_of(request)
    response = web.Response(status=204)
    if (cookie := request.cookies.get(sessions.COOKIE)) is not None:
        async with request.app[STORE].transaction() as tx:
            await sessions.end(tx, cookie)
            if caller.via is Via.SESSION:
                await audit.record(tx, caller.actor, audit.Action.LOGOUT, caller.actor)
        response.del_cookie(sessions.COOKIE, path="/")
    return response
