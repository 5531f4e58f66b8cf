"""``/portal``: the members' portal, a page of its own beside the control centre.

It shares the control centre's static files (``/static/<version>/…``, relative URLs) and its
security headers, and adds its own: no ``Referer`` ever leaves it (its address may have
carried an access link's secret in its fragment) and it is never stored in a cache.
"""

from __future__ import annotations

from aiohttp import web

from ioe_aggregator.web.pages import SECURITY_HEADERS, assets, html_page

routes = web.RouteTableDef()
HEADERS = {**SECURITY_HEADERS, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


@routes.get("/portal")
async def portal(_request: web.Request) -> web.Response:
    """Return the portal's page (the same for everyone: it asks the API who is signed in)."""
    return html_page(assets().portal, HEADERS)


@routes.get("/portal/")
async def portal_slash(_request: web.Request) -> web.Response:
    """Send ``/portal/`` to ``/portal`` (the browser keeps an access link's fragment)."""
    raise web.HTTPMovedPermanently("../portal", headers=HEADERS)
