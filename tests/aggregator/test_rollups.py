"""The readings' hourly and daily sums (``store.rollups``) against the readings themselves.

Random batches on both backends (quarter hours and hourly values, corrections, late readings,
the same reading twice in a group, a community plant, both sources, the days the clocks
change), then every period the store is asked about is answered from the sums and, here, from
the readings read back one by one: the two must agree exactly.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
import random
from zoneinfo import ZoneInfo

import pytest

from ioe_aggregator.distributor.model import SOURCE as DISTRIBUTOR
from ioe_aggregator.protocol.codec import COMMUNITY_PLANT, Measure, Reading, ReadingsBatch
from ioe_aggregator.store import SOURCE_MEMBER, Store, StoredReading, open_store
from ioe_aggregator.store.migrations import MIGRATIONS
from ioe_aggregator.store.rollups import LocalDays, split
from ioe_dev.synthetic import cups, quarter_batch
from tests.aggregator.conftest import register_members

MADRID = ZoneInfo("Europe/Madrid")
QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
# Around the autumn clock change: a 25-hour local day among 24-hour ones.
FIRST = datetime(2026, 10, 23, 22, tzinfo=UTC)
HOURS = 24 * 5
MEMBERS = ("m-1", "m-2", "m-3")
MEASURES = (("grid", "import_kwh"), ("grid", "export_kwh"), ("pv", "generation_kwh"))


def _random_batches(rng: random.Random) -> list[tuple[str, ReadingsBatch]]:
    """Return (source, batch) pairs: quarter hours, hourly values, corrections, repeats."""
    batches = []
    for number in range(60):
        member = rng.choice(MEMBERS)
        source = rng.choice((SOURCE_MEMBER, SOURCE_MEMBER, DISTRIBUTOR))
        meter, quantity = rng.choice((*MEASURES, tuple(COMMUNITY_PLANT)))
        step = rng.choice((QUARTER, QUARTER, HOUR))
        start = FIRST + rng.randrange(HOURS) * HOUR + rng.randrange(4) * QUARTER * (step == QUARTER)
        readings = tuple(
            Reading(
                meter,
                quantity,
                start + i * step,
                start + (i + 1) * step,
                rng.choice((0.0, 0.1, 0.25, round(rng.random(), 3))),
                "measured",
            )
            for i in range(rng.randrange(1, 40))
        )
        batches.append(
            (
                source,
                ReadingsBatch(
                    member=member, batch=f"b-{number}", sent_at=start, readings=readings, live=None
                ),
            )
        )
    return batches


async def _everything(store: Store, source: str) -> list[StoredReading]:
    found: list[StoredReading] = []
    for member in MEMBERS:
        found += await store.readings(
            member, FIRST - HOUR, FIRST + (HOURS + 1) * HOUR, source=source
        )
    return found


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


@pytest.fixture
async def filled(store: Store) -> Store:
    await register_members(store, {"m-1": cups(1), "m-2": cups(2)})
    async with store.transaction() as tx:  # m-1 has a registered plant; m-3 is not registered
        await tx.execute("UPDATE members SET plant_kw = 10 WHERE id = 'm-1'")
    rng = random.Random(22)  # noqa: S311 - test data
    batches = _random_batches(rng)
    # Written in groups (one transaction each), the way the ingest and the imports write them;
    # a group may hold the same batch twice.
    while batches:
        group = batches[: rng.randrange(1, 5)]
        del batches[: len(group)]
        for source in (SOURCE_MEMBER, DISTRIBUTOR):
            chosen = [batch for s, batch in group if s == source]
            if chosen and rng.random() < 0.2:
                chosen.append(chosen[0])
            if chosen:
                await store.store_batches(chosen, source=source)
    return store


PERIODS = [
    (FIRST, FIRST + HOURS * HOUR),  # every local day whole
    (FIRST + 7 * QUARTER, FIRST + 3 * 24 * HOUR + 5 * QUARTER),  # quarter hours at both ends
    (FIRST + 30 * HOUR, FIRST + 30 * HOUR + 2 * QUARTER),  # within an hour
    (FIRST + 25 * HOUR, FIRST + 70 * HOUR),  # whole hours, the 25-hour day inside
    (FIRST + 2 * HOUR, FIRST + 20 * HOUR),  # whole hours, no whole day
]


@pytest.mark.parametrize("source", [SOURCE_MEMBER, DISTRIBUTOR])
async def test_totals_from_the_sums_are_the_readings_totals(filled: Store, source: str) -> None:
    stored = await _everything(filled, source)
    for start, end in PERIODS:
        inside = [s for s in stored if start <= s.reading.start < end]
        kwh: dict[Measure, float] = defaultdict(float)
        members: dict[Measure, set[str]] = defaultdict(set)
        for s in inside:
            measure = Measure(s.reading.meter, s.reading.quantity)
            if measure.meter == COMMUNITY_PLANT.meter and s.member != "m-1":
                continue
            kwh[measure] += s.reading.value
            members[measure].add(s.member)

        totals = await filled.totals(start, end, min_contributors=None, source=source)

        assert totals.members == len({s.member for s in inside}), (start, end)
        assert totals.kwh == pytest.approx(dict(kwh), abs=1e-9), (start, end)
        assert totals.contributors == {m: len(who) for m, who in members.items()}, (start, end)


@pytest.mark.parametrize("source", [SOURCE_MEMBER, DISTRIBUTOR])
async def test_intervals_too_few_members_sent_are_the_readings_ones(
    filled: Store, source: str
) -> None:
    # Counted per moment a reading starts: a member's hourly value and its first quarter hour
    # start together and count it once; the plant's meter counts only members with a plant.
    stored = await _everything(filled, source)
    for start, end in PERIODS:
        senders: dict[tuple[Measure, datetime], set[str]] = defaultdict(set)
        for s in stored:
            measure = Measure(s.reading.meter, s.reading.quantity)
            if start <= s.reading.start < end and (
                measure.meter != COMMUNITY_PLANT.meter or s.member == "m-1"
            ):
                senders[measure, s.reading.start].add(s.member)
        for threshold in (2, 3, 4):
            expected = Counter(
                measure for (measure, _at), who in senders.items() if len(who) < threshold
            )

            totals = await filled.totals(start, end, min_contributors=threshold, source=source)

            assert totals.sparse == dict(expected), (start, end, threshold)
            assert any(expected.values()), "the data leaves some interval sparse"


async def test_members_counted_as_readings_arrive_are_those_the_migration_counts(
    filled: Store,
) -> None:
    fill = next(
        statement
        for migration in MIGRATIONS
        for statement in migration
        if statement.lstrip().startswith("INSERT INTO interval_members")
    )
    query = "SELECT source, start_s, meter, quantity, members FROM interval_members"
    async with filled.transaction() as tx:
        written = sorted(tuple(row) for row in await tx.execute(query))
        await tx.execute("DELETE FROM interval_members")
        await tx.execute(fill)
        counted = sorted(tuple(row) for row in await tx.execute(query))

    assert len(written) > 100
    assert written == counted


async def test_hours_from_the_sums_are_the_readings_hours(filled: Store) -> None:
    stored = await _everything(filled, SOURCE_MEMBER)
    for start, end in PERIODS:
        for meter, quantity in MEASURES:
            sums: dict[tuple[str, datetime], list[float]] = defaultdict(lambda: [0.0, 0])
            for s in stored:
                r = s.reading
                if (r.meter, r.quantity) == (meter, quantity) and start <= r.start < end:
                    hour = r.start.replace(minute=0)
                    sums[s.member, hour][0] += r.value
                    sums[s.member, hour][1] += _seconds(r.end) - _seconds(r.start)

            hourly = await filled.hourly(meter, quantity, start, end)
            complete = await filled.complete_hours(meter, quantity, start, end)
            mine = await filled.complete_hours(meter, quantity, start, end, member="m-2")

            assert {(m, h): k for m, h, k in hourly} == pytest.approx(
                {key: value[0] for key, value in sums.items()}, abs=1e-9
            )
            exact = {key: value[0] for key, value in sums.items() if value[1] == 3600}
            assert complete == pytest.approx(exact, abs=1e-9)
            assert mine == pytest.approx(
                {key: kwh for key, kwh in exact.items() if key[0] == "m-2"}, abs=1e-9
            )


@pytest.mark.parametrize("source", [SOURCE_MEMBER, DISTRIBUTOR])
async def test_days_covered_count_each_hour_once(filled: Store, source: str) -> None:
    stored = await _everything(filled, source)
    seconds: dict[tuple[str, datetime], int] = defaultdict(int)
    for s in stored:
        r = s.reading
        if (r.meter, r.quantity) == ("grid", "import_kwh"):
            seconds[s.member, r.start.replace(minute=0)] += _seconds(r.end) - _seconds(r.start)
    days: dict[tuple[str, date], int] = defaultdict(int)
    for (member, hour), covered in seconds.items():
        days[member, hour.astimezone(MADRID).date()] += min(covered, 3600)
    first, last = date(2026, 10, 23), date(2026, 10, 29)

    found = await filled.daily_coverage(Measure("grid", "import_kwh"), first, last, source=source)

    assert {(m, d): s for m, d, s in found} == dict(days)


def test_a_period_splits_into_days_hours_and_the_rest() -> None:
    days = LocalDays(MADRID)
    start = datetime(2026, 10, 24, 21, 40, tzinfo=UTC)  # 23:40 local, summer time
    end = datetime(2026, 10, 27, 1, 10, tzinfo=UTC)  # 02:10 local, winter time
    pieces = split(_seconds(start), _seconds(end), days)
    midnight_25 = _seconds(datetime(2026, 10, 24, 22, tzinfo=UTC))
    midnight_27 = _seconds(datetime(2026, 10, 26, 23, tzinfo=UTC))
    assert pieces.readings == [
        (_seconds(start), midnight_25),
        (_seconds(datetime(2026, 10, 27, 1, tzinfo=UTC)), _seconds(end)),
    ]
    assert pieces.hours == [(midnight_27, _seconds(datetime(2026, 10, 27, 1, tzinfo=UTC)))]
    assert pieces.days is not None
    assert [days.midnight_s(d) for d in pieces.days] == [midnight_25, midnight_27]
    assert split(_seconds(start), _seconds(start), days).readings == []


async def test_connections_storing_one_members_readings_at_once_count_them_once(
    store: Store, database_url: str
) -> None:
    # A home's batch re-sent to another replica, a distributor import beside the Datadis sync:
    # several connections store (and correct) the same readings at the same time.
    others = [await open_store(database_url) for _ in range(3)]
    try:
        stores = [store, *others]
        rng = random.Random(28)  # noqa: S311 - test data
        writes = []
        for number, each in enumerate(stores):
            value = 0.25 if number % 2 else 0.5
            hours = [FIRST + i * HOUR for i in range(24)]
            rng.shuffle(hours)
            writes += [
                each.store_batch(quarter_batch("m-1", "grid", "import_kwh", hour, [value] * 4))
                for hour in hours
            ]
        await asyncio.gather(*writes)
    finally:
        for other in others:
            await other.close()
    stored = await store.readings("m-1", FIRST, FIRST + 24 * HOUR)
    sums: dict[datetime, float] = defaultdict(float)
    for s in stored:
        sums[s.reading.start.replace(minute=0)] += s.reading.value

    complete = await store.complete_hours("grid", "import_kwh", FIRST, FIRST + 24 * HOUR)

    assert len(stored) == 96
    assert complete == pytest.approx({("m-1", hour): kwh for hour, kwh in sums.items()})
    # One member at every quarter hour, however many connections stored it.
    alone = await store.totals(FIRST, FIRST + 24 * HOUR, min_contributors=2)
    assert alone.sparse == {Measure("grid", "import_kwh"): 96}
