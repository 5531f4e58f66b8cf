"""Comparison jobs on each backend (SQLite and PostgreSQL): run, recorded, failed by a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from ioe_aggregator.agreements import Agreements
from ioe_aggregator.agreements.comparisons import (
    DONE,
    FAILED,
    INTERRUPTED,
    QUEUED,
    ComparisonRequest,
    Comparisons,
)
from ioe_aggregator.members.registry import Registry
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
    return Comparisons(store, registry, agreements, prices=(0.15, 0.05))


async def test_a_job_runs_to_done_with_its_summary_kept(store: Store) -> None:
    comparisons = await _comparisons(store)
    job = await comparisons.start(JANUARY, actor="test")
    worker = asyncio.create_task(comparisons.run())
    try:
        for _ in range(300):
            found = await comparisons.get(job.id)
            if found.state == DONE:
                break
            await asyncio.sleep(0.1)
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


async def test_a_restart_fails_what_it_left_unfinished(store: Store) -> None:
    comparisons = await _comparisons(store)
    job = await comparisons.start(JANUARY, actor="test")
    assert job.state == QUEUED

    # The next start of the service, on the same database.
    agreements = Agreements(store, tz="Europe/Madrid", min_months=4)
    again = Comparisons(store, Registry(store, config().members), agreements, prices=None)
    assert await again.fail_unfinished() == 1

    failed = await again.get(job.id)
    assert failed.state == FAILED
    assert failed.error == INTERRUPTED
    assert failed.finished is not None
