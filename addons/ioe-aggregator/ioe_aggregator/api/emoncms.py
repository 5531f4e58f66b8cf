"""``/api/v1/emoncms``: migrating an emoncms installation's history (manage).

``POST /api/v1/emoncms/feeds`` lists a source's feeds with what each seems to measure (the
control centre's guided step maps them); ``POST /api/v1/emoncms/imports`` checks a mapping and
starts its import (202), which ``GET /api/v1/emoncms/imports[/{import}]`` follow. The source is
an emoncms server with its read key, or the files copied to the add-on's ``emoncms_dir``: no
path comes from a request, and the key is used for the request and the import alone.
"""

from __future__ import annotations

from aiohttp import web

from ioe_aggregator.api.auth import require
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.emoncms.imports import open_source
from ioe_aggregator.keys import CONFIG, EMONCMS_IMPORTS

routes = web.RouteTableDef()


@routes.post("/api/v1/emoncms/feeds")
async def emoncms_feeds(request: web.Request) -> web.Response:
    """Return the feeds of the source the body names, and what each seems to measure (manage)."""
    require(request, Permission.MANAGE)
    body = await json_body(request)
    async with open_source(body, request.app[CONFIG].emoncms_dir) as source:
        feeds = await source.feeds()
        described = source.described()
    return web.json_response({"source": described, "feeds": [feed.as_dict() for feed in feeds]})


@routes.post("/api/v1/emoncms/imports")
async def start_emoncms_import(request: web.Request) -> web.Response:
    """Check a mapping of feeds and start importing them (manage)."""
    caller = require(request, Permission.MANAGE)
    body = await json_body(request)
    started = await request.app[EMONCMS_IMPORTS].start(body, actor=caller.actor)
    return web.json_response(started.as_dict(), status=202)


@routes.get("/api/v1/emoncms/imports")
async def emoncms_imports(request: web.Request) -> web.Response:
    """Return the imports, the latest first (manage)."""
    require(request, Permission.MANAGE)
    found = await request.app[EMONCMS_IMPORTS].all()
    return web.json_response({"imports": [job.as_dict() for job in found]})


@routes.get("/api/v1/emoncms/imports/{import}")
async def emoncms_import(request: web.Request) -> web.Response:
    """Return one import as it stands (manage)."""
    require(request, Permission.MANAGE)
    found = await request.app[EMONCMS_IMPORTS].get(request.match_info["import"])
    return web.json_response(found.as_dict())
