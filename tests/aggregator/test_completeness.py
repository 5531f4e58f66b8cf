"""Completeness of the members' data per local day, on both backends (``history.completeness``).

Quarter hours present per member, day and source, counted as readings arrive: a corrected
value covers nothing new, a late one fills its gap, the distributor's hourly values count
four quarter hours, and the days the clocks change have 92 and 100 quarter hours.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ioe_aggregator.distributor.model import SOURCE as DISTRIBUTOR
from ioe_aggregator.distributor.timeline import local_midnight
from ioe_aggregator.history.completeness import completeness
from ioe_aggregator.protocol.codec import Reading, ReadingsBatch
from ioe_aggregator.store import SOURCE_MEMBER, Store, open_store
from ioe_aggregator.store.migrations import MIGRATIONS
from ioe_aggregator.store.rollups import offsets_within
from ioe_dev.synthetic import quarter_batch

MADRID = ZoneInfo("Europe/Madrid")
CANARY = ZoneInfo("Atlantic/Canary")
SPRING, AUTUMN = date(2026, 3, 29), date(2026, 10, 25)


def _day(member: str, day: date, *, zone: ZoneInfo = MADRID, skip: int = 0) -> ReadingsBatch:
    """Return a member's grid imports for a local day's quarter hours but the first ``skip``."""
    start = local_midnight(day, zone)
    quarters = int((local_midnight(day + timedelta(days=1), zone) - start) / timedelta(minutes=15))
    return quarter_batch(
        member,
        "grid",
        "import_kwh",
        start + skip * timedelta(minutes=15),
        [0.1] * (quarters - skip),
    )


def test_offsets_change_at_the_hour_the_clocks_do() -> None:
    assert offsets_within(MADRID, date(2026, 3, 28), date(2026, 3, 30)) == [
        (int(datetime(2026, 3, 27, 23, tzinfo=UTC).timestamp()), 3600),
        (int(datetime(2026, 3, 29, 1, tzinfo=UTC).timestamp()), 7200),
    ]
    assert len(offsets_within(MADRID, date(2026, 1, 1), date(2026, 12, 31))) == 3
    assert len(offsets_within(MADRID, date(2026, 4, 1), date(2026, 4, 30))) == 1


async def test_clock_change_days_count_their_own_quarter_hours(store: Store) -> None:
    for day in (SPRING - timedelta(days=1), SPRING, AUTUMN):
        await store.store_batch(_day("m-1", day))
    await store.store_batch(_day("m-2", SPRING, skip=1))
    await store.store_batch(_day("m-2", AUTUMN, skip=4))
    spring = await completeness(store, ["m-1", "m-2"], SPRING - timedelta(days=1), SPRING)
    assert spring.quarter_hours == [96, 92]
    assert spring.fractions["m-1"][SOURCE_MEMBER] == [1.0, 1.0]
    assert spring.fractions["m-2"][SOURCE_MEMBER] == [0.0, round(91 / 92, 4)]
    assert spring.fractions["m-1"][DISTRIBUTOR] == [0.0, 0.0]
    autumn = await completeness(store, ["m-1", "m-2"], AUTUMN, AUTUMN + timedelta(days=1))
    assert autumn.quarter_hours == [100, 96]
    assert autumn.fractions["m-1"][SOURCE_MEMBER] == [1.0, 0.0]
    assert autumn.fractions["m-2"][SOURCE_MEMBER] == [0.96, 0.0]
    assert spring.incomplete("m-2") == [SPRING - timedelta(days=1), SPRING]


async def test_another_zone_splits_days_at_its_own_midnight(
    store: Store, database_url: str
) -> None:
    await store.store_batch(_day("m-1", AUTUMN, zone=CANARY))
    (madrid,) = (await completeness(store, ["m-1"], AUTUMN, AUTUMN)).fractions.values()
    # The community moves to the Canaries: the days are summed again in its zone.
    canaries = await open_store(database_url, zone=CANARY)
    try:
        (canary,) = (await completeness(canaries, ["m-1"], AUTUMN, AUTUMN)).fractions.values()
        await canaries.store_batch(_day("m-2", AUTUMN, zone=CANARY))
        (moved,) = (await completeness(canaries, ["m-2"], AUTUMN, AUTUMN)).fractions.values()
    finally:
        await canaries.close()
    assert madrid[SOURCE_MEMBER] == [0.96]  # Madrid's day began an hour before the Canaries'
    assert canary[SOURCE_MEMBER] == [1.0]
    assert moved[SOURCE_MEMBER] == [1.0]


async def test_corrections_count_once_and_late_readings_fill_their_gap(store: Store) -> None:
    day = date(2026, 5, 4)
    await store.store_batch(_day("m-1", day, skip=8))
    corrected = _day("m-1", day, skip=8)
    corrected = ReadingsBatch(
        member="m-1",
        batch="again",
        sent_at=corrected.sent_at,
        readings=tuple(
            Reading(r.meter, r.quantity, r.start, r.end, 0.2, r.quality) for r in corrected.readings
        ),
        live=None,
    )
    assert (await store.store_batch(corrected)).changed == 88
    (before,) = (await completeness(store, ["m-1"], day, day)).fractions.values()
    assert before[SOURCE_MEMBER] == [round(88 / 96, 4)]
    # The late quarter hours, in one batch twice (the same group): counted once.
    late = _day("m-1", day)
    await store.store_batches([late, late])
    (after,) = (await completeness(store, ["m-1"], day, day)).fractions.values()
    assert after[SOURCE_MEMBER] == [1.0]


async def test_hourly_distributor_values_cover_their_quarter_hours(store: Store) -> None:
    day = date(2026, 5, 4)
    start = local_midnight(day, MADRID)
    hour = timedelta(hours=1)
    hourly = ReadingsBatch(
        member="m-1",
        batch="csv:x",
        sent_at=start,
        readings=tuple(
            Reading("grid", "import_kwh", start + i * hour, start + (i + 1) * hour, 0.3, "measured")
            for i in range(12)
        ),
        live=None,
    )
    await store.store_batch(hourly, source=DISTRIBUTOR)
    # Quarter hours of the same first hour as well: an hour never counts more than itself.
    await store.store_batch(_day("m-1", day), source=DISTRIBUTOR)
    (shares,) = (await completeness(store, ["m-1"], day, day)).fractions.values()
    assert shares == {SOURCE_MEMBER: [0.0], DISTRIBUTOR: [1.0]}
    other = await completeness(store, ["m-9"], day, day)
    assert other.fractions == {"m-9": {SOURCE_MEMBER: [0.0], DISTRIBUTOR: [0.0]}}


async def test_the_migration_counts_the_readings_stored_before_it(
    store: Store, database_url: str
) -> None:
    day = date(2026, 5, 4)
    await store.store_batch(_day("m-1", day, skip=2))
    await store.store_batch(_day("m-1", day), source=DISTRIBUTOR)
    migration = next(m for m in MIGRATIONS if "CREATE TABLE hourly_energy" in m[0])
    backfill = next(s for s in migration if s.startswith("INSERT INTO hourly_energy"))
    async with store.transaction() as tx:
        await tx.execute("DELETE FROM hourly_energy")
        await tx.execute("DELETE FROM settings WHERE key = 'rollup_days_zone'")
        await tx.execute(backfill)
    reopened = await open_store(database_url)  # the days are summed from the hours
    try:
        (shares,) = (await completeness(reopened, ["m-1"], day, day)).fractions.values()
    finally:
        await reopened.close()

    assert shares == {SOURCE_MEMBER: [round(94 / 96, 4)], DISTRIBUTOR: [1.0]}
