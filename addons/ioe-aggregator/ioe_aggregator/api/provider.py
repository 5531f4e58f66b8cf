"""``/api/provider/v1``: the monitoring-provider contract of Som Comunitats' platform (Odoo).

Their platform shows a self-consumption project's and each member's energy by asking a
monitoring provider for daily points (docs/interop.md has the contract, its sources and the
mapping). It configures the provider's base address (``…/api/provider/``, with its final
slash) and a key, sent as the ``apikey`` header: here a token of scope ``provider``, which
reaches these routes and nothing else. It names the project by the installation's CAU (the
plant's supply point, ``A`` and three digits) — the community's id is taken too — and a member
by its supply point's CUPS or its id here.

Each point is a local day the results have whole: every hour of it past and every member's
consumption known. The figures are the members' results (``ResultsEngine.shares``): per member,
production is its share of the plant, ``selfconsumption`` what it used of it, ``energy_exported``
the rest of its share, ``energy_imported`` what it took from the grid; per project, production
is the plant's and the rest the members' sums. kWh with three decimals, rounded so that
``energy_exported + selfconsumption == energy_production`` and ``energy_imported +
selfconsumption == energy_consumption`` hold exactly, as their platform checks. Errors are
``{"error": message}``, in the words their platform's client knows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
import logging
import re
from typing import Any, Final
from zoneinfo import ZoneInfo

from aiohttp import web
import pandas as pd

from ioe_aggregator.api.auth import audit_first_login, count_failure, route_of
from ioe_aggregator.api.peers import client_address
from ioe_aggregator.auth import tokens
from ioe_aggregator.auth.failed_logins import Failure
from ioe_aggregator.distributor.rows import supply_point
from ioe_aggregator.distributor.timeline import local_midnight
from ioe_aggregator.keys import CONFIG, REGISTRY, RESULTS, STORE
from ioe_aggregator.members.registry import Member
from ioe_aggregator.results.engine import Shares

_LOGGER = logging.getLogger(__name__)
routes = web.RouteTableDef()

HEADER: Final = "apikey"
# Their platform asks from 2024-01-01 to today when a person gives one end only.
MAX_DAYS: Final = 4 * 366
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# A CAU: the supply point's CUPS (20 characters, perhaps its 2-character boundary), A, 3 digits.
_CAU = re.compile(r"(ES\d{16}[A-Z]{2})(\d[A-Z])?A\d{3}")
DIGITS: Final = 3
# In this order: one of their client's versions reads imports and consumption into one field,
# the last one winning.
FIELDS: Final = (
    "energy_production",
    "energy_imported",
    "energy_consumption",
    "energy_exported",
    "selfconsumption",
)


def _refusal(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


async def _provider(request: web.Request) -> web.Response | None:
    """Return the refusal of a request without a provider's key; None when it has one."""
    presented = request.headers.get(HEADER, "").strip()
    token = await tokens.authenticate(request.app[STORE], presented) if presented else None
    address = client_address(request)
    if token is None:
        failure = Failure(address, route_of(request), token_given=bool(presented))
        if retry_after := count_failure(request, failure):
            return _refusal(
                429, "Too many failed attempts; try again later", {"Retry-After": retry_after}
            )
        _LOGGER.warning("Refused %s from %s: no valid apikey", failure.route, address)
        return _refusal(401, "A valid apikey header is required")
    if token.scope is not tokens.Scope.PROVIDER:
        _LOGGER.warning(
            "Refused %s from %s (%s): a %s token, not a provider's",
            route_of(request),
            address,
            token.actor,
            token.scope,
        )
        return _refusal(403, "This key is not a monitoring provider's key")
    await audit_first_login(request, token.caller, address)
    return None


def _day(text: str) -> date | None:
    """Return the day ``YYYY-MM-DD`` names; None when it names none."""
    try:
        return date.fromisoformat(text) if _DAY.fullmatch(text) else None
    except ValueError:  # 2026-02-30
        return None


def _days(request: web.Request) -> tuple[date, date] | web.Response:
    """Return the first and last day asked for (both included), or the refusal."""
    days = []
    for name in ("from_date", "to_date"):
        day = _day(request.query.get(name, ""))
        if day is None:
            return _refusal(400, f"Invalid {name} parameter format")
        days.append(day)
    first, last = days
    if last < first or (last - first).days >= MAX_DAYS:
        return _refusal(400, f"Invalid date range: from_date to to_date, at most {MAX_DAYS} days")
    return first, last


