"""Several aggregator replicas on one PostgreSQL database, and replicas killed while homes send.

Real processes throughout: three aggregator services on one PostgreSQL database, the TLS
Mosquitto reading the logins they generate, and four homes' link clients (the integration's own
library) draining their outboxes. Replicas are killed with SIGKILL while batches flow; every
reading must end up stored once (the sums per hour too), one replica must lead at any time, and
the community's results must go on being published by whichever leads.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import time
from typing import Any

import psycopg
import pytest
import yaml

from custom_components.ioe_community.link.client import LinkClient
from custom_components.ioe_community.link.outbox import Outbox
from ioe_dev.postgres import PostgresServer
from ioe_dev.processes import Service, ServiceError, free_port
from tests.community import (
    PREFIX,
    Community,
    StartAggregator,
    call,
    get_json,
    home_settings,
    live_batch,
    payload,
    put_quarters,
    start_service,
    wait_for_broker_status,
)
from tests.conftest import AGGREGATOR_PASSWORD, AGGREGATOR_USER

DAY = datetime(2026, 11, 24, tzinfo=UTC)
MEMBERS = ("m-0001", "m-0002", "m-0003", "m-0004")
# A leader's lock is free as soon as its process is gone; the others ask every half second.
FAILOVER_S = 10


def _wait(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def _replica(port: int) -> dict[str, Any]:
    return get_json(f"http://127.0.0.1:{port}/api/health")[1]["replica"]


def _leading(ports: dict[str, int]) -> list[tuple[str, int]]:
    """Return (name, term) of the replicas that say they lead."""
    found = [_replica(port) for port in ports.values()]
    return [(replica["name"], replica["term"]) for replica in found if replica["leading"]]


def _kill(service: Service) -> None:
    assert service.process is not None
    service.process.kill()
    service.process.wait()


def test_a_second_replica_of_a_sqlite_database_is_refused(
    community: Community, start_aggregator: StartAggregator
) -> None:
    _service, port = start_service(community, start_aggregator)

    with pytest.raises(ServiceError, match="already serves the SQLite database") as refused:
        start_aggregator(**community.options)

    assert "use PostgreSQL" not in str(refused.value)  # the message names the option
    assert "same PostgreSQL database (database_url)" in str(refused.value)
    assert _replica(port)["leading"] is True  # the first one goes on


def test_replicas_share_the_ingest_one_leads_and_kills_lose_and_double_nothing(
    addon_community: Community,
    start_aggregator: StartAggregator,
    postgres: PostgresServer,
    tmp_path: Path,
) -> None:
    # Replicas log in alike, each under its own client id: through a listener that does not
    # make the login the client id (as the Mosquitto add-on's internal one).
    community = addon_community
    url = postgres.create_database("faults_replicas")
    community.options["database_url"] = url
    community.config_file.write_text(yaml.safe_dump(community.options))
    codes = {member: community.add_member(member) for member in MEMBERS}

    services: dict[str, Service] = {}
    ports: dict[str, int] = {}
    https_ports = {name: free_port() for name in ("a", "b", "c")}

    def start(name: str) -> None:
        services[name], ports[name] = start_aggregator(
            **community.options | {"https_port": https_ports[name]}, replica_name=name
        )
        wait_for_broker_status(ports[name], "connected")

    for name in ("a", "b", "c"):
        start(name)
    [(leader, term)] = _wait(lambda: _leading(ports), 10, "a leader")
    assert sorted(_replica(ports["a"])["replicas"]) == sorted(
        _replica(port)["replica"] for port in ports.values()
    )
    for port in ports.values():
        assert _replica(port)["leader"]["name"] == leader

    admin = community.token("admin")
    watcher = community.connect(AGGREGATOR_USER, AGGREGATOR_PASSWORD)
    watcher.subscribe(f"{PREFIX}/community/state")

    outboxes = {member: Outbox(tmp_path / f"{member}.outbox.db") for member in MEMBERS}
    for member, outbox in outboxes.items():
        put_quarters(outbox, member, 0, 48, DAY)
    links = [
        LinkClient(home_settings(codes[member]), outbox, window=8, resend_after_s=3)
        for member, outbox in outboxes.items()
    ]
    for link in links:
        link.start()
    try:
        # A replica that does not lead is killed while the homes' batches flow …
        _wait(lambda: any(o.state().batches < 48 for o in outboxes.values()), 30, "first acks")
        follower = next(name for name in services if name != leader)
        _kill(services[follower])
        for member, outbox in outboxes.items():
            put_quarters(outbox, member, 48, 48, DAY)
        # … then the leader, with the second half of the day on its way.
        time.sleep(0.2)
        states_before = len(watcher.payloads(f"{PREFIX}/community/state"))
        killed_at = time.monotonic()
        _kill(services[leader])
        alive = {name: port for name, port in ports.items() if name not in {leader, follower}}
        [(new_leader, new_term)] = _wait(lambda: _leading(alive), FAILOVER_S, "a new leader")
        failover_s = time.monotonic() - killed_at

        # The killed replicas come back (as their supervisor would start them again): the
        # batches the broker kept for their sessions reach the store then.
        start(follower)
        start(leader)
        _wait(lambda: all(o.state().batches == 0 for o in outboxes.values()), 120, "every ack")
    finally:
        for link in links:
            link.stop()

    assert new_leader not in {leader, follower}
    assert new_term == term + 1
    assert failover_s < FAILOVER_S
    assert _leading(ports) == [(new_leader, new_term)]  # the ones back follow
    # The new leader published the community's state (at once, as it started leading).
    watcher.wait_for(lambda: len(watcher.payloads(f"{PREFIX}/community/state")) > states_before)
    # Every reading once, and the sums per hour exact (a reading counted twice would show).
    with psycopg.connect(url) as connection:
        readings = connection.execute(
            "SELECT member, COUNT(*), SUM(value) FROM readings GROUP BY member ORDER BY member"
        ).fetchall()
        hours = connection.execute(
            "SELECT member, SUM(kwh), SUM(covered_s) FROM hourly_energy "
            "GROUP BY member ORDER BY member"
        ).fetchall()
    assert [(member, count) for member, count, _kwh in readings] == [(m, 96) for m in MEMBERS]
    for _member, _count, kwh in readings:
        assert kwh == pytest.approx(24.0)
    for member, kwh, covered in hours:
        assert (kwh, covered) == (pytest.approx(24.0), 96 * 900), member

    # What one replica learns reaches the leader: a home's live reports (taken by whichever
    # replica the broker hands them) and results wanted after a change made through another
    # replica's API; the leader then publishes the state with the latest live report.
    sender = community.connect("m-0001", codes["m-0001"].mqtt_password)
    taken = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
    for watts in range(1000, 1006):
        report = live_batch("m-0001", f"live-{watts}", grid_w=watts)
        report["live"]["ts"] = f"{taken + timedelta(seconds=watts - 1000):%Y-%m-%dT%H:%M:%SZ}"
        sender.publish(f"{PREFIX}/m/m-0001/readings", payload(report))
    time.sleep(1.5)  # told within a tick (0.5 s)
    follower_port = next(port for name, port in ports.items() if name != new_leader)
    prices = {"import_eur_kwh": {"P1": 0.28, "P2": 0.19, "P3": 0.13}, "surplus_eur_kwh": 0.05}
    changed = call(
        f"http://127.0.0.1:{follower_port}", "PUT", "/api/v1/prices/2026-01-01", admin, prices
    )
    assert changed.status == 200, changed.body
    states = len(watcher.payloads(f"{PREFIX}/community/state"))
    watcher.wait_for(lambda: len(watcher.payloads(f"{PREFIX}/community/state")) > states, 10)
    state = json.loads(watcher.payloads(f"{PREFIX}/community/state")[-1])
    assert state["consumption_w"] == 1005.0
    # Every replica counts it (the two the broker did not hand it to, through the others).
    for port in ports.values():

        def counted(port: int = port) -> bool:
            answer = call(f"http://127.0.0.1:{port}", "GET", "/api/v1/community/overview", admin)
            return answer.json()["now"]["consumption_w"] == 1005.0

        _wait(counted, 10, f"the live report on the replica at {port}")

    # A replica that goes away says offline (its last will): the leader says online again.
    availability = f"{PREFIX}/community/availability"
    watcher.subscribe(availability)
    watcher.wait_for(lambda: watcher.payloads(availability))
    assert watcher.payloads(availability)[-1] == b"online"
    heard = len(watcher.payloads(availability))
    _kill(services[follower])
    watcher.wait_for(lambda: b"offline" in watcher.payloads(availability)[heard:])
    watcher.wait_for(lambda: watcher.payloads(availability)[-1] == b"online")
