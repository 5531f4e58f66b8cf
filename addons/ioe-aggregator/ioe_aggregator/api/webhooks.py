"""``/api/v1/webhooks``: the URLs told of the community's events, and their deliveries (admin).

Registering a webhook answers its signing secret, this once. Each webhook's deliveries may be
read (newest first) and replayed; ``…/ping`` sends it a ``webhook.ping`` event to try it.
"""

from __future__ import annotations

from aiohttp import web

from ioe_aggregator.api.auth import require
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.keys import STORE
from ioe_aggregator.webhooks.subscriptions import Webhooks

routes = web.RouteTableDef()
DEFAULT_DELIVERIES = 50


def _webhooks(request: web.Request) -> Webhooks:
    return Webhooks(request.app[STORE])


@routes.get("/api/v1/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    """List the webhooks with their deliveries' counts, never a secret (administer)."""
    require(request, Permission.ADMINISTER)
    return web.json_response(await _webhooks(request).all())


@routes.post("/api/v1/webhooks")
async def add_webhook(request: web.Request) -> web.Response:
    """Register a webhook; the answer holds its signing secret, shown only this once."""
    caller = require(request, Permission.ADMINISTER)
    body = await json_body(request)
    hook, secret = await _webhooks(request).add(
        body["url"], body["events"], body.get("description", ""), actor=caller.actor
    )
    return web.json_response({**hook.as_dict(), "secret": secret}, status=201)


@routes.delete("/api/v1/webhooks/{webhook}")
async def remove_webhook(request: web.Request) -> web.Response:
    """Remove a webhook and its deliveries (administer)."""
    caller = require(request, Permission.ADMINISTER)
    hook = await _webhooks(request).remove(request.match_info["webhook"], actor=caller.actor)
    return web.json_response(hook.as_dict())


@routes.get("/api/v1/webhooks/{webhook}/deliveries")
async def webhook_deliveries(request: web.Request) -> web.Response:
    """Return a webhook's latest deliveries, newest first (administer)."""
    require(request, Permission.ADMINISTER)
    limit = int(request.query.get("limit", DEFAULT_DELIVERIES))
    found = await _webhooks(request).deliveries(request.match_info["webhook"], limit=limit)
    return web.json_response(found)


@routes.post("/api/v1/webhooks/{webhook}/deliveries/{event}/replay")
async def replay_delivery(request: web.Request) -> web.Response:
    """Send a delivery once more, at once (administer)."""
    caller = require(request, Permission.ADMINISTER)
    hook, event = request.match_info["webhook"], request.match_info["event"]
    await _webhooks(request).replay(hook, event, actor=caller.actor)
    return web.json_response({"webhook": hook, "event": event, "state": "pending"})


@routes.post("/api/v1/webhooks/{webhook}/ping")
async def ping_webhook(request: web.Request) -> web.Response:
    """Send a webhook a ``webhook.ping`` event (administer)."""
    require(request, Permission.ADMINISTER)
    hook = request.match_info["webhook"]
    event = await _webhooks(request).ping(hook)
    return web.json_response({"webhook": hook, "event": event, "state": "pending"}, status=202)
