"""The flows of nodered/, deployed through Node-RED's admin API, acting on a real Home Assistant.

Each test sets the flow's tab variables to the stand-in entities (as a user edits them after
importing), changes the stand-ins' states in Home Assistant, and watches what the flow does
there. Waits are in seconds: the minutes of the variables are set to fractions.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import time
from typing import Any

import pytest

from ioe_dev.nodered import NodeRed
from ioe_dev.processes import free_port
from tests.nodered.conftest import Deploy, Endpoint, HomeAssistant

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

# The contract's suffixes, on a device named "test".
UNUSED_SHARE = "sensor.test_unused_share"
SURPLUS = "binary_sensor.test_surplus_for_me"
FORECAST = "sensor.test_share_forecast"
RESERVE = "number.test_reserve_soc"
APPLIANCE = "input_boolean.test_appliance"
CHARGER = "input_boolean.test_charger"
# Three seconds, in the flows' minutes.
SHORT_MINUTES = 0.05


def off(home_assistant: HomeAssistant, entity_id: str) -> None:
    """Turn a stand-in switch off, as its starting point."""
    home_assistant.call("input_boolean.turn_off", {"entity_id": entity_id})
    home_assistant.wait_for_state(entity_id, "off")


def local_now() -> datetime:
    """Return the time now on this machine's clock, as Node-RED's functions read it."""
    return datetime.now().astimezone()


def hhmm(moment: datetime) -> str:
    """Return a local time as the flows' variables write it."""
    return moment.strftime("%H:%M")


def test_appliance_starts_once_when_the_share_covers_it_for_a_while(
    home_assistant: HomeAssistant, node_red: NodeRed, deploy: Deploy
) -> None:
    off(home_assistant, APPLIANCE)
    home_assistant.set_state(UNUSED_SHARE, "300", {"unit_of_measurement": "W"})
    mark = deploy(
        "appliance",
        UNUSED_SHARE=UNUSED_SHARE,
        APPLIANCE=APPLIANCE,
        APPLIANCE_W=1000,
        COVER_MINUTES=SHORT_MINUTES,
        LATEST_START="",
    )
    # Not enough share: nothing.
    assert home_assistant.keeps_state(APPLIANCE, "off", 4)
    # Enough, but for less than the three seconds: nothing.
    home_assistant.set_state(UNUSED_SHARE, "1500")
    home_assistant.set_state(UNUSED_SHARE, "1400")
    home_assistant.set_state(UNUSED_SHARE, "200")
    assert home_assistant.keeps_state(APPLIANCE, "off", 4)
    # Enough for three seconds (changing while it lasts): on.
    home_assistant.set_state(UNUSED_SHARE, "1200")
    home_assistant.set_state(UNUSED_SHARE, "1300")
    assert 2.5 < home_assistant.wait_for_state(APPLIANCE, "on", 15) < 9
    # Once a day: turned off, it stays off on the next good spell.
    off(home_assistant, APPLIANCE)
    home_assistant.set_state(UNUSED_SHARE, "100")
    home_assistant.set_state(UNUSED_SHARE, "1500")
    assert home_assistant.keeps_state(APPLIANCE, "off", 5)
    assert node_red.errors_since(mark) == []


def test_appliance_starts_at_the_latest_start_without_share(
    home_assistant: HomeAssistant, deploy: Deploy
) -> None:
    off(home_assistant, APPLIANCE)
    home_assistant.set_state(UNUSED_SHARE, "0")
    later = local_now() + timedelta(hours=2)
    if later.date() == local_now().date():
        # A latest start still ahead (when there is one today): nothing yet.
        deploy(
            "appliance", UNUSED_SHARE=UNUSED_SHARE, APPLIANCE=APPLIANCE, LATEST_START=hhmm(later)
        )
        assert home_assistant.keeps_state(APPLIANCE, "off", 3)
    deploy("appliance", UNUSED_SHARE=UNUSED_SHARE, APPLIANCE=APPLIANCE, LATEST_START="00:00")
    home_assistant.wait_for_state(APPLIANCE, "on", 10)


