"""The home's link library against the real TLS broker and the real aggregator service.

The integration's config flow and sensors come later (issue 6); this is the part that must
never lose a reading: the outbox drained over MQTT, acknowledged batches only leaving it.
"""

from __future__ import annotations

from datetime import UTC, datetime
import json
from pathlib import Path
import time

from paho.mqtt import client as mqtt
from paho.mqtt.properties import Properties
import pytest

from custom_components.ioe_community.link.client import (
    CLAIMED_PROPERTY,
    INSTALLATION_PROPERTY,
    LinkClient,
    LinkState,
)
from custom_components.ioe_community.link.messages import Results, Retained, as_json
from custom_components.ioe_community.link.outbox import Outbox
from tests.community import RESULTS, home_settings as settings, put_quarters
from tests.conftest import AGGREGATOR_PASSWORD, AGGREGATOR_USER

from .conftest import Community, StartAggregator, start_service, stored_rows

T0 = datetime(2026, 11, 24, tzinfo=UTC)


def wait_for(check, timeout_s: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_outbox_drains_only_as_batches_are_acknowledged(
    community: Community, start_aggregator: StartAggregator, tmp_path: Path
) -> None:
    code = community.add_member("m-0001")
    outbox = Outbox(tmp_path / "outbox.db")
    put_quarters(outbox, "m-0001", 0, 60, T0)
    service, _port = start_service(community, start_aggregator)
    link = LinkClient(settings(code), outbox, window=8, resend_after_s=2)
    link.start()
    try:
        wait_for(lambda: outbox.state().batches == 0)
        # The aggregator goes away: new batches wait in the outbox, unacknowledged.
        service.stop()
        put_quarters(outbox, "m-0001", 60, 36, T0)
        time.sleep(1)
        waiting = outbox.state().batches
        start_service(community, start_aggregator)
        wait_for(lambda: outbox.state().batches == 0, 60)
    finally:
        link.stop()

    assert waiting == 36
    rows = stored_rows(community)
    assert len(rows) == 96  # every quarter of the day, once
    assert sum(row[4] for row in rows) == 24.0
    assert link.last_ack is not None


def test_a_refused_login_is_reported_as_such(community: Community, tmp_path: Path) -> None:
    code = community.add_member("m-0001")
    link = LinkClient(settings(code, "not-the-password"), Outbox(tmp_path / "outbox.db"))
    link.start()
    try:
        wait_for(lambda: link.state is LinkState.REFUSED, 20)
    finally:
        link.stop()

    assert "refused" in (link.last_error or "")


PARTIAL = {"schema": "ioe.results.v1", "coefficient_now": 0.1}


def test_what_is_not_a_message_is_logged_and_the_link_goes_on(
    community: Community, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    code = community.add_member("m-0001")
    received: list[Retained] = []
    link = LinkClient(settings(code), Outbox(tmp_path / "outbox.db"), on_message=received.append)
    aggregator = community.connect(AGGREGATOR_USER, AGGREGATOR_PASSWORD)
    topic = f"{code.topic_prefix}/m/m-0001/results"
    link.start()
    try:
        wait_for(lambda: link.state is LinkState.CONNECTED, 20)
        time.sleep(0.5)  # its subscriptions reach the broker
        for bad in (b"not json", b"[1, 2]", b"\xff\xfe", json.dumps(PARTIAL).encode()):
            aggregator.publish(topic, bad)
        aggregator.publish(topic, json.dumps(RESULTS).encode())
        wait_for(lambda: received, 10)
    finally:
        link.stop()

    assert [type(message) for message in received] == [Results]
    assert as_json(received[0]) == RESULTS  # typed, and written back as it came
    assert caplog.text.count("not JSON") == 2
    assert "not a JSON object" in caplog.text
    assert "'computed_at' is a required property" in caplog.text
    assert link.state is LinkState.STOPPED


def test_a_message_the_home_fails_to_take_does_not_stop_the_link(
    community: Community, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    code = community.add_member("m-0001")
    received: list[Retained] = []

    def take(message: Retained) -> None:
        received.append(message)
        if len(received) == 1:
            raise RuntimeError("the home could not take it")

    link = LinkClient(settings(code), Outbox(tmp_path / "outbox.db"), on_message=take)
    aggregator = community.connect(AGGREGATOR_USER, AGGREGATOR_PASSWORD)
    topic = f"{code.topic_prefix}/m/m-0001/results"
    link.start()
    try:
        wait_for(lambda: link.state is LinkState.CONNECTED, 20)
        time.sleep(0.5)  # its subscriptions reach the broker
        aggregator.publish(topic, json.dumps(RESULTS).encode())
        wait_for(lambda: received, 10)
        # paho's thread is still there: the next message arrives and the link stays up.
        aggregator.publish(topic, json.dumps({**RESULTS, "coefficient_now": 0.08}).encode())
        wait_for(lambda: len(received) == 2, 10)
        assert link.state is LinkState.CONNECTED
    finally:
        link.stop()

    assert [message.coefficient_now for message in received] == [0.0712, 0.08]  # type: ignore[union-attr]
    assert "Could not handle a message on" in caplog.text
    assert "the home could not take it" in caplog.text


def status_from(installation: str, claimed: int | None) -> tuple[bytes, Properties]:
    """Return another installation's online status, with its claim (None: an older version)."""
    properties = Properties(mqtt.PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.UserProperty = [(INSTALLATION_PROPERTY, installation)]
    if claimed is not None:
        properties.UserProperty.append((CLAIMED_PROPERTY, str(claimed)))
    status = {"schema": "ioe.status.v1", "state": "online", "version": "0.1.0"}
    return json.dumps(status).encode(), properties


def test_only_a_later_claim_stops_a_home(community: Community, tmp_path: Path) -> None:
    """An older installation's online status arriving late does not stop the home; a later one does.

    On a broker binding client ids to logins, two installations of a member share one session,
    and a status left in it reaches either of them long after it was said: CI once saw a home
    that had just taken the membership stop on the status of the one it replaced.
    """
    code = community.add_member("m-0001")
    link = LinkClient(settings(code), Outbox(tmp_path / "outbox.db"))
    aggregator = community.connect(AGGREGATOR_USER, AGGREGATOR_PASSWORD)
    topic = f"{code.topic_prefix}/m/m-0001/status"
    link.start()
    try:
        wait_for(lambda: link.state is LinkState.CONNECTED, 20)
        aggregator.subscribe(topic)
        aggregator.wait_for(lambda: aggregator.messages)
        said = dict(aggregator.messages[-1].properties.UserProperty)
        assert said[INSTALLATION_PROPERTY] == link.settings.installation
        claimed = int(said[CLAIMED_PROPERTY])
        assert abs(claimed / 1e6 - time.time()) < 30

        for stale in (claimed - 60_000_000, None):  # an older claim; an older version's status
            before = len(aggregator.messages)
            payload, properties = status_from("0123456789abcdef", stale)
            aggregator.client.publish(topic, payload, qos=1, retain=True, properties=properties)
            # The home says online again, so the retained status names the latest claim.
            aggregator.wait_for(lambda: len(aggregator.messages) >= before + 2)  # noqa: B023
            again = dict(aggregator.messages[-1].properties.UserProperty)
            assert again[INSTALLATION_PROPERTY] == link.settings.installation
            assert int(again[CLAIMED_PROPERTY]) == claimed
            assert link.state is LinkState.CONNECTED

        payload, properties = status_from("fedcba9876543210", claimed + 1)
        aggregator.client.publish(topic, payload, qos=1, retain=True, properties=properties)
        wait_for(lambda: link.state is LinkState.DISPLACED, 10)
        assert link.displaced_by == "fedcba9876543210"
    finally:
        link.stop()


def test_a_new_home_claims_past_the_one_away_whatever_their_clocks(
    community: Community, tmp_path: Path
) -> None:
    """The old home is away (its last will said offline), its clock an hour ahead of the new one's.

    The new home's claim goes past the one its last will carries: when the old home comes
    back, it is the one that stops.
    """
    code = community.add_member("m-0001")
    aggregator = community.connect(AGGREGATOR_USER, AGGREGATOR_PASSWORD)
    topic = f"{code.topic_prefix}/m/m-0001/status"
    ahead = time.time_ns() // 1000 + 3_600_000_000
    payload, properties = status_from("0123456789abcdef", ahead)
    away = json.dumps({"schema": "ioe.status.v1", "state": "offline"}).encode()
    aggregator.client.publish(
        topic, away, qos=1, retain=True, properties=properties
    ).wait_for_publish(10)
    link = LinkClient(settings(code), Outbox(tmp_path / "outbox.db"))
    link.start()
    try:
        wait_for(lambda: link.state is LinkState.CONNECTED, 20)
        aggregator.subscribe(topic)

        def claimed() -> int:
            said = dict(aggregator.messages[-1].properties.UserProperty)
            assert said[INSTALLATION_PROPERTY] == link.settings.installation
            return int(said[CLAIMED_PROPERTY])

        aggregator.wait_for(lambda: aggregator.messages and claimed() > ahead)
        # The old home comes back, online with its claim: this one stays, and says so again.
        before = len(aggregator.messages)
        aggregator.client.publish(topic, payload, qos=1, retain=True, properties=properties)
        aggregator.wait_for(lambda: len(aggregator.messages) >= before + 2)
        assert claimed() > ahead
        time.sleep(1)
        assert link.state is LinkState.CONNECTED
    finally:
        link.stop()
