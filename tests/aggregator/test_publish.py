"""Results out of the real service, through the real TLS Mosquitto and its generated ACL.

Each member's results and the forecast of its share reach it retained (and only it), the
community's state, signal and forecast reach everyone, and the manager's Home Assistant gets
discovery messages that its own MQTT schema accepts, with unique ids that survive a restart.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import itertools
import json
import signal
import time as time_module
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
from homeassistant.components.mqtt.sensor import DISCOVERY_SCHEMA
from homeassistant.core import HomeAssistant
import pytest

from custom_components.ioe_community.link.messages import CommunityState, Forecast, Results
from custom_components.ioe_community.link.protocol import decode_message
from ioe_aggregator.ingest.status import MemberStatus
from ioe_aggregator.members.join_code import JoinCode
from ioe_aggregator.protocol.codec import decode
from ioe_aggregator.protocol.messages import MessageKind, utc_text
from tests.community import distributor_day
from tests.conftest import AGGREGATOR_PASSWORD, AGGREGATOR_USER

from .conftest import Community, MqttClient, StartAggregator, call, make_cups, start_service

PREFIX = "ioe/v1/molinos"
QUARTER = timedelta(minutes=15)
MADRID = ZoneInfo("Europe/Madrid")


def quarter_batch(member: str, meter: str, quantity: str, value: float) -> bytes:
    """Return a batch with one reading for the quarter hour under way (always today here)."""
    now = datetime.now(UTC)
    start = now.replace(minute=now.minute // 15 * 15, second=0, microsecond=0)
    message: dict[str, Any] = {
        "schema": "ioe.readings.v1",
        "member": member,
        "batch": f"{member}-{meter}",
        "sent_at": utc_text(now),
        "readings": [
            {
                "meter": meter,
                "quantity": quantity,
                "start": utc_text(start),
                "end": utc_text(start + QUARTER),
                "value": value,
                "quality": "measured",
            }
        ],
        "live": {"ts": utc_text(now), "grid_w": 800.0},
    }
    return json.dumps(message).encode()


def two_members_sharing_equally(community: Community) -> tuple[dict[str, JoinCode], str]:
    """Register m-0001 and m-0002 (the plant's, 10 kW), sharing equally since last month.

    Return their join codes and an admin token.
    """
    homes = {"m-0001": community.add_member("m-0001")}
    homes["m-0002"] = community.add_member("m-0002", **{"--plant-kw": "10"})
    first_of_month = datetime.now(UTC).replace(day=1) - timedelta(days=1)
    community.cli(
        "agreements", "add", "Igual", "--scheme", "equal", "--from", f"{first_of_month:%Y-%m-%d}"
    )
    return homes, community.token("admin")


def retained(client: MqttClient, topic: str) -> dict[str, Any]:
    client.subscribe(topic)
    client.wait_for(lambda: client.payloads(topic))
    return json.loads(client.payloads(topic)[-1])


def test_each_member_gets_its_own_results_and_everyone_the_community_state(
    community: Community, start_aggregator: StartAggregator
) -> None:
    homes, admin = two_members_sharing_equally(community)
    _service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"
    one = community.connect("m-0001", homes["m-0001"].mqtt_password)
    two = community.connect("m-0002", homes["m-0002"].mqtt_password)
    one.subscribe(f"{PREFIX}/m/m-0001/ack")
    one.publish(
        f"{PREFIX}/m/m-0001/status", b'{"schema":"ioe.status.v1","state":"online"}', retain=True
    )
    one.publish(f"{PREFIX}/m/m-0001/readings", quarter_batch("m-0001", "grid", "import_kwh", 0.2))
    # The plant is measured at m-0002's: 1 kWh this quarter, half of it m-0001's.
    two.subscribe(f"{PREFIX}/m/m-0002/ack")
    two.publish(
        f"{PREFIX}/m/m-0002/readings", quarter_batch("m-0002", "plant", "generation_kwh", 1.0)
    )
    one.wait_for(lambda: one.payloads(f"{PREFIX}/m/m-0001/ack"))
    two.wait_for(lambda: two.payloads(f"{PREFIX}/m/m-0002/ack"))

    published = call(base, "POST", "/api/v1/results/publish", admin)

    assert published.status == 200, published.body
    assert published.json()["members"] == 2
    mine = retained(one, f"{PREFIX}/m/m-0001/results")
    decode(json.dumps(mine).encode(), MessageKind.RESULTS)
    # The home reads it as its type.
    read = decode_message(json.dumps(mine).encode(), MessageKind.RESULTS)
    assert isinstance(read, Results)
    assert read.today.self_consumed_kwh == 0.2
    assert mine["scheme"] == "equal"
    assert mine["coefficient_now"] == 0.5
    assert mine["today"] == {
        "allocated_kwh": 0.5,
        "self_consumed_kwh": 0.2,
        "surplus_kwh": 0.3,
        "import_kwh": 0.0,
    }
    asked = call(base, "GET", "/api/v1/members/m-0001/results", homes["m-0001"].api_token).json()
    assert asked["today"] == mine["today"]
    assert asked["month"] == mine["month"]
    state = retained(two, f"{PREFIX}/community/state")
    decode(json.dumps(state).encode(), MessageKind.COMMUNITY_STATE)
    read_state = decode_message(json.dumps(state).encode(), MessageKind.COMMUNITY_STATE)
    assert isinstance(read_state, CommunityState)
    assert read_state.name is None
    assert (state["members_online"], state["members_total"]) == (1, 2)
    assert "name" not in state  # the manager gave the community none
    assert state["today"]["generation_kwh"] == 1.0
    signal_message = retained(two, f"{PREFIX}/community/signal")
    assert signal_message["kind"] in {"surplus", "deficit", "normal"}
    # The other member's results are not for m-0002 (the broker's ACL refuses them).
    two.subscribe(f"{PREFIX}/m/m-0001/results")
    assert not two.payloads(f"{PREFIX}/m/m-0001/results")


def wait_past_the_quarters_results() -> None:
    """Wait, if need be, until no quarter's results can come in the next 15 s.

    They come at the service's first turn (turns are a minute apart) after ``RESULTS_DELAY``
    (90 s) past a quarter hour: between 90 and 150 s past it.
    """
    past = time_module.time() % QUARTER.total_seconds()
    if 75 <= past < 155:
        time_module.sleep(155 - past)


def test_results_are_published_once_the_distributors_data_is_imported(
    community: Community, start_aggregator: StartAggregator
) -> None:
    home = community.add_member("m-0001", 880001)
    admin = community.token("admin")
    _service, port = start_service(community, start_aggregator)
    client = community.connect("m-0001", home.mqtt_password)
    topic = f"{PREFIX}/m/m-0001/results"
    client.subscribe(topic)
    client.wait_for(lambda: client.payloads(topic))  # published when the service connected
    yesterday = datetime.now(MADRID).date() - timedelta(days=1)
    export, months = distributor_day(make_cups(880001), yesterday, 0.25)
    wait_past_the_quarters_results()
    before = len(client.payloads(topic))

    answer = call(
        f"http://127.0.0.1:{port}", "POST", "/api/v1/distributor/csv?name=day.csv", admin, export
    )

    assert answer.status == 200, answer.body
    client.wait_for(lambda: len(client.payloads(topic)) > before, timeout_s=10)
    results = json.loads(client.payloads(topic)[-1])
    this_month = f"{datetime.now(MADRID):%Y-%m}"
    # No agreement: the member's consumption, by its distributor, is all imported.
    assert results["month"]["import_kwh"] == pytest.approx(months.get(this_month, 0.0))


async def test_discovery_gives_the_managers_home_assistant_lasting_sensors(
    hass: HomeAssistant, addon_community: Community, start_aggregator: StartAggregator
) -> None:
    """Discovery messages pass Home Assistant's own schema (templates need a running hass).

    The manager's Home Assistant and the aggregator share the Mosquitto add-on's broker, where
    the test's full-access login (the aggregator's) does not take over the service's session.
    """
    community = addon_community
    manager = community.connect(AGGREGATOR_USER, AGGREGATOR_PASSWORD)
    manager.subscribe("homeassistant/sensor/+/config")
    manager.subscribe(f"{PREFIX}/community/availability")
    service, _port = start_service(community, start_aggregator)
    manager.wait_for(lambda: len(_configs(manager)) == 9)
    first = _configs(manager)

    for topic, config in first.items():
        validated = DISCOVERY_SCHEMA(config)
        assert validated["unique_id"] == topic.split("/")[2]
        assert config["state_topic"].startswith(f"{PREFIX}/community/")
    names = {config["unique_id"]: config["name"] for config in first.values()}
    assert names["ioe_molinos_self_consumption_today"] == "Autoconsumo hoy"  # Spanish default
    assert manager.payloads(f"{PREFIX}/community/availability")[-1] == b"online"
    assert {config["device"]["name"] for config in first.values()} == {"IoE Community molinos"}

    service.stop()  # a clean stop says offline itself
    manager.wait_for(lambda: manager.payloads(f"{PREFIX}/community/availability")[-1] == b"offline")
    # Back with a name for the community: the same sensors, on a device of that name.
    community.options["community_name"] = "Comunidad Los Molinos"
    again, _port = start_service(community, start_aggregator)
    manager.wait_for(lambda: manager.payloads(f"{PREFIX}/community/availability")[-1] == b"online")
    assert {c["unique_id"] for c in _configs(manager).values()} == set(names)
    manager.wait_for(
        lambda: (
            {c["device"]["name"] for c in _configs(manager).values()} == {"Comunidad Los Molinos"}
        )
    )

    assert again.process is not None
    again.process.send_signal(signal.SIGKILL)  # no goodbye: the broker sends the last will
    manager.wait_for(lambda: manager.payloads(f"{PREFIX}/community/availability")[-1] == b"offline")


def _configs(client: MqttClient) -> dict[str, dict[str, Any]]:
    """Return the latest discovery configuration received on each topic."""
    return {
        message.topic: json.loads(message.payload)
        for message in list(client.messages)
        if message.topic.startswith("homeassistant/sensor/")
    }


async def test_a_bad_status_is_logged_and_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    status = MemberStatus(PREFIX)
    topic = f"{PREFIX}/m/m-0001/status"

    def message(payload: bytes) -> aiomqtt.Message:
        return aiomqtt.Message(topic, payload, qos=1, retain=True, mid=1, properties=None)

    await status.handle(None, message(b'{"schema":"ioe.status.v1","state":"online"}'))  # type: ignore[arg-type]
    for bad in (b"online", b'{"schema":"ioe.status.v1","state":"asleep"}'):
        await status.handle(None, message(bad))  # type: ignore[arg-type]

    assert status.online == {"m-0001"}
    assert caplog.text.count("Ignored a status of m-0001") == 2
    await status.handle(None, message(b""))  # type: ignore[arg-type] - the retained status cleared
    assert status.online == set()


def plant_days(member: str, days: int, peak_kwh: float) -> list[bytes]:
    """Return a batch a day of the plant's quarters over the last ``days`` whole days.

    A clear winter day near Madrid, roughly: a bell from 9 to 18 (Madrid), ``peak_kwh`` a
    quarter at solar noon.
    """
    today = datetime.now(MADRID).replace(hour=0, minute=0, second=0, microsecond=0)
    batches = []
    for back in range(days, 0, -1):
        start = today - timedelta(days=back)
        readings = []
        for quarter in range(96):
            moment = (start + quarter * QUARTER).astimezone(UTC)
            hours = quarter / 4 + 0.125 - 13.5  # from the day's solar noon, at the quarter's middle
            value = round(max(peak_kwh * (1 - (hours / 4.5) ** 2), 0.0), 4)
            readings.append(
                {
                    "meter": "plant",
                    "quantity": "generation_kwh",
                    "start": utc_text(moment),
                    "end": utc_text(moment + QUARTER),
                    "value": value,
                    "quality": "measured",
                }
            )
        message = {
            "schema": "ioe.readings.v1",
            "member": member,
            "batch": f"{member}-plant-{back}",
            "sent_at": utc_text(datetime.now(UTC)),
            "readings": readings,
        }
        batches.append(json.dumps(message).encode())
    return batches


def test_each_member_gets_the_forecast_of_its_share_and_it_follows_the_agreement(
    community: Community, start_aggregator: StartAggregator
) -> None:
    homes, admin = two_members_sharing_equally(community)
    community.options |= {"plant_latitude": 40.4, "plant_longitude": -3.7}
    community.options["agreement_min_months"] = 0
    _service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"
    plant = community.connect("m-0002", homes["m-0002"].mqtt_password)
    plant.subscribe(f"{PREFIX}/m/m-0002/ack")
    for batch in plant_days("m-0002", 7, 0.8):
        plant.publish(f"{PREFIX}/m/m-0002/readings", batch)
    plant.wait_for(lambda: len(plant.payloads(f"{PREFIX}/m/m-0002/ack")) == 7)
    one = community.connect("m-0001", homes["m-0001"].mqtt_password)
    topic = f"{PREFIX}/m/m-0001/forecast"
    one.subscribe(topic)
    one.subscribe(f"{PREFIX}/community/forecast")

    # Asked for, the results and forecasts go at once (the service's first ones may have come
    # before the plant's days were stored).
    assert call(base, "POST", "/api/v1/results/publish", admin).status == 200
    one.wait_for(
        lambda: any(
            json.loads(p)["history_days"] >= 7 for p in one.payloads(f"{PREFIX}/community/forecast")
        )
    )
    one.wait_for(lambda: any(json.loads(p)["history_days"] >= 7 for p in one.payloads(topic)))
    mine = json.loads(one.payloads(topic)[-1])
    plants = json.loads(one.payloads(f"{PREFIX}/community/forecast")[-1])
    decode(json.dumps(mine).encode(), MessageKind.FORECAST)
    read = decode_message(json.dumps(mine).encode(), MessageKind.FORECAST)
    assert isinstance(read, Forecast)
    assert mine["method"] == "clear-sky-index"
    hours = [datetime.fromisoformat(hour["start"]) for hour in mine["hours"]]
    assert len(hours) == 36
    assert hours[0] == datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(hours))
    for own, whole in zip(mine["hours"], plants["hours"], strict=True):
        # Half the plant is m-0001's (the equal agreement), band and all.
        assert own["kwh"] == pytest.approx(whole["kwh"] / 2, abs=1e-3)
        assert own["kwh_p10"] <= own["kwh"] <= own["kwh_p90"]
    # The plant's days were clear: a clear day ahead, about what one of them gave.
    daytime = [h for h in plants["hours"] if h["kwh"] > 0]
    assert daytime
    assert max(h["kwh"] for h in plants["hours"]) == pytest.approx(3.2, rel=0.35)
    # Another member's forecast is not m-0002's to read (the broker's ACL).
    plant.subscribe(topic)
    assert not plant.payloads(topic)

    # A new agreement from tomorrow: m-0001 gets a fifth; its forecast follows at once.
    tomorrow = datetime.now(MADRID).date() + timedelta(days=1)
    before = len(one.payloads(topic))
    added = call(
        base,
        "POST",
        "/api/v1/agreements",
        admin,
        json.dumps(
            {
                "name": "Un quinto",
                "valid_from": f"{tomorrow:%Y-%m-%d}",
                "coefficients": {"m-0001": 0.2, "m-0002": 0.8},
            }
        ).encode(),
    )
    assert added.status == 201, added.body
    one.wait_for(lambda: len(one.payloads(topic)) > before, timeout_s=20)
    changed = json.loads(one.payloads(topic)[-1])
    midnight = datetime.combine(tomorrow, datetime.min.time(), MADRID).astimezone(UTC)
    for own, whole in zip(changed["hours"], plants["hours"], strict=True):
        share = 0.2 if datetime.fromisoformat(own["start"]) >= midnight else 0.5
        assert own["kwh"] == pytest.approx(whole["kwh"] * share, abs=2e-3)
