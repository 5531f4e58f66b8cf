"""``scripts/bench results``: how long a results snapshot takes for a month of data.

A community of N members with a month of quarter hours each (and the plant's) in SQLite, an
agreement in force; the median time of computing every member's results, the community state
and the signal at the end of the month (what the service does every minute).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
import statistics
import tempfile
import time
from typing import Any

from ioe_aggregator.agreements import Agreements, shares_from_scheme
from ioe_aggregator.config import load_config
from ioe_aggregator.members.registry import NewMember, Registry
from ioe_aggregator.results.engine import ResultsEngine
from ioe_aggregator.store import open_store
from ioe_dev.synthetic import cups, quarter_batch

SIZES = (10, 100)
REPEATS = 5
MONTH_START = datetime(2026, 10, 31, 23, tzinfo=UTC)  # 1 November, local midnight
NOW = MONTH_START + timedelta(days=30)


async def _measure(members: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ioe-bench-results-") as tmp:
        config = load_config(
            None,
            {
                "IOE_AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
                "IOE_AGGREGATOR_PUBLIC_BROKER_HOST": "localhost",
            },
        )
        store = await open_store(config.database_url)
        try:
            registry = Registry(store, config.members)
            ids = [f"m-{n:04d}" for n in range(1, members + 1)]
            for number, member in enumerate(ids, start=1):
                new = NewMember(
                    id=member,
                    name=member,
                    cups=cups(number),
                    contracted_kw=4.6,
                    investment_share=0,
                    plant_kw=100.0 if number == 1 else 0.0,  # the plant is metered at the first
                )
                await registry.add(new, actor="bench")
            agreements = Agreements(store, tz=config.results.timezone, min_months=4)
            shares = shares_from_scheme("equal", await registry.members())
            await agreements.add("bench", shares, valid_from=date(2026, 1, 1), actor="bench")
            days = [MONTH_START + timedelta(days=d) for d in range(30)]
            for member in ids:
                batches = [
                    quarter_batch(member, "grid", "import_kwh", day, [0.1] * 96) for day in days
                ]
                if member == ids[0]:
                    batches += [
                        quarter_batch(member, "plant", "generation_kwh", day, [0.5] * 96)
                        for day in days
                    ]
                await store.store_batches(batches)
            engine = ResultsEngine(store, registry, agreements, config.results)
            await engine.compute(NOW)  # warm: imports, caches
            times = []
            for _ in range(REPEATS):
                start = time.perf_counter()
                await engine.compute(NOW)
                times.append(time.perf_counter() - start)
        finally:
            await store.close()
    return {
        "members": members,
        "readings": members * 30 * 96 + 30 * 96,
        "snapshot_ms": 1000 * statistics.median(times),
    }


def bench_results() -> dict[str, Any]:
    """Measure a snapshot for each community size."""
    return {"benchmark": "results", "sizes": [asyncio.run(_measure(n)) for n in SIZES]}
