"""The storage interface, the same tests on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ioe_aggregator.protocol.codec import ReadingsBatch
from ioe_aggregator.store import BatchOutcome, Store, StoreError, open_store
from ioe_aggregator.store.migrations import MIGRATIONS
from ioe_dev.postgres import PostgresServer
from ioe_dev.synthetic import quarter_batch

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
QUARTER = timedelta(minutes=15)


def make_batch(
    batch: str = "b-1", *, member: str = "m-0007", values: tuple[float, ...] = (0.25, 0.5)
) -> ReadingsBatch:
    """Return a batch of grid imports, one per quarter hour from T0."""
    return replace(quarter_batch(member, "grid", "import_kwh", T0, values), batch=batch)


async def test_migrated_to_the_latest_version(store: Store) -> None:
    assert await store.schema_version() == len(MIGRATIONS)
    await store.ping()


async def test_a_batch_is_stored_and_read_back(store: Store) -> None:
    outcome = await store.store_batch(make_batch())

    assert outcome == BatchOutcome(new=2, changed=0, unchanged=0)
    readings = await store.readings("m-0007", T0, T0 + timedelta(days=1))
    rows = [(r.reading.start, r.reading.end, r.reading.value, r.reading.quality) for r in readings]
    assert [r.changes for r in readings] == [0, 0]
    assert rows == [
        (T0, T0 + QUARTER, 0.25, "measured"),
        (T0 + QUARTER, T0 + 2 * QUARTER, 0.5, "measured"),
    ]
    assert readings[0].reading.start.tzinfo is UTC


async def test_the_same_batch_again_changes_nothing(store: Store) -> None:
    await store.store_batch(make_batch())

    outcome = await store.store_batch(make_batch())

    assert outcome == BatchOutcome(new=0, changed=0, unchanged=2)
    assert len(await store.readings("m-0007", T0, T0 + timedelta(days=1))) == 2


async def test_another_value_replaces_the_old_one_and_is_counted(store: Store) -> None:
    await store.store_batch(make_batch())

    outcome = await store.store_batch(make_batch("b-2", values=(0.25, 0.75, 1.0)))

    assert outcome == BatchOutcome(new=1, changed=1, unchanged=1)
    readings = await store.readings("m-0007", T0, T0 + timedelta(days=1))
    assert [(r.reading.value, r.changes) for r in readings] == [(0.25, 0), (0.75, 1), (1.0, 0)]


async def test_a_better_quality_replaces_an_estimate(store: Store) -> None:
    estimated = make_batch()
    estimated = replace(
        estimated, readings=tuple(replace(r, quality="estimated") for r in estimated.readings)
    )
    await store.store_batch(estimated)

    outcome = await store.store_batch(make_batch("b-2"))

    assert outcome.changed == 2
    readings = await store.readings("m-0007", T0, T0 + timedelta(days=1))
    assert {r.reading.quality for r in readings} == {"measured"}


async def test_members_and_ranges_are_kept_apart(store: Store) -> None:
    await store.store_batch(make_batch(member="m-0007"))
    await store.store_batch(make_batch(member="m-0008", values=(9.0,)))

    assert [r.reading.value for r in await store.readings("m-0008", T0, T0 + QUARTER * 8)] == [9.0]
    assert [
        r.reading.value for r in await store.readings("m-0007", T0 + QUARTER, T0 + QUARTER * 8)
    ] == [0.5]
    assert await store.readings("m-0009", T0, T0 + QUARTER * 8) == []


async def test_an_empty_batch_is_fine(store: Store) -> None:
    assert await store.store_batch(make_batch(values=())) == BatchOutcome(0, 0, 0)


async def test_reopening_keeps_everything_and_migrates_nothing(database_url: str) -> None:
    first = await open_store(database_url)
    await first.store_batch(make_batch())
    await first.close()

    again = await open_store(database_url)
    try:
        assert await again.schema_version() == len(MIGRATIONS)
        assert len(await again.readings("m-0007", T0, T0 + timedelta(days=1))) == 2
    finally:
        await again.close()


async def test_a_failed_batch_leaves_nothing_behind(database_url: str) -> None:
    """One transaction per batch: a reading that cannot be stored leaves no other one."""
    store = await open_store(database_url)
    try:
        good, bad = make_batch().readings
        # A reading without quality breaks the table's NOT NULL: the whole batch must fail.
        broken = replace(make_batch(), readings=(good, replace(bad, quality=None)))  # type: ignore[arg-type]
        with pytest.raises(StoreError):
            await store.store_batch(broken)
        assert await store.readings("m-0007", T0, T0 + timedelta(days=1)) == []
        # and the store still works
        assert (await store.store_batch(make_batch())).new == 2
    finally:
        await store.close()


async def test_an_unwritable_sqlite_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-directory").write_text("")
    with pytest.raises(StoreError, match="cannot open SQLite database"):
        await open_store(f"sqlite:///{tmp_path / 'not-a-directory' / 'x.db'}")


async def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StoreError, match="cannot open SQLite database"):
        await open_store(f"sqlite:///{path}")


async def test_an_unreachable_postgresql_is_a_store_error(postgres: PostgresServer) -> None:
    url = postgres.url("no_such_database")
    with pytest.raises(StoreError, match='database "no_such_database" does not exist'):
        await open_store(url)


async def test_readings_become_a_hypertable_where_timescaledb_is_preloaded(
    timescale_postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = timescale_postgres.create_database("timescale")
    store = await open_store(url)
    try:
        await store.store_batch(make_batch())
        async with store.transaction() as tx:
            hypertables = await tx.execute(
                "SELECT hypertable_name FROM timescaledb_information.hypertables"
            )
        again = await store.store_batch(make_batch())  # the upsert works on chunks too
        stored = await store.readings("m-0007", T0, T0 + timedelta(days=1))
    finally:
        await store.close()
    reopened = await open_store(url)  # a restart: the hypertable is there already
    await reopened.close()

    assert store.timescaledb is reopened.timescaledb is True
    assert hypertables == [("readings",)]
    assert again == BatchOutcome(new=0, changed=0, unchanged=2)
    assert [s.reading.value for s in stored] == [0.25, 0.5]
    assert "TimescaleDB" not in caplog.text


async def test_without_timescaledb_preloaded_readings_stay_a_table(
    postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = await open_store(postgres.create_database("no_timescale"))
    try:
        await store.store_batch(make_batch())
        stored = await store.readings("m-0007", T0, T0 + timedelta(days=1))
    finally:
        await store.close()

    assert store.timescaledb is False
    assert len(stored) == 2
    assert "TimescaleDB is installed but not used" in caplog.text
    assert "preload" in caplog.text
