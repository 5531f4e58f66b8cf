"""The readings: stored by batch (new, changed or already there), read back, and totalled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
import time

from ioe_aggregator.protocol.codec import (
    COMMUNITY_PLANT,
    SUPPLY_IMPORT,
    Measure,
    Reading,
    ReadingsBatch,
)
from ioe_aggregator.store import sql
from ioe_aggregator.store.connection import Connection, open_database
from ioe_aggregator.store.database import Row, Transaction

# Where readings come from: the member's own meters (the link), or its distributor.
SOURCE_MEMBER = "member"
HOUR_S = 3600


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What storing a batch did: readings new, changed (another value) or already there.

    ``over_quota``: nothing was stored, as the member's data would pass its quota.
    """

    new: int
    changed: int
    unchanged: int
    over_quota: bool = False

    @property
    def stored(self) -> int:
        """Readings written: new or changed."""
        return self.new + self.changed


@dataclass(frozen=True, slots=True)
class StoredReading:
    """One reading as stored: whose, from where, and how often its value was replaced."""

    member: str
    reading: Reading
    source: str
    changes: int


@dataclass(frozen=True, slots=True)
class Totals:
    """The community's energy over a period: kWh by measure (meter, quantity), and who sent it.

    ``members``: how many members sent any reading; ``contributors``: how many sent each
    measure; ``sparse``: per measure, in how many intervals fewer than the threshold asked
    for sent it (a total over such an interval reveals a household's figures, and two totals
    over overlapping periods tell an interval's). A community plant's measure counts only
    members with a registered plant.
    """

    members: int
    kwh: dict[Measure, float]
    contributors: dict[Measure, int]
    sparse: dict[Measure, int]


