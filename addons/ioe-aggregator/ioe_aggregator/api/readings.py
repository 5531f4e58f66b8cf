"""Readings through the API: a home's batches in, a member's readings out (JSON or CSV)."""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web

from ioe_aggregator import audit
from ioe_aggregator.api.auth import require_member, require_member_access
from ioe_aggregator.api.requests import source, time_range
from ioe_aggregator.keys import INGEST, STORE
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.store import StoredReading

routes = web.RouteTableDef()
CSV_COLUMNS = (
    "member",
    "meter",
    "quantity",
    "start",
    "end",
    "value_kwh",
    "quality",
    "source",
    "changes",
)


def reading_row(stored: StoredReading) -> dict[str, Any]:
    """Return a stored reading as the API and the CSV export give it."""
    return {
        "member": stored.member,
        "meter": stored.reading.meter,
        "quantity": stored.reading.quantity,
        "start": utc_text(stored.reading.start),
        "end": utc_text(stored.reading.end),
        "value_kwh": stored.reading.value,
        "quality": stored.reading.quality,
        "source": stored.source,
        "changes": stored.changes,
    }


@routes.post("/api/v1/readings")
async def post_readings(request: web.Request) -> web.Response:
    """Store a readings batch from the member the token belongs to; the 200 answer is its ack."""
    member = require_member(request)
    payload = await request.read()
    ack = await request.app[INGEST].receive(member, payload, via="https")
    return web.Response(body=ack, content_type="application/json")


@routes.get("/api/v1/members/{member}/readings")
async def get_readings(request: web.Request) -> web.Response:
    """Return a member's readings in a time range (read, or the member's own token)."""
    member_id = request.match_info["member"]
    require_member_access(request, member_id)
    start, end = time_range(request)
    stored = await request.app[STORE].readings(member_id, start, end, source=source(request))
    return web.json_response([reading_row(reading) for reading in stored])


@routes.get("/api/v1/members/{member}/export.csv")
async def export_csv(request: web.Request) -> web.Response:
    """Return a member's readings in a time range as CSV; every export is audited."""
    member_id = request.match_info["member"]
    token = require_member_access(request, member_id)
    start, end = time_range(request)
    chosen = source(request)
    store = request.app[STORE]
    stored = await store.readings(member_id, start, end, source=chosen)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(reading_row(reading) for reading in stored)
    async with store.transaction() as tx:
        await audit.record(
            tx,
            token.actor,
            audit.Action.EXPORT,
            member_id,
            {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "source": chosen,
                "readings": len(stored),
            },
        )
    filename = f"{member_id}_{start:%Y%m%d}_{end:%Y%m%d}.csv"
    return web.Response(
        text=text.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
