"""``scripts/bench ingest``: readings stored and acknowledged per second, end to end.

A community on this machine: the TLS Mosquitto reading the aggregator's generated files, the
aggregator as its own process (SQLite, then PostgreSQL), and homes as raw paho clients, each
logged in as its member. A run publishes every batch at QoS 1 and stops the clock at the last
acknowledgement. The raw broker rate is a paho publisher → subscriber pair moving the same
payloads through the same broker without storage, measured in the same run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import itertools
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any
import urllib.request

from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
import yaml

from ioe_dev.mosquitto import Broker, broker_certificate, start_broker
from ioe_dev.postgres import start_postgres
from ioe_dev.processes import Service, free_port
from ioe_dev.synthetic import cups

MEMBERS = 10
# (readings per batch, batches per member): a quarter hour of six quantities as a home sends
# it live, and a day of them as it sends after an outage.
SHAPES = ((6, 200), (576, 6))
QUANTITIES = (
    "import_kwh",
    "export_kwh",
    "consumption_kwh",
    "generation_kwh",
    "charge_kwh",
    "discharge_kwh",
)
AGGREGATOR_USER = "ioe-aggregator"
AGGREGATOR_PASSWORD = "bench-aggregator"  # noqa: S105 - a throw-away broker on 127.0.0.1
PREFIX = "ioe/v1/bench"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
ADDON = Path(__file__).resolve().parents[3] / "addons" / "ioe-aggregator"


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def batch_payload(member: str, number: int, size: int) -> bytes:
    """Return batch ``number`` of a member: ``size`` readings, never overlapping another batch."""
    readings: list[dict[str, Any]] = []
    quarters = size // len(QUANTITIES)
    for q in range(quarters):
        start = T0 + (number * quarters + q) * QUARTER
        readings.extend(
            {
                "meter": "grid",
                "quantity": quantity,
                "start": _utc(start),
                "end": _utc(start + QUARTER),
                "value": 0.1 + 0.01 * q,
                "quality": "measured",
            }
            for quantity in QUANTITIES
        )
    message = {
        "schema": "ioe.readings.v1",
        "member": member,
        "batch": f"{member}-{size}-{number}",
        "sent_at": _utc(T0),
        "readings": readings,
    }
    return json.dumps(message).encode()


def connect_client(broker: Broker, username: str, password: str) -> mqtt.Client:
    """Connect a paho client (QoS 1 window of 100) and wait until the broker accepted it."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"bench-{username}-{time.monotonic_ns()}",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(username, password)
    client.tls_set(ca_certs=str(broker.ca_file))
    client.max_inflight_messages_set(100)
    connected = threading.Event()
    client.on_connect = lambda *_args: connected.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    if not connected.wait(10):
        raise RuntimeError(f"{username} could not connect to the broker")
    return client


def subscribe_and_wait(client: mqtt.Client, topic: str) -> None:
    """Subscribe at QoS 1 and wait for the broker's answer."""
    done = threading.Event()
    client.on_subscribe = lambda *_args: done.set()
    client.subscribe(topic, qos=1)
    if not done.wait(10):
        raise RuntimeError(f"no answer to the subscription to {topic}")


# Messages sent and not yet received (or acknowledged), as a home's outbox bounds its backlog:
# far below the 1,000 messages Mosquitto queues for a client before it drops QoS 1 messages.
WINDOW = 200


@dataclass
class Counter:
    """Counts arrivals, keeps at most WINDOW messages in flight, and signals the last one."""

    expected: int
    count: int = 0

    def __post_init__(self) -> None:
        """Start counting."""
        self._lock = threading.Lock()
        self._window = threading.Semaphore(WINDOW)
        self.done = threading.Event()

    def sending(self) -> None:
        """Wait for room in the window, then take a place for one message."""
        if not self._window.acquire(timeout=60):
            raise RuntimeError(f"nothing arrived for a minute ({self.count} of {self.expected})")

    def add(self, *_args: Any) -> None:
        """Count one arrival (a paho on_message callback)."""
        with self._lock:
            self.count += 1
            if self.count >= self.expected:
                self.done.set()
        self._window.release()


