"""The readings: stored by batch (new, changed or already there), read back, and totalled.

Raw readings older than the manager keeps (``forget_readings``) are deleted; their hourly and
daily sums stay, and stay exact: a reading that starts before the horizon is not stored any
more (``BatchOutcome.expired``), as it would be counted in the sums a second time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
import logging
import time
from zoneinfo import ZoneInfo

from ioe_aggregator.protocol.codec import COMMUNITY_PLANT, Measure, Reading, ReadingsBatch
from ioe_aggregator.sharing.calendar import DEFAULT_TZ
from ioe_aggregator.store import rollups, sql
from ioe_aggregator.store.connection import SELECT_SETTING, Connection, open_database
from ioe_aggregator.store.database import Database, Row, Transaction
from ioe_aggregator.store.rollups import HOUR_S, LocalDays

_LOGGER = logging.getLogger(__name__)
# Where readings come from: the member's own meters (the link), or its distributor.
SOURCE_MEMBER = "member"
_EPOCH = date(1970, 1, 1)
PUT_SETTING = """INSERT INTO settings (key, value) VALUES (?, ?)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value"""
# The raw readings kept: "FROM_S SET_S", readings from FROM_S on, so since SET_S.
KEPT_FROM_SETTING = "readings_kept_from"
# Readings are forgotten below a horizon set at least this long before: a transaction that
# began before it was set (and may store below it) has ended by then.
FORGET_GRACE_S = 600
_DAY_S = 86400


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What storing a batch did: readings new, changed (another value) or already there.

    ``over_quota``: nothing was stored, as the member's data would pass its quota.
    ``expired``: readings not stored as they start before the raw readings kept.
    """

    new: int
    changed: int
    unchanged: int
    over_quota: bool = False
    expired: int = 0

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
    """The service's data: readings here; members, tokens and the rest through transactions.

    Its days are the community's local days (``zone``): the readings' daily sums and the
    completeness's days are counted in them.
    """

    def __init__(self, database: Database, zone: ZoneInfo) -> None:
        """Wrap an open database whose days are ``zone``'s; use ``open_store`` to get one."""
        super().__init__(database)
        self.days = LocalDays(zone)

    async def sum_days(self) -> None:
        """Sum the hours into the zone's local days, unless they were summed in it already.

        Once after the hours were first made, and again when the community's zone changes.
        """
        zone = self.days.zone.key
        async with self.transaction() as tx:
            if self._database.migration_lock:  # replicas starting together: one sums
                await tx.execute(self._database.migration_lock)
            summed = await tx.execute(SELECT_SETTING, (rollups.DAYS_ZONE_SETTING,))
            if summed and summed[0][0] == zone:
                return
            await tx.execute(rollups.FORGET_DAYS)
            first_s, last_s = (await tx.execute(rollups.SPAN_OF_HOURS))[0]
            if first_s is not None:
                first = datetime.fromtimestamp(int(first_s), self.days.zone).date()
                last = datetime.fromtimestamp(int(last_s), self.days.zone).date()
                offsets = rollups.offsets_within(self.days.zone, first, last)
                await tx.execute(*rollups.sum_days(offsets))
            await tx.execute(PUT_SETTING, (rollups.DAYS_ZONE_SETTING, zone))
        _LOGGER.info("Daily sums of the readings made in %s", zone)

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
                # Every reading of the hours the batch starts in: what the hours cover matters.
                start = sql.seconds(reading.start) // HOUR_S * HOUR_S
                low, high = spans.get(batch.member, (start, start))
                spans[batch.member] = (min(low, start), max(high, start + HOUR_S - 1))
        outcomes = []
        rows: list[Row] = []
        stored: list[ReadingsBatch] = []
        async with self.transaction() as tx:
            if self._database.key_lock:
                # Two connections storing one member's readings at once would each find them
                # new and add them to the sums twice: they take turns, in one order (no
                # deadlock), and the second reads what the first wrote.
                for member in sorted(spans):
                    await tx.execute(self._database.key_lock, (f"readings/{source}/{member}",))
            kept = await _kept_from(tx)
            horizon_s = kept[0] if kept else 0
            known: dict[str, dict[Row, Row]] = {}
            summed: dict[str, set[Row]] = {}
            sums = rollups.Changes()
            for member, (low, high) in spans.items():
                existing = await tx.execute(sql.SELECT_EXISTING, (source, member, low, high))
                known[member] = {(r[0], r[1], r[2], r[3]): (r[4], r[5]) for r in existing}
                if low < horizon_s:
                    summed[member] = await _summed_hours(tx, source, member, batches, horizon_s)
            usage = await _usage(tx, ids) if quota_rows is not None else {}
            added_rows: dict[str, int] = {}
            for batch in batches:
                member_known = known.setdefault(batch.member, {})
                planned, outcome = _plan_batch(
                    batch, member_known, horizon_s, summed.get(batch.member, set())
                )
                if quota_rows is not None and batch.readings:
                    used, recorded = usage[batch.member]
                    added = outcome.new + (batch.batch not in recorded)
                    if used + added > quota_rows:
                        outcomes.append(BatchOutcome(0, 0, 0, over_quota=True))
                        continue
                    recorded.add(batch.batch)
                    usage[batch.member] = (used + added, recorded)
                    added_rows[batch.member] = added_rows.get(batch.member, 0) + added
                sums.add(batch.member, planned, member_known, self.days)
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
            await sums.write(tx, source)
        return outcomes

    async def kept_from(self) -> datetime | None:
        """Return from when the raw readings are kept (None: all of them)."""
        async with self.transaction() as tx:
            kept = await _kept_from(tx)
        return None if kept is None else sql.moment(kept[0])

    async def forget_readings(self, before: datetime, *, grace_s: int = FORGET_GRACE_S) -> int:
        """Forget the raw readings below the horizon; make ``before`` the next horizon.

        Two steps, so that no transaction storing a reading is caught between them: readings
        that start before the horizon are not stored from the moment it is set (``expired``),
        and they are deleted once it has been set for ``grace_s``: at the next run (the
        leader's runs every ``retention.EVERY_S``). The hourly and daily sums stay; a member's
        quota is given back the rows freed.
        Return how many readings were deleted.
        """
        now_s = int(time.time())
        async with self.transaction() as tx:
            kept = await _kept_from(tx)
        forgotten = 0
        if kept is not None and kept[1] <= now_s - grace_s:
            forgotten = await self._forget_below(kept[0])
        before_s = sql.seconds(before)
        async with self.transaction() as tx:
            kept = await _kept_from(tx)  # (never moved back, whoever set it meanwhile)
            if kept is None or before_s > kept[0]:
                await tx.execute(PUT_SETTING, (KEPT_FROM_SETTING, f"{before_s} {now_s}"))
        return forgotten

    async def _forget_below(self, horizon_s: int) -> int:
        """Delete the readings starting before ``horizon_s``, a day per transaction."""
        forgotten = 0
        async with self.transaction() as tx:
            sources = [str(row[0]) for row in await tx.execute(sql.SELECT_SOURCES)]
        for source in sources:
            async with self.transaction() as tx:
                oldest = (await tx.execute(sql.SELECT_OLDEST_READING, (source,)))[0][0]
            low = horizon_s if oldest is None else int(oldest) // _DAY_S * _DAY_S
            while low < horizon_s:
                high = min(low + _DAY_S, horizon_s)
                async with self.transaction() as tx:
                    gone = await tx.execute(sql.DELETE_READINGS, (source, low, high))
                    if source == SOURCE_MEMBER:
                        await _free(tx, Counter(str(row[0]) for row in gone))
                forgotten += len(gone)
                low = high
        async with self.transaction() as tx:
            gone = await tx.execute(sql.DELETE_OLD_BATCHES, (horizon_s,))
            # The distributor's batch records are not the member's own data (not counted).
            await _free(tx, Counter(str(m) for m, batch in gone if not _distributors(str(batch))))
            if self.timescaledb:  # the emptied chunks' files go (deleted rows leave them)
                await tx.execute(sql.DROP_CHUNKS, (horizon_s,))
        if forgotten:
            _LOGGER.info(
                "Forgot %s raw readings before %s (their hourly and daily sums stay)",
                forgotten,
                sql.moment(horizon_s).date(),
            )
        return forgotten

    async def last_readings(self, *, source: str = SOURCE_MEMBER) -> dict[str, datetime]:
        """Return when each registered member's latest reading ends (none: never sent one)."""
        async with self.transaction() as tx:
            rows = await tx.execute(sql.SELECT_LAST_READINGS, (source, source))
        return {str(row[0]): sql.moment(int(row[1])) for row in rows if row[1] is not None}

    async def last_reading(self, member: str, *, source: str = SOURCE_MEMBER) -> datetime | None:
        """Return when a member's latest reading ends (None: it never sent one)."""
        async with self.transaction() as tx:
            rows = await tx.execute(sql.SELECT_LAST_READING, (source, member, source, member))
        return sql.moment(int(rows[0][0])) if rows and rows[0][0] is not None else None

    async def daily_coverage(
        self, measure: Measure, first: date, last: date, *, source: str
    ) -> list[tuple[str, date, int]]:
        """Return (member, local day, seconds) a measure's readings cover, ``first``…``last``.

        An hour counts at most 3600 s (hourly and quarter-hour values of it together).
        """
        span = ((first - _EPOCH).days, (last - _EPOCH).days + 1)
        async with self.transaction() as tx:
            rows = await tx.execute(rollups.DAYS_COVERED, (source, *measure, *span))
        return [(str(row[0]), _EPOCH + timedelta(days=int(row[1])), int(row[2])) for row in rows]

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
        start_s, end_s = sql.seconds(start), sql.seconds(end)
        pieces = rollups.split(start_s, end_s, self.days)
        sums: dict[tuple[str, Measure], float] = {}
        async with self.transaction() as tx:
            parts = [
                await tx.execute(query, (source, *piece))
                for query, pieces_of in (
                    (rollups.SUMS_OF_READINGS, pieces.readings),
                    (rollups.SUMS_OF_HOURS, pieces.hours),
                )
                for piece in pieces_of
            ]
            if pieces.days is not None:
                parts.append(await tx.execute(rollups.SUMS_OF_DAYS, (source, *pieces.days)))
            plants = {str(row[0]) for row in await tx.execute(sql.SELECT_PLANT_MEMBERS)}
            kept = await _kept_from(tx)
            sparse = (
                []
                if min_contributors is None or min_contributors <= 1
                else [
                    row
                    for query in (sql.SELECT_SPARSE, sql.SELECT_SPARSE_PLANT)
                    for row in await tx.execute(
                        query, (source, start_s, end_s, COMMUNITY_PLANT.meter, min_contributors)
                    )
                ]
            )
        for rows in parts:
            for member, meter, quantity, energy in rows:
                key = (str(member), Measure(str(meter), str(quantity)))
                sums[key] = sums.get(key, 0.0) + float(energy)
        kwh: dict[Measure, float] = {}
        contributors: dict[Measure, int] = {}
        for member, measure in sorted(sums, key=lambda key: key[1]):
            if measure.meter == COMMUNITY_PLANT.meter and member not in plants:
                continue
            kwh[measure] = kwh.get(measure, 0.0) + sums[member, measure]
            contributors[measure] = contributors.get(measure, 0) + 1
        withheld = {Measure(str(row[0]), str(row[1])): int(row[2]) for row in sparse}
        if (
            kept is not None
            and start_s < kept[0]
            and min_contributors is not None
            and min_contributors > 1
            and COMMUNITY_PLANT in kwh
        ):
            # The plant's intervals are told sparse from its readings (who holds a plant
            # changes), and those before the horizon are forgotten: the rule cannot be checked
            # there any more, so its figure is withheld.
            withheld[COMMUNITY_PLANT] = max(withheld.get(COMMUNITY_PLANT, 0), 1)
        return Totals(
            members=len({member for member, _measure in sums}),
            kwh=kwh,
            contributors=contributors,
            sparse=withheld,
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

        Every member's, or ``member``'s alone.
        """
        hours = await self._hours(Measure(meter, quantity), start, end, source, member)
        return [(who, sql.moment(hour), kwh) for (who, hour), (kwh, _s) in hours.items()]

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

        An hour with a gap, or covered twice (hourly and quarter-hour values together), is left
        out rather than guessed. Every member's, or ``member``'s alone.
        """
        hours = await self._hours(Measure(meter, quantity), start, end, source, member)
        return {
            (who, sql.moment(hour)): kwh
            for (who, hour), (kwh, covered_s) in hours.items()
            if covered_s == HOUR_S
        }

    async def _hours(
        self, measure: Measure, start: datetime, end: datetime, source: str, member: str | None
    ) -> dict[tuple[str, int], tuple[float, int]]:
        """Return (member, UTC hour) → (kWh, seconds covered) of readings in [start, end)."""
        pieces = rollups.split(sql.seconds(start), sql.seconds(end), None)
        one = () if member is None else (member,)
        of_readings = rollups.hours_of_readings(one_member=member is not None)
        of_hours = rollups.hours_of_hours(one_member=member is not None)
        async with self.transaction() as tx:
            parts = [
                *[
                    await tx.execute(of_readings, (source, *measure, *p, *one))
                    for p in pieces.readings
                ],
                *[await tx.execute(of_hours, (source, *measure, *p, *one)) for p in pieces.hours],
            ]
        return rollups.merge_hours(parts)


async def _usage(tx: Transaction, ids: dict[str, set[str]]) -> dict[str, tuple[int, set[str]]]:
    """Return, per member, the rows its data takes and which of ``ids`` it already recorded."""
    usage = {}
    for member, batch_ids in ids.items():
        rows = await tx.execute(sql.SELECT_USAGE, (member,))
        query = sql.select_recorded_batches(len(batch_ids))
        recorded = await tx.execute(query, (member, *batch_ids))
        usage[member] = (int(rows[0][0]) if rows else 0, {str(row[0]) for row in recorded})
    return usage


def _plan_batch(
    batch: ReadingsBatch, known: dict[Row, Row], horizon_s: int, summed: set[Row]
) -> tuple[list[Row], BatchOutcome]:
    """Return the readings of a batch to write (new or changed) and the outcome.

    ``known`` maps the member's stored (meter, quantity, start, end) to (value, quality), with
    what earlier batches of the same transaction write. A reading starting before
    ``horizon_s`` whose raw reading is not there (forgotten, or never sent) is written only
    into an hour its measure has no sum of yet (``summed``: (meter, quantity, hour)): history
    arriving late (a first Datadis sync, an import). Else it is expired: the sum holds it.
    """
    rows: list[Row] = []
    new = changed = expired = 0
    for reading in batch.readings:
        identity = (
            reading.meter,
            reading.quantity,
            sql.seconds(reading.start),
            sql.seconds(reading.end),
        )
        hour = (reading.meter, reading.quantity, identity[2] // HOUR_S * HOUR_S)
        if identity[2] < horizon_s and identity not in known and hour in summed:
            expired += 1
            continue
        after = (reading.value, reading.quality)
        before = known.get(identity)
        if before == after:
            continue
        if before is None:
            new += 1
        else:
            changed += 1
        rows.append((*identity, *after))
    unchanged = len(batch.readings) - len(rows) - expired
    return rows, BatchOutcome(new=new, changed=changed, unchanged=unchanged, expired=expired)


async def _summed_hours(
    tx: Transaction, source: str, member: str, batches: Sequence[ReadingsBatch], horizon_s: int
) -> set[Row]:
    """Return the (meter, quantity, hour) before the horizon that hold a sum of ``member``.

    Only of the measures and hours its readings in ``batches`` start in.
    """
    spans: dict[tuple[str, str], tuple[int, int]] = {}
    for batch in batches:
        if batch.member != member:
            continue
        for reading in batch.readings:
            start = sql.seconds(reading.start)
            if start < horizon_s:
                low, high = spans.get((reading.meter, reading.quantity), (start, start))
                spans[reading.meter, reading.quantity] = (min(low, start), max(high, start))
    summed: set[Row] = set()
    for (meter, quantity), (low, high) in spans.items():
        first_hour = low // HOUR_S * HOUR_S
        hours = await tx.execute(
            sql.SELECT_SUMMED_HOURS, (source, member, meter, quantity, first_hour, high)
        )
        summed.update((meter, quantity, int(row[0])) for row in hours)
    return summed


async def _free(tx: Transaction, rows: Counter[str]) -> None:
    """Take the rows forgotten off their members' quotas."""
    await tx.executemany(sql.FREE_USAGE, [(n, n, member) for member, n in rows.items()])


def _distributors(batch: str) -> bool:
    """Return whether a batch record is of the distributor's data (a CSV file, Datadis)."""
    return batch.startswith(("csv:", "datadis:"))


async def _kept_from(tx: Transaction) -> tuple[int, int] | None:
    """Return (from when raw readings are kept, since when), None when all are."""
    rows = await tx.execute(SELECT_SETTING, (KEPT_FROM_SETTING,))
    if not rows:
        return None
    from_s, set_s = str(rows[0][0]).split()
    return int(from_s), int(set_s)


async def open_store(url: str, *, zone: ZoneInfo | None = None) -> Store:
    """Open the store a database URL names (``sqlite:///PATH`` or ``postgresql://…``).

    ``zone``: the community's (its local days; Madrid's unless told). The schema is brought
    up to date, and the days summed in the zone, before this returns.
    """
    store = Store(await open_database(url), zone or ZoneInfo(DEFAULT_TZ))
    try:
        await store.migrate()
        await store.use_timescaledb()
        await store.sum_days()
    except BaseException:
        await store.close()
        raise
    return store
