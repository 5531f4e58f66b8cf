"""What the fault tests share: replicas on one PostgreSQL database, homes sending, the count.

A "platform" here is a community's aggregator run as named replicas (each its own process,
ports and ``replica_name``) on one PostgreSQL database, the TLS Mosquitto reading the logins
they generate, and homes draining their outboxes through the integration's own link client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
import time
from typing import Any

import psycopg
import yaml

from custom_components.ioe_community.link.client import LinkClient
from custom_components.ioe_community.link.outbox import Outbox
from ioe_dev.processes import Service, free_port
from tests.community import (
    Community,
    StartAggregator,
    get_json,
    home_settings,
    put_quarters,
    wait_for_broker_status,
)

DAY = datetime(2026, 11, 24, tzinfo=UTC)
MEMBERS = ("m-0001", "m-0002", "m-0003", "m-0004")


def wait(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Return ``check()`` once it is true; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def health(port: int) -> dict[str, Any]:
    """Return a replica's /api/health."""
    return get_json(f"http://127.0.0.1:{port}/api/health")[1]


@dataclass
class Platform:
    """A community's replicas on one database, and its homes."""

    community: Community
    start_aggregator: StartAggregator
    url: str
    codes: dict[str, Any]
    services: dict[str, Service] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    https_ports: dict[str, int] = field(default_factory=dict)

    def start(self, name: str) -> None:
        """Start (or start again) the replica ``name``; wait until it is on the broker."""
        https = self.https_ports.setdefault(name, free_port())
        options = self.community.options | {"https_port": https, "replica_name": name}
        self.services[name], self.ports[name] = self.start_aggregator(**options)
        wait_for_broker_status(self.ports[name], "connected")

    def kill(self, name: str) -> None:
        """SIGKILL the replica ``name`` and wait for it to be gone."""
        process = self.services[name].process
        assert process is not None
        process.kill()
        process.wait()

    def leading(self, names: set[str] | None = None) -> list[tuple[str, int]]:
        """Return (name, term) of the replicas (of ``names``, else all) that say they lead."""
        ports = [port for name, port in self.ports.items() if names is None or name in names]
        found = [health(port)["replica"] for port in ports]
        return [(replica["name"], replica["term"]) for replica in found if replica["leading"]]

    def alive(self) -> list[str]:
        """Return the names of the replicas whose process has not exited, in start order."""
        return [
            name
            for name, service in self.services.items()
            if service.process is not None and service.process.poll() is None
        ]

    @contextlib.contextmanager
    def homes(self, directory: Path, quarters: int) -> Iterator[dict[str, Outbox]]:
        """Fill each member's outbox with ``quarters`` batches and drain it meanwhile."""
        outboxes = {member: Outbox(directory / f"{member}.outbox.db") for member in self.codes}
        for member, outbox in outboxes.items():
            put_quarters(outbox, member, 0, quarters, DAY)
        links = [
            LinkClient(home_settings(self.codes[member]), outbox, window=4, resend_after_s=3)
            for member, outbox in outboxes.items()
        ]
        for link in links:
            link.start()
        try:
            yield outboxes
        finally:
            for link in links:
                link.stop()

    def stored(self) -> tuple[list[tuple[str, int, float]], tuple[float, int]]:
        """Return (member, readings, kWh) per member, and the hourly sums' (kWh, seconds)."""
        with psycopg.connect(self.url) as connection:
            readings = connection.execute(
                "SELECT member, COUNT(*), SUM(value) FROM readings GROUP BY member ORDER BY member"
            ).fetchall()
            hours = connection.execute("SELECT SUM(kwh), SUM(covered_s) FROM hourly_energy")
            total = hours.fetchone()
        assert total is not None
        per_member = [(str(m), int(count), float(kwh)) for m, count, kwh in readings]
        return per_member, (float(total[0]), int(total[1]))


def platform(
    community: Community, start_aggregator: StartAggregator, url: str, names: tuple[str, ...]
) -> Platform:
    """Register the members on the database ``url`` and start the replicas ``names``."""
    community.options["database_url"] = url
    community.config_file.write_text(yaml.safe_dump(community.options))
    codes = {member: community.add_member(member) for member in MEMBERS}
    made = Platform(community, start_aggregator, url, codes)
    for name in names:
        made.start(name)
    return made


def assert_every_reading_once(made: Platform, quarters: int) -> None:
    """Every member's quarters stored once (0.25 kWh each), and the hourly sums exact."""
    readings, (kwh, covered) = made.stored()
    assert [(member, count) for member, count, _kwh in readings] == [
        (member, quarters) for member in MEMBERS
    ]
    for member, _count, total in readings:
        assert abs(total - quarters * 0.25) < 1e-9, member
    assert abs(kwh - quarters * 0.25 * len(MEMBERS)) < 1e-9
    assert covered == quarters * 900 * len(MEMBERS)
