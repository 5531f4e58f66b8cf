"""``/api/v1/users``: the people of the control centre and their roles (administer).

Home Assistant users appear here the first time they open the control centre, without a role:
an admin gives them one. Users of the aggregator's own (for people without Home Assistant)
are created here with a password.
"""

from __future__ import annotations

from aiohttp import web

from ioe_aggregator.api.auth import require
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.auth import passwords, users
from ioe_aggregator.auth.roles import Permission, Role
from ioe_aggregator.keys import STORE
from ioe_aggregator.refusals import Kind, Refused

routes = web.RouteTableDef()


async def _password_hash(password: str) -> str:
    if (weakness := passwords.weakness(password)) is not None:
        raise Refused(Kind.INVALID, f"password: {weakness}", code="weak_password")
    return await passwords.hash_password(password)


def _role(value: str | None) -> Role | None:
    return None if value is None else Role(value)


@routes.get("/api/v1/users")
async def list_users(request: web.Request) -> web.Response:
    """List every user, never a password (administer)."""
    require(request, Permission.ADMINISTER)
    return web.json_response([user.as_dict() for user in await users.all_users(request.app[STORE])])


@routes.post("/api/v1/users")
async def add_user(request: web.Request) -> web.Response:
    """Create a user who signs in with a password (administer)."""
    caller = require(request, Permission.ADMINISTER)
    body = await json_body(request)
    password_hash = await _password_hash(body["password"])
    async with request.app[STORE].transaction() as tx:
        user = await users.add_local(
            tx,
            username=body["username"].strip().lower(),
            name=body["name"],
            role=_role(body.get("role")),
            password_hash=password_hash,
            actor=caller.actor,
        )
    return web.json_response(user.as_dict(), status=201)


@routes.patch("/api/v1/users/{user}")
async def change_user(request: web.Request) -> web.Response:
    """Change a user's role (null: none), name, password or whether they are disabled.

    Never leaves the community without an active admin (409 ``last_admin``) (administer).
    """
    caller = require(request, Permission.ADMINISTER)
    body = await json_body(request)
    user_id = request.match_info["user"]
    password_hash = None if "password" not in body else await _password_hash(body["password"])
    async with request.app[STORE].transaction() as tx:
        user = await users.get(tx, user_id)
        if "role" in body:
            user = await users.set_role(tx, user_id, _role(body["role"]), actor=caller.actor)
        if "name" in body:
            user = await users.set_name(tx, user_id, body["name"], actor=caller.actor)
        if password_hash is not None:
            user = await users.set_password(tx, user_id, password_hash, actor=caller.actor)
        if "disabled" in body:
            user = await users.set_disabled(tx, user_id, body["disabled"], actor=caller.actor)
    return web.json_response(user.as_dict())
