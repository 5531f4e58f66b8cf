"""Raw readings kept for a limited time: the sums stay exact, late readings do not count twice.

On SQLite, PostgreSQL and PostgreSQL with TimescaleDB (the readings a hypertable).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
import itertools
from zoneinfo import ZoneInfo

import pytest

from ioe_aggregator.config import ConfigError, load_config
from ioe_aggregator.members.registry import NewMember, Registry
from ioe_aggregator.protocol.codec import COMMUNITY_PLANT, Measure
from ioe_aggregator.store import Store, open_store
from ioe_aggregator.store.retention import horizon
from ioe_dev.postgres import PostgresServer
from ioe_dev.synthetic import cups, quarter_batch
from tests.community import (
    PREFIX,
    QUARTER,
    Community,
    StartAggregator,
    acks,
    batch,
    call,
    home,
    parse_metrics,
    payload,
    start_service,
    stored_rows,
)

D0 = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 10
HORIZON = D0 + timedelta(days=4)
IMPORT = Measure("grid", "import_kwh")
DISTRIBUTOR = "distributor"
DAY = timedelta(days=1)
_databases = itertools.count()
QUOTA = 10**7


@pytest.fixture(params=["sqlite", "postgresql", "timescaledb"])
async def store(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[Store]:
    """Yield a store on each backend, with two members (the first with the plant)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/aggregator.db"
    else:
        fixture = "postgres" if request.param == "postgresql" else "timescale_postgres"
        server: PostgresServer = request.getfixturevalue(fixture)
        url = server.create_database(f"retention_{next(_databases)}")
    opened = await open_store(url)
    assert opened.timescaledb is (request.param == "timescaledb")
    registry = Registry(
        opened, load_config(None, {"IOE_AGGREGATOR_PUBLIC_BROKER_HOST": "b.example"}).members
    )
    for number in (1, 2):
        new = NewMember(
            id=f"m-000{number}",
            name=f"Casa {number}",
            cups=cups(number),
            contracted_kw=4.6,
            investment_share=0.5,
            plant_kw=30.0 if number == 1 else 0.0,
        )
        await registry.add(new, actor="test")
    yield opened
    await opened.close()


async def fill(store: Store) -> None:
    """Store ten days of the members' quarter hours, the plant's, and the distributor's hours."""
    quarters = 96 * DAYS
    for member in ("m-0001", "m-0002"):
        own = quarter_batch(member, "grid", "import_kwh", D0, [0.25] * quarters)
        await store.store_batches([own], quota_rows=QUOTA)  # as the ingest does: counted
        hourly = quarter_batch(member, "grid", "import_kwh", D0, [1.0] * quarters)
        hours = tuple(
            replace(r, end=r.start + timedelta(hours=1))
            for r in hourly.readings
            if r.start.minute == 0
        )
        await store.store_batch(replace(hourly, readings=hours), source=DISTRIBUTOR)
    plant = quarter_batch("m-0001", *COMMUNITY_PLANT, D0, [1.5] * quarters)
    await store.store_batches([plant], quota_rows=QUOTA)


async def what_the_sums_say(store: Store) -> tuple[object, ...]:
    """Return every figure read from the sums: totals, hours and the days covered."""
    end = D0 + timedelta(days=DAYS)
    return (
        await store.totals(D0, end, min_contributors=None),
        await store.totals(D0, end, min_contributors=None, source=DISTRIBUTOR),
        await store.hourly("grid", "import_kwh", D0, end, member="m-0001"),
        await store.daily_coverage(IMPORT, D0.date(), end.date(), source="member"),
    )


async def usage(store: Store) -> dict[str, int]:
    async with store.transaction() as tx:
        rows = await tx.execute("SELECT member, stored_rows FROM member_usage ORDER BY member")
    return {str(member): int(count) for member, count in rows}


