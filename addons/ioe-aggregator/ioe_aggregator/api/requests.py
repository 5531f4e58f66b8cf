"""What handlers read from requests: JSON bodies and time ranges, refused with a clear 400.

The validation middleware has checked them against the API's document first (see
``api.validation``); what is left here is what a schema cannot say.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web

from ioe_aggregator.api.formats import moment
from ioe_aggregator.protocol.codec import ProtocolError, Rejection, parse_json
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.store import SOURCE_MEMBER

MAX_RANGE = timedelta(days=366)
_BODY = web.RequestKey("body", dict[str, Any])


async def json_body(request: web.Request) -> dict[str, Any]:
    """Return the request's JSON object (read once, and without NaN or endless numbers)."""
    if (body := request.get(_BODY)) is not None:
        return body
    try:
        parsed = parse_json(await request.read())
    except ProtocolError as err:
        code = "not_json" if err.rejection is Rejection.NOT_JSON else "invalid"
        raise Refused(Kind.INVALID, f"the body: {err}", code=code) from err
    if not isinstance(parsed, dict):
        raise Refused(Kind.INVALID, "the body must be a JSON object")
    request[_BODY] = parsed
    return parsed


def _moment(request: web.Request, name: str) -> datetime:
    text = request.query[name]
    try:
        return moment(text).astimezone(UTC)
    except OverflowError as err:
        raise Refused(Kind.INVALID, f"{name}: {text!r} is out of range") from err


def time_range(request: web.Request) -> tuple[datetime, datetime]:
    """Return the ``start`` and ``end`` query parameters (at most a year apart)."""
    start, end = _moment(request, "start"), _moment(request, "end")
    if end <= start:
        raise Refused(Kind.INVALID, "end must come after start")
    if end - start > MAX_RANGE:
        raise Refused(Kind.INVALID, f"ask for at most {MAX_RANGE.days} days at a time")
    return start, end


def _day(request: web.Request, name: str, default: date | None) -> date:
    if name not in request.query and default is not None:
        return default
    return date.fromisoformat(request.query[name])


def day_range(request: web.Request, default: tuple[date, date] | None = None) -> tuple[date, date]:
    """Return the ``from`` and ``to`` days (both included, at most a year of days).

    The document has made them real days (``format: date``); the order and length are left.
    Where they are optional, ``default`` gives the days not asked for.
    """
    first_default, last_default = default or (None, None)
    first, last = _day(request, "from", first_default), _day(request, "to", last_default)
    if last < first:
        raise Refused(Kind.INVALID, "to must not come before from", code="bad_range")
    if (last - first).days + 1 > MAX_RANGE.days:
        raise Refused(
            Kind.INVALID, f"ask for at most {MAX_RANGE.days} days at a time", code="range_too_long"
        )
    return first, last


def source(request: web.Request) -> str:
    """Return the ``source`` query parameter: ``member`` (the default) or ``distributor``."""
    return request.query.get("source", SOURCE_MEMBER)