def test_car_charges_while_the_surplus_is_mine_with_delays(
    home_assistant: HomeAssistant, node_red: NodeRed, deploy: Deploy
) -> None:
    off(home_assistant, CHARGER)
    home_assistant.set_state(SURPLUS, "off", {"unused_w": 0})
    far = local_now() + timedelta(hours=12)
    mark = deploy(
        "car",
        SURPLUS=SURPLUS,
        CHARGER=CHARGER,
        ON_DELAY_MINUTES=SHORT_MINUTES,
        OFF_DELAY_MINUTES=SHORT_MINUTES,
        DEADLINE=hhmm(far),
        MUST_CHARGE_HOURS=1,
    )
    assert home_assistant.keeps_state(CHARGER, "off", 4)
    # A blink of surplus: nothing.
    home_assistant.set_state(SURPLUS, "on", {"unused_w": 900})
    home_assistant.set_state(SURPLUS, "off", {"unused_w": 0})
    assert home_assistant.keeps_state(CHARGER, "off", 4)
    # Surplus that lasts: charging, three seconds later.
    home_assistant.set_state(SURPLUS, "on", {"unused_w": 1200})
    assert 2.5 < home_assistant.wait_for_state(CHARGER, "on", 15) < 9
    # A short dip does not stop it; a lasting one does.
    home_assistant.set_state(SURPLUS, "off", {"unused_w": 0})
    home_assistant.set_state(SURPLUS, "on", {"unused_w": 1100})
    assert home_assistant.keeps_state(CHARGER, "on", 4)
    home_assistant.set_state(SURPLUS, "off", {"unused_w": 0})
    assert 2.5 < home_assistant.wait_for_state(CHARGER, "off", 15) < 9
    assert node_red.errors_since(mark) == []


def test_car_charges_before_the_deadline_and_leaves_a_charge_started_by_hand(
    home_assistant: HomeAssistant, deploy: Deploy
) -> None:
    home_assistant.set_state(SURPLUS, "off", {"unused_w": 0})
    # Started by hand, no surplus, the deadline far: the flow leaves it on.
    home_assistant.call("input_boolean.turn_on", {"entity_id": CHARGER})
    far = local_now() + timedelta(hours=12)
    variables: dict[str, Any] = {
        "SURPLUS": SURPLUS,
        "CHARGER": CHARGER,
        "ON_DELAY_MINUTES": SHORT_MINUTES,
        "OFF_DELAY_MINUTES": SHORT_MINUTES,
        "MUST_CHARGE_HOURS": 2,
    }
    deploy("car", DEADLINE=hhmm(far), **variables)
    assert home_assistant.keeps_state(CHARGER, "on", 5)
    # Within two hours of the deadline: charging without surplus.
    off(home_assistant, CHARGER)
    deploy("car", DEADLINE=hhmm(local_now() + timedelta(minutes=90)), **variables)
    home_assistant.wait_for_state(CHARGER, "on", 10)


def forecast_hours(kwh: list[float], hours_ago: int = 0) -> list[dict[str, Any]]:
    """Return detailedHourly (the contract's shape) from the hour under way (or earlier) on."""
    now = local_now()
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)
    return [
        {
            "period_start": (hour + timedelta(hours=index)).isoformat(),
            "pv_estimate": value,
            "pv_estimate10": value * 0.5,
            "pv_estimate90": value * 1.3,
        }
        for index, value in enumerate(kwh)
    ]


def set_forecast(home_assistant: HomeAssistant, kwh: list[float]) -> None:
    """Publish a forecast on the stand-in sensor, and the event of a new one."""
    hours = forecast_hours(kwh)
    home_assistant.set_state(
        FORECAST,
        f"{sum(kwh):.2f}",
        {
            "unit_of_measurement": "kWh",
            "detailedHourly": hours,
            "wh_hours": {item["period_start"]: item["pv_estimate"] * 1000 for item in hours},
            "computed_at": local_now().isoformat(),
        },
    )
    home_assistant.fire("ioe_community_forecast", {"member": "test", "next_24h_kwh": sum(kwh)})


BATTERY = {
    "FORECAST": FORECAST,
    "RESERVE": RESERVE,
    "HOME_NEED_KWH": 0.5,
    "LEAD_HOURS": 3,
    "RESERVE_HIGH": 90,
    "RESERVE_NORMAL": 20,
}


def test_battery_reserve_is_high_before_a_shortfall_and_normal_otherwise(
    home_assistant: HomeAssistant, node_red: NodeRed, deploy: Deploy
) -> None:
    home_assistant.call("number.set_value", {"entity_id": RESERVE, "value": 50})
    set_forecast(home_assistant, [1.0] * 36)
    # At start: the share covers every hour, so the reserve is normal.
    mark = deploy("battery", **BATTERY)
    home_assistant.wait_for_state(RESERVE, "20.0")
    # A new forecast with a shortfall in two hours: high now.
    set_forecast(home_assistant, [1.0, 1.0, 0.1, 0.1] + [1.0] * 32)
    home_assistant.wait_for_state(RESERVE, "90.0")
    # A shortfall beyond the lead time: normal again.
    set_forecast(home_assistant, [1.0] * 5 + [0.1] + [1.0] * 30)
    home_assistant.wait_for_state(RESERVE, "20.0")
    # In the shortfall itself the battery may spend what it kept.
    set_forecast(home_assistant, [0.1, 0.1] + [1.0] * 34)
    assert home_assistant.keeps_state(RESERVE, "20.0", 3)
    assert node_red.errors_since(mark) == []


