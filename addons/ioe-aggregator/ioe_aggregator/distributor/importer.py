"""Store what a distributor published: rows mapped to members by CUPS, summed per month.

Used by the CSV import (command line and API) and by the Datadis sync. Rows become readings of
the member's ``grid`` meter with the distributor's source, one batch per member and local month,
so storing the same data again changes nothing (and says so) and a corrected value replaces the
old one.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hashlib
import logging
from typing import Any
from zoneinfo import ZoneInfo

from ioe_aggregator.distributor import ESTIMATED, METER, SOURCE
from ioe_aggregator.distributor.rows import DistributorRow, supply_point
from ioe_aggregator.members.registry import Member
from ioe_aggregator.protocol import Reading, ReadingsBatch
from ioe_aggregator.store import Store

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class MonthImport:
    """What one member's month received: intervals, kWh by quantity, readings new or changed."""

    member: str
    month: str
    intervals: int = 0
    estimated: int = 0
    kwh: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    new: int = 0
    changed: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Return the month as the API and ``--json`` give it."""
        return {
            "member": self.member,
            "month": self.month,
            "intervals": self.intervals,
            "estimated": self.estimated,
            "kwh": {quantity: round(value, 6) for quantity, value in sorted(self.kwh.items())},
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
        }


@dataclass(slots=True)
class ImportSummary:
    """Everything an import did: per member and month, and the supply points it did not know."""

    months: list[MonthImport] = field(default_factory=list)
    # CUPS without a member → how many rows carried it (not stored).
    unknown_cups: dict[str, int] = field(default_factory=dict)
    # Rows left out because the import was limited to one member.
    other_members: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as the API and ``--json`` give it."""
        return {
            "months": [month.as_dict() for month in self.months],
            "unknown_cups": dict(sorted(self.unknown_cups.items())),
            "other_members": self.other_members,
        }


async def store_rows(
    store: Store,
    rows: Iterable[DistributorRow],
    members: Sequence[Member],
    zone: ZoneInfo,
    *,
    origin: str,
    only_member: str | None = None,
) -> ImportSummary:
    """Store the rows of registered supply points; return what each member's months received.

    ``origin`` names where the rows came from (a file's name, ``datadis``): with the data's own
    digest it makes the batch id, so the same data stored twice is recognised as such. With
    ``only_member``, rows of other supply points are counted and left out.
    """
    # A year of quarter hours for many members is a lot of rows: grouped off the event loop.
    summary, months, batches = await asyncio.to_thread(
        _group, rows, members, zone, origin, only_member
    )
    outcomes = await store.store_batches(batches, source=SOURCE) if batches else []
    # One batch per (member, month), in the months' order.
    for key, outcome in zip(sorted(months), outcomes, strict=True):
        totals = months[key]
        totals.new, totals.changed, totals.unchanged = (
            outcome.new,
            outcome.changed,
            outcome.unchanged,
        )
    summary.months = [months[key] for key in sorted(months)]
    for cups, count in summary.unknown_cups.items():
        _LOGGER.warning(
            "%s: %d rows for CUPS %s, which no member has: not stored", origin, count, cups
        )
    return summary


def _group(
    rows: Iterable[DistributorRow],
    members: Sequence[Member],
    zone: ZoneInfo,
    origin: str,
    only_member: str | None,
) -> tuple[ImportSummary, dict[tuple[str, str], MonthImport], list[ReadingsBatch]]:
    """Return the summary so far, each member's months, and one batch per member and month.

    The batches come in the order of the months' keys (member, month).
    """
    summary = ImportSummary()
    grouped: dict[tuple[str, str], list[Reading]] = defaultdict(list)
    months: dict[tuple[str, str], MonthImport] = {}
    digest = hashlib.sha256()
    # Supply points match on their first 20 characters (the boundary suffix aside).
    by_cups = {supply_point(member.cups): member for member in members}
    for row in rows:
        member = by_cups.get(supply_point(row.cups))
        if member is None:
            summary.unknown_cups[row.cups] = summary.unknown_cups.get(row.cups, 0) + 1
            continue
        if only_member is not None and member.id != only_member:
            summary.other_members += 1
            continue
        month = row.start.astimezone(zone).strftime("%Y-%m")
        key = (member.id, month)
        totals = months.setdefault(key, MonthImport(member=member.id, month=month))
        totals.intervals += 1
        totals.estimated += row.quality == ESTIMATED
        for quantity, value in row.kwh.items():
            totals.kwh[quantity] += value
            grouped[key].append(
                Reading(
                    meter=METER,
                    quantity=quantity,
                    start=row.start,
                    end=row.end,
                    value=value,
                    quality=row.quality,
                )
            )
            digest.update(f"{row.cups}{row.start}{quantity}{value}{row.quality}".encode())
    batch_id = f"{origin}:{digest.hexdigest()[:16]}"
    batches = [
        ReadingsBatch(
            member=member_id,
            batch=f"{batch_id}:{month}",
            sent_at=datetime.now(UTC),
            readings=tuple(grouped[member_id, month]),
            live=None,
        )
        for member_id, month in sorted(grouped)
    ]
    return summary, months, batches
