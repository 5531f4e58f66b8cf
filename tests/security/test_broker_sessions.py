"""No member can divert the community's readings or take over another's broker session.

Before: a member that subscribed to the aggregator's shared subscription (``$share/ioe-aggregator
/…``) took its turn at every member's readings (8 of 30 acknowledged with 3 such connections),
and client ids were predictable (``ioe-home-{community}-{member}``, ``ioe-aggregator-
{community}-{host}``), so a member knocked another home off 5 times out of 5. Now the group's
name is a secret of the service, client ids carry a random suffix, and the broker the
aggregator configures binds each client's id to its login.
"""

from __future__ import annotations

import json
from pathlib import Path
import secrets
import socket
import sqlite3
import time

import pytest

from ioe_aggregator.app import CLIENT_ID_SETTING, SHARE_GROUP_SETTING
from tests.community import (
    PREFIX,
    Community,
    MqttClient,
    StartAggregator,
    acks,
    batch,
    home,
    payload,
    start_service,
)

# Every test here talks to the real local servers it starts.
pytestmark = pytest.mark.usefixtures("allow_local_sockets")

BATCHES = 30


def setting(community: Community, key: str) -> str:
    """Return a secret the service keeps in its (SQLite) store."""
    path = Path(community.options["database_url"].removeprefix("sqlite:///"))
    with sqlite3.connect(path) as connection:
        (value,) = connection.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return str(value)


def send_and_count_acks(victim: MqttClient, member: str) -> int:
    """Send BATCHES batches one quarter each; return how many came back acknowledged."""
    for number in range(BATCHES):
        body = payload(batch(member, f"b-{number}", first=number, count=1))
        victim.publish(f"{PREFIX}/m/{member}/readings", body)
    deadline = time.monotonic() + 20
    while len(acks(victim, member)) < BATCHES and time.monotonic() < deadline:
        time.sleep(0.1)
    return len(acks(victim, member))


def test_members_in_any_share_group_divert_nothing(
    community: Community, start_aggregator: StartAggregator
) -> None:
    victim = home(community, "m-0001")
    codes = {m: community.add_member(m) for m in ("m-0002", "m-0003", "m-0004")}
    start_service(community, start_aggregator)
    group = setting(community, SHARE_GROUP_SETTING)
    # Three members in the group the aggregator used to use, and in every name one might guess.
    thieves = [community.connect(member, code.mqtt_password) for member, code in codes.items()]
    for thief in thieves:
        for guess in ("ioe-aggregator", "ioe", "aggregator", "molinos"):
            thief.subscribe(f"$share/{guess}/{PREFIX}/m/+/readings")

    assert send_and_count_acks(victim, "m-0001") == BATCHES
    assert all(not thief.messages for thief in thieves)
    # The group's name is the service's own: in no join code, and not guessable.
    assert len(group) == 32
    for code in codes.values():
        assert group not in json.dumps(code.__dict__)


def test_nobody_takes_over_a_home_or_the_aggregator_on_the_community_broker(
    community: Community, start_aggregator: StartAggregator
) -> None:
    """On the broker the aggregator configures, a client's id is its login."""
    victim_code = community.add_member("m-0001")
    victim = community.connect(
        "m-0001", victim_code.mqtt_password, client_id="ioe-home-molinos-m-0001"
    )
    victim.subscribe(f"{PREFIX}/m/m-0001/ack")
    mallory_code = community.add_member("m-0002")
    service, _port = start_service(community, start_aggregator)

    for attempt in range(5):
        for stolen in (
            "ioe-home-molinos-m-0001",
            f"ioe-aggregator-molinos-{socket.gethostname()}",
            "ioe-aggregator",
            "m-0001",
        ):
            community.connect("m-0002", mallory_code.mqtt_password, client_id=stolen)
        time.sleep(0.2)
        assert victim.disconnected is None, f"knocked off at attempt {attempt + 1}"

    assert send_and_count_acks(victim, "m-0001") == BATCHES
    assert "session taken over" not in service.log_tail()


def _wait_connected(clients: list[MqttClient]) -> None:
    for client in clients:
        client.wait_for(lambda c=client: c.connected is not None)


def test_on_the_addon_broker_client_ids_cannot_be_guessed(
    addon_community: Community, start_aggregator: StartAggregator
) -> None:
    """The Mosquitto add-on's listener is not ours: there, ids are simply unguessable."""
    community = addon_community
    # As the home does: its id ends in a random suffix kept in its config entry.
    code = community.add_member("m-0001")
    victim = community.connect(
        "m-0001", code.mqtt_password, client_id=f"ioe-home-molinos-m-0001-{secrets.token_hex(8)}"
    )
    victim.subscribe(f"{PREFIX}/m/m-0001/ack")
    mallory_code = community.add_member("m-0002")
    start_service(community, start_aggregator)
    suffix = setting(community, CLIENT_ID_SETTING)

    # Every id the old scheme made, and the aggregator's without its secret suffix.
    guesses = [
        "ioe-home-molinos-m-0001",
        f"ioe-aggregator-molinos-{socket.gethostname()}",
        "ioe-aggregator-molinos",
    ]
    intruders = [
        community.connect("m-0002", mallory_code.mqtt_password, client_id=guess)
        for guess in guesses
    ]
    _wait_connected(intruders)

    assert send_and_count_acks(victim, "m-0001") == BATCHES
    assert len(suffix) == 32
    log = (community.directory / "broker" / "mosquitto.log").read_text()
    assert f"-{suffix} (p5" in log  # the aggregator connected with its secret suffix
    assert suffix not in json.dumps(mallory_code.__dict__)
