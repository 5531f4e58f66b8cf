"""``scripts/bench web``: what the control centre's data answers cost with a big community.

A SQLite store with 200 members and two years of quarter-hour grid imports each (the members'
own meters) and the distributor's hourly values of the same two years, filled through the
store's own batch writes (``Store.store_batches``: what keeps the completeness counts). Timed
in the process, as the handlers run it: a year's completeness heat-map (``completeness``), and
for comparison the same counts summed straight from the readings (a plain GROUP BY).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
import statistics
import tempfile
import time
from typing import Any
from zoneinfo import ZoneInfo

from ioe_aggregator.distributor.model import SOURCE as DISTRIBUTOR
from ioe_aggregator.history.completeness import completeness
from ioe_aggregator.protocol.codec import Reading, ReadingsBatch
from ioe_aggregator.store import SOURCE_MEMBER, Store, open_store
from ioe_dev.synthetic import quarter_batch

MEMBERS = 200
DAYS = 731
FIRST_DAY = date(2025, 1, 1)
ZONE = ZoneInfo("Europe/Madrid")
REPEATS = 10
# Days of one member per store transaction.
DAYS_PER_WRITE = 61
# The plain alternative: the same counts summed from the readings per member and UTC day.
PLAIN_GROUP_BY = """SELECT member, start_s / 86400, SUM(end_s - start_s) FROM readings
    WHERE source = ? AND meter = 'grid' AND quantity = 'import_kwh'
        AND start_s >= ? AND start_s < ? GROUP BY 1, 2"""


def _hourly_batch(member: str, start: datetime, hours: int) -> ReadingsBatch:
    hour = timedelta(hours=1)
    return ReadingsBatch(
        member=member,
        batch=f"datadis:{member}-{start:%Y%m%d}",
        sent_at=start + hours * hour,
        readings=tuple(
            Reading("grid", "import_kwh", start + i * hour, start + (i + 1) * hour, 0.4, "measured")
            for i in range(hours)
        ),
        live=None,
    )


async def _fill(store: Store, members: list[str]) -> dict[str, float]:
    start = datetime.combine(FIRST_DAY, datetime.min.time(), UTC)
    began = time.perf_counter()
    for member in members:
        for first in range(0, DAYS, DAYS_PER_WRITE):
            days = min(DAYS_PER_WRITE, DAYS - first)
            moment = start + timedelta(days=first)
            await store.store_batches(
                [quarter_batch(member, "grid", "import_kwh", moment, [0.1] * 96 * days)]
            )
            await store.store_batches(
                [_hourly_batch(member, moment, 24 * days)], source=DISTRIBUTOR
            )
    return {"fill_s": time.perf_counter() - began}


async def _timed(call: Any) -> list[float]:
    await call()  # warm: the page cache, the query plan
    times = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        await call()
        times.append(time.perf_counter() - began)
    return times


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
    }


async def _measure() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ioe-bench-web-") as tmp:
        store = await open_store(f"sqlite:///{tmp}/bench.db")
        try:
            members = [f"m-{n:04d}" for n in range(1, MEMBERS + 1)]
            result: dict[str, Any] = await _fill(store, members)
            first, last = date(2026, 1, 1), date(2026, 12, 31)

            async def heat_map() -> None:
                await completeness(store, members, first, last, ZONE)

            async def plain() -> None:
                low = int(datetime.combine(first, datetime.min.time(), UTC).timestamp())
                for source in (SOURCE_MEMBER, DISTRIBUTOR):
                    async with store.transaction() as tx:
                        await tx.execute(PLAIN_GROUP_BY, (source, low, low + 365 * 86400))

            result["completeness_year"] = _summary(await _timed(heat_map))
            result["plain_group_by_year"] = _summary(await _timed(plain))
        finally:
            await store.close()
    return {
        "members": MEMBERS,
        "days": DAYS,
        "readings": MEMBERS * DAYS * (96 + 24),
        **result,
    }


def bench_web() -> dict[str, Any]:
    """Fill the store and time the answers (see the module's docstring)."""
    return asyncio.run(_measure())


def print_table(results: dict[str, Any]) -> None:
    """Print the results as docs/benchmarks.md's table."""
    print("| answer | median | p95 |")
    print("|---|---:|---:|")
    for key, name in (
        ("completeness_year", "completeness, 200 members × 365 days, both sources"),
        ("plain_group_by_year", "the same from the readings (plain GROUP BY, no day split)"),
    ):
        row = results[key]
        print(f"| {name} | {row['median_ms']:.0f} ms | {row['p95_ms']:.0f} ms |")
    print(f"\nFilled {results['readings']:,} readings in {results['fill_s']:.0f} s.")
