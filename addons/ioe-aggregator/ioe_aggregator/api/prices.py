"""``/api/v1/prices``: the prices a billing platform posts by 2.0TD period (read; changes: manage).

``PUT /api/v1/prices/{valid_from}`` records prices from a local day on (``prices.PriceBook``):
the same body again is answered 200 with ``changed: false`` and changes nothing, so a platform
may send its prices on every run. The members' results follow a change at once.
"""

from __future__ import annotations

from aiohttp import web

from ioe_aggregator.api.auth import require
from ioe_aggregator.api.formats import day
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.keys import CONFIG, RESULTS, STORE
from ioe_aggregator.prices import PriceBook, posted

routes = web.RouteTableDef()


def _book(request: web.Request) -> PriceBook:
    return PriceBook(request.app[STORE], request.app[CONFIG].results)


@routes.get("/api/v1/prices")
async def list_prices(request: web.Request) -> web.Response:
    """Return the posted prices by first day, and the add-on's flat ones (read)."""
    require(request, Permission.READ)
    options = request.app[CONFIG].results.prices
    return web.json_response(
        {
            "posted": [prices.as_dict() for prices in await _book(request).all()],
            "options": None
            if options is None
            else {"import_eur_kwh": options[0], "surplus_eur_kwh": options[1]},
        }
    )


@routes.put("/api/v1/prices/{valid_from}")
async def post_prices(request: web.Request) -> web.Response:
    """Record prices by period from a local day on, replacing that day's (manage)."""
    caller = require(request, Permission.MANAGE)
    body = await json_body(request)
    new = posted(body, day(request.match_info["valid_from"]))
    stored, changed = await _book(request).post(new, actor=caller.actor)
    if changed:
        request.app[RESULTS].publish_results_soon()
    return web.json_response({**stored.as_dict(), "changed": changed})


@routes.delete("/api/v1/prices/{valid_from}")
async def remove_prices(request: web.Request) -> web.Response:
    """Delete the prices posted from a day (manage)."""
    caller = require(request, Permission.MANAGE)
    removed = await _book(request).remove(day(request.match_info["valid_from"]), actor=caller.actor)
    request.app[RESULTS].publish_results_soon()
    return web.json_response(removed.as_dict())