async def test_old_readings_go_and_every_sum_stays_exact(store: Store) -> None:
    await fill(store)
    before, used = await what_the_sums_say(store), await usage(store)

    # The horizon is set: nothing is deleted yet (a write under way may still store below it),
    # and a correction of a reading still there is taken, its sums with it.
    assert await store.forget_readings(HORIZON, grace_s=0) == 0
    assert await store.kept_from() == HORIZON
    late = quarter_batch("m-0001", "grid", "import_kwh", HORIZON - timedelta(hours=1), [9.0] * 8)
    outcome = await store.store_batch(replace(late, batch="late"))
    assert (outcome.expired, outcome.new, outcome.changed, outcome.unchanged) == (0, 0, 8, 0)
    changed = await what_the_sums_say(store)
    assert changed[0].kwh[IMPORT] == pytest.approx(before[0].kwh[IMPORT] + 8 * (9.0 - 0.25))  # type: ignore[attr-defined]

    # The next run deletes what lies before it, a day per transaction.
    forgotten = await store.forget_readings(HORIZON, grace_s=0)
    members_quarters = 2 * 96 * 4
    assert forgotten == members_quarters + 2 * 24 * 4 + 96 * 4  # + the distributor's, the plant's
    assert await store.readings("m-0001", D0, HORIZON) == []
    assert await store.readings("m-0001", D0, HORIZON, source=DISTRIBUTOR) == []
    assert len(await store.readings("m-0002", HORIZON, D0 + timedelta(days=DAYS))) == 96 * 6
    assert await what_the_sums_say(store) == changed

    # A reading from before the horizon whose hour holds a sum is left out, the rest of its
    # batch stored: with its raw reading gone it could not be told from a new one.
    again = quarter_batch("m-0001", "grid", "import_kwh", HORIZON - timedelta(hours=1), [7.0] * 8)
    outcome = await store.store_batch(replace(again, batch="again"))
    assert (outcome.expired, outcome.new, outcome.changed, outcome.unchanged) == (4, 0, 4, 0)
    assert (await what_the_sums_say(store))[0].kwh[IMPORT] == pytest.approx(  # type: ignore[attr-defined]
        changed[0].kwh[IMPORT] + 4 * (7.0 - 9.0)  # type: ignore[attr-defined]
    )
    # History arriving late (a first sync, an import) into hours with no sum is taken.
    history = quarter_batch("m-0002", "grid", "export_kwh", D0, [0.5] * 8)
    outcome = await store.store_batch(replace(history, batch="history"))
    assert (outcome.expired, outcome.new) == (0, 8)
    totals = await store.totals(D0, D0 + timedelta(hours=2), min_contributors=None)
    assert totals.kwh[Measure("grid", "export_kwh")] == pytest.approx(4.0)
    await store.store_batch(replace(history, batch="history-again"))  # (not counted twice)
    assert (await store.totals(D0, D0 + timedelta(hours=2), min_contributors=None)).kwh[
        Measure("grid", "export_kwh")
    ] == pytest.approx(4.0)
    changed = await what_the_sums_say(store)
    # The members' quotas count the rows freed (their readings and batch records).
    freed = await usage(store)
    assert freed == {
        "m-0001": used["m-0001"] - 2 * 96 * 4,  # its imports and the plant's
        "m-0002": used["m-0002"] - 96 * 4,
    }

    # A horizon does not move back (the run forgets the history's raw readings, its sums stay);
    # the next one forgets only after its grace.
    assert await store.forget_readings(HORIZON - timedelta(days=2), grace_s=0) == 8
    assert await what_the_sums_say(store) == changed
    assert await store.kept_from() == HORIZON
    assert await store.forget_readings(HORIZON + timedelta(days=1)) == 0  # set now: not yet
    assert await store.forget_readings(HORIZON + timedelta(days=1)) == 0  # 10 minutes' grace
    assert await store.kept_from() == HORIZON + timedelta(days=1)
    # A horizon past everything: every raw reading and batch record goes, the sums stay.
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    await store.forget_readings(tomorrow, grace_s=0)
    await store.forget_readings(tomorrow, grace_s=0)
    assert await store.readings("m-0001", D0, tomorrow) == []
    # When a member was last heard from stays known (the end of its last hour summed).
    end = D0 + timedelta(days=DAYS)
    assert await store.last_readings() == {"m-0001": end, "m-0002": end}
    assert await store.last_reading("m-0002") == end
    assert await usage(store) == {"m-0001": 0, "m-0002": 0}
    assert await what_the_sums_say(store) == changed
    if store.timescaledb:  # the emptied week's chunk was dropped, its files with it
        async with store.transaction() as tx:
            chunks = await tx.execute(
                "SELECT range_start_integer FROM timescaledb_information.chunks"
                " WHERE hypertable_name = 'readings' ORDER BY 1"
            )
        assert chunks == []