class Store(Connection):
    """The service's data: readings here; members, tokens and the rest through transactions."""

    async def store_batch(
        self, batch: ReadingsBatch, *, source: str = SOURCE_MEMBER
    ) -> BatchOutcome:
        """Upsert a batch's readings in one transaction; return what changed.

        When this returns, the transaction has committed: the batch may be acknowledged.
        """
        return (await self.store_batches([batch], source=source))[0]

    async def store_batches(
        self,
        batches: Sequence[ReadingsBatch],
        *,
        source: str = SOURCE_MEMBER,
        quota_rows: int | None = None,
    ) -> list[BatchOutcome]:
        """Upsert several batches in one transaction (one commit for all); return each outcome.

        Batches are applied in order, so a later batch's value wins over an earlier one's. The
        whole group costs a few queries per member and two bulk statements, however many
        batches it holds (each statement is a trip to the database's thread or server).

        A batch with readings is recorded (when it came, how often); one without (a live
        report alone, every few seconds) leaves no trace but its live part. With
        ``quota_rows``, the rows each member's data takes (its readings and batch records) are
        counted, and a batch that would take a member past the quota is not stored.
        """
        now_s = int(time.time())
        spans: dict[str, tuple[int, int]] = {}
        ids: dict[str, set[str]] = {}
        for batch in batches:
            if batch.readings:
                ids.setdefault(batch.member, set()).add(batch.batch)
            for reading in batch.readings:
                start = sql.seconds(reading.start)
                low, high = spans.get(batch.member, (start, start))
                spans[batch.member] = (min(low, start), max(high, start))
        outcomes = []
        rows: list[Row] = []
        stored: list[ReadingsBatch] = []
        async with self.transaction() as tx:
            known: dict[str, dict[Row, Row]] = {}
            coverage: dict[tuple[int, str], int] = {}
            for member, (low, high) in spans.items():
                existing = await tx.execute(sql.SELECT_EXISTING, (source, member, low, high))
                known[member] = {(r[0], r[1], r[2], r[3]): (r[4], r[5]) for r in existing}
            usage = await _usage(tx, ids) if quota_rows is not None else {}
            added_rows: dict[str, int] = {}
            for batch in batches:
                member_known = known.setdefault(batch.member, {})
                planned, outcome = _plan_batch(batch, member_known)
                if quota_rows is not None and batch.readings:
                    used, recorded = usage[batch.member]
                    added = outcome.new + (batch.batch not in recorded)
                    if used + added > quota_rows:
                        outcomes.append(BatchOutcome(0, 0, 0, over_quota=True))
                        continue
                    recorded.add(batch.batch)
                    usage[batch.member] = (used + added, recorded)
                    added_rows[batch.member] = added_rows.get(batch.member, 0) + added
                _add_coverage(coverage, batch.member, planned, member_known)
                member_known.update({row[:4]: row[4:] for row in planned})
                rows.extend((source, batch.member, *row, now_s) for row in planned)
                stored.append(batch)
                outcomes.append(outcome)
            if rows:
                await tx.executemany(sql.UPSERT_READING, rows)
            await tx.executemany(
                sql.RECORD_BATCH,
                [(b.member, b.batch, now_s, now_s, len(b.readings)) for b in stored if b.readings],
            )
            if added_rows:
                await tx.executemany(sql.ADD_USAGE, list(added_rows.items()))
            if coverage:
                await tx.executemany(
                    sql.ADD_COVERAGE,
                    [(source, hour, member, s) for (hour, member), s in coverage.items()],
                )
        return outcomes

    async def last_readings(self, *, source: str = SOURCE_MEMBER) -> dict[str, datetime]:
        """Return when each registered member's latest reading ends (none: never sent one)."""
        async with self.transaction() as tx:
            rows = await tx.execute(sql.SELECT_LAST_READINGS, (source,))
        return {str(row[0]): sql.moment(int(row[1])) for row in rows if row[1] is not None}

    async def daily_coverage(
        self, source: str, start: datetime, end: datetime, offsets: Sequence[tuple[int, int]]
    ) -> list[tuple[str, int, int]]:
        """Return (member, local day, seconds) the grid import covers, hours in [start, end).

        ``offsets``: (UTC second it starts, UTC offset in seconds) of the local time, oldest
        first, the first in force at ``start``; a local day is counted in days since the
        epoch. The zone's offsets must be whole hours (Spain's are).
        """
        parameters: list[int | str] = []
        for (moment_s, _offset), (_start, before) in zip(offsets[1:], offsets, strict=False):
            parameters += [moment_s, before]
        parameters += [offsets[-1][1], source, sql.seconds(start), sql.seconds(end)]
        query = sql.select_daily_coverage(len(offsets) - 1)
        async with self.transaction() as tx:
            rows = await tx.execute(query, parameters)
        return [(str(row[0]), int(row[1]), int(row[2])) for row in rows]

    async def readings(
        self, member: str, start: datetime, end: datetime, *, source: str = SOURCE_MEMBER
    ) -> Sequence[StoredReading]:
        """Return a member's readings starting in [start, end), oldest first."""
        async with self.transaction() as tx:
            rows = await tx.execute(
                sql.SELECT_READINGS, (source, member, sql.seconds(start), sql.seconds(end))
            )
        return [
            StoredReading(
                member=row[0],
                reading=Reading(
                    meter=row[1],
                    quantity=row[2],
                    start=sql.moment(row[3]),
                    end=sql.moment(row[4]),
                    value=row[5],
                    quality=row[6],
                ),
                source=row[7],
                changes=row[8],
            )
            for row in rows
        ]

    async def totals(
        self,
        start: datetime,
        end: datetime,
        *,
        min_contributors: int | None,
        source: str = SOURCE_MEMBER,
    ) -> Totals:
        """Return the community's energy by measure for readings starting in [start, end).

        ``sparse`` counts the intervals fewer than ``min_contributors`` members sent (none are
        counted without it: a caller who may read every member's figures withholds nothing).
        """
        period = (source, sql.seconds(start), sql.seconds(end))
        measures = (*period, COMMUNITY_PLANT.meter)
        async with self.transaction() as tx:
            rows = await tx.execute(sql.SELECT_TOTALS, measures)
            contributors = await tx.execute(sql.SELECT_CONTRIBUTORS, period)
            sparse = (
                []
                if min_contributors is None
                else await tx.execute(sql.SELECT_SPARSE, (*measures, min_contributors))
            )
        return Totals(
            members=int(contributors[0][0]),
            kwh={Measure(str(row[0]), str(row[1])): float(row[3]) for row in rows},
            contributors={Measure(str(row[0]), str(row[1])): int(row[2]) for row in rows},
            sparse={Measure(str(row[0]), str(row[1])): int(row[2]) for row in sparse},
        )

    async def hourly(
        self,
        meter: str,
        quantity: str,
        start: datetime,
        end: datetime,
        *,
        source: str = SOURCE_MEMBER,
        member: str | None = None,
    ) -> list[tuple[str, datetime, float]]:
        """Return (member, UTC hour, kWh): one meter's quantity per hour in [start, end).

        Every member's, or only ``member``'s.
        """
        query = sql.SELECT_HOURLY if member is None else sql.SELECT_MEMBER_HOURLY
        parameters = _hourly_parameters(source, meter, quantity, start, end, member=member)
        async with self.transaction() as tx:
            rows = await tx.execute(query, parameters)
        return [(str(row[0]), sql.moment(int(row[1])), float(row[2])) for row in rows]

    async def complete_hours(
        self,
        meter: str,
        quantity: str,
        start: datetime,
        end: datetime,
        *,
        source: str = SOURCE_MEMBER,
        member: str | None = None,
    ) -> dict[tuple[str, datetime], float]:
        """Return (member, UTC hour) → kWh for the hours the readings cover exactly once.

        Every member's, or only ``member``'s. An hour with a gap, or covered twice (hourly and
        quarter-hour values together), is left out rather than guessed.
        """
        query = sql.SELECT_HOURLY_COVERAGE if member is None else sql.SELECT_MEMBER_HOURLY_COVERAGE
        parameters = _hourly_parameters(source, meter, quantity, start, end, member=member)
        async with self.transaction() as tx:
            rows = await tx.execute(query, parameters)
        return {
            (str(row[0]), sql.moment(int(row[1]))): float(row[2])
            for row in rows
            if int(row[3]) == HOUR_S
        }


