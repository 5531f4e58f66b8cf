"""What the community holds about one member: their months in € and all their data to take away.

``months`` is a local year of the member's energy per month with the savings it brought at
the community's prices (``prices.PriceBook``). ``member_data`` is everything kept about the
member, for the rights of access and portability (GDPR arts. 15 and 20): their record and
supply point, their readings by source, every hour's consumption against their share (and
which source measured it), the agreements with their coefficients, their Datadis link (the
NIF masked) and their portal's access links (never a secret). ``hourly_csv`` is the hours as a
spreadsheet reads them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import csv
from datetime import UTC, date, datetime, timedelta
import io
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ioe_aggregator.agreements import Agreements
from ioe_aggregator.api.readings import reading_row
from ioe_aggregator.auth import portal
from ioe_aggregator.config import Config
from ioe_aggregator.datadis.status import datadis_status
from ioe_aggregator.distributor.model import SOURCE as DISTRIBUTOR
from ioe_aggregator.distributor.timeline import local_midnight
from ioe_aggregator.history.hourly import measured_by
from ioe_aggregator.members.registry import Member
from ioe_aggregator.prices import PriceBook, Used
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.results.engine import ResultsEngine, Shares
from ioe_aggregator.results.member_energy import ENERGIES, Period, member_energy
from ioe_aggregator.sharing.economics import monthly_economics
from ioe_aggregator.store import Store
from ioe_aggregator.store.readings import SOURCE_MEMBER
from ioe_aggregator.store.sql import moment

FORMAT = "ioe.member-data.v1"
SOURCES: Final = (SOURCE_MEMBER, DISTRIBUTOR)
HOURLY_COLUMNS = (
    "start_utc",
    "start_local",
    "consumption_kwh",
    "allocated_kwh",
    "self_consumed_kwh",
    "surplus_kwh",
    "coefficient",
    "agreement",
    "measured_by",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST_HOUR = "SELECT MIN(hour_s) FROM hourly_energy WHERE member = ?"
# The hours' source as the export names it: the member's own meter, or the distributor's
# figures (from Datadis or a CSV export).
MEASURED_BY = {SOURCE_MEMBER: "own_meter", DISTRIBUTOR: "distributor"}


def _savings(shares: Shares, member: str, used: Used | None, zone: ZoneInfo) -> dict[str, float]:
    """Return the member's savings (EUR) per local month (YYYY-MM) at its prices."""
    if used is None:
        return {}
    allocation = shares.allocation
    if not allocation.consumption_kwh[member].notna().any():
        return {}
    table = monthly_economics(allocation, used.whole(), zone.key)
    # Only months whose every hour has prices: a month half priced has no saving to tell.
    priced = used.priced_months(zone)
    return {
        str(month): round(float(saved), 2)
        for month, saved in zip(table.month, table.savings_eur, strict=True)
        if month in priced
    }


async def months(
    store: Store, engine: ResultsEngine, config: Config, member: str, *, year: int, now: datetime
) -> dict[str, Any]:
    """Return the member's energy per local month of ``year``, with the savings (EUR) of each.

    With when the member's latest reading from each source ends (``latest_reading``).
    """
    zone = config.results.zone
    period = Period.containing("year", date(year, 1, 1))
    hours = period.hours(zone)
    shares = await engine.shares(hours, now, member=member)
    figures = await asyncio.to_thread(member_energy, shares, member, period, zone)
    used = await PriceBook(store, config.results).used(hours)
    savings = await asyncio.to_thread(_savings, shares, member, used, zone)
    priced = used is not None
    return {
        "member": member,
        "year": year,
        "timezone": zone.key,
        "prices": None if used is None else used.description,
        "months": [
            {
                "month": point["local"],
                **{name: point[name] for name in ENERGIES},
                "hours": point["hours"],
                "hours_known": point["hours_known"],
                "savings_eur": savings.get(point["local"]) if point["hours_known"] else None,
            }
            for point in figures["points"]
        ],
        "totals": figures["totals"]
        | {"savings_eur": round(sum(savings.values()), 2) if priced and savings else None},
        "latest_reading": await sources(store, member),
    }


async def sources(store: Store, member: str) -> dict[str, str | None]:
    """Return when the member's latest reading from each source ends (None: never one)."""
    found = {}
    for source in SOURCES:
        last = await store.last_reading(member, source=source)
        found[MEASURED_BY[source]] = None if last is None else utc_text(last)
    return found


