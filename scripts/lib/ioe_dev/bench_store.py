"""``scripts/bench store``: two years of 200 members' quarter hours (~50 M readings) per backend.

On SQLite and on PostgreSQL with TimescaleDB (the readings a hypertable by week), each filled
the same way: 200 registered members, two years (731 days) of quarter-hour grid import, export
and consumption each, and solar generation for half of them (49 M readings), written by SQL
in member order (as years of the service's own writes leave them, each member's rows
together), then the hourly, daily and per-interval sums made by the store's own migration
statements and ``Store.sum_days`` (what an upgrade does to an older database). Then, on the
full store, through the store's own calls:

- the **size** on disk;
- the **ingest**: a new day of every member stored a quarter hour at a time through
  ``Store.store_batches`` (each member's batch in one transaction, as the service groups
  them), and a day of corrections a year back (late data: every value changes, the sums with
  it, checked exact);
- the **answers** the control centre and the results read (20 runs after a warm-up): a
  member's month of hours, its day of raw readings, the community's day (its totals with the
  five-member rule and every member's hours), the community's month of totals, a month's
  completeness (200 members, both sources);
- **retention**: a month of raw readings forgotten (``Store.forget_readings``).

Filling takes a while; with ``IOE_BENCH_STORE_DATA=DIR`` the SQLite file and the PostgreSQL
server's data are kept in DIR and reused by a later run, which stores the next new day,
corrects the next day a year back and forgets the next month (so that each run measures the
same work). ``IOE_BENCH_STORE_BACKENDS=sqlite`` (or ``timescaledb``) measures one of them.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
import json
import os
from pathlib import Path
import tempfile
import time
from typing import Any

from ioe_aggregator.config import load_config
from ioe_aggregator.history.completeness import completeness
from ioe_aggregator.members.registry import NewMember, Registry
from ioe_aggregator.protocol.codec import Measure, ReadingsBatch
from ioe_aggregator.store import Store, open_store
from ioe_aggregator.store.migrations import MIGRATIONS
from ioe_aggregator.store.rollups import DAYS_ZONE_SETTING
from ioe_dev.bench_web import _summary, _timed
from ioe_dev.postgres import PostgresServer, start_postgres
from ioe_dev.synthetic import cups, quarter_batch

MEMBERS = 200
DAYS = 731
FIRST = datetime(2025, 1, 1, tzinfo=UTC)
MEASURES = (("grid", "import_kwh"), ("grid", "export_kwh"), ("grid", "consumption_kwh"))
SOLAR = ("pv", "generation_kwh")
IMPORT = Measure("grid", "import_kwh")
MEMBER = "m-0100"
# A quarter's value follows the time of day (kWh), so that sums are not all alike.
VALUE = "0.02 + (q.n - (q.n / 96) * 96) * 0.003"


def value_of(quarter: int) -> float:
    """Return what VALUE makes of the ``quarter``-th quarter hour from FIRST."""
    return 0.02 + (quarter % 96) * 0.003


# The quarter hours of one member's measures: a numbered series (each dialect's) times them.
_INSERT = f"""INSERT INTO readings
        (source, member, meter, quantity, start_s, end_s, value, quality, received_s)
    SELECT 'member', ?, m.meter, m.quantity, ? + q.n * 900, ? + q.n * 900 + 900, {VALUE},
        'measured', ? + q.n * 900 + 960
    FROM {{series}} CROSS JOIN ({{measures}}) AS m
    ORDER BY m.meter, m.quantity, q.n"""  # noqa: S608 - the bench's own constants
_SERIES = {
    "sqlite": "(WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < ?) "
    "SELECT n FROM s) AS q",
    "postgresql": "generate_series(0, CAST(? AS INTEGER)) AS q(n)",
}
# The store's own statements that make its sums from the readings (an upgrade's).
_SUMS = tuple(
    statement
    for migration in MIGRATIONS
    for statement in migration
    if statement.lstrip().startswith(("INSERT INTO hourly_energy", "INSERT INTO interval_members"))
)


def _insert(backend: str, measures: tuple[tuple[str, str], ...]) -> str:
    rows = " UNION ALL ".join(f"SELECT '{m}' AS meter, '{q}' AS quantity" for m, q in measures)
    return _INSERT.format(series=_SERIES[backend], measures=rows)


def measures_of(number: int) -> tuple[tuple[str, str], ...]:
    """Return what member ``number`` measures: every other one has solar panels."""
    return (*MEASURES, SOLAR) if number % 2 else MEASURES


async def fill(store: Store, members: int = MEMBERS, days: int = DAYS) -> dict[str, float]:
    """Register the members and write their days from FIRST, then the sums (see the module)."""
    began = time.perf_counter()
    config = load_config(None, {"IOE_AGGREGATOR_PUBLIC_BROKER_HOST": "localhost"})
    registry = Registry(store, config.members)
    first_s = int(FIRST.timestamp())
    rows = 0
    for number in range(1, members + 1):
        member = f"m-{number:04d}"
        new = NewMember(
            id=member, name=member, cups=cups(number), contracted_kw=6.9, investment_share=0
        )
        await registry.add(new, actor="bench")
        measures = measures_of(number)
        async with store.transaction() as tx:
            await tx.execute(
                _insert(store.backend, measures),
                (member, first_s, first_s, first_s, days * 96 - 1),
            )
        rows += days * 96 * len(measures)
    written = time.perf_counter()
    for statement in _SUMS:
        async with store.transaction() as tx:
            await tx.execute(statement)
    async with store.transaction() as tx:
        await tx.execute("DELETE FROM settings WHERE key = ?", (DAYS_ZONE_SETTING,))
    await store.sum_days()
    return {
        "readings": rows,
        "fill_readings_s": written - began,
        "fill_sums_s": time.perf_counter() - written,
    }


async def _size(store: Store, path: Path | None) -> float:
    """Return the database's size on disk (MB)."""
    if path is not None:
        files = [path, path.with_name(f"{path.name}-wal")]
        return sum(f.stat().st_size for f in files if f.exists()) / 1e6
    async with store.transaction() as tx:
        rows = await tx.execute("SELECT pg_database_size(current_database())")
    return int(rows[0][0]) / 1e6