def raw_rate(broker: Broker, payloads: list[bytes], readings: int) -> float:
    """Return readings per second through the broker alone: publisher → subscriber, QoS 1."""
    subscriber = connect_client(broker, AGGREGATOR_USER, AGGREGATOR_PASSWORD)
    publisher = connect_client(broker, AGGREGATOR_USER, AGGREGATOR_PASSWORD)
    counter = Counter(len(payloads))
    subscriber.on_message = counter.add
    subscribe_and_wait(subscriber, f"{PREFIX}/raw")
    start = time.perf_counter()
    for body in payloads:
        counter.sending()
        publisher.publish(f"{PREFIX}/raw", body, qos=1)
    if not counter.done.wait(300):
        raise RuntimeError(f"the subscriber got {counter.count} of {counter.expected} messages")
    elapsed = time.perf_counter() - start
    for client in (publisher, subscriber):
        client.disconnect()
        client.loop_stop()
    return readings / elapsed


def ingest_rate(
    broker: Broker, homes: dict[str, mqtt.Client], batches: dict[str, list[bytes]], readings: int
) -> float:
    """Return readings per second stored and acknowledged by the aggregator."""
    counter = Counter(sum(len(bodies) for bodies in batches.values()))
    for member, client in homes.items():
        client.on_message = counter.add
        subscribe_and_wait(client, f"{PREFIX}/m/{member}/ack")
    start = time.perf_counter()
    # Round-robin over the homes, as their batches would interleave at the broker.
    queues = [[(member, body) for body in bodies] for member, bodies in batches.items()]
    for group in itertools.zip_longest(*queues):
        for item in group:
            if item is not None:
                member, body = item
                counter.sending()
                homes[member].publish(f"{PREFIX}/m/{member}/readings", body, qos=1)
    if not counter.done.wait(600):
        raise RuntimeError(f"{counter.count} of {counter.expected} batches were acknowledged")
    elapsed = time.perf_counter() - start
    for client in homes.values():
        client.unsubscribe(f"{PREFIX}/m/+/ack")
    return readings / elapsed


class BenchCommunity:
    """The broker, the aggregator's configuration and the registered members."""

    def __init__(self, directory: Path) -> None:
        """Prepare a community in directory (the broker is started by the caller)."""
        self.directory = directory
        self.port = free_port()
        certificate = broker_certificate(directory / "broker")
        self.options: dict[str, Any] = {
            "community_id": "bench",
            "mqtt_host": "127.0.0.1",
            "mqtt_port": self.port,
            "mqtt_ca_file": str(certificate.ca_file),
            "mqtt_username": AGGREGATOR_USER,
            "mqtt_password": AGGREGATOR_PASSWORD,
            "broker_files_dir": str(directory / "broker-files"),
            "broker_full_access": [],
            "mosquitto_pid_file": str(directory / "broker" / "mosquitto.pid"),
            "http_host": "127.0.0.1",
            "log_level": "warning",
            # Each bench home sends as fast as the broker takes it: the aggregator's ceiling is
            # measured, not the members' allowance (``member_batches_per_s``).
            "member_batches_per_s": 1_000_000,
        }
        self.passwords: dict[str, str] = {}
        self.join_codes: dict[str, str] = {}

    def cli(self, database_url: str, *args: str) -> str:
        """Run the aggregator's command line on a database; return what it printed."""
        config = self._config(database_url, "cli")
        result = subprocess.run(
            [sys.executable, "-m", "ioe_aggregator", *args, "--config", str(config)],
            capture_output=True,
            text=True,
            check=True,
            env=_env(),
        )
        return result.stdout

    def _config(self, database_url: str, name: str, **extra: Any) -> Path:
        path = self.directory / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**self.options, "database_url": database_url, **extra}))
        return path

    def register(self, database_url: str) -> None:
        """Register the members in a database (their join codes change with each database)."""
        from ioe_aggregator.members.join_code import decode  # noqa: PLC0415 - the add-on's

        for number in range(1, MEMBERS + 1):
            member = f"m-{number:04d}"
            out = self.cli(
                database_url,
                "members",
                "add",
                member,
                "--name",
                member,
                "--cups",
                cups(number),
                "--contracted-kw",
                "4.6",
                "--json",
            )
            self.join_codes[member] = json.loads(out)["join_code"]
            self.passwords[member] = decode(self.join_codes[member]).mqtt_password

    def start_broker(self, *, shared_logins: bool = False) -> Broker:
        """Start the TLS Mosquitto on the files the aggregator generates.

        ``shared_logins``: through a listener that does not make a login the client id (as the
        Mosquitto add-on's), for clients sharing the aggregator's login (replicas, say).
        """
        return start_broker(
            self.directory / "broker",
            self.port,
            include_dir=self.directory / "broker-files",
            addon_listener=shared_logins,
        )

    def start_aggregator(self, database_url: str, name: str = "service") -> tuple[Service, int]:
        """Start the service on a database; return it once it is subscribed at the broker.

        ``name``: its configuration's and (as ``replica_name``) its replica's, when several run.
        """
        port = free_port()
        extra = {} if name == "service" else {"replica_name": name}
        config = self._config(database_url, name, http_port=port, **extra)
        service = Service(
            "aggregator",
            [sys.executable, "-m", "ioe_aggregator", "serve", "--config", str(config)],
            self.directory / "aggregator.log",
            env=_env(),
        )
        service.start(port=port)
        deadline = time.monotonic() + 30
        while _health(port)["broker"]["status"] != "connected":
            if time.monotonic() > deadline:
                raise RuntimeError(service.log_tail())
            time.sleep(0.1)
        return service, port


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ADDON)}


