"""Billing exports: each member's month per 2.0TD period (``results.billing``), read.

``/api/v1/billing/{month}`` pages through the members (``limit``, ``after`` a page's ``next``);
``…/export.csv`` and ``…/export.json`` are the whole month as files. Every answer with the bills
(a page or a file, not a 304) is audited, as the members' data downloads are. Every answer
carries an ETag, the digest of its body: asked again with it in ``If-None-Match`` while nothing
changed, the answer is 304 with no body — a late reading or a new agreement changes the month,
and so its tag.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import hashlib
import json
from typing import Any, Final

from aiohttp import web

from ioe_aggregator import audit
from ioe_aggregator.api.auth import caller_of, require
from ioe_aggregator.api.formats import month
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.keys import CONFIG, REGISTRY, RESULTS, STORE
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.results import billing
from ioe_aggregator.results.member_energy import Period

routes = web.RouteTableDef()

DEFAULT_PAGE: Final = 100
# No community's data is older (and pandas' times begin in 1677).
FIRST_YEAR: Final = 2000
LANGUAGES: Final = ("es", "en")


async def _month(request: web.Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return the month's facts and every member's bill, of the month the path names (read)."""
    require(request, Permission.READ)
    text = request.match_info["month"]
    try:  # the document's pattern has checked its shape, YYYY-MM; not the year 0000
        first = month(text)
    except ValueError:
        raise Refused(Kind.NOT_FOUND, f"no month {text!r}") from None
    config = request.app[CONFIG]
    now = datetime.now(UTC)
    if first > now.astimezone(config.results.zone).date():
        raise Refused(Kind.INVALID, f"{first:%Y-%m} has not begun", code="bad_month")
    if first.year < FIRST_YEAR:
        raise Refused(Kind.INVALID, f"{first:%Y-%m} is before {FIRST_YEAR}", code="bad_month")
    read = await billing.read_month(
        first,
        now,
        engine=request.app[RESULTS].engine,
        store=request.app[STORE],
        registry=request.app[REGISTRY],
        config=config.results,
    )
    bills = await asyncio.to_thread(billing.members, read)
    end = Period.containing("month", first).end
    facts = {
        "format": billing.FORMAT,
        "community": {"id": config.community_id, "name": config.results.community_name},
        "month": read.month,
        "timezone": read.timezone,
        "month_over": end <= now.astimezone(config.results.zone).date(),
        "prices": None if read.prices is None else read.prices.description,
    }
    return facts, bills


def _tagged(request: web.Request, body: bytes, content_type: str, **headers: str) -> web.Response:
    """Return ``body`` with its ETag, or 304 when the caller holds that version."""
    tag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    sent = {"ETag": tag, "Cache-Control": "private, no-cache", **headers}
    # A weak tag (W/"…", as a compressing proxy makes it) names the same version.
    held = {
        t.strip().removeprefix("W/") for t in request.headers.get("If-None-Match", "").split(",")
    }
    if tag in held or "*" in held:
        return web.Response(status=304, headers=sent)
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=sent)


async def _audited(
    request: web.Request, response: web.Response, facts: dict[str, Any], kind: str, members: int
) -> web.Response:
    """Write who took the month's bills to the audit log (not for a 304: nothing was taken)."""
    if response.status == 200:
        async with request.app[STORE].transaction() as tx:
            await audit.record(
                tx,
                caller_of(request).actor,
                audit.Action.EXPORT,
                f"billing:{facts['month']}",
                {"kind": kind, "members": members},
            )
    return response


@routes.get("/api/v1/billing/{month}")
async def billing_month(request: web.Request) -> web.Response:
    """Return a page of the members' bills of a month, by member id (read)."""
    facts, bills = await _month(request)
    limit = int(request.query.get("limit", DEFAULT_PAGE))
    after = request.query.get("after", "")
    following = [bill for bill in bills if bill["member"] > after]
    page = following[:limit]
    more = len(following) > limit
    body = facts | {"members": page, "next": page[-1]["member"] if more else None}
    response = _tagged(request, json.dumps(body, ensure_ascii=False).encode(), "application/json")
    return await _audited(request, response, facts, "page", len(page))


def _attachment(facts: dict[str, Any], extension: str) -> str:
    name = f"{facts['community']['id']}_billing_{facts['month']}.{extension}"
    return f'attachment; filename="{name}"'


@routes.get("/api/v1/billing/{month}/export.csv")
async def billing_csv(request: web.Request) -> web.Response:
    """Return every member's bill of a month as a Spanish spreadsheet's CSV (read)."""
    facts, bills = await _month(request)
    language = request.query.get("lang", "es")
    text = billing.csv_text(bills, "en" if language == "en" else "es")
    response = _tagged(
        request,
        text.encode(),
        "text/csv",
        **{"Content-Disposition": _attachment(facts, "csv")},
    )
    return await _audited(request, response, facts, "csv", len(bills))


@routes.get("/api/v1/billing/{month}/export.json")
async def billing_json(request: web.Request) -> web.Response:
    """Return every member's bill of a month as one JSON document (read)."""
    facts, bills = await _month(request)
    body = json.dumps(facts | {"members": bills}, ensure_ascii=False, indent=1).encode()
    response = _tagged(
        request,
        body,
        "application/json",
        **{"Content-Disposition": _attachment(facts, "json")},
    )
    return await _audited(request, response, facts, "json", len(bills))
