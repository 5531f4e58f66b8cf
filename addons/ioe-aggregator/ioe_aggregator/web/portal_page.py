"""``/portal``: the members' portal, a page of its own beside the control centre.

It shares the control centre's static files (``/static/<version>/…``, relative URLs) and its
security headers, and adds its own: no ``Referer`` ever leaves it (its address may have
carried an access link's secret in its fragment) and it is never stored in a cache.
"""

from __future__ import annotations

import functools
from importlib import resources

from aiohttp import web

from ioe_aggregator.web.pages import SECURITY_HEADERS, VERSION_PLACEHOLDER, assets

routes = web.RouteTableDef()
HEADERS = {**SECURITY_HEADERS, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


@functools.cache
def page() -> bytes:
    """Return the portal's page, naming the static files' current version."""
    text = (resources.files(__package__) / "portal.html").read_text(encoding="utf-8")
    return text.replace(VERSION_PLACEHOLDER, assets().version).encode()


@routes.get("/portal")
async def portal(_request: web.Request) -> web.Response:
    """Return the portal's page (the same for everyone: it asks the API who is signed in)."""
    response = web.Response(body=page(), content_type="text/html", charset="utf-8")
    response.headers.update(HEADERS)
    return response


@routes.get("/portal/")
async def portal_slash(_request: web.Request) -> web.Response:
    """Send ``/portal/`` to ``/portal`` (the browser keeps an access link's fragment)."""
    raise web.HTTPMovedPermanently("../portal", headers=HEADERS)
