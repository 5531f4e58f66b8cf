"""``/api/v1/portal/session``: a member signs in to their portal with a link or a code, and out.

The portal's page posts the secret of its link (from the URL's fragment, which no server
saw), or the code the member typed; the answer sets the session's cookie (HttpOnly,
SameSite=Strict, Secure over TLS). Like a password, a link or code comes only over TLS or from
this very machine, never through ingress, and only as JSON (another site's form cannot sign a
browser in as someone else). A wrong link or code counts as a failed login of the address
(``auth.failed_logins``), and during that lockout even the right one waits. A wrong code
counts also against the link id it names, existing or not (its answers tell nobody which ids
exist); that lockout answers only wrong codes, so nobody can keep a member out. A link or
code that was right but has expired, was replaced or was revoked is refused with its own code
(``link_expired``, ``link_replaced``, ``link_revoked``), so that the page can tell the member
what to do.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web

from ioe_aggregator import audit
from ioe_aggregator.api.auth import (
    CSRF_KEY,
    FAILED_LOGINS,
    PORTAL_SESSION,
    PORTAL_SIGN_IN,
    caller_of,
)
from ioe_aggregator.api.errors import error
from ioe_aggregator.api.peers import client_address
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.api.session import check_the_way_in, too_many
from ioe_aggregator.auth import portal, sessions
from ioe_aggregator.auth.failed_logins import Failure
from ioe_aggregator.keys import CONFIG, STORE
from ioe_aggregator.refusals import Kind, Refused

_LOGGER = logging.getLogger(__name__)
routes = web.RouteTableDef()
_ROUTE = " ".join(PORTAL_SIGN_IN)
_ENDED = {
    portal.State.EXPIRED: "this link has expired",
    portal.State.REPLACED: "this link was replaced by a newer one",
    portal.State.REVOKED: "this link was revoked",
}


def _answer(request: web.Request, link: portal.Link, binding: str) -> dict[str, Any]:
    config = request.app[CONFIG]
    return {
        "member": {"id": link.member, "name": link.member_name},
        "link": {"id": link.id, "expires": link.as_dict()["expires"]},
        "csrf": sessions.csrf_token(request.app[CSRF_KEY], binding),
        "community": {"id": config.community_id, "name": config.results.community_name},
    }


@routes.get("/api/v1/portal/session")
async def show_portal_session(request: web.Request) -> web.Response:
    """Return the member signed in to the portal, with their CSRF token."""
    found = _portal_session(request)
    return web.json_response(_answer(request, found.link, found.binding))


def _portal_session(request: web.Request) -> portal.PortalSession:
    """Return the request's portal session; answer 403 to any other caller."""
    found = request.get(PORTAL_SESSION)
    if found is None:
        raise Refused(Kind.FORBIDDEN, "only a member signed in to their portal has a portal")
    return found


def _failed(request: web.Request, *addresses: str) -> web.Response:
    """Count a wrong link or code against ``addresses``; return the answer that refuses it."""
    failed_logins = request.app[FAILED_LOGINS]
    now, at_us = time.monotonic(), time.time_ns() // 1000
    wait = max(
        failed_logins.failed(Failure(address, _ROUTE, token_given=True), now=now, at_us=at_us)
        for address in addresses
    )
    if wait:
        return too_many(wait)
    _LOGGER.warning("Refused a portal sign-in from %s: no such link or code", addresses[0])
    return error(401, "invalid_link", "this link or code is not valid")


@routes.post("/api/v1/portal/session")
async def portal_sign_in(request: web.Request) -> web.Response:
    """Sign a member in with their link's secret or their code; set the session's cookie."""
    check_the_way_in(request)
    address = client_address(request)
    failed_logins = request.app[FAILED_LOGINS]
    if wait := failed_logins.locked(address, now=time.monotonic()):
        return too_many(wait)
    body = await json_body(request)
    store = request.app[STORE]
    if "link" in body:
        link = await portal.by_secret(store, body["link"])
        if link is None:
            return _failed(request, address)
    else:
        compact = portal.normalised_code(body["code"])
        if compact is None:
            raise Refused(
                Kind.INVALID, "a code is 16 letters and digits, as 4 groups of 4", code="bad_code"
            )
        link, matches = await portal.by_code(store, compact)
        if link is None or not matches:
            # Counted by the id the code names, whether or not that link exists: an unknown
            # id and a wrong code answer alike. The right code is never held back by it.
            return _failed(request, address, f"link:{portal.code_link_id(compact)}")
    state = link.state()
    if state is not portal.State.ACTIVE:
        _LOGGER.info("Refused a portal sign-in of %s from %s: link %s", link.member, address, state)
        raise Refused(Kind.FORBIDDEN, _ENDED[state], code=f"link_{state.value}")
    async with store.transaction() as tx:
        presented, lifetime_s = await portal.start(tx, link)
        await audit.record(
            tx,
            f"member:{link.member}",
            audit.Action.LOGIN,
            f"member:{link.member}",
            {"address": address, "via": "portal", "link": link.id},
        )
    response = web.json_response(_answer(request, link, portal.binding(presented)))
    response.set_cookie(
        portal.COOKIE,
        presented,
        max_age=lifetime_s,
        httponly=True,
        secure=request.secure,
        samesite="Strict",
        path="/",
    )
    return response


@routes.delete("/api/v1/portal/session")
async def portal_sign_out(request: web.Request) -> web.Response:
    """End the portal session of this browser."""
    _portal_session(request)
    caller = caller_of(request)
    response = web.Response(status=204)
    async with request.app[STORE].transaction() as tx:
        await portal.end(tx, request.cookies[portal.COOKIE])
        await audit.record(tx, caller.actor, audit.Action.LOGOUT, caller.actor, {"via": "portal"})
    response.del_cookie(portal.COOKIE, path="/")
    return response