async def test_the_plants_figures_stay_withheld_once_its_readings_are_forgotten(
    store: Store,
) -> None:
    """One member holds the plant: fewer than five, its generation is never shown alone."""
    await fill(store)
    end = D0 + timedelta(days=2)
    before = await store.totals(D0, end, min_contributors=5)
    await store.forget_readings(HORIZON, grace_s=0)
    await store.forget_readings(HORIZON, grace_s=0)
    after = await store.totals(D0, end, min_contributors=5)

    assert before.sparse[COMMUNITY_PLANT] > 0
    assert after.sparse[COMMUNITY_PLANT] > 0
    assert after.kwh == before.kwh


def test_the_days_kept_are_the_managers_with_a_floor() -> None:
    environ = {"IOE_AGGREGATOR_PUBLIC_BROKER_HOST": "b.example"}
    assert load_config(None, environ).raw_readings_days == 0
    kept = load_config(None, environ | {"IOE_AGGREGATOR_RAW_READINGS_DAYS": "400"})
    assert kept.raw_readings_days == 400
    with pytest.raises(ConfigError, match="0 \\(keep them all\\) or at least 90 days"):
        load_config(None, environ | {"IOE_AGGREGATOR_RAW_READINGS_DAYS": "30"})
    # Local midnights, summer time or not.
    madrid = datetime(2026, 12, 6, 1, 30, tzinfo=UTC).astimezone(ZoneInfo("Europe/Madrid"))
    assert horizon(90, madrid).isoformat() == "2026-09-07T00:00:00+02:00"
    assert horizon(1, madrid).isoformat() == "2026-12-05T00:00:00+01:00"


async def forgotten_before(url: str, member: str, day: datetime) -> None:
    """Store a day's first hour of ``member`` and forget it (the horizon set after it)."""
    store = await open_store(url)
    try:
        await store.store_batch(quarter_batch(member, "grid", "import_kwh", day, [0.25] * 4))
        for _run in range(2):
            await store.forget_readings(day + DAY, grace_s=0)
    finally:
        await store.close()


def test_the_service_keeps_the_days_its_manager_sets(
    community: Community, start_aggregator: StartAggregator
) -> None:
    """The leader sets the horizon as it starts; a batch from before it is acked, left out.

    An hour forgotten before (its sum kept) is sent again: left out as expired. History of
    hours with no sum is stored.
    """
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    url = community.options["database_url"]
    asyncio.run(forgotten_before(url, "m-0001", today - 100 * DAY))
    community.options["raw_readings_days"] = 90
    sender = home(community, "m-0001")
    _service, port = start_service(community, start_aggregator)
    base, viewer = f"http://127.0.0.1:{port}", community.token("viewer")

    def kept_from() -> dict[frozenset[tuple[str, str]], float] | None:
        samples, _types = parse_metrics(call(base, "GET", "/api/v1/metrics", viewer).body.decode())
        return samples.get("ioe_aggregator_readings_kept_from_timestamp_seconds")

    sender.wait_for(kept_from)
    topic = f"{PREFIX}/m/m-0001/readings"
    sender.publish(topic, payload(batch("m-0001", "forgotten", day=today - 100 * DAY)))
    sender.publish(topic, payload(batch("m-0001", "history", day=today - 99 * DAY)))
    sender.publish(topic, payload(batch("m-0001", "new", day=today - 10 * DAY)))
    sender.wait_for(lambda: len(acks(sender, "m-0001")) == 3)

    samples, _types = parse_metrics(call(base, "GET", "/api/v1/metrics", viewer).body.decode())
    one = frozenset[tuple[str, str]]()
    limit = horizon(90, datetime.now(ZoneInfo("Europe/Madrid")))
    assert samples["ioe_aggregator_readings_kept_from_timestamp_seconds"] == {
        one: limit.timestamp()
    }
    assert samples["ioe_aggregator_readings_left_out_total"] == {
        frozenset({("reason", "expired")}): 4
    }
    readings = {dict(k)["outcome"]: v for k, v in samples["ioe_aggregator_readings_total"].items()}
    assert readings == {"new": 8, "changed": 0, "unchanged": 0}
    running = {dict(k)["task"] for k in samples["ioe_aggregator_task_running"]}
    assert "retention" in running
    assert [row[3] for row in stored_rows(community)] == [
        int((day + n * QUARTER).timestamp())
        for day in (today - 99 * DAY, today - 10 * DAY)
        for n in range(4)
    ]
