"""The broker restarted while homes send to two replicas: every reading stored once.

Mosquitto here keeps nothing across a restart (no persistence): every session, the replicas'
shared subscription and the messages in flight are gone. The replicas connect and subscribe
again, the homes connect again and send what was not acknowledged.
"""

from __future__ import annotations

from pathlib import Path

from ioe_dev.postgres import PostgresServer
from tests.community import Community, StartAggregator

from .platform import assert_every_reading_once, health, platform, wait


def test_the_broker_restarted_while_homes_send(
    addon_community: Community,
    start_aggregator: StartAggregator,
    postgres: PostgresServer,
    tmp_path: Path,
) -> None:
    made = platform(
        addon_community, start_aggregator, postgres.create_database("broker_restart"), ("a", "b")
    )
    broker = addon_community.broker
    with made.homes(tmp_path, 96) as outboxes:
        wait(lambda: any(o.state().batches < 90 for o in outboxes.values()), 30, "acks")
        broker.service.stop()
        broker.service.start(port=broker.port)
        wait(
            lambda: all(o.state().batches == 0 for o in outboxes.values()),
            120,
            "every batch acknowledged after the restart",
        )

    assert made.alive() == ["a", "b"]
    # Each replica lost the broker and came back (the log tells every connection).
    log = made.services["a"].log_file.read_text()
    assert log.count("Connected to the MQTT broker") >= 4
    for port in made.ports.values():
        wait(lambda port=port: health(port)["broker"]["status"] == "connected", 30, "broker")
    assert_every_reading_once(made, 96)
