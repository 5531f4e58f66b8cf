"""``scripts/bench soak``: 200 homes for a simulated week, a replica killed every simulated day.

Three aggregator replicas on one PostgreSQL database behind the TLS Mosquitto; 200 homes, each
the integration's own link client draining its outbox, in processes of 40 homes (the outboxes
on tmpfs, as the machine has one disk for everything). Time is accelerated: a quarter hour of
readings (grid import, grid export, consumption) goes into every outbox each ``QUARTER_S``
seconds of the clock, a week of quarters dated the week before the run. At each simulated midnight:

- a replica is killed (SIGKILL): the leader when another than the watched one leads, else a
  follower; it starts again once a replica leads (as its supervisor would start it);
- results are asked of a replica that does not lead (computed then, over all that is stored),
  and the time until every member's results message has reached the broker is measured;
- the watched replica's resident memory is read (never killed: its growth is the figure).

At the end every outbox must drain; readings stored are counted against those sent (lost),
and each hour's sums against its readings (a reading stored or summed twice, or missing from
its sum, leaves an hour that does not match).
``IOE_BENCH_SOAK_HOMES``, ``IOE_BENCH_SOAK_DAYS`` and ``IOE_BENCH_SOAK_QUARTER_S`` make it
smaller (``tests/faults/test_soak.py`` runs it so).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import json
import multiprocessing
import os
from pathlib import Path
import queue
import shutil
import statistics
import sys
import tempfile
import threading
import time
from typing import Any
import urllib.request

import paho.mqtt.client as mqtt
import psycopg

from custom_components.ioe_community.link.outbox import Outbox
from ioe_dev.bench_ingest import (
    AGGREGATOR_PASSWORD,
    AGGREGATOR_USER,
    PREFIX,
    BenchCommunity,
    connect_client,
    subscribe_and_wait,
)
from ioe_dev.bench_replicas import _leader, link_homes
from ioe_dev.mosquitto import Broker
from ioe_dev.postgres import start_postgres
from ioe_dev.processes import Service
from ioe_dev.synthetic import cups

REPLICAS = ("r1", "r2", "r3")
# Started last, it does not lead at first: the first midnight kills the leader.
WATCHED = "r3"
QUARTERS_A_DAY = 96
QUARTER = timedelta(minutes=15)
VALUE_KWH = 0.25  # every reading: what a quarter hour of 1 kW is
QUANTITIES = (("grid", "import_kwh"), ("grid", "export_kwh"), ("home", "consumption_kwh"))
# How long the run may wait for every member's results after asking, and for the outboxes.
RESULTS_TIMEOUT_S = 120
LEADER_TIMEOUT_S = 60
HOMES_PER_PROCESS = 40
DRAIN_TIMEOUT_S = 600
# The watched replica's queue (messages received, not yet handled), read this often.
WAITING_METRIC = "ioe_aggregator_broker_messages_waiting"
WAITING_EVERY_S = 5.0


def _settings() -> tuple[int, int, float]:
    return (
        int(os.environ.get("IOE_BENCH_SOAK_HOMES", "200")),
        int(os.environ.get("IOE_BENCH_SOAK_DAYS", "7")),
        float(os.environ.get("IOE_BENCH_SOAK_QUARTER_S", "0.5")),
    )


def _batch(member: str, first: datetime, number: int) -> bytes:
    start = first + number * QUARTER
    readings = [
        {
            "meter": meter,
            "quantity": quantity,
            "start": f"{start:%Y-%m-%dT%H:%M:%SZ}",
            "end": f"{start + QUARTER:%Y-%m-%dT%H:%M:%SZ}",
            "value": VALUE_KWH,
            "quality": "measured",
        }
        for meter, quantity in QUANTITIES
    ]
    message = {
        "schema": "ioe.readings.v1",
        "member": member,
        "batch": f"q-{number}",
        "sent_at": f"{start + QUARTER:%Y-%m-%dT%H:%M:%SZ}",
        "readings": readings,
    }
    return json.dumps(message).encode()


def _api(port: int, method: str, path: str, token: str, body: Any = None) -> Any:
    return json.loads(_call(port, method, path, token, body))


def _call(
    port: int, method: str, path: str, token: str, body: Any = None, *, timeout_s: float = 60
) -> bytes:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310
        return bytes(answer.read())


def _waiting(port: int, token: str) -> int:
    """Return a replica's messages received and not yet handled, from its metrics."""
    metrics = _call(port, "GET", "/api/v1/metrics", token, timeout_s=WAITING_EVERY_S)
    for line in metrics.decode().splitlines():
        if line.startswith(f"{WAITING_METRIC} "):
            return int(float(line.split()[1]))
    raise RuntimeError(f"no {WAITING_METRIC} in the metrics")


