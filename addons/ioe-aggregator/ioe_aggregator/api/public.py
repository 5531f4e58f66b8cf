"""The public display (``/display``), its open data (``/api/public/v1/community``), its settings.

Nothing here needs a login, and nothing is served until the manager switches the display on in
the control centre (``/api/v1/display``, admins, audited): until then every public route answers
404. What is shown, and the rules that keep every member out of it, are ``public.figures``'.

The open data is cached everywhere it can be: the figures are computed at most once per
``display_refresh_s`` (``PublicFigures``), answers carry ``Cache-Control: public`` and an ETag
(``If-None-Match`` gets 304), and each address may ask ``RATE_LIMIT`` times a minute (then 429
with ``Retry-After``): a display polling once a ``refresh_s`` never comes near it.
"""

from __future__ import annotations

from collections.abc import Callable
import hashlib
import ipaddress
import json
import logging
import math
import time
from typing import Any, Final

from aiohttp import web

from ioe_aggregator.api.auth import require
from ioe_aggregator.api.errors import error
from ioe_aggregator.api.peers import client_address
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.keys import CONFIG, STORE
from ioe_aggregator.public import settings
from ioe_aggregator.public.figures import PublicFigures
from ioe_aggregator.refusals import Refused
from ioe_aggregator.web.pages import DISPLAY_HEADERS, assets, html_page

_LOGGER = logging.getLogger(__name__)
routes = web.RouteTableDef()
FIGURES = web.AppKey("public_figures", PublicFigures)
SETTINGS = web.AppKey("public_settings", settings.KeptSettings)
RATE_LIMIT: Final = 60
# The callers kept apart; beyond them, any other shares the ``CROWD`` window.
RATE_CAPACITY: Final = 10_000
CROWD: Final = "crowd"
_WINDOW_S: Final = 60.0
DISPLAY_PATH = "display"
LOGO_PATH = "display/logo"


class RateLimit:
    """Requests per address in fixed one-minute windows, in bounded memory and work.

    An IPv6 address counts by its /64 (what one home or host is given: one flooding from many
    of its addresses is one caller); finished windows are forgotten at most once a second; with
    ``capacity`` callers kept, any other shares one window (a crowd of addresses cannot grow
    the memory, nor the work a request does).
    """

    def __init__(
        self,
        limit: int = RATE_LIMIT,
        *,
        capacity: int = RATE_CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Allow ``limit`` requests a minute to each address, keeping at most ``capacity``."""
        self._limit = limit
        self._capacity = capacity
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._pruned = -math.inf

    def __len__(self) -> int:
        """Return how many callers' windows are kept."""
        return len(self._windows)

    @staticmethod
    def caller(address: str) -> str:
        """Return whom an address counts as: itself, or (IPv6) its /64."""
        try:
            found = ipaddress.ip_address(address)
        except ValueError:
            return address
        if isinstance(found, ipaddress.IPv6Address):
            if found.ipv4_mapped is not None:
                return str(found.ipv4_mapped)
            return str(ipaddress.IPv6Network((found, 64), strict=False))
        return str(found)

    def wait_s(self, address: str) -> int:
        """Count a request; return 0 when allowed, else the seconds until the next window."""
        now = self._clock()
        if now - self._pruned >= 1:
            self._windows = {a: w for a, w in self._windows.items() if now - w[0] < _WINDOW_S}
            self._pruned = now
        caller = self.caller(address)
        if caller not in self._windows and len(self._windows) >= self._capacity:
            caller = CROWD
        start, count = self._windows.get(caller, (now, 0))
        if now - start >= _WINDOW_S:
            start, count = now, 0
        self._windows[caller] = (start, count + 1)
        if count < self._limit:
            return 0
        wait = max(1, math.ceil(_WINDOW_S - (now - start)))
        if count == self._limit:  # once a window: a flood must not flood the log too
            _LOGGER.warning("Asked the public display too often from %s: wait %s s", caller, wait)
        return wait


RATE_LIMITS = web.AppKey("public_rate_limits", RateLimit)


async def _open(request: web.Request) -> settings.DisplaySettings | web.Response:
    """Return the display's settings, or the 429 of a caller who asks too often."""
    address = client_address(request)
    if wait := request.app[RATE_LIMITS].wait_s(address):
        return error(
            429,
            "too_many_requests",
            f"too many requests: wait {wait} s",
            headers={"Retry-After": str(wait)},
        )
    return await request.app[SETTINGS].get()


def _community(request: web.Request, found: settings.DisplaySettings) -> dict[str, Any]:
    config = request.app[CONFIG]
    logo = found.logo
    return {
        "name": config.results.community_name or config.community_id,
        "logo": None if logo is None else f"{LOGO_PATH}?v={logo.version}",
    }


async def start_figures(app: web.Application) -> None:
    """Compute the figures as the service starts, when the display is on."""
    if (await app[SETTINGS].get()).enabled:
        app[FIGURES].start()


async def stop_figures(app: web.Application) -> None:
    """Stop a computation of the figures under way."""
    await app[FIGURES].stop()


@routes.get("/api/public/v1/community")
async def public_community(request: web.Request) -> web.Response:
    """Return the community's public figures (no login; 404 while the display is off)."""
    found = await _open(request)
    if isinstance(found, web.Response):
        return found
    if not found.enabled:
        return error(404, "display_off", "the community has not switched its public display on")
    figures = await request.app[FIGURES].figures()
    body = json.dumps({"community": _community(request, found), **figures}).encode()
    tag = f'"{hashlib.sha256(body).hexdigest()[:20]}"'
    headers = {
        "Cache-Control": f"public, max-age={request.app[FIGURES].refresh_s}",
        "ETag": tag,
        "Access-Control-Allow-Origin": "*",
    }
    if tag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)


