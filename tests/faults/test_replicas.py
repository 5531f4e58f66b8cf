"""Several aggregator replicas on one PostgreSQL database, and replicas killed while homes send.

Real processes throughout: three aggregator services on one PostgreSQL database, the TLS
Mosquitto reading the logins they generate, and four homes' link clients (the integration's own
library) draining their outboxes. Replicas are killed with SIGKILL while batches flow; every
reading must end up stored once (the sums per hour too), one replica must lead at any time, and
the community's results must go on being published by whichever leads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import time

import pytest

from ioe_dev.postgres import PostgresServer
from ioe_dev.processes import ServiceError
from tests.community import (
    PREFIX,
    Community,
    StartAggregator,
    call,
    live_batch,
    payload,
    put_quarters,
    start_service,
)
from tests.conftest import AGGREGATOR_PASSWORD, AGGREGATOR_USER

from .platform import DAY, assert_every_reading_once, health, platform, wait

# A leader's lock is free as soon as its process is gone; the others ask every half second.
FAILOVER_S = 10


def test_a_second_replica_of_a_sqlite_database_is_refused(
    community: Community, start_aggregator: StartAggregator
) -> None:
    _service, port = start_service(community, start_aggregator)

    with pytest.raises(ServiceError, match="already serves the SQLite database") as refused:
        start_aggregator(**community.options)

    assert "same PostgreSQL database (database_url)" in str(refused.value)
    assert health(port)["replica"]["leading"] is True  # the first one goes on


def test_replicas_share_the_ingest_one_leads_and_kills_lose_and_double_nothing(
    addon_community: Community,
    start_aggregator: StartAggregator,
    postgres: PostgresServer,
    tmp_path: Path,
) -> None:
    # Replicas log in alike, each under its own client id: through a listener that does not
    # make the login the client id (as the Mosquitto add-on's internal one).
    community = addon_community
    made = platform(
        community, start_aggregator, postgres.create_database("faults_replicas"), ("a", "b", "c")
    )
    ports = made.ports
    [(leader, term)] = wait(made.leading, 10, "a leader")
    replicas = [health(port)["replica"] for port in ports.values()]
    assert sorted(replicas[0]["replicas"]) == sorted(r["replica"] for r in replicas)
    assert {r["leader"]["name"] for r in replicas} == {leader}

    admin = community.token("admin")
    watcher = community.connect(AGGREGATOR_USER, AGGREGATOR_PASSWORD)
    watcher.subscribe(f"{PREFIX}/community/state")

    with made.homes(tmp_path, 48) as outboxes:
        # A replica that does not lead is killed while the homes' batches flow …
        wait(lambda: any(o.state().batches < 48 for o in outboxes.values()), 30, "first acks")
        follower = next(name for name in ports if name != leader)
        made.kill(follower)
        for member, outbox in outboxes.items():
            put_quarters(outbox, member, 48, 48, DAY)
        # … then the leader, with the second half of the day on its way.
        time.sleep(0.2)
        states_before = len(watcher.payloads(f"{PREFIX}/community/state"))
        killed_at = time.monotonic()
        made.kill(leader)
        survivors = set(ports) - {leader, follower}
        [(new_leader, new_term)] = wait(lambda: made.leading(survivors), FAILOVER_S, "a new leader")
        failover_s = time.monotonic() - killed_at

        # The killed replicas come back (as their supervisor would start them again): the
        # batches the broker kept for their sessions reach the store then.
        made.start(follower)
        made.start(leader)
        wait(lambda: all(o.state().batches == 0 for o in outboxes.values()), 120, "every ack")

    assert new_leader not in {leader, follower}
    assert new_term == term + 1
    assert failover_s < FAILOVER_S
    assert made.leading() == [(new_leader, new_term)]  # the ones back follow
    # The new leader published the community's state (at once, as it started leading).
    watcher.wait_for(lambda: len(watcher.payloads(f"{PREFIX}/community/state")) > states_before)
    # Every reading once, and the sums per hour exact (a reading counted twice would show).
    assert_every_reading_once(made, 96)

    # What one replica learns reaches the leader: a home's live reports (taken by whichever
    # replica the broker hands them) and results wanted after a change made through another
    # replica's API; the leader then publishes the state with the latest live report.
    sender = community.connect("m-0001", made.codes["m-0001"].mqtt_password)
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

        wait(counted, 10, f"the live report on the replica at {port}")

    # The manager's "publish results", asked of a follower's API: the leader publishes them.
    results = f"{PREFIX}/m/m-0002/results"
    watcher.subscribe(results)
    watcher.wait_for(lambda: watcher.payloads(results))  # retained
    heard = len(watcher.payloads(results))
    asked = call(f"http://127.0.0.1:{follower_port}", "POST", "/api/v1/results/publish", admin)
    assert asked.status == 200, asked.body
    watcher.wait_for(lambda: len(watcher.payloads(results)) > heard, 10)

    # A replica that goes away says offline (its last will): the leader says online again.
    availability = f"{PREFIX}/community/availability"
    watcher.subscribe(availability)
    watcher.wait_for(lambda: watcher.payloads(availability))
    assert watcher.payloads(availability)[-1] == b"online"
    heard = len(watcher.payloads(availability))
    made.kill(follower)
    watcher.wait_for(lambda: b"offline" in watcher.payloads(availability)[heard:])
    watcher.wait_for(lambda: watcher.payloads(availability)[-1] == b"online")