def _register(port: int, token: str, homes: int) -> dict[str, str]:
    """Register the members through the API (one process, not a command per member)."""
    codes = {}
    for number in range(1, homes + 1):
        member = f"m-{number:04d}"
        body = {"id": member, "name": member, "cups": cups(number), "contracted_kw": 4.6}
        codes[member] = str(_api(port, "POST", "/api/v1/members", token, body)["join_code"])
    return codes


def _rss_mb(service: Service) -> float:
    process = service.process
    if process is None:
        raise RuntimeError("the watched replica is not running")
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Results:
    """Members' results messages as the broker carries them: when each member last had one."""

    def __init__(self, client: mqtt.Client) -> None:
        """Count the results messages reaching ``client``."""
        self._lock = threading.Lock()
        self._at: dict[str, float] = {}
        client.on_message = self._received

    def _received(self, _client: mqtt.Client, _user: object, message: mqtt.MQTTMessage) -> None:
        member = message.topic.split("/")[-2]
        with self._lock:
            self._at[member] = time.monotonic()

    def since(self, moment: float) -> int:
        """Return how many members had results after ``moment``."""
        with self._lock:
            return sum(1 for at in self._at.values() if at > moment)


class Soak:
    """The running platform: replicas, homes, the watcher of results."""

    def __init__(self, community: BenchCommunity, url: str, token: str) -> None:
        """Keep the community, its database and an admin token."""
        self.community, self.url, self.token = community, url, token
        self.services: dict[str, Service] = {}
        self.ports: dict[str, int] = {}
        self.kills: list[dict[str, Any]] = []
        self.asked = 0

    def start(self, name: str) -> None:
        """Start (again) a replica."""
        self.services[name], self.ports[name] = self.community.start_aggregator(self.url, name)

    def kill_one(self) -> None:
        """Kill the leader unless it is the watched replica (then a follower); start it again."""
        leader = _leader(self.ports, set(REPLICAS))
        followers = [name for name in REPLICAS if name not in (WATCHED, leader)]
        victim = leader if leader not in (None, WATCHED) else followers[len(self.kills) % 2]
        process = self.services[victim].process
        if process is None:
            raise RuntimeError(f"replica {victim} is not running")
        process.kill()
        killed = time.monotonic()
        process.wait()
        others = set(REPLICAS) - {victim}
        while _leader(self.ports, others) is None:
            if time.monotonic() - killed > LEADER_TIMEOUT_S:
                raise RuntimeError(f"no replica leads {LEADER_TIMEOUT_S} s after {victim} died")
            time.sleep(0.05)
        kill: dict[str, Any] = {"replica": victim, "leader": victim == leader}
        if victim == leader:
            kill["new_leader_s"] = time.monotonic() - killed
        self.kills.append(kill)
        self.start(victim)

    def ask_results(self, results: Results, members: int) -> float:
        """Ask a replica that does not lead to publish results; return when all have arrived.

        Followers in turn, as a manager's browser behind a load balancer may reach them.
        """
        leader = _leader(self.ports, set(REPLICAS))
        followers = [name for name in REPLICAS if name != leader]
        name = followers[self.asked % len(followers)]
        self.asked += 1
        asked = time.monotonic()
        _api(self.ports[name], "POST", "/api/v1/results/publish", self.token)
        deadline = asked + RESULTS_TIMEOUT_S
        while results.since(asked) < members:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {results.since(asked)} of {members} results arrived")
            time.sleep(0.05)
        return time.monotonic() - asked