def _health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as answer:
        return dict(json.load(answer))


def bench_ingest() -> dict[str, Any]:
    """Measure the raw broker rate, then the aggregator on SQLite and on PostgreSQL."""
    results: dict[str, Any] = {"members": MEMBERS, "shapes": []}
    with tempfile.TemporaryDirectory(prefix="ioe-bench-ingest-") as tmp:
        directory = Path(tmp)
        community = BenchCommunity(directory)
        # Its own directory: the server runs as another user, who cannot enter this one.
        postgres_dir = Path(tempfile.mkdtemp(prefix="ioe-bench-postgres-"))
        postgres = start_postgres(postgres_dir)
        databases = {
            "sqlite": f"sqlite:///{directory / 'bench.db'}",
            "postgresql": postgres.create_database("bench"),
        }
        community.cli(databases["sqlite"], "members", "broker-files")
        # The raw rate runs two clients on the aggregator's login, which the listener the
        # aggregator writes would not let share it (a client's id is its login there).
        broker = community.start_broker(shared_logins=True)
        try:
            members = [f"m-{n:04d}" for n in range(1, MEMBERS + 1)]
            shapes = []
            for size, per_member in SHAPES:
                batches = {
                    m: [batch_payload(m, n, size) for n in range(per_member)] for m in members
                }
                readings = size * per_member * MEMBERS
                every = [body for bodies in batches.values() for body in bodies]
                shapes.append((batches, readings))
                results["shapes"].append(
                    {
                        "readings_per_batch": size,
                        "batches": per_member * MEMBERS,
                        "readings": readings,
                        "payload_bytes": len(every[0]),
                        "raw_broker_readings_s": raw_rate(broker, every, readings),
                    }
                )
            for backend, url in databases.items():
                community.register(url)  # rewrites the broker's files with these passwords
                service, _port = community.start_aggregator(url)
                homes = {m: connect_client(broker, m, community.passwords[m]) for m in members}
                try:
                    for row, (batches, readings) in zip(results["shapes"], shapes, strict=True):
                        rate = ingest_rate(broker, homes, batches, readings)
                        row[f"{backend}_readings_s"] = rate
                        row[f"{backend}_share_of_raw"] = rate / row["raw_broker_readings_s"]
                finally:
                    for client in homes.values():
                        client.disconnect()
                        client.loop_stop()
                    service.stop()
        finally:
            broker.service.stop()
            postgres.stop()
            shutil.rmtree(postgres_dir, ignore_errors=True)
    return results


def print_table(results: dict[str, Any], out: Callable[[str], None] = print) -> None:
    """Print the results as docs/benchmarks.md's table."""
    out("| readings per batch | batches | raw broker | SQLite | share | PostgreSQL | share |")
    out("|---:|---:|---:|---:|---:|---:|---:|")
    for row in results["shapes"]:
        out(
            f"| {row['readings_per_batch']} | {row['batches']} "
            f"| {row['raw_broker_readings_s']:,.0f}/s | {row['sqlite_readings_s']:,.0f}/s "
            f"| {row['sqlite_share_of_raw']:.0%} | {row['postgresql_readings_s']:,.0f}/s "
            f"| {row['postgresql_share_of_raw']:.0%} |"
        )