@routes.get("/display")
async def display(request: web.Request) -> web.Response:
    """Return the display's page (404 with the same page, saying so, while it is off)."""
    found = await _open(request)
    if isinstance(found, web.Response):
        return found
    response = html_page(assets().display, DISPLAY_HEADERS)
    if not found.enabled:
        response.set_status(404)
    return response


@routes.get("/display/logo")
async def logo(request: web.Request) -> web.Response:
    """Return the community's logo (404 without one, or while the display is off)."""
    found = await _open(request)
    if isinstance(found, web.Response):
        return found
    if not found.enabled or found.logo is None:
        raise web.HTTPNotFound
    response = web.Response(body=found.logo.body, content_type=found.logo.content_type)
    current = request.query.get("v") == found.logo.version
    response.headers.update(
        {
            "Cache-Control": "public, max-age=31536000, immutable" if current else "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
        }
    )
    return response


async def _settings_answer(request: web.Request) -> web.Response:
    found = await request.app[SETTINGS].get()
    logo = found.logo
    return web.json_response(
        {
            "enabled": found.enabled,
            "logo": None
            if logo is None
            else {"type": logo.content_type, "bytes": len(logo.body), "version": logo.version},
            "path": DISPLAY_PATH,
            "public_url": request.app[CONFIG].members.public_api_url,
            "refresh_s": request.app[FIGURES].refresh_s,
        }
    )


@routes.get("/api/v1/display")
async def display_settings(request: web.Request) -> web.Response:
    """Return whether the display is on, its logo and where it is (administer)."""
    require(request, Permission.ADMINISTER)
    return await _settings_answer(request)


@routes.put("/api/v1/display")
async def switch_display(request: web.Request) -> web.Response:
    """Switch the display on or off (administer, audited)."""
    caller = require(request, Permission.ADMINISTER)
    enabled = (await json_body(request))["enabled"]  # a boolean: the document checked it
    await settings.switch(request.app[STORE], caller.actor, enabled=enabled)
    await request.app[SETTINGS].reload()
    if enabled:
        request.app[FIGURES].start()
    _LOGGER.info("Public display switched %s by %s", "on" if enabled else "off", caller.actor)
    return await _settings_answer(request)


@routes.put("/api/v1/display/logo")
async def put_logo(request: web.Request) -> web.Response:
    """Keep the community's logo: a PNG, JPEG or WebP image (administer, audited)."""
    caller = require(request, Permission.ADMINISTER)
    try:
        # Refused when too large or not an image (a body larger than any request is aiohttp's
        # 413 before it is read).
        kept = await settings.put_logo(request.app[STORE], caller.actor, await request.read())
    except Refused as refused:
        _LOGGER.warning("Refused a display logo from %s: %s", caller.actor, refused)
        raise
    await request.app[SETTINGS].reload()
    _LOGGER.info("Display logo (%s) uploaded by %s", kept.content_type, caller.actor)
    return await _settings_answer(request)


@routes.delete("/api/v1/display/logo")
async def delete_logo(request: web.Request) -> web.Response:
    """Remove the community's logo (administer, audited)."""
    caller = require(request, Permission.ADMINISTER)
    await settings.remove_logo(request.app[STORE], caller.actor)
    await request.app[SETTINGS].reload()
    return await _settings_answer(request)
