"""Readings over MQTT.

The real service, the real TLS Mosquitto on the generated files, and raw paho clients playing
the homes (and the intruders).
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from ioe_aggregator.protocol.codec import MAX_PAYLOAD_BYTES, check
from ioe_aggregator.protocol.messages import MessageKind
from tests.community import PREFIX, acks, batch, home, payload
from tests.conftest import AGGREGATOR_PASSWORD, AGGREGATOR_USER

from .conftest import Community, StartAggregator, get_json, start_service, stored_rows


def test_a_batch_is_stored_once_and_acked_and_a_resend_changes_nothing(
    community: Community, start_aggregator: StartAggregator
) -> None:
    client = home(community, "m-0001")
    _service, port = start_service(community, start_aggregator)

    client.publish(f"{PREFIX}/m/m-0001/readings", payload(batch("m-0001", "b-1")))
    client.wait_for(lambda: len(acks(client, "m-0001")) == 1)
    client.publish(f"{PREFIX}/m/m-0001/readings", payload(batch("m-0001", "b-1")))
    client.wait_for(lambda: len(acks(client, "m-0001")) == 2)

    first, second = acks(client, "m-0001")
    check(first, MessageKind.ACK)
    assert first == {"schema": "ioe.ack.v1", "batches": ["b-1"], "stored": 4}
    assert second == {"schema": "ioe.ack.v1", "batches": ["b-1"], "stored": 0}
    rows = stored_rows(community)
    assert len(rows) == 4
    assert {row[5] for row in rows} == {0}  # never counted as changed
    ingest = get_json(f"http://127.0.0.1:{port}/api/health")[1]["ingest"]
    assert ingest["last_write"]["ok"] is True
    assert {k: v for k, v in ingest.items() if k != "last_write"} == {
        "batches": 2,
        "readings_new": 4,
        "readings_changed": 0,
        "readings_unchanged": 4,
        "refused": {},
        "readings_refused": {},
        "live_refused": {},
    }


def test_a_member_cannot_publish_as_another_member(
    community: Community, start_aggregator: StartAggregator
) -> None:
    mallory = home(community, "m-0001")
    victim = home(community, "m-0002")
    _service, port = start_service(community, start_aggregator)

    # On the other member's topic: the broker's access list drops it.
    mallory.publish(f"{PREFIX}/m/m-0002/readings", payload(batch("m-0002", "forged")))
    # On its own topic, naming the other member: the aggregator refuses it.
    mallory.publish(f"{PREFIX}/m/m-0001/readings", payload(batch("m-0002", "forged-2")))
    # Then its own, honest batch goes through: the loop kept working.
    mallory.publish(f"{PREFIX}/m/m-0001/readings", payload(batch("m-0001", "honest")))
    mallory.wait_for(lambda: acks(mallory, "m-0001"))

    assert [a["batches"] for a in acks(mallory, "m-0001")] == [["honest"]]
    assert {row[0] for row in stored_rows(community)} == {"m-0001"}
    assert acks(victim, "m-0002") == []
    refused = get_json(f"http://127.0.0.1:{port}/api/health")[1]["ingest"]["refused"]
    assert refused == {"wrong_member": 1}


def test_a_member_cannot_read_another_members_topics(community: Community) -> None:
    mallory = home(community, "m-0001")
    victim = home(community, "m-0002")
    aggregator = community.connect(AGGREGATOR_USER, AGGREGATOR_PASSWORD)
    for topic in ("results", "ack", "status"):
        mallory.subscribe(f"{PREFIX}/m/m-0002/{topic}")
    victim.subscribe(f"{PREFIX}/m/m-0002/results")
    mallory.subscribe(f"{PREFIX}/community/state")
    mallory.subscribe(f"{PREFIX}/m/+/results")
    mallory.subscribe("#")

    aggregator.publish(f"{PREFIX}/m/m-0002/results", b'{"private": true}', retain=True)
    aggregator.publish(f"{PREFIX}/m/m-0002/ack", b'{"private": true}')
    victim.publish(f"{PREFIX}/m/m-0002/status", b'{"state": "online"}', retain=True)
    aggregator.publish(f"{PREFIX}/community/state", b'{"public": true}', retain=True)

    mallory.wait_for(lambda: mallory.payloads(f"{PREFIX}/community/state"))
    victim.wait_for(lambda: victim.payloads(f"{PREFIX}/m/m-0002/results"))
    time.sleep(0.5)
    assert {m.topic for m in mallory.messages} == {f"{PREFIX}/community/state"}


def test_plain_text_connections_are_refused(community: Community) -> None:
    code = community.add_member("m-0001")

    plain = community.connect("m-0001", code.mqtt_password, tls=False)

    assert plain.connected is None
    assert plain.disconnected is not None


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"{not json", "not_json"),
        (b"\xff\xfe", "not_json"),
        (json.dumps({"schema": "ioe.readings.v1"}).encode(), "schema"),
        (
            payload(
                {
                    **batch("m-0001", "x"),
                    "readings": [{**batch("m-0001", "x")["readings"][0], "value": "0.2"}],
                }
            ),
            "schema",
        ),
        (
            payload(
                {
                    **batch("m-0001", "x"),
                    "readings": [{**batch("m-0001", "x")["readings"][0], "value": -1}],
                }
            ),
            "schema",
        ),
        (b"[1, 2, 3]", "schema"),
        (payload(batch("m-0001", "x")) + b" " * MAX_PAYLOAD_BYTES, "oversize"),
    ],
    ids=[
        "malformed",
        "not-utf8",
        "missing-fields",
        "wrong-type",
        "negative",
        "not-an-object",
        "oversize",
    ],
)
def test_bad_messages_are_refused_counted_and_the_loop_goes_on(
    community: Community, start_aggregator: StartAggregator, body: bytes, kind: str
) -> None:
    client = home(community, "m-0001")
    service, port = start_service(community, start_aggregator)

    client.publish(f"{PREFIX}/m/m-0001/readings", body)
    client.publish(f"{PREFIX}/m/m-0001/readings", payload(batch("m-0001", "good")))
    client.wait_for(lambda: acks(client, "m-0001"))

    assert [a["batches"] for a in acks(client, "m-0001")] == [["good"]]
    ingest = get_json(f"http://127.0.0.1:{port}/api/health")[1]["ingest"]
    assert ingest["refused"] == {kind: 1}
    assert ingest["batches"] == 1
    assert f"Refused a readings batch from m-0001 (mqtt, {kind})" in service.log_tail(50)


def test_batches_of_unknown_or_revoked_members_are_refused(
    addon_community: Community, start_aggregator: StartAggregator
) -> None:
    # On the add-on's broker, where the test's aggregator login does not take over the
    # service's own session.
    community = addon_community
    community.add_member("m-0001")
    client = home(community, "m-0002")
    _service, port = start_service(community, start_aggregator)
    community.cli("members", "revoke", "m-0001")
    # A login the access list lets through (as a broker left with stale files would).
    aggregator = community.connect(AGGREGATOR_USER, AGGREGATOR_PASSWORD)

    aggregator.publish(f"{PREFIX}/m/m-0001/readings", payload(batch("m-0001", "late")))
    aggregator.publish(f"{PREFIX}/m/m-ghost/readings", payload(batch("m-ghost", "boo")))
    client.publish(f"{PREFIX}/m/m-0002/readings", payload(batch("m-0002", "good")))
    client.wait_for(lambda: acks(client, "m-0002"))

    assert {row[0] for row in stored_rows(community)} == {"m-0002"}
    refused = get_json(f"http://127.0.0.1:{port}/api/health")[1]["ingest"]["refused"]
    assert refused == {"unknown_member": 2}


def test_killing_the_service_mid_stream_loses_and_doubles_nothing(
    community: Community, start_aggregator: StartAggregator
) -> None:
    """Every acknowledged reading is stored, exactly once.

    A home sends 60 batches, re-sending what is not acked; the service is killed (SIGKILL) in
    the middle and started again.
    """
    client = home(community, "m-0001")
    service, _port = start_service(community, start_aggregator)
    sent = {f"b-{n:03d}": batch("m-0001", f"b-{n:03d}", first=n * 4) for n in range(60)}
    acked: set[str] = set()
    done = threading.Event()

    def sender() -> None:
        while not done.is_set():
            acked.update(b for a in acks(client, "m-0001") for b in a["batches"])
            pending = [b for b in sent if b not in acked]
            if not pending:
                return
            for batch_id in pending[:10]:
                client.client.publish(f"{PREFIX}/m/m-0001/readings", payload(sent[batch_id]), qos=1)
            time.sleep(0.3)

    thread = threading.Thread(target=sender)
    thread.start()
    client.wait_for(lambda: len(acks(client, "m-0001")) >= 15, timeout_s=30)
    assert service.process is not None
    service.process.kill()
    service.process.wait()
    acked_before_kill = {b for a in acks(client, "m-0001") for b in a["batches"]}
    time.sleep(1)
    start_service(community, start_aggregator)
    thread.join(timeout=60)
    done.set()

    assert acked >= set(sent)
    rows = stored_rows(community)
    assert len(rows) == 60 * 4
    assert len({(r[1], r[2], r[3]) for r in rows}) == len(rows)
    assert {r[5] for r in rows} == {0}
    assert 0 < len(acked_before_kill) < 60
