"""Store what a distributor published: rows mapped to members by CUPS, summed per month.

Used by the CSV import (`import_csv`: command line and API) and by the Datadis sync
(`store_rows`). Rows become readings of the member's ``grid`` meter with the distributor's
source, one batch per member and local month. Each batch is stored in its own transaction, of
at most MAX_BATCH_READINGS readings: the ingest's writer shares the database (SQLite lets one
writer at a time), and takes its turn between two of them however big the import. A batch's id
is its origin, the digest of its content and its month, so storing the same data again changes
nothing (and says so) and a corrected value replaces the old one.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hashlib
import logging
import time
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from ioe_aggregator.distributor.csv_files import CsvFile, open_csv
from ioe_aggregator.distributor.model import ESTIMATED, METER, SOURCE
from ioe_aggregator.distributor.rows import DistributorRow, supply_point
from ioe_aggregator.members.registry import Member
from ioe_aggregator.protocol.codec import Reading, ReadingsBatch
from ioe_aggregator.store import Store

_LOGGER = logging.getLogger(__name__)
# The readings of one transaction, at most: a member's month of quarter hours with all four
# quantities (11,904) is one. Such a transaction takes about 0.2 s, and the ingest's batches
# that wait behind it are acknowledged well within a second (``scripts/bench upload``,
# docs/benchmarks.md). Smaller ones shorten the wait little and slow the import: each first
# reads what its member already has.
MAX_BATCH_READINGS = 12_000
# After each transaction, the import waits this fraction of the time it took, so that the
# ingest, which needs two transactions in a row (who may send, then the batch), gets both.
GIVE_WAY = 0.25


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

    @property
    def stored(self) -> int:
        """Readings written, new or changed, over every month."""
        return sum(month.new + month.changed for month in self.months)

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as the API and ``--json`` give it."""
        return {
            "months": [month.as_dict() for month in self.months],
            "unknown_cups": dict(sorted(self.unknown_cups.items())),
            "other_members": self.other_members,
        }


type _Batches = list[tuple[MonthImport, ReadingsBatch]]


class _Batcher:
    """Turns rows into one batch per member and month, and keeps the summary of an import."""

    def __init__(
        self, members: Sequence[Member], zone: ZoneInfo, origin: str, only_member: str | None
    ) -> None:
        # Supply points match on their first 20 characters (the boundary suffix aside).
        self._by_cups = {supply_point(member.cups): member for member in members}
        self._zone = zone
        self._origin = origin
        self._only_member = only_member
        self._months: dict[tuple[str, str], MonthImport] = {}
        self._summary = ImportSummary()

    def batches(self, rows: Iterable[DistributorRow]) -> _Batches:
        """Return the rows' batches, each with the month it adds to (in the months' order).

        A month of more than MAX_BATCH_READINGS readings is split into several batches.
        """
        grouped: dict[tuple[str, str], list[Reading]] = defaultdict(list)
        unknown = self._summary.unknown_cups
        for row in rows:
            member = self._by_cups.get(supply_point(row.cups))
            if member is None:
                unknown[row.cups] = unknown.get(row.cups, 0) + 1
                continue
            if self._only_member is not None and member.id != self._only_member:
                self._summary.other_members += 1
                continue
            local = row.start.astimezone(self._zone)
            month = f"{local.year}-{local.month:02d}"
            key = (member.id, month)
            totals = self._months.setdefault(key, MonthImport(member=member.id, month=month))
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
        batches: _Batches = []
        for key in sorted(grouped):
            readings = grouped[key]
            batch_id = f"{self._origin}:{batch_digest(readings)}:{key[1]}"
            for part, first in enumerate(range(0, len(readings), MAX_BATCH_READINGS)):
                batch = ReadingsBatch(
                    member=key[0],
                    batch=f"{batch_id}:{part + 1}" if part else batch_id,
                    sent_at=datetime.now(UTC),
                    readings=tuple(readings[first : first + MAX_BATCH_READINGS]),
                    live=None,
                )
                batches.append((self._months[key], batch))
        return batches

    def summary(self) -> ImportSummary:
        """Return what the import did, its months in order; log the supply points not stored."""
        self._summary.months = [self._months[key] for key in sorted(self._months)]
        for cups, count in self._summary.unknown_cups.items():
            _LOGGER.warning(
                "%s: %d rows for CUPS %s, which no member has: not stored",
                self._origin,
                count,
                cups,
            )
        return self._summary


def batch_digest(readings: Sequence[Reading]) -> str:
    """Return what tells a month's data from other data: a digest of its readings."""
    content = [(r.quantity, r.start.timestamp(), r.value, r.quality) for r in readings]
    return hashlib.sha256(repr(content).encode()).hexdigest()[:16]


async def _store(store: Store, batches: _Batches) -> None:
    """Store each batch in its own transaction, giving way after each; add what it did to its month.

    The pause lets the service's other writers have the database before the import's next
    transaction, even one that needs two in a row (the ingest reads who may send, then stores).
    """
    for totals, batch in batches:
        began = time.monotonic()
        (outcome,) = await store.store_batches([batch], source=SOURCE)
        totals.new += outcome.new
        totals.changed += outcome.changed
        totals.unchanged += outcome.unchanged
        await asyncio.sleep((time.monotonic() - began) * GIVE_WAY)


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

    ``origin`` names where the rows came from (a file's name, ``datadis``): with the digest of
    each batch's data it makes the batch id, so the same data stored twice is recognised as
    such. With ``only_member``, rows of other supply points are counted and left out.
    """
    batcher = _Batcher(members, zone, origin, only_member)
    # Many rows are a lot of readings to make: off the event loop.
    await _store(store, await asyncio.to_thread(batcher.batches, rows))
    return batcher.summary()


async def import_csv(
    store: Store,
    file: BinaryIO,
    members: Sequence[Member],
    zone: ZoneInfo,
    *,
    origin: str,
    only_member: str | None = None,
) -> tuple[CsvFile, ImportSummary]:
    """Import a distributor's export from a file on disk; return the file read and the summary.

    The file is read in a worker thread a supply point's month at a time (`csv_files`), each
    month stored before the next is read. As `store_rows` otherwise. Refuses (invalid) a file
    with no header of a known format.
    """
    parsed = await asyncio.to_thread(open_csv, file, zone)
    batcher = _Batcher(members, zone, origin, only_member)
    months = parsed.months()
    # Not read while a month is stored: Python runs one thread at a time, and a thread reading
    # the file would make each transaction (and the ingest's batches waiting behind it) last
    # several times longer.
    while (batches := await asyncio.to_thread(_next_batches, months, batcher)) is not None:
        await _store(store, batches)
    return parsed, batcher.summary()


def _next_batches(months: Iterator[list[DistributorRow]], batcher: _Batcher) -> _Batches | None:
    """Return the batches of the next month that has any, or None after the last one."""
    for rows in months:
        if batches := batcher.batches(rows):
            return batches
    return None