def test_battery_without_a_usable_forecast_changes_nothing(
    home_assistant: HomeAssistant, node_red: NodeRed, deploy: Deploy
) -> None:
    home_assistant.call("number.set_value", {"entity_id": RESERVE, "value": 55})
    home_assistant.set_state(FORECAST, "unknown")
    mark = deploy("battery", **BATTERY)
    node_red.wait_for_log("no usable forecast in sensor.test_share_forecast", mark)
    # An old forecast (its hours all past) is not used either.
    home_assistant.set_state(FORECAST, "3.0", {"detailedHourly": forecast_hours([0.1] * 36, 40)})
    mark = node_red.log_size()
    home_assistant.fire("ioe_community_forecast", {"member": "test"})
    node_red.wait_for_log("no usable forecast", mark)
    assert home_assistant.keeps_state(RESERVE, "55.0", 2)
    # A usable one afterwards is planned on.
    set_forecast(home_assistant, [1.0, 0.1] + [1.0] * 34)
    home_assistant.wait_for_state(RESERVE, "90.0")


MANAGER_SENSORS = {
    "GENERATION_TODAY": ("sensor.test_generation_today", "41.5"),
    "CONSUMPTION_TODAY": ("sensor.test_consumption_today", "63.25"),
    "SELF_CONSUMPTION_TODAY": ("sensor.test_self_consumption_today", "30.1"),
    "MEMBERS_ONLINE": ("sensor.test_members_online", "unavailable"),
    "MEMBERS_TOTAL": ("sensor.test_members", "10"),
}


def manager_variables(home_assistant: HomeAssistant, endpoint_url: str) -> dict[str, Any]:
    """Set the aggregator's stand-in sensors; return the manager flow's variables."""
    for entity_id, state in MANAGER_SENSORS.values():
        home_assistant.set_state(entity_id, state)
    return {
        "ENDPOINT": endpoint_url,
        "REPORT_TIME": "00:00",
        "COMMUNITY": "Comunidad de prueba",
        "TRIES": 3,
        "RETRY_SECONDS": 1,
        **{variable: entity_id for variable, (entity_id, _) in MANAGER_SENSORS.items()},
    }


def test_manager_posts_the_day_s_figures_retrying_a_failing_endpoint(
    home_assistant: HomeAssistant, node_red: NodeRed, deploy: Deploy, endpoint: Endpoint
) -> None:
    endpoint.statuses = [503, 500]
    mark = deploy("manager", **manager_variables(home_assistant, endpoint.url))
    posts = endpoint.wait_for_posts(3)
    assert posts[0] == posts[1] == posts[2]
    report = posts[2]
    assert report.pop("sent_at")
    assert report == {
        "schema": "ioe.community.daily.v1",
        "community": "Comunidad de prueba",
        "date": local_now().date().isoformat(),
        "generation_kwh": 41.5,
        "consumption_kwh": 63.25,
        "self_consumption_kwh": 30.1,
        "members_online": None,
        "members_total": 10,
    }
    assert endpoint.content_types == ["application/json"] * 3
    assert node_red.errors_since(mark) == []


def test_manager_gives_up_on_an_unreachable_endpoint_and_says_so(
    home_assistant: HomeAssistant, node_red: NodeRed, deploy: Deploy
) -> None:
    # Nothing listens on a free port.
    unreachable = f"http://127.0.0.1:{free_port()}/daily"
    mark = deploy("manager", **manager_variables(home_assistant, unreachable), LANGUAGE="en")
    node_red.wait_for_log("were not posted after 3 tries", mark, timeout_s=30)
    deadline = time.monotonic() + 10
    while not any(
        "could not be posted" in item["message"]
        for item in home_assistant.api.websocket_command({"type": "persistent_notification/get"})
    ):
        assert time.monotonic() < deadline, "no notification in Home Assistant"
        time.sleep(0.2)
    # Node-RED goes on: its flows still answer.
    assert any(node["id"] == "ioe_manager_post" for node in node_red.deployed())


def test_the_token_stays_out_of_the_flows_node_red_keeps(
    home_assistant: HomeAssistant, node_red: NodeRed, deploy: Deploy
) -> None:
    deploy("car", SURPLUS=SURPLUS, CHARGER=CHARGER)
    token = home_assistant.server.token
    assert token not in (node_red.directory / "flows.json").read_text()
    # Only in the credentials file, encrypted with the secret Node-RED was started with.
    assert token not in (node_red.directory / "flows_cred.json").read_text()
    assert all("credentials" not in node for node in node_red.deployed())