def _drain(outboxes: dict[str, Outbox]) -> float:
    began = time.monotonic()
    while any(outbox.state().batches for outbox in outboxes.values()):
        if time.monotonic() - began > DRAIN_TIMEOUT_S:
            waiting = sum(outbox.state().batches for outbox in outboxes.values())
            raise RuntimeError(f"{waiting} batches still wait after {DRAIN_TIMEOUT_S} s")
        time.sleep(0.2)
    return time.monotonic() - began


# Each hour's sum against the readings it holds: a reading stored twice, or summed twice, or
# missing from its sum shows as an hour that does not match.
_HOURS_NOT_MATCHING = """SELECT COUNT(*) FROM hourly_energy AS h FULL JOIN (
        SELECT source, member, meter, quantity, start_s - start_s % 3600 AS hour_s,
            SUM(value) AS kwh, SUM(end_s - start_s) AS covered_s
        FROM readings GROUP BY 1, 2, 3, 4, 5) AS r
    USING (source, member, meter, quantity, hour_s)
    WHERE h.kwh IS NULL OR r.kwh IS NULL OR ABS(h.kwh - r.kwh) > 1e-9
        OR h.covered_s <> r.covered_s"""


def _counted(url: str) -> tuple[int, int]:
    """Return the readings stored, and the hours whose sums do not match them."""
    with psycopg.connect(url) as connection:
        stored = connection.execute("SELECT COUNT(*) FROM readings").fetchone()
        hours = connection.execute(_HOURS_NOT_MATCHING).fetchone()
    if stored is None or hours is None:
        raise RuntimeError("the readings could not be counted")
    return int(stored[0]), int(hours[0])


class Midnights:
    """The work of each simulated midnight, beside the feed (homes go on sending meanwhile).

    One thread for the whole run: a replica started again dies with the thread that started
    it (``processes._die_with_parent``), so that thread must outlive the count at the end.
    """

    def __init__(self, soak: Soak, results: Results, members: int) -> None:
        """Start the thread that waits for midnights."""
        self.rss_mb: list[float] = []
        self.waiting_max = 0  # the watched replica's messages not yet handled, at most
        self.results_s: list[float] = []
        self.failed: list[BaseException] = []
        self._soak, self._results, self._members = soak, results, members
        self._days: queue.Queue[bool] = queue.Queue()
        self._done = threading.Event()
        self._done.set()
        self._thread = threading.Thread(target=self._run, name="soak-midnights")
        self._thread.start()

    def midnight(self) -> None:
        """Measure, ask for results and kill a replica (once the previous midnight is done)."""
        self._done.wait()
        self._done.clear()
        self._days.put(True)

    def wait(self) -> None:
        """Wait for the last midnight's work; raise what went wrong in it."""
        self._done.wait()
        if self.failed:
            raise self.failed[0]

    def close(self) -> None:
        """End the thread (the replicas it started again stop with it)."""
        self._days.put(False)
        self._thread.join()

    def _run(self) -> None:
        while True:
            try:
                day = self._days.get(timeout=WAITING_EVERY_S)
            except queue.Empty:
                self._sample_waiting()
                continue
            if not day:
                return
            try:
                self.rss_mb.append(_rss_mb(self._soak.services[WATCHED]))
                self.results_s.append(self._soak.ask_results(self._results, self._members))
                self._soak.kill_one()
            except Exception as err:  # noqa: BLE001 - raised again by the feed
                self.failed.append(err)
            finally:
                self._done.set()

    def _sample_waiting(self) -> None:
        try:
            waiting = _waiting(self._soak.ports[WATCHED], self._soak.token)
        except Exception as err:  # noqa: BLE001 - a figure missed, not a failed soak
            print(f"soak: the watched replica's metrics: {err}", file=sys.stderr)
        else:
            self.waiting_max = max(self.waiting_max, waiting)


@dataclass(frozen=True)
class Schedule:
    """The simulated week: its first quarter, its days, a quarter's seconds of the clock."""

    first: datetime
    days: int
    quarter_s: float

    def due(self, began: float, quarter: int) -> float:
        """Return when (``time.monotonic``) quarter ``quarter`` ends."""
        return began + (quarter + 1) * self.quarter_s