def _day_batches(day: datetime, value: float, tag: str) -> list[list[ReadingsBatch]]:
    """Return a day of every member's quarter hours: per quarter, each member's batch."""
    quarters = []
    for n in range(96):
        start = day + timedelta(minutes=15 * n)
        batches = []
        for number in range(1, MEMBERS + 1):
            member = f"m-{number:04d}"
            readings = tuple(
                r
                for m, q in measures_of(number)
                for r in quarter_batch(member, m, q, start, [value]).readings
            )
            one = quarter_batch(member, *MEASURES[0], start, [value])
            batches.append(replace(one, batch=f"{tag}-{member}-{n}", readings=readings))
        quarters.append(batches)
    return quarters


async def _ingest(store: Store, run: int) -> dict[str, Any]:
    """Time a new day of every member, then a day of corrections a year back (sums checked)."""
    result: dict[str, Any] = {}
    for name, day, value in (
        ("ingest_new_day", FIRST + timedelta(days=DAYS + run), 0.1),
        ("ingest_corrected_day", FIRST + timedelta(days=365 + run), 0.5),
    ):
        before = await store.totals(day, day + timedelta(days=1), min_contributors=None)
        quarters = _day_batches(day, value, name)
        began = time.perf_counter()
        for batches in quarters:
            await store.store_batches(batches, quota_rows=10**8)
        seconds = time.perf_counter() - began
        readings = sum(len(b.readings) for batches in quarters for b in batches)
        after = await store.totals(day, day + timedelta(days=1), min_contributors=None)
        expected = 96 * MEMBERS * value
        exact = abs(after.kwh[IMPORT] - expected) < 1e-6 * expected
        result[name] = {
            "readings": readings,
            "seconds": seconds,
            "readings_per_s": readings / seconds,
            "sums_exact": exact,
            "import_kwh_before": before.kwh.get(IMPORT, 0.0),
            "import_kwh_after": after.kwh[IMPORT],
        }
    return result


async def _answers(store: Store) -> dict[str, Any]:
    """Time the store's answers on the full store (20 runs after a warm-up each)."""
    members = [f"m-{n:04d}" for n in range(1, MEMBERS + 1)]
    # The community's days and months, as the control centre asks for them: local ones.
    zone = store.days.zone
    month, day = datetime(2026, 6, 1, tzinfo=zone), datetime(2026, 6, 15, tzinfo=zone)
    month_end = datetime(2026, 7, 1, tzinfo=zone)
    calls = {
        "member_month_hours": lambda: store.hourly(*IMPORT, month, month_end, member=MEMBER),
        "member_day_readings": lambda: store.readings(MEMBER, day, day + timedelta(days=1)),
        "community_day_totals": lambda: store.totals(
            day, day + timedelta(days=1), min_contributors=5
        ),
        "community_day_hours": lambda: store.hourly(*IMPORT, day, day + timedelta(days=1)),
        "community_month_totals": lambda: store.totals(month, month_end, min_contributors=5),
        "completeness_month": lambda: completeness(
            store, members, date(2026, 6, 1), date(2026, 6, 30)
        ),
    }
    return {name: _summary(await _timed(call)) for name, call in calls.items()}


async def _forget_a_month(store: Store, run: int) -> dict[str, float]:
    """Forget a month of raw readings (the run's: the oldest left); time it."""
    horizon = FIRST + timedelta(days=31 * (run + 1))
    began = time.perf_counter()
    await store.forget_readings(horizon, grace_s=0)  # the horizon set
    forgotten = await store.forget_readings(horizon, grace_s=0)
    seconds = time.perf_counter() - began
    return {"forgotten": forgotten, "seconds": seconds, "per_s": forgotten / seconds}


