"""``scripts/bench link``: a day of backlog drained from a home's outbox after reconnecting.

Each home has every meter (grid import and export, PV, battery charge and discharge, EV): 7
readings a quarter hour with its consumption. Cut off for 24 hours, it made what the
integration makes meanwhile — a batch per quarter hour, 96 in its outbox — through the
integration's own ``link/`` code (``ioe_dev.simulated_member``). Then it reconnects to the
community (TLS Mosquitto on the aggregator's files, the aggregator on SQLite) and the clock
runs until the last batch is acknowledged. Once for one home, once for the whole community
coming back together. CPU: this process (the homes' link threads) and the aggregator's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import os
from pathlib import Path
import sqlite3
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd

from custom_components.ioe_community.link.join_code import decode
from ioe_dev.bench_ingest import MEMBERS, BenchCommunity
from ioe_dev.processes import Service
from ioe_dev.simulated_member import Counters, SimulatedMember, moved_to
from ioe_dev.synthetic import SyntheticCommunity, make_community

DAY = datetime(2026, 6, 15, tzinfo=UTC)  # a sunny one: every meter counts something
PV_PEAK_KW = 4.0
BATTERY_KW = 2.5
EV_KWH_PER_HOUR = 3.7


def home_with_every_meter(consumption: pd.Series, generation: pd.Series) -> pd.DataFrame:
    """Return a home's hourly counters' energies: its use, its own PV, a battery and an EV."""
    pv = generation.to_numpy() * PV_PEAK_KW
    use = consumption.to_numpy()
    hours = consumption.index.hour
    charge = np.clip(pv - use, 0.0, BATTERY_KW)
    discharge = np.where((hours >= 18) & (hours <= 22), np.minimum(use, 0.8), 0.0)
    ev = np.where((hours == 1) | (hours == 2), EV_KWH_PER_HOUR, 0.0)
    balance = use + charge + ev - pv - discharge
    return pd.DataFrame(
        {
            "grid_import_energy": np.clip(balance, 0.0, None),
            "grid_export_energy": np.clip(-balance, 0.0, None),
            "pv_energy": pv,
            "battery_charge_energy": charge,
            "battery_discharge_energy": discharge,
            "ev_energy": ev,
        },
        index=consumption.index,
    )


def _cpu_s(pid: int) -> float:
    """Return a process's user + system CPU seconds so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stored(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM readings").fetchone()[0])


def _drain(homes: list[SimulatedMember], aggregator: Service, database: Path) -> dict[str, Any]:
    """Reconnect the homes; return the time and CPU until every outbox is empty."""
    batches = sum(home.outbox.state().batches for home in homes)
    stored_before = _stored(database)
    if aggregator.process is None:
        raise RuntimeError("the aggregator is not running")
    pid = aggregator.process.pid
    cpu_aggregator = _cpu_s(pid)
    cpu_homes = time.process_time()
    start = time.perf_counter()
    for home in homes:
        home.client.start()
    deadline = start + 600
    while any(home.outbox.state().batches for home in homes):
        if time.perf_counter() > deadline:
            raise RuntimeError("the backlog did not drain in 10 minutes")
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    result = {
        "homes": len(homes),
        "batches": batches,
        "drain_s": elapsed,
        "homes_cpu_s": time.process_time() - cpu_homes,
        "aggregator_cpu_s": _cpu_s(pid) - cpu_aggregator,
    }
    for home in homes:
        home.client.stop()
    # Every reading of the day stored (the acknowledgement follows the store's commit).
    result["readings_stored"] = _stored(database) - stored_before
    return result


def _homes(
    synthetic: SyntheticCommunity,
    community: BenchCommunity,
    members: int,
    day: datetime,
    directory: Path,
) -> tuple[list[SimulatedMember], int]:
    """Return ``members`` homes cut off for ``day``, their outboxes full of it, and the readings."""
    hours = pd.date_range(day - timedelta(hours=1), day + timedelta(days=1, hours=1), freq="h")
    homes, readings = [], 0
    for number in range(1, members + 1):
        member = f"m-{number:04d}"
        year = pd.DataFrame(
            {
                "use": synthetic.consumption_kwh[member],
                "sun": synthetic.generation_kwh / synthetic.peak_kw,
            }
        )
        hourly = moved_to(year, day).reindex(hours).fillna(0.0)
        home = SimulatedMember(
            decode(community.join_codes[member]),
            directory,
            Counters(home_with_every_meter(hourly["use"], hourly["sun"])),
            version="bench",
        )
        readings += home.catch_up(day, day + timedelta(days=1))
        homes.append(home)
    return homes, readings


def bench_link() -> dict[str, Any]:
    """Measure one home's day of backlog, then the whole community's, drained."""
    synthetic = make_community(MEMBERS)
    results: dict[str, Any] = {"day": DAY.date().isoformat(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="ioe-bench-link-") as tmp:
        directory = Path(tmp)
        community = BenchCommunity(directory)
        database = directory / "bench.db"
        url = f"sqlite:///{database}"
        community.register(url)
        community.cli(url, "members", "broker-files")
        broker = community.start_broker()
        aggregator, _port = community.start_aggregator(url)
        try:
            # Each run its own day: nothing the aggregator already has.
            for number, members in enumerate((1, MEMBERS)):
                cpu = time.process_time()
                homes, readings = _homes(
                    synthetic,
                    community,
                    members,
                    DAY + timedelta(days=number),
                    directory / f"run-{number}",
                )
                making = (time.process_time() - cpu) / members
                run = _drain(homes, aggregator, database)
                run |= {"readings": readings, "making_cpu_s_per_home": making}
                for home in homes:
                    home.outbox.close()
                results["runs"].append(run)
        finally:
            aggregator.stop()
            broker.service.stop()
    return results


def print_table(results: dict[str, Any]) -> None:
    """Print the results as docs/benchmarks.md's table."""
    print("| homes | batches | readings | drain | homes' CPU | aggregator CPU | making a day |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for run in results["runs"]:
        print(
            f"| {run['homes']} | {run['batches']} | {run['readings_stored']:,} "
            f"| {run['drain_s']:.2f} s | {run['homes_cpu_s']:.2f} s "
            f"| {run['aggregator_cpu_s']:.2f} s | {run['making_cpu_s_per_home']:.2f} s / home |"
        )