@dataclass(frozen=True)
class Signals:
    """What the run and its home processes share."""

    ready: Any  # a multiprocessing queue: each process's "ready", then how late it fed
    start: Any  # multiprocessing events
    stop: Any
    began: Any  # a multiprocessing double: time.monotonic() of the first quarter


def _feed_homes(
    codes: dict[str, str], outbox_dir: str, schedule: Schedule, signals: Signals
) -> None:
    """Run in a process of its own: some homes' links, and their outboxes fed on schedule."""
    outboxes, links = link_homes(codes, Path(outbox_dir), resend_after_s=10)
    for link in links:
        link.start()
    signals.ready.put("ready")
    signals.start.wait()
    began, late = signals.began.value, 0.0
    for number in range(schedule.days * QUARTERS_A_DAY):
        if signals.stop.is_set():  # the run failed
            break
        for member, outbox in outboxes.items():
            at = schedule.first + number * QUARTER
            outbox.put(f"q-{number}", _batch(member, schedule.first, number), at)
        pause = schedule.due(began, number) - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            late = max(late, -pause)
    signals.ready.put(late)
    signals.stop.wait()
    for link in links:
        link.stop()


def _run_week(
    codes: dict[str, str], outbox_dir: Path, schedule: Schedule, midnights: Midnights
) -> tuple[float, float]:
    """Feed the week from the home processes; at each midnight kill, ask, measure.

    Return how late a process fed at most, and how long the outboxes took to drain after the
    last quarter. The homes are split among processes: paho waits
    on its sockets with select(), which takes no descriptor past 1023, and each home holds a
    socket and its outbox's files.
    """
    context = multiprocessing.get_context("spawn")
    signals = Signals(context.Queue(), context.Event(), context.Event(), context.Value("d"))
    members = list(codes)
    groups = [members[i : i + HOMES_PER_PROCESS] for i in range(0, len(members), HOMES_PER_PROCESS)]
    processes = [
        context.Process(
            target=_feed_homes,
            args=({m: codes[m] for m in group}, str(outbox_dir), schedule, signals),
            name=f"homes-{number}",
            daemon=True,
        )
        for number, group in enumerate(groups)
    ]
    try:
        for process in processes:
            process.start()
        for _ in processes:
            signals.ready.get(timeout=120)
        signals.began.value = began = time.monotonic()
        signals.start.set()
        for day in range(schedule.days):
            end_of_day = schedule.due(began, (day + 1) * QUARTERS_A_DAY - 1)
            while (left := end_of_day - time.monotonic()) > 0:
                time.sleep(min(left, 0.5))
                if midnights.failed:
                    midnights.wait()
            midnights.midnight()
        midnights.wait()
        late = max(signals.ready.get(timeout=120) for _ in processes)
        _drain({m: Outbox(outbox_dir / f"{m}.outbox.db") for m in members})
        last = schedule.days * QUARTERS_A_DAY - 1
        drained = time.monotonic() - schedule.due(began, last)
    finally:
        signals.stop.set()
        signals.start.set()  # processes still waiting for it see stop at once
        for process in processes:
            process.join(60)
            if process.is_alive():
                process.kill()
    return late, drained


