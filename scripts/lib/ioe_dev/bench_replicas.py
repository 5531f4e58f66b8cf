"""``scripts/bench replicas``: how long the scheduled work waits for a new leader, homes sending.

Three aggregator replicas on one PostgreSQL database behind the TLS Mosquitto, ten homes (the
integration's link client and outbox) each keeping a quarter-hour batch every half second. The
leader is killed (SIGKILL) five times, and started again each time once another leads: each
time, how long until another replica says it leads (its health, polled every 20 ms). At the
end, every batch acknowledged, and the readings stored counted against those sent (lost), and
the hourly sums against the readings (doubled: a reading stored twice counts twice there).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import shutil
import statistics
import tempfile
import threading
import time
from typing import Any

import psycopg

from custom_components.ioe_community.link.client import LinkClient, LinkSettings, new_client_suffix
from custom_components.ioe_community.link.join_code import JoinCode as HomeJoinCode
from custom_components.ioe_community.link.outbox import Outbox
from ioe_dev.bench_ingest import MEMBERS, BenchCommunity, _health
from ioe_dev.postgres import start_postgres
from ioe_dev.processes import Service

REPLICAS = ("r1", "r2", "r3")
KILLS = 5
BATCH_EVERY_S = 0.5
DAY = datetime(2026, 11, 24, tzinfo=UTC)


def _leader(ports: dict[str, int], among: set[str]) -> str | None:
    for name in among:
        try:
            if _health(ports[name])["replica"]["leading"]:
                return name
        except OSError:
            continue
    return None


def _message(member: str, number: int) -> bytes:
    start = DAY + number * timedelta(minutes=15)
    return json.dumps(
        {
            "schema": "ioe.readings.v1",
            "member": member,
            "batch": f"q-{number}",
            "sent_at": f"{DAY:%Y-%m-%dT%H:%M:%SZ}",
            "readings": [
                {
                    "meter": "grid",
                    "quantity": "import_kwh",
                    "start": f"{start:%Y-%m-%dT%H:%M:%SZ}",
                    "end": f"{start + timedelta(minutes=15):%Y-%m-%dT%H:%M:%SZ}",
                    "value": 0.25,
                    "quality": "measured",
                }
            ],
        }
    ).encode()


type Homes = tuple[dict[str, Outbox], list[LinkClient]]


def link_homes(codes: dict[str, str], directory: Path, resend_after_s: float) -> Homes:
    """Return each member's outbox (in ``directory``) and its link client (not started)."""
    from ioe_aggregator.members.join_code import decode  # noqa: PLC0415 - the add-on's

    outboxes, links = {}, []
    for member, code in codes.items():
        settings = LinkSettings.from_join_code(
            HomeJoinCode(**asdict(decode(code))), "bench", new_client_suffix()
        )
        outboxes[member] = Outbox(directory / f"{member}.outbox.db")
        links.append(LinkClient(settings, outboxes[member], resend_after_s=resend_after_s))
    return outboxes, links


def _kill_leader(
    community: BenchCommunity, url: str, services: dict[str, Service], ports: dict[str, int]
) -> float:
    """SIGKILL the leader, wait for another to lead, start it again; return the wait (s)."""
    leader = _leader(ports, set(REPLICAS))
    process = services[leader].process if leader is not None else None
    if leader is None or process is None:
        raise RuntimeError("no replica leads")
    process.kill()
    killed = time.monotonic()
    process.wait()
    others = set(REPLICAS) - {leader}
    while _leader(ports, others) is None:
        time.sleep(0.02)
    waited = time.monotonic() - killed
    services[leader], ports[leader] = community.start_aggregator(url, leader)
    return waited


def _drained(outboxes: dict[str, Outbox]) -> float:
    """Wait until every outbox is empty (every batch acknowledged); return how long (s)."""
    began = time.monotonic()
    while any(outbox.state().batches for outbox in outboxes.values()):
        time.sleep(0.1)
    return time.monotonic() - began


def bench_replicas() -> dict[str, Any]:
    """Kill the leader KILLS times while homes send; return the failovers and the count."""
    with tempfile.TemporaryDirectory(prefix="ioe-bench-replicas-") as tmp:
        directory = Path(tmp)
        community = BenchCommunity(directory)
        postgres_dir = Path(tempfile.mkdtemp(prefix="ioe-bench-postgres-"))
        postgres = start_postgres(postgres_dir)
        url = postgres.create_database("replicas")
        community.register(url)
        # Replicas share the aggregator's login: a listener that does not make it the client id.
        broker = community.start_broker(shared_logins=True)
        services: dict[str, Service] = {}
        ports: dict[str, int] = {}
        links: list[LinkClient] = []
        sending = threading.Event()
        sent = 0
        try:
            for name in REPLICAS:
                services[name], ports[name] = community.start_aggregator(url, name)
            outboxes, links = link_homes(community.join_codes, directory, resend_after_s=3)
            for link in links:
                link.start()

            def feed() -> None:
                nonlocal sent
                while sending.is_set():
                    for member, outbox in outboxes.items():
                        outbox.put(f"q-{sent}", _message(member, sent), DAY)
                    sent += 1
                    time.sleep(BATCH_EVERY_S)

            sending.set()
            feeder = threading.Thread(target=feed)
            feeder.start()
            failovers = []
            started = time.monotonic()
            for _ in range(KILLS):
                time.sleep(3)
                failovers.append(_kill_leader(community, url, services, ports))
            sending.clear()
            feeder.join()
            drain_s = _drained(outboxes)
            elapsed = time.monotonic() - started
        finally:
            sending.clear()
            for link in links:
                link.stop()
            for service in services.values():
                service.stop()
            broker.service.stop()
        with psycopg.connect(url) as connection:
            row = connection.execute(
                "SELECT COUNT(*), (SELECT SUM(kwh) FROM hourly_energy) FROM readings"
            ).fetchone()
        postgres.stop()
        shutil.rmtree(postgres_dir, ignore_errors=True)
    if row is None:
        raise RuntimeError("the readings could not be counted")
    expected = sent * MEMBERS
    return {
        "replicas": len(REPLICAS),
        "homes": MEMBERS,
        "kills": KILLS,
        "failover_s": failovers,
        "failover_median_s": statistics.median(failovers),
        "failover_max_s": max(failovers),
        "seconds": elapsed,
        "drain_after_last_batch_s": drain_s,
        "readings_sent": expected,
        "readings_stored": int(row[0]),
        "lost": expected - int(row[0]),
        # A reading stored twice would count twice in the hourly sums (a row holds it once).
        "doubled": round((float(row[1]) - 0.25 * int(row[0])) / 0.25),
    }


def print_table(results: dict[str, Any], out: Any = print) -> None:
    """Print the results as docs/benchmarks.md's table."""
    out("| leader killed | new leader after (median) | (max) | readings sent | lost | doubled |")
    out("|---:|---:|---:|---:|---:|---:|")
    out(
        f"| {results['kills']} times | {results['failover_median_s'] * 1000:,.0f} ms "
        f"| {results['failover_max_s'] * 1000:,.0f} ms | {results['readings_sent']:,} "
        f"| {results['lost']} | {results['doubled']} |"
    )
