"""What handlers read from requests: JSON bodies and time ranges, refused with a clear 400."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from typing import Any

from aiohttp import web

from ioe_aggregator.api.errors import ApiError
from ioe_aggregator.distributor import SOURCE as DISTRIBUTOR
from ioe_aggregator.store import SOURCE_MEMBER

MAX_RANGE = timedelta(days=366)


async def json_body(request: web.Request) -> dict[str, Any]:
    """Return the request's JSON object."""
    try:
        body = json.loads(await request.read())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ApiError(400, "not_json", f"the body is not JSON: {err}") from err
    if not isinstance(body, dict):
        raise ApiError(400, "invalid", "the body must be a JSON object")
    return body


def _moment(request: web.Request, name: str) -> datetime:
    text = request.query.get(name)
    if text is None:
        raise ApiError(
            400, "invalid", f"missing query parameter {name!r} (UTC, e.g. 2026-11-24T00:00:00Z)"
        )
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        raise ApiError(400, "invalid", f"{name}: {text!r} is not an ISO 8601 time") from err
    if moment.tzinfo is None:
        raise ApiError(400, "invalid", f"{name}: give the time zone (Z for UTC)")
    return moment.astimezone(UTC)


def time_range(request: web.Request) -> tuple[datetime, datetime]:
    """Return the ``start`` and ``end`` query parameters (at most a year apart)."""
    start, end = _moment(request, "start"), _moment(request, "end")
    if end <= start:
        raise ApiError(400, "invalid", "end must come after start")
    if end - start > MAX_RANGE:
        raise ApiError(400, "invalid", f"ask for at most {MAX_RANGE.days} days at a time")
    return start, end


def source(request: web.Request) -> str:
    """Return the ``source`` query parameter: ``member`` (the default) or ``distributor``."""
    text = request.query.get("source", SOURCE_MEMBER)
    if text not in (SOURCE_MEMBER, DISTRIBUTOR):
        raise ApiError(
            400, "invalid", f"source: expected {SOURCE_MEMBER} or {DISTRIBUTOR}, got {text!r}"
        )
    return text