async def _measure(url: str, path: Path | None, filled: dict[str, Any] | None) -> dict[str, Any]:
    """Fill the store (unless ``filled`` says it was, and how often it was measured since)."""
    store = await open_store(url)
    try:
        result: dict[str, Any] = {"timescaledb": store.timescaledb, "runs": 0}
        result |= filled if filled is not None else await fill(store)
        result["size_mb"] = await _size(store, path)
        result |= await _answers(store)
        result |= await _ingest(store, result["runs"])
        result["retention"] = await _forget_a_month(store, result["runs"])
        result["size_after_mb"] = await _size(store, path)
    finally:
        await store.close()
    return result


def _run(url: str, path: Path | None, kept: Path) -> dict[str, Any]:
    """Measure one backend; keep what its fill took in ``kept`` (a later run reuses it)."""
    filled = json.loads(kept.read_text()) if kept.exists() else None
    result = asyncio.run(_measure(url, path, filled))
    keys = ("readings", "fill_readings_s", "fill_sums_s")
    kept.write_text(json.dumps({key: result[key] for key in keys} | {"runs": result["runs"] + 1}))
    return result


def bench_store() -> dict[str, Any]:
    """Fill each backend and measure it (see the module's docstring)."""
    with tempfile.TemporaryDirectory(prefix="ioe-bench-store-") as tmp:
        directory = Path(os.environ.get("IOE_BENCH_STORE_DATA") or tmp)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "bench.db"
        backends = os.environ.get("IOE_BENCH_STORE_BACKENDS", "sqlite,timescaledb").split(",")
        results: dict[str, Any] = {"members": MEMBERS, "days": DAYS}
        if "sqlite" in backends:
            results["sqlite"] = _run(f"sqlite:///{path}", path, directory / "sqlite.json")
        if "timescaledb" in backends:
            kept = directory / "timescaledb.json"
            server = _postgres(directory / "postgres")
            try:
                url = server.url("bench") if kept.exists() else server.create_database("bench")
                results["timescaledb"] = _run(url, None, kept)
            finally:
                server.stop()
    return results


def _postgres(directory: Path) -> PostgresServer:
    """Start (or start again) the PostgreSQL server with TimescaleDB preloaded."""
    settings = {
        "shared_preload_libraries": "timescaledb",
        "timescaledb.telemetry_level": "off",
        "max_wal_size": "4GB",
    }
    return start_postgres(directory, settings)


def _ms(answer: dict[str, float]) -> str:
    return f"{answer['p95_ms']:.0f} ms ({answer['median_ms']:.0f})"


def _rate(ingest: dict[str, Any]) -> str:
    return f"{ingest['readings_per_s']:,.0f} readings/s" + ("" if ingest["sums_exact"] else " ✗")


ROWS = (
    ("readings", lambda r: f"{r['readings']:,}"),
    (
        "filled: readings + sums",
        lambda r: f"{r['fill_readings_s']:.0f} s + {r['fill_sums_s']:.0f} s",
    ),
    ("size on disk", lambda r: f"{r['size_mb'] / 1000:.1f} GB"),
    ("bytes per reading, with the sums", lambda r: f"{r['size_mb'] * 1e6 / r['readings']:.0f}"),
    ("a member's month of hours, p95 (median)", lambda r: _ms(r["member_month_hours"])),
    ("a member's day of raw readings", lambda r: _ms(r["member_day_readings"])),
    ("the community's day: totals, 5-member rule", lambda r: _ms(r["community_day_totals"])),
    ("the community's day: every member's hours", lambda r: _ms(r["community_day_hours"])),
    ("the community's month: totals, 5-member rule", lambda r: _ms(r["community_month_totals"])),
    ("a month's completeness, 200 members", lambda r: _ms(r["completeness_month"])),
    ("ingest: a new day of every member", lambda r: _rate(r["ingest_new_day"])),
    ("ingest: a day corrected a year back", lambda r: _rate(r["ingest_corrected_day"])),
    (
        "a month of raw readings forgotten",
        lambda r: f"{r['retention']['forgotten']:,} in {r['retention']['seconds']:.0f} s",
    ),
)


def print_table(results: dict[str, Any]) -> None:
    """Print the results as docs/benchmarks.md's table (✗: the sums were not exact)."""
    names = {"sqlite": "SQLite", "timescaledb": "PostgreSQL + TimescaleDB"}
    measured = [backend for backend in names if backend in results]
    print("| | " + " | ".join(names[backend] for backend in measured) + " |")
    print("|---|" + "---:|" * len(measured))
    for name, cell in ROWS:
        print(f"| {name} | " + " | ".join(cell(results[b]) for b in measured) + " |")
