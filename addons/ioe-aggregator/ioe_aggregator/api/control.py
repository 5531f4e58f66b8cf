"""``/api/v1/control``: the community signal and the homes' local control, read-only.

Control stays at home: the aggregator only shows what it advises and what the homes say they
do. The signal now is the one the results publisher computed last, its history the changes of
kind it recorded (``results.signal_history``), and each active member's local control what its
home's last status told (``ingest.status``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ioe_aggregator.api.auth import require
from ioe_aggregator.api.members import member_activities
from ioe_aggregator.api.requests import day_range
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.ingest.status import LinkState
from ioe_aggregator.keys import CONFIG, RESULTS
from ioe_aggregator.protocol.codec import checked
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.refusals import Kind, Refused

routes = web.RouteTableDef()
# The history's range when none is asked for: the last week, today included.
DEFAULT_DAYS = 7


def _local_span(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC times from the start of local day ``first`` to the end of ``last``."""
    try:
        start = datetime.combine(first, time(), zone).astimezone(UTC)
        end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    except OverflowError as err:
        raise Refused(Kind.INVALID, "the days are out of range", code="bad_range") from err
    return start, end


def _control(link: LinkState | None) -> dict[str, Any] | None:
    """Return what a home last said it controls locally (None: it never said)."""
    if link is None or link.control is None or link.control_seen is None:
        return None
    return {
        "reported_at": utc_text(link.control_seen),
        "devices": [
            {
                "id": device.id,
                "kind": device.kind,
                "mode": device.mode,
                "since": None if device.since is None else utc_text(device.since),
            }
            for device in link.control
        ],
    }


@routes.get("/api/v1/control")
async def control(request: web.Request) -> web.Response:
    """Return the signal now, its history over local days, and each home's local control (read)."""
    require(request, Permission.READ)
    app = request.app
    zone = app[CONFIG].results.zone
    now = datetime.now(UTC)
    today = now.astimezone(zone).date()
    first, last = day_range(request, (today - timedelta(days=DEFAULT_DAYS - 1), today))
    start, end = _local_span(first, last, zone)
    snapshot = app[RESULTS].latest or await app[RESULTS].compute(now)
    state = snapshot.state
    changes = await app[RESULTS].history.changes(start, end)
    found = await member_activities(request, now)
    return web.json_response(
        {
            "at": utc_text(now),
            "timezone": str(zone),
            "threshold_w": app[CONFIG].results.signal_threshold_w,
            "signal": checked(snapshot.signal),
            "balance_w": round(state.generation_w - state.consumption_w, 1),
            "from": first.isoformat(),
            "to": last.isoformat(),
            "start": utc_text(start),
            "end": utc_text(end),
            "history": [
                {"start": utc_text(c.start), "kind": c.kind.value, "balance_w": c.balance_w}
                for c in changes
            ],
            "members": [
                {
                    "member": activity.member.id,
                    "name": activity.member.name,
                    "online": None if activity.link is None else activity.link.online,
                    "control": _control(activity.link),
                }
                for activity in found.members
                if activity.member.active
            ],
        }
    )
