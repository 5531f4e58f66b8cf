"""The distributors' CSV exports through the API: the manager uploads a file as downloaded."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from aiohttp import web

from ioe_aggregator.api.auth import Scope, require
from ioe_aggregator.api.errors import ApiError
from ioe_aggregator.distributor.commands import report
from ioe_aggregator.distributor.csv_files import CsvFileError, decode, read_csv
from ioe_aggregator.distributor.importer import store_rows
from ioe_aggregator.keys import CONFIG, REGISTRY, STORE
from ioe_aggregator.members.registry import RegistryError

routes = web.RouteTableDef()
# A year of quarter hours for a dozen supply points fits with room to spare.
MAX_CSV_BYTES = 64 * 1024 * 1024


async def _body(request: web.Request) -> bytes:
    """Read the whole body, refusing one over MAX_CSV_BYTES (the API's usual limit is lower)."""
    chunks = []
    size = 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > MAX_CSV_BYTES:
            raise ApiError(413, "too_large", f"a file of at most {MAX_CSV_BYTES >> 20} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


@routes.post("/api/v1/distributor/csv")
async def upload_csv(request: web.Request) -> web.Response:
    """Import a distributor's CSV export (admin); answer what each member's months received."""
    require(request, Scope.ADMIN)
    registry = request.app[REGISTRY]
    only = request.query.get("member")
    if only is not None:
        try:
            await registry.get(only)
        except RegistryError as err:
            raise ApiError(404, "not_found", str(err)) from err
    name = request.query.get("name", "upload.csv")
    zone = ZoneInfo(request.app[CONFIG].results.timezone)
    data = await _body(request)
    try:
        parsed = await asyncio.to_thread(lambda: read_csv(decode(data), zone))
    except CsvFileError as err:
        raise ApiError(400, "invalid", str(err)) from err
    summary = await store_rows(
        request.app[STORE],
        parsed.rows,
        await registry.members(),
        zone,
        origin=f"csv:{name}",
        only_member=only,
    )
    return web.json_response(report(name, parsed, summary))