def _week(soak: Soak, broker: Broker, outbox_dir: Path) -> dict[str, Any]:
    """Register the homes, start the replicas, run the week and drain; return the figures."""
    homes, days, quarter_s = _settings()
    first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=days + 1
    )
    watcher: mqtt.Client | None = None
    midnights: Midnights | None = None
    try:
        soak.start(REPLICAS[0])
        codes = _register(soak.ports[REPLICAS[0]], soak.token, homes)
        for name in REPLICAS[1:]:
            soak.start(name)
        watcher = connect_client(broker, AGGREGATOR_USER, AGGREGATOR_PASSWORD)
        results = Results(watcher)
        subscribe_and_wait(watcher, f"{PREFIX}/m/+/results")
        midnights = Midnights(soak, results, homes)
        started = time.monotonic()
        late, drain_s = _run_week(codes, outbox_dir, Schedule(first, days, quarter_s), midnights)
        elapsed = time.monotonic() - started
        rss = [*midnights.rss_mb, _rss_mb(soak.services[WATCHED])]
    finally:
        if midnights is not None:
            midnights.close()
        if watcher is not None:
            watcher.disconnect()
            watcher.loop_stop()
        for service in soak.services.values():
            service.stop()
    return {
        "homes": homes,
        "replicas": len(REPLICAS),
        "simulated_days": days,
        "quarter_s": quarter_s,
        "seconds": elapsed,
        "feed_late_max_s": late,
        "drain_after_last_quarter_s": drain_s,
        "kills": soak.kills,
        "results_s": midnights.results_s,
        "results_max_s": max(midnights.results_s),
        "results_median_s": statistics.median(midnights.results_s),
        "watched_rss_mb": rss,
        "watched_waiting_max": midnights.waiting_max,
        # From the end of the first day (warmed up) to after the drain.
        "watched_rss_growth": (rss[-1] - rss[0]) / rss[0],
    }


def bench_soak() -> dict[str, Any]:
    """Run the soak; return what was lost, the hours not matching, memory and results' times."""
    shm = Path("/dev/shm")  # noqa: S108 - tmpfs, a private directory made in it
    outbox_dir = Path(tempfile.mkdtemp(prefix="ioe-soak-", dir=shm if shm.is_dir() else None))
    postgres_dir = Path(tempfile.mkdtemp(prefix="ioe-bench-postgres-"))
    try:
        with tempfile.TemporaryDirectory(prefix="ioe-bench-soak-") as tmp:
            measured, stored, hours = _soak(Path(tmp), postgres_dir, outbox_dir)
    finally:
        shutil.rmtree(postgres_dir, ignore_errors=True)
        shutil.rmtree(outbox_dir, ignore_errors=True)
    sent = measured["homes"] * measured["simulated_days"] * QUARTERS_A_DAY * len(QUANTITIES)
    return measured | {
        "readings_sent": sent,
        "readings_stored": stored,
        "lost": sent - stored,
        # A reading twice in the store would be one row (its key), counted twice in its hour.
        "hours_not_matching": hours,
    }


def _soak(directory: Path, postgres_dir: Path, outbox_dir: Path) -> tuple[dict[str, Any], int, int]:
    community = BenchCommunity(directory)
    postgres = start_postgres(postgres_dir)
    try:
        url = postgres.create_database("soak")
        token = json.loads(
            community.cli(url, "tokens", "add", "--scope", "admin", "--label", "soak", "--json")
        )["token"]
        community.cli(url, "members", "broker-files")  # the aggregator's own login, at first
        # Replicas share the aggregator's login: a listener that does not make it the client id.
        broker = community.start_broker(shared_logins=True)
        try:
            measured = _week(Soak(community, url, token), broker, outbox_dir)
        finally:
            broker.service.stop()
        stored, hours = _counted(url)
    finally:
        postgres.stop()
    return measured, stored, hours


def print_table(results: dict[str, Any], out: Any = print) -> None:
    """Print the results as docs/benchmarks.md's table."""
    out(
        "| homes | simulated days | replicas killed (leaders) | readings sent | lost "
        "| hours whose sums do not match "
        "| results for all, median / max | watched replica's RSS, day 1 → end "
        "| its messages waiting, at most |"
    )
    out("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    kills = results["kills"]
    leaders = sum(1 for kill in kills if kill["leader"])
    rss = results["watched_rss_mb"]
    out(
        f"| {results['homes']} | {results['simulated_days']} | {len(kills)} ({leaders}) "
        f"| {results['readings_sent']:,} | {results['lost']} | {results['hours_not_matching']} "
        f"| {results['results_median_s']:.1f} / {results['results_max_s']:.1f} s "
        f"| {rss[0]:.0f} → {rss[-1]:.0f} MB ({results['watched_rss_growth']:+.1%}) "
        f"| {results['watched_waiting_max']:,} |"
    )