async def _hours_held(store: Store, member: str, zone: ZoneInfo, now: datetime) -> pd.DatetimeIndex:
    """Return the UTC hours from the local day of the member's first data to the end of today."""
    async with store.transaction() as tx:
        rows = await tx.execute(FIRST_HOUR, (member,))
    today = now.astimezone(zone).date()
    first_day = today
    if rows and rows[0][0] is not None:
        first_day = min(today, moment(int(rows[0][0])).astimezone(zone).date())
    return pd.date_range(
        local_midnight(first_day, zone),
        local_midnight(today + timedelta(days=1), zone),
        freq="h",
        inclusive="left",
        name="start",
    ).tz_convert("UTC")


def _hours(
    shares: Shares, member: str, measured: Mapping[tuple[str, datetime], str], zone: ZoneInfo
) -> list[dict[str, Any]]:
    """Return every hour's energies, coefficient, agreement and source (unknown: None)."""
    allocation = shares.allocation
    index = allocation.consumption_kwh.index
    beta = shares.beta[member] if member in shares.beta else pd.Series(0.0, index=index)
    columns = {name: getattr(allocation, name)[member].to_numpy() for name in ENERGIES}
    rows = []
    for position, start in enumerate(index.to_pydatetime()):
        agreement = shares.in_force[position]
        known = not np.isnan(columns["consumption_kwh"][position])
        rows.append(
            {
                "start_utc": utc_text(start),
                "start_local": start.astimezone(zone).isoformat(),
                **{
                    name: round(float(values[position]), 4) if known else None
                    for name, values in columns.items()
                },
                "coefficient": None if agreement is None else round(float(beta.iloc[position]), 6),
                "agreement": None if agreement is None else agreement.id,
                "measured_by": MEASURED_BY.get(measured.get((member, start), ""))
                if known
                else None,
            }
        )
    return rows


async def _agreements(agreements: Agreements, member: str) -> list[dict[str, Any]]:
    """Return every agreement with the member's coefficient (static) or 8760/8784 (hourly)."""
    found = []
    for agreement in await agreements.all():
        coefficients = (await agreements.coefficients(agreement.id))["coefficients"]
        found.append({**agreement.as_dict(), "coefficient": coefficients.get(member)})
    return found


async def member_data(
    *,
    store: Store,
    engine: ResultsEngine,
    agreements: Agreements,
    config: Config,
    member: Member,
    now: datetime,
) -> dict[str, Any]:
    """Return everything the community keeps about ``member`` (see the module)."""
    zone = config.results.zone
    hours = await _hours_held(store, member.id, zone, now)
    shares = await engine.shares(hours, now, member=member.id)
    held_end = (hours[-1] + pd.Timedelta(hours=1)).to_pydatetime()
    measured = await measured_by(store, hours[0].to_pydatetime(), held_end, member=member.id)
    hourly = await asyncio.to_thread(_hours, shares, member.id, measured, zone)
    end = now + timedelta(days=1)
    readings = {
        MEASURED_BY[source]: [
            reading_row(stored)
            for stored in await store.readings(member.id, _EPOCH, end, source=source)
        ]
        for source in SOURCES
    }
    datadis = next(
        (
            status
            for status in (await datadis_status(store, config))["members"]
            if status["member"] == member.id
        ),
        None,
    )
    return {
        "format": FORMAT,
        "generated_at": utc_text(now),
        "timezone": zone.key,
        "units": {"energy": "kWh", "coefficient": "fraction of the plant's generation (0-1)"},
        "community": {"id": config.community_id, "name": config.results.community_name},
        "member": member.as_dict(),
        "supply_point": {"cups": member.cups, "contracted_kw": member.contracted_kw},
        "latest_reading": await sources(store, member.id),
        "readings": readings,
        "hourly": hourly,
        "agreements": await _agreements(agreements, member.id),
        "datadis": datadis,
        "access_links": [link.as_dict() for link in await portal.history(store, member.id)],
    }


def hourly_csv(data: dict[str, Any]) -> str:
    """Return the hours of ``member_data`` as CSV: a header, one row per hour (RFC 4180).

    Comma separated, dot decimals, empty where unknown, UTF-8 with a byte order mark (so that
    spreadsheets read the accents of a name), CRLF line ends.
    """
    text = io.StringIO()
    text.write("\ufeff")
    writer = csv.DictWriter(text, fieldnames=HOURLY_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(data["hourly"])
    return text.getvalue()
