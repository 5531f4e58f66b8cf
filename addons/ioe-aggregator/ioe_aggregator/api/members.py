"""``/api/v1/members``: the registry (read; changes: manage), and a member's own record.

A member's access link to their portal is issued (or replaced), listed and revoked here too
(manage; listing: read). The link and its code are in the answer that issues them, only then.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ioe_aggregator.api.auth import require, require_member_access
from ioe_aggregator.api.peers import through_ingress
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.auth import portal
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.keys import AGREEMENTS, CONFIG, REGISTRY, STATUS, STORE
from ioe_aggregator.members.activity import Activities, activities
from ioe_aggregator.members.join_qr import join_code_svg
from ioe_aggregator.members.registry import Credentials, NewMember
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.refusals import Kind, Refused

routes = web.RouteTableDef()


async def _shown_once(credentials: Credentials) -> dict[str, Any]:
    """Return the credentials with the join code's QR code (drawn off the event loop)."""
    svg = await asyncio.to_thread(join_code_svg, credentials.join_code)
    return {**credentials.as_dict(), "join_code_qr_svg": svg}


@routes.get("/api/v1/members")
async def list_members(request: web.Request) -> web.Response:
    """List every member (read)."""
    require(request, Permission.READ)
    members = await request.app[REGISTRY].members()
    return web.json_response([member.as_dict() for member in members])


@routes.post("/api/v1/members")
async def add_member(request: web.Request) -> web.Response:
    """Register a member; the answer holds its join code, shown only this once (manage)."""
    token = require(request, Permission.MANAGE)
    body = await json_body(request)
    credentials = await request.app[REGISTRY].add(NewMember.from_json(body), actor=token.actor)
    return web.json_response(await _shown_once(credentials), status=201)


async def member_activities(request: web.Request, now: datetime) -> Activities:
    """Return every member's activity at ``now``, from the service's parts."""
    app = request.app
    return await activities(
        store=app[STORE],
        registry=app[REGISTRY],
        agreements=app[AGREEMENTS],
        links=app[STATUS].states,
        config=app[CONFIG],
        now=now,
    )


# Registered before /api/v1/members/{member}; aiohttp also tries a fixed path first.
@routes.get("/api/v1/members/status")
async def members_status(request: web.Request) -> web.Response:
    """Return each member's link, latest reading, Datadis link and share now (read)."""
    require(request, Permission.READ)
    now = datetime.now(UTC)
    found = await member_activities(request, now)
    agreement = found.agreement
    return web.json_response(
        {
            "at": utc_text(now),
            "agreement": None
            if agreement is None
            else {"id": agreement.id, "name": agreement.name, "scheme": agreement.scheme},
            "members": [activity.as_dict() for activity in found.members],
        }
    )


@routes.get("/api/v1/members/{member}")
async def show_member(request: web.Request) -> web.Response:
    """Return one member (read, or the member's own token)."""
    member_id = request.match_info["member"]
    require_member_access(request, member_id)
    member = await request.app[REGISTRY].get(member_id)
    return web.json_response(member.as_dict())


@routes.post("/api/v1/members/{member}/rotate")
async def rotate_member(request: web.Request) -> web.Response:
    """Give a member new credentials; the old ones stop working at once (manage)."""
    token = require(request, Permission.MANAGE)
    credentials = await request.app[REGISTRY].rotate(
        request.match_info["member"], actor=token.actor
    )
    return web.json_response(await _shown_once(credentials))


@routes.put("/api/v1/members/{member}/plant")
async def set_plant(request: web.Request) -> web.Response:
    """Register the community plant metered at a member's site; 0 removes it (manage)."""
    token = require(request, Permission.MANAGE)
    body = await json_body(request)
    member = await request.app[REGISTRY].set_plant(
        request.match_info["member"], float(body["plant_kw"]), actor=token.actor
    )
    return web.json_response(member.as_dict())


@routes.post("/api/v1/members/{member}/revoke")
async def revoke_member(request: web.Request) -> web.Response:
    """Revoke a member's access; its data is kept (manage)."""
    token = require(request, Permission.MANAGE)
    member = await request.app[REGISTRY].revoke(request.match_info["member"], actor=token.actor)
    return web.json_response(member.as_dict())


def portal_base(request: web.Request) -> str | None:
    """Return the address members reach the portal at, or None when it is not known.

    ``public_api_url`` when set; else the address this request came to, unless it came
    through Home Assistant's ingress (an address only Home Assistant's users reach).
    """
    configured = request.app[CONFIG].members.public_api_url
    if configured is not None:
        return configured
    return None if through_ingress(request) else f"{request.scheme}://{request.host}"


@routes.get("/api/v1/members/{member}/portal-links")
async def list_portal_links(request: web.Request) -> web.Response:
    """Return a member's access links to the portal, oldest first, without secrets (read)."""
    require(request, Permission.READ)
    member_id = request.match_info["member"]
    await request.app[REGISTRY].get(member_id)
    links = await portal.history(request.app[STORE], member_id)
    return web.json_response([link.as_dict() for link in links])


@routes.post("/api/v1/members/{member}/portal-link")
async def issue_portal_link(request: web.Request) -> web.Response:
    """Issue a member a new access link and code, replacing the one they had (manage).

    The answer holds the link (its path, and its whole address when known), its code and the
    link's QR code, shown only this once.
    """
    caller = require(request, Permission.MANAGE)
    body = await json_body(request)
    days = int(body.get("days", portal.DEFAULT_DAYS))
    async with request.app[STORE].transaction() as tx:
        issued = await portal.issue(tx, request.match_info["member"], days=days, actor=caller.actor)
    url = issued.url(portal_base(request))
    return web.json_response(
        {
            "link": issued.link.as_dict(),
            "path": issued.path,
            "url": url,
            "code": issued.code,
            "replaced": issued.replaced,
            "qr_svg": None if url is None else await asyncio.to_thread(join_code_svg, url),
        },
        status=201,
    )


@routes.delete("/api/v1/members/{member}/portal-link")
async def revoke_portal_link(request: web.Request) -> web.Response:
    """Revoke a member's access link and end their portal sessions (manage)."""
    caller = require(request, Permission.MANAGE)
    member_id = request.match_info["member"]
    async with request.app[STORE].transaction() as tx:
        ended = await portal.revoke(tx, member_id, actor=caller.actor)
    if not ended:
        raise Refused(
            Kind.NOT_FOUND, f"member {member_id} has no access link to revoke", code="no_link"
        )
    return web.json_response({"member": member_id, "revoked": ended})