def _hourly_parameters(
    source: str, meter: str, quantity: str, start: datetime, end: datetime, *, member: str | None
) -> tuple[str | int, ...]:
    """Return the parameters of the hourly queries: one member's take the member last."""
    parameters = (source, meter, quantity, sql.seconds(start), sql.seconds(end))
    return parameters if member is None else (*parameters, member)


async def _usage(tx: Transaction, ids: dict[str, set[str]]) -> dict[str, tuple[int, set[str]]]:
    """Return, per member, the rows its data takes and which of ``ids`` it already recorded."""
    usage = {}
    for member, batch_ids in ids.items():
        rows = await tx.execute(sql.SELECT_USAGE, (member,))
        query = sql.select_recorded_batches(len(batch_ids))
        recorded = await tx.execute(query, (member, *batch_ids))
        usage[member] = (int(rows[0][0]) if rows else 0, {str(row[0]) for row in recorded})
    return usage


def _add_coverage(
    coverage: dict[tuple[int, str], int], member: str, planned: list[Row], known: dict[Row, Row]
) -> None:
    """Add the seconds the new grid import readings of ``planned`` cover to their UTC hours.

    A reading already in ``known`` only changes its value: it covers nothing new.
    """
    for row in planned:
        if (row[0], row[1]) == SUPPLY_IMPORT and row[:4] not in known:
            hour = row[2] // HOUR_S * HOUR_S
            coverage[hour, member] = coverage.get((hour, member), 0) + row[3] - row[2]


def _plan_batch(batch: ReadingsBatch, known: dict[Row, Row]) -> tuple[list[Row], BatchOutcome]:
    """Return the readings of a batch to write (new or changed) and the outcome.

    ``known`` maps the member's stored (meter, quantity, start, end) to (value, quality), with
    what earlier batches of the same transaction write.
    """
    rows: list[Row] = []
    new = changed = 0
    for reading in batch.readings:
        identity = (
            reading.meter,
            reading.quantity,
            sql.seconds(reading.start),
            sql.seconds(reading.end),
        )
        after = (reading.value, reading.quality)
        before = known.get(identity)
        if before == after:
            continue
        if before is None:
            new += 1
        else:
            changed += 1
        rows.append((*identity, *after))
    return rows, BatchOutcome(new=new, changed=changed, unchanged=len(batch.readings) - len(rows))


async def open_store(url: str) -> Store:
    """Open the store a database URL names (``sqlite:///PATH`` or ``postgresql://…``).

    The schema is brought up to date before this returns.
    """
    store = Store(await open_database(url))
    try:
        await store.migrate()
        await store.use_timescaledb()
    except BaseException:
        await store.close()
        raise
    return store
