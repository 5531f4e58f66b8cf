"""The distributors' data through the API: CSV exports uploaded, and reconciled with the meters.

An export may be tens of MiB: its body goes to a temporary file as it arrives, and is imported
from there a supply point's month at a time (``distributor.importer.import_csv``), so neither
the file nor its readings are ever whole in memory, and the members' own batches keep being
stored between the import's transactions.
"""

from __future__ import annotations

import asyncio
from datetime import date
import tempfile
from typing import BinaryIO

from aiohttp import web

from ioe_aggregator.api.auth import require
from ioe_aggregator.api.formats import month
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.distributor.commands import report
from ioe_aggregator.distributor.importer import import_csv
from ioe_aggregator.history.reconciliation import reconcile
from ioe_aggregator.keys import CONFIG, REGISTRY, RESULTS, STORE
from ioe_aggregator.refusals import Kind, Refused

routes = web.RouteTableDef()
# A year of quarter hours for a dozen supply points fits with room to spare.
MAX_CSV_BYTES = 64 * 1024 * 1024
# The body is written to its file in pieces of about this size, each off the event loop.
SPOOL_BYTES = 1 << 20
# The longest reconciliation asked for at once.
MAX_MONTHS = 36


def _too_large() -> Refused:
    return Refused(Kind.TOO_LARGE, f"a file of at most {MAX_CSV_BYTES >> 20} MiB")


async def _spool(request: web.Request) -> BinaryIO:
    """Return the body in a temporary file (rewound), refusing one over MAX_CSV_BYTES.

    The API's usual limit on a body is much lower; this one is checked as the body arrives.
    """
    if request.content_length is not None and request.content_length > MAX_CSV_BYTES:
        raise _too_large()
    file: BinaryIO = await asyncio.to_thread(tempfile.TemporaryFile, "w+b", prefix="ioe-upload-")
    try:
        await _write_body(request, file)
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return file


async def _write_body(request: web.Request, file: BinaryIO) -> None:
    size = 0
    pending = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > MAX_CSV_BYTES:
            raise _too_large()
        pending += chunk
        if len(pending) >= SPOOL_BYTES:
            await asyncio.to_thread(file.write, bytes(pending))
            pending.clear()
    await asyncio.to_thread(file.write, bytes(pending))


@routes.post("/api/v1/distributor/csv")
async def upload_csv(request: web.Request) -> web.Response:
    """Import a distributor's CSV export (manage); answer what each member's months received."""
    require(request, Permission.MANAGE)
    registry = request.app[REGISTRY]
    only = request.query.get("member")
    if only is not None:
        await registry.get(only)
    name = request.query.get("name", "upload.csv")
    zone = request.app[CONFIG].results.zone
    members = await registry.members()
    with await _spool(request) as file:
        parsed, summary = await import_csv(
            request.app[STORE], file, members, zone, origin=f"csv:{name}", only_member=only
        )
    if summary.stored:
        # The distributor's data fills the members' hours: their results change now.
        request.app[RESULTS].publish_results_soon()
    return web.json_response(report(name, parsed, summary))


def _month(request: web.Request, name: str) -> date:
    try:
        return month(request.query.get(name, ""))
    except ValueError as err:
        raise Refused(Kind.INVALID, f"{name}: {err}") from None


@routes.get("/api/v1/reconciliation")
async def reconciliation(request: web.Request) -> web.Response:
    """Return each member's (or one's) months: its meter against its distributor's (read)."""
    require(request, Permission.READ)
    first, last = _month(request, "from"), _month(request, "to")
    if last < first or (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
        raise Refused(Kind.INVALID, f"from … to: at most {MAX_MONTHS} months, in order")
    if (only := request.query.get("member")) is not None:
        await request.app[REGISTRY].get(only)
    zone = request.app[CONFIG].results.zone
    months = await reconcile(request.app[STORE], first, last, zone, member=only)
    return web.json_response([month.as_dict() for month in months])