async def _project(request: web.Request) -> Sequence[Member] | web.Response:
    """Return the project's active members, or the refusal naming what was not found."""
    project = request.match_info["project"].upper()
    members = [m for m in await request.app[REGISTRY].members() if m.active]
    if project == request.app[CONFIG].community_id.upper():
        return members
    cau = _CAU.fullmatch(project)
    if cau is None:
        return _refusal(400, "Invalid CAU format")
    plants = {supply_point(m.cups) for m in members if m.plant_kw > 0}
    if cau.group(1) not in plants:
        return _refusal(404, "Unable to find requested CAU")
    return members


def _points(
    shares: Shares, members: Sequence[str], zone: ZoneInfo, now: datetime, *, project: bool
) -> list[dict[str, Any]]:
    """Return a point per whole local day: the members' (one, or the project's) energies."""
    allocation = shares.allocation
    consumption = allocation.consumption_kwh[list(members)]
    hours = consumption.index
    days = hours.tz_convert(zone).normalize()
    known = consumption.notna().all(axis=1) & allocation.generation_kwh.reindex(hours).notna()
    ended = pd.Series(hours + pd.Timedelta(hours=1) <= now, index=hours)
    whole = (known & ended).groupby(days).all()
    daily = (
        pd.DataFrame(
            {
                "consumption": consumption.sum(axis=1),
                "self": allocation.self_consumed_kwh[list(members)].sum(axis=1),
                "production": allocation.generation_kwh.reindex(hours).fillna(0.0)
                if project
                else allocation.allocated_kwh[list(members)].sum(axis=1),
            },
            index=hours,
        )
        .groupby(days)
        .sum()
    )
    points = []
    for day, row in daily[whole.reindex(daily.index, fill_value=False)].iterrows():
        production, used, consumed = (
            round(float(row[k]), DIGITS) for k in ("production", "self", "consumption")
        )
        figures = {
            "energy_production": production,
            "energy_imported": round(consumed - used, DIGITS),
            "energy_consumption": consumed,
            "energy_exported": round(production - used, DIGITS),
            "selfconsumption": used,
        }
        points.append({"timestamp": f"{day:%Y-%m-%d}"} | {k: figures[k] for k in FIELDS})
    return points


async def _answer(
    request: web.Request, members: Sequence[Member], member: str | None
) -> web.Response:
    days = _days(request)
    if isinstance(days, web.Response):
        return days
    first, last = days
    zone = request.app[CONFIG].results.zone
    hours = pd.date_range(
        local_midnight(first, zone).astimezone(UTC),
        local_midnight(last + timedelta(days=1), zone).astimezone(UTC),
        freq="h",
        inclusive="left",
    )
    now = datetime.now(UTC)
    shares = await request.app[RESULTS].engine.shares(hours, now, member=member)
    ids = [member] if member is not None else [m.id for m in members]
    present = [i for i in ids if i in shares.allocation.consumption_kwh.columns]
    points = await asyncio.to_thread(_points, shares, present, zone, now, project=member is None)
    return web.json_response(points)


@routes.get("/api/provider/v1/project/{project}")
async def provider_project(request: web.Request) -> web.Response:
    """Return the project's daily energies from from_date to to_date (a provider's key)."""
    if (refused := await _provider(request)) is not None:
        return refused
    members = await _project(request)
    if isinstance(members, web.Response):
        return members
    return await _answer(request, members, None)


@routes.get("/api/provider/v1/project/{project}/members/{member}")
async def provider_member(request: web.Request) -> web.Response:
    """Return a member's daily energies from from_date to to_date (a provider's key).

    The member is named by its supply point's CUPS (20 or 22 characters) or its id here.
    """
    if (refused := await _provider(request)) is not None:
        return refused
    members = await _project(request)
    if isinstance(members, web.Response):
        return members
    named = request.match_info["member"]
    found = next(
        (
            m
            for m in members
            if m.id == named or supply_point(m.cups) == supply_point(named.upper())
        ),
        None,
    )
    if found is None:
        return _refusal(404, "Unable to find requested member")
    return await _answer(request, members, found.id)
