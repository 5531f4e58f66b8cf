"""Comparison jobs on each backend (SQLite and PostgreSQL): run, recorded, across a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from ioe_aggregator.agreements import Agreements
from ioe_aggregator.agreements.comparisons import (
    DONE,
    FAILED,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    ComparisonRequest,
    Comparisons,
    Job,
)
from ioe_aggregator.members.registry import Registry
from ioe_aggregator.replicas import SoleReplica
from ioe_aggregator.store import Store
from ioe_dev.synthetic import quarter_batch

from .conftest import MEMBERS, config, registry_with_members

JANUARY = ComparisonRequest(
    first_month=date(2025, 1, 1), last_month=date(2025, 1, 1), schemes=("equal", "consumption")
)


async def _comparisons(store: Store) -> Comparisons:
    """Register the members (m-3 with the plant) and store two days of January 2025."""
    settings = config()
    registry = await registry_with_members(store, settings)
    start = datetime(2025, 1, 14, tzinfo=UTC)
    await store.store_batches(
        [
            quarter_batch(member, "grid", "import_kwh", start, [0.1 * number] * 192)
            for number, member in enumerate(MEMBERS, start=1)
        ]
        + [quarter_batch("m-3", "plant", "generation_kwh", start, [0.2] * 192)]
    )
    agreements = Agreements(store, tz="Europe/Madrid", min_months=4)
    return Comparisons(
        store, registry, agreements, prices=(0.15, 0.05), replicas=SoleReplica(store)
    )


async def _until(comparisons: Comparisons, job: str, state: str) -> Job:
    """Return the job once it is in ``state`` (30 s at most).

    Asked every 10 ms: a small comparison on a fast machine is running for less than 0.1 s.
    """
    for _ in range(3000):
        found = await comparisons.get(job)
        if found.state == state:
            break
        await asyncio.sleep(0.01)
    return found


async def test_a_job_runs_to_done_with_its_summary_kept(store: Store) -> None:
    comparisons = await _comparisons(store)
    job = await comparisons.start(JANUARY, actor="test")
    worker = asyncio.create_task(comparisons.run())
    try:
        found = await _until(comparisons, job.id, DONE)
    finally:
        worker.cancel()

    assert found.state == DONE
    assert found.progress == 1
    assert found.request.import_eur_kwh == 0.15  # the configured prices
    assert found.summary is not None
    assert found.summary["winner"] in {"equal", "consumption"}
    document, page = await comparisons.report(job.id)
    assert '"schemes"' in document
    assert page.startswith("<!DOCTYPE html>")
    adopted = await comparisons.adopt(
        job.id, "consumption", "2026", valid_from=date(2026, 1, 1), actor="test"
    )
    assert adopted.comparison == job.id
    assert adopted.created_by == "test"


async def test_a_restart_fails_the_running_job_and_runs_the_queued_ones(store: Store) -> None:
    comparisons = await _comparisons(store)
    first = await comparisons.start(JANUARY, actor="test")
    second = await comparisons.start(JANUARY, actor="test")
    assert first.state == second.state == QUEUED
    worker = asyncio.create_task(comparisons.run())
    try:
        assert (await _until(comparisons, first.id, RUNNING)).state == RUNNING
    finally:
        worker.cancel()  # the service stops mid-job

    # The next start of the service (the next leader), on the same database.
    agreements = Agreements(store, tz="Europe/Madrid", min_months=4)
    again = Comparisons(
        store,
        Registry(store, config().members),
        agreements,
        prices=None,
        replicas=SoleReplica(store),
    )
    assert await again.fail_unfinished() == 1
    failed = await again.get(first.id)
    assert failed.state == FAILED
    assert failed.error == INTERRUPTED
    assert failed.finished is not None
    assert (await again.get(second.id)).state == QUEUED
    worker = asyncio.create_task(again.run())
    try:
        assert (await _until(again, second.id, DONE)).state == DONE
    finally:
        worker.cancel()
