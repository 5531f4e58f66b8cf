"""``POST /api/v1/community/sync``: members, supply points and distribution table, in one (manage).

A billing platform posts the community as it holds it (``inbound``): every problem is named at
once and nothing is applied until all of it holds; the same document again changes nothing.
``?dry_run=true`` answers what would change and applies nothing. New members' join codes come
back once, as when a member is added.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from aiohttp import web

from ioe_aggregator.api.auth import require
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.inbound import Plan, Sync, digest
from ioe_aggregator.keys import AGREEMENTS, REGISTRY, RESULTS, STORE
from ioe_aggregator.members.registry import Credentials

routes = web.RouteTableDef()
# One document at a time: a platform's retry must not plan against a registry another is changing.
_ONE_AT_A_TIME = asyncio.Lock()


def _answer(
    document: dict[str, Any],
    plan: Plan,
    *,
    dry_run: bool,
    credentials: list[Credentials],
    agreement: dict[str, Any] | None,
) -> dict[str, Any]:
    added = (
        [c.as_dict() for c in credentials]
        if credentials
        else [{"member": asdict(new), "join_code": None} for new in plan.add]
    )
    return {
        "reference": document.get("reference"),
        "digest": digest(document),
        "dry_run": dry_run,
        "changed": not plan.empty,
        "members": {
            "added": added,
            "changed": plan.changed,
            "revoked": plan.revoke,
            "absent": plan.absent,
        },
        "agreement": agreement,
        "ends": plan.ends,
    }


@routes.post("/api/v1/community/sync")
async def sync_community(request: web.Request) -> web.Response:
    """Apply a billing platform's members and distribution table (manage)."""
    caller = require(request, Permission.MANAGE)
    document = await json_body(request)
    dry_run = request.query.get("dry_run", "false") == "true"
    sync = Sync(request.app[STORE], request.app[REGISTRY], request.app[AGREEMENTS])
    async with _ONE_AT_A_TIME:
        return await _synced(request, sync, document, caller.actor, dry_run=dry_run)


async def _synced(
    request: web.Request, sync: Sync, document: dict[str, Any], actor: str, *, dry_run: bool
) -> web.Response:
    """Plan the document and, unless a dry run, apply it; answer what changed (or would)."""
    plan = await sync.plan(document)
    agreement = None
    if plan.agreement is not None:
        name, shares, first, last = plan.agreement
        agreement = {
            "name": name,
            "scheme": shares.scheme,
            "valid_from": first.isoformat(),
            "valid_to": None if last is None else last.isoformat(),
        }
    credentials: list[Credentials] = []
    if not dry_run and not plan.empty:
        credentials, made = await sync.apply(document, plan, actor=actor)
        agreement = None if made is None else made.as_dict()
        # The members' coefficients and forecasts follow the change at once.
        request.app[RESULTS].publish_results_soon()
    return web.json_response(
        _answer(document, plan, dry_run=dry_run, credentials=credentials, agreement=agreement)
    )
