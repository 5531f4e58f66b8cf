"""MQTT energy meters as subentries, their messages carried by Home Assistant's MQTT integration."""

from __future__ import annotations

from datetime import timedelta
import json
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
    async_fire_time_changed,
    snapshot_platform,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, MqttMockHAClient
from syrupy.assertion import SnapshotAssertion

from custom_components.ioe_community.const import DOMAIN, SUBENTRY_MQTT

from ..devices.mqtt_payloads import (
    PLUS_1_SWITCH_0,
    PLUS_2PM_SWITCH_0,
    PRO_EM_EM1_1,
    TASMOTA_3EM_NET,
    TASMOTA_TWO_CHANNELS,
    tasmota_total,
)
from .conftest import home_with_subentry, set_up_home
from .home_devices import (
    EM_STATUS,
    EMDATA_STATUS,
    SHELLY,
    SHELLY_DATA,
    entity_of,
    home_with_mqtt_meter,
    shelly_status,
    state_of,
)


@pytest.fixture(autouse=True)
def mqtt_socket_closed(close_mqtt_socket: None) -> None:
    """Close the mocked MQTT client's socket after every test here (see the conftest)."""


async def start_flow(
    hass: HomeAssistant, entry: MockConfigEntry, user_input: dict[str, Any]
) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_MQTT), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    return await hass.config_entries.subentries.async_configure(result["flow_id"], user_input)


async def listened(hass: HomeAssistant, flow_id: str) -> dict[str, Any]:
    """Let the listening step end (the flow goes on by itself); return the next step."""
    await hass.async_block_till_done(wait_background_tasks=True)
    result = await hass.config_entries.subentries.async_configure(flow_id)
    await hass.async_block_till_done()
    return result


async def finish(
    hass: HomeAssistant, flow_id: str, choices: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Let the listening step end, then make the meter step's ``choices`` (or take defaults)."""
    result = await listened(hass, flow_id)
    if result["type"] is not FlowResultType.FORM or result["step_id"] != "meter":
        return result
    result = await hass.config_entries.subentries.async_configure(flow_id, choices or {})
    await hass.async_block_till_done()
    return result


async def test_add_a_shelly_meter(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, home_entry: MockConfigEntry
) -> None:
    await set_up_home(hass, home_entry)

    result = await start_flow(
        hass, home_entry, {"format": "shelly", "topic": f" {SHELLY}/ ", "role": "grid_meter"}
    )

    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["progress_action"] == "listening"
    shelly_status(hass)
    result = await listened(hass, result["flow_id"])
    # The meter was asked to report now rather than at its next change.
    mqtt_mock.async_publish.assert_any_call(
        f"{SHELLY}/command", "status_update", 0, False, message_expiry_interval=None
    )
    # The household sees what it sent and which way its power reads before saving it.
    assert result["step_id"] == "meter"
    assert result["description_placeholders"]["power"] == "950 W"
    assert result["description_placeholders"]["imported"] == "0.000 kWh"  # balanced from now
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"reverse_power": False}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Shelly · grid meter"
    assert result["data"] == SHELLY_DATA
    # The home reloaded with the meter, which was asked to report again: it answers.
    shelly_status(hass)
    await hass.async_block_till_done()
    # The Pro 3EM's energies are balanced across its phases, counted from now on.
    energy = state_of(hass, home_entry, "import_energy")
    assert float(energy.state) == 0.0
    assert energy.attributes["unit_of_measurement"] == "kWh"
    # The device page says how they are counted.
    assert state_of(hass, home_entry, "counting").state == "phase_balanced"
    assert energy.attributes["state_class"] == "total_increasing"
    assert float(state_of(hass, home_entry, "power").state) == 950.5

    # New messages update the sensors.
    async_fire_mqtt_message(
        hass, f"{SHELLY}/status/em:0", json.dumps({**EM_STATUS, "total_act_power": -400.0})
    )
    await hass.async_block_till_done()
    assert float(state_of(hass, home_entry, "power").state) == -400.0
    subentry_id = next(iter(home_entry.subentries))
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, subentry_id), home_entry.entry_id
    )
    assert (device.manufacturer, device.model) == ("Shelly", "MQTT")


async def test_tasmota_is_asked_for_status_10(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, home_entry: MockConfigEntry
) -> None:
    await set_up_home(hass, home_entry)

    result = await start_flow(
        hass, home_entry, {"format": "tasmota", "topic": "enchufe", "role": "ev_charger"}
    )

    reply = {"StatusSNS": {"ENERGY": {"Total": 12.5, "Today": 1.25, "Power": 2300}}}
    async_fire_mqtt_message(hass, "stat/enchufe/STATUS10", json.dumps(reply))
    result = await finish(hass, result["flow_id"], {"counter": "import", "reverse_power": False})
    mqtt_mock.async_publish.assert_any_call(
        "cmnd/enchufe/STATUS", "10", 0, False, message_expiry_interval=None
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["counter"] == "import"
    assert result["data"]["keys"] == ["counting", "import_energy", "power", "today_energy"]
    # Later readings come as periodic telemetry.
    async_fire_mqtt_message(hass, "tele/enchufe/SENSOR", '{"ENERGY": {"Total": 12.75}}')
    await hass.async_block_till_done()
    assert state_of(hass, home_entry, "import_energy").state == "12.75"


async def test_emonhub_and_json_meters_name_their_values(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, home_entry: MockConfigEntry
) -> None:
    await set_up_home(hass, home_entry)

    result = await start_flow(
        hass, home_entry, {"format": "emonhub", "topic": "emontx4", "role": "pv"}
    )
    assert result["step_id"] == "values"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"import_energy_unit": "Wh", "power_unit": "W"}
    )
    assert result["errors"] == {"base": "no_value_mapped"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"import_energy": "E1", "import_energy_unit": "Wh", "power": "P1", "power_unit": "W"},
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    async_fire_mqtt_message(hass, "emon/emontx4/E1", "1500")
    async_fire_mqtt_message(hass, "emon/emontx4/P1", "420.5")
    async_fire_mqtt_message(hass, "emon/emontx4/T1", "21.5")  # a key nobody mapped
    result = await finish(hass, result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["mapping"] == {
        "import_energy": {"source": "E1", "unit": "Wh"},
        "power": {"source": "P1", "unit": "W"},
    }
    async_fire_mqtt_message(hass, "emon/emontx4/E1", "1500")
    await hass.async_block_till_done()
    assert state_of(hass, home_entry, "import_energy").state == "1.5"

    result = await start_flow(
        hass, home_entry, {"format": "json", "topic": "casa/contador", "role": "grid_meter"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "import_energy": "meter.e_in",
            "import_energy_unit": "kWh",
            "export_energy": "meter.e_out",
            "export_energy_unit": "kWh",
            "power_unit": "kW",
        },
    )
    async_fire_mqtt_message(hass, "casa/contador", '{"meter": {"e_in": 100.5, "e_out": 3}}')
    result = await finish(hass, result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["keys"] == ["counting", "export_energy", "import_energy"]


async def test_a_silent_meter_is_an_error_in_the_flow(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, home_entry: MockConfigEntry
) -> None:
    """Nothing arrives within the wait: back to the form with no_message (a 15 s real wait)."""
    await set_up_home(hass, home_entry)

    result = await start_flow(
        hass, home_entry, {"format": "shelly", "topic": SHELLY, "role": "grid_meter"}
    )
    result = await finish(hass, result["flow_id"])

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "no_message"}


async def test_messages_in_another_format_are_an_error_in_the_flow(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    home_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await set_up_home(hass, home_entry)
    result = await start_flow(
        hass, home_entry, {"format": "tasmota", "topic": "enchufe", "role": "grid_meter"}
    )
    async_fire_mqtt_message(hass, "tele/enchufe/SENSOR", "{not json")
    result = await finish(hass, result["flow_id"])

    assert result["errors"] == {"base": "invalid_payload"}
    assert "not JSON" in result["description_placeholders"]["problem"]
    assert "No values from the MQTT meter" in caplog.text

    # Fixing the format (the same topic, now a Shelly) is accepted.
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"format": "shelly", "topic": SHELLY, "role": "grid_meter"}
    )
    shelly_status(hass)
    result = await finish(hass, result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("user_input", "messages"),
    [
        # A Tasmota switch without an energy monitor answers STATUS 10 without ENERGY.
        (
            {"format": "tasmota", "topic": "enchufe", "role": "grid_meter"},
            [("stat/enchufe/STATUS10", '{"StatusSNS": {"Time": "2026-12-03T10:00:00"}}')],
        ),
        # A Shelly Plus 1 answers status_update with components that measure nothing.
        (
            {"format": "shelly", "topic": "shellyplus1-a8032ab1f2c4", "role": "grid_meter"},
            [
                ("shellyplus1-a8032ab1f2c4/status/switch:0", PLUS_1_SWITCH_0),
                ("shellyplus1-a8032ab1f2c4/status/sys", '{"uptime": 120}'),
            ],
        ),
    ],
)
async def test_a_device_that_measures_no_energy_is_named_so(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    home_entry: MockConfigEntry,
    user_input: dict[str, Any],
    messages: list[tuple[str, str]],
) -> None:
    """It answered: "nothing arrived" would send the household looking for the wrong fault."""
    await set_up_home(hass, home_entry)
    result = await start_flow(hass, home_entry, user_input)
    for topic, payload in messages:
        async_fire_mqtt_message(hass, topic, payload)
    result = await finish(hass, result["flow_id"])

    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "no_energy"}


@pytest.mark.parametrize("topic", ["", "tele/+/SENSOR", "a/#", "two words"])
async def test_invalid_topics(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, home_entry: MockConfigEntry, topic: str
) -> None:
    await set_up_home(hass, home_entry)
    result = await start_flow(
        hass, home_entry, {"format": "json", "topic": topic, "role": "grid_meter"}
    )
    assert result["errors"] == {"topic": "invalid_topic"}


async def test_without_mqtt_the_flow_aborts(
    hass: HomeAssistant, home_entry: MockConfigEntry
) -> None:
    await set_up_home(hass, home_entry)
    result = await hass.config_entries.subentries.async_init(
        (home_entry.entry_id, SUBENTRY_MQTT), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_configured"


async def test_same_meter_twice_aborts(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    entry = home_with_mqtt_meter(SHELLY_DATA)
    await set_up_home(hass, entry)
    again = {"format": "shelly", "topic": SHELLY, "role": "grid_meter"}
    result = await start_flow(hass, entry, again)
    assert result["errors"] == {"role": "second_grid_meter"}  # asked before listening
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**again, "another_grid_meter": True}
    )
    shelly_status(hass)
    result = await finish(hass, result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_a_pro_em_saved_before_channels_gets_its_second_clamp_not_its_first_again(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """A Pro EM saved before channels were asked was read as its first clamp."""
    entry = home_with_subentry(
        SUBENTRY_MQTT,
        {"format": "shelly", "topic": "shellyproem50", "role": "grid_meter", "keys": ["power"]},
        title="Shelly shellyproem50",
        unique_id="mqtt/shelly/shellyproem50",
        subentry_id="01JMETER0000000000000000000",
    )
    await set_up_home(hass, entry)

    async def add(channel: str) -> dict[str, Any]:
        result = await start_flow(
            hass, entry, {"format": "shelly", "topic": "shellyproem50", "role": "pv"}
        )
        async_fire_mqtt_message(hass, "shellyproem50/status/em1:0", '{"id":0,"act_power":-900}')
        async_fire_mqtt_message(hass, "shellyproem50/status/em1:1", json.dumps(PRO_EM_EM1_1))
        return await finish(hass, result["flow_id"], {"channel": channel, "reverse_power": False})

    assert (await add("0"))["reason"] == "already_configured"
    second = await add("1")
    assert second["type"] is FlowResultType.CREATE_ENTRY
    assert second["title"] == "Shelly (2) · solar"  # no topic: it holds the MAC address


async def test_reconfigure_a_meter(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    entry = home_with_mqtt_meter(SHELLY_DATA)
    await set_up_home(hass, entry)
    subentry_id = next(iter(entry.subentries))
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_MQTT),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"format": "shelly", "topic": SHELLY, "role": "pv"}
    )
    shelly_status(hass)
    result = await finish(hass, result["flow_id"])

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries[subentry_id].data["role"] == "pv"


async def test_meter_after_restart_bad_messages_and_silence(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    hass_client: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Bad messages change nothing and are counted; a silent meter goes unavailable and back."""
    entry = home_with_mqtt_meter(SHELLY_DATA)
    await set_up_home(hass, entry)
    power = entity_of(hass, next(iter(entry.subentries)), "power")
    # Subscribed at start, and asked to report.
    mqtt_mock.async_publish.assert_any_call(
        f"{SHELLY}/command", "status_update", 0, False, message_expiry_interval=None
    )
    shelly_status(hass)
    await hass.async_block_till_done()
    assert hass.states.get(power).state == "950.5"

    with caplog.at_level(logging.DEBUG, logger="custom_components.ioe_community"):
        for _ in range(3):
            async_fire_mqtt_message(hass, f"{SHELLY}/status/em:0", '{"total_act_power": "x"}')
        await hass.async_block_till_done()
    assert hass.states.get(power).state == "950.5"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "em:0.total_act_power is 'x'" in warnings[0].getMessage()

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    (meter,) = diagnostics["devices"].values()
    assert meter["invalid_payloads"] == 3
    assert meter["format"] == "shelly"
    assert SHELLY not in json.dumps(diagnostics)

    caplog.clear()
    for _ in range(4):  # 20 minutes, checked every 5
        freezer.tick(timedelta(minutes=5))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    assert hass.states.get(power).state == STATE_UNAVAILABLE
    assert "has sent nothing for 15 minutes" in caplog.text
    freezer.tick(timedelta(minutes=5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert caplog.text.count("has sent nothing") == 1  # logged once

    async_fire_mqtt_message(hass, f"{SHELLY}/status/em:0", json.dumps(EM_STATUS))
    await hass.async_block_till_done()
    assert hass.states.get(power).state == "950.5"
    assert "is sending values again" in caplog.text


async def test_a_value_sent_for_the_first_time_gets_its_sensor(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    entry = home_with_mqtt_meter({**SHELLY_DATA, "keys": ["power"]})
    await set_up_home(hass, entry)
    registry = er.async_get(hass)
    subentry_id = next(iter(entry.subentries))
    assert registry.async_get_entity_id("sensor", DOMAIN, f"{subentry_id}_import_energy") is None

    async_fire_mqtt_message(hass, f"{SHELLY}/status/emdata:0", json.dumps(EMDATA_STATUS))
    await hass.async_block_till_done()

    assert state_of(hass, entry, "import_energy").state == "0.0"


# The tariff period follows the clock: the snapshot is taken at one moment (that ticks).
@pytest.mark.freeze_time("2026-12-03 12:00:00+00:00", tick=True)
async def test_entities_snapshot(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    entity_registry_enabled_by_default: None,
) -> None:
    entry = home_with_mqtt_meter(SHELLY_DATA)
    await set_up_home(hass, entry)
    shelly_status(hass)
    await hass.async_block_till_done()
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_without_mqtt_a_configured_meter_is_unavailable_not_the_home(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """MQTT removed after the meter was added: the home loads, the meter says why it is down."""
    entry = home_with_mqtt_meter(SHELLY_DATA)
    await set_up_home(hass, entry)

    assert state_of(hass, entry, "power").state == STATE_UNAVAILABLE
    assert "cannot subscribe to its MQTT topics: MQTT is not set up" in caplog.text
    assert "cannot receive its messages: the MQTT integration is not set up" in caplog.text


async def test_a_two_channel_device_is_two_meters_with_a_channel_each(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, home_entry: MockConfigEntry
) -> None:
    """A Shelly EM on Tasmota with its grid and PV clamps: each is added with its channel."""
    await set_up_home(hass, home_entry)
    reply = tasmota_total(TASMOTA_TWO_CHANNELS, Power=[-1850, 2400])

    result = await start_flow(hass, home_entry, {"format": "tasmota", "topic": "em", "role": "pv"})
    async_fire_mqtt_message(hass, "stat/em/STATUS10", reply)
    result = await listened(hass, result["flow_id"])
    assert result["step_id"] == "meter"
    schema = result["data_schema"].schema
    channel = next(key for key in schema if key == "channel")
    labels = {o["value"]: o["label"] for o in schema[channel].config["options"]}
    # Each channel with what it reads now: the household tells the clamps apart.
    assert labels == {"all": "all", "0": "1: -1850 W", "1": "2: 2400 W"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"channel": "1", "counter": "net", "reverse_power": True}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["channel"] == 1
    assert result["title"] == "Tasmota (2) · solar"

    # The grid clamp is the same device's other channel: a second meter, not a duplicate.
    result = await start_flow(
        hass, home_entry, {"format": "tasmota", "topic": "em", "role": "grid_meter"}
    )
    async_fire_mqtt_message(hass, "stat/em/STATUS10", reply)
    result = await finish(hass, result["flow_id"], {"channel": "0", "reverse_power": False})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert {subentry.unique_id for subentry in home_entry.subentries.values()} == {
        "mqtt/tasmota/em#0",
        "mqtt/tasmota/em#1",
    }


async def test_a_channel_without_its_own_counter_has_power_only(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, home_entry: MockConfigEntry
) -> None:
    """SetOption129 0: the channels' Total is summed; a channel has power only, no energy."""
    await set_up_home(hass, home_entry)
    summed = tasmota_total(TASMOTA_TWO_CHANNELS, Total=1.721, Today=0.3, Power=[0, 0])
    summed = summed.replace('"Current": [0.645, 0.0]', '"Current": 0.645')
    result = await start_flow(hass, home_entry, {"format": "tasmota", "topic": "em", "role": "pv"})
    async_fire_mqtt_message(hass, "stat/em/STATUS10", summed)
    result = await finish(hass, result["flow_id"], {"channel": "1", "reverse_power": False})
    assert result["type"] is FlowResultType.CREATE_ENTRY  # power alone is something
    assert "import_energy" not in result["data"]["keys"]


async def test_tasmota_net_counter_through_home_assistant_and_a_restart(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, hass_storage: dict[str, Any]
) -> None:
    """Total runs back while exporting: import and export follow, and survive a restart."""
    entry = home_with_subentry(
        SUBENTRY_MQTT,
        {"format": "tasmota", "topic": "shelly3em", "role": "grid_meter", "keys": []},
        title="Tasmota shelly3em",
        unique_id="mqtt/tasmota/shelly3em",
        subentry_id="01JMETER0000000000000000000",
    )
    await set_up_home(hass, entry)
    for total in (0.00627, -1.49373):  # 1.5 kWh exported
        async_fire_mqtt_message(
            hass, "tele/shelly3em/SENSOR", tasmota_total(TASMOTA_3EM_NET, Total=total)
        )
    await hass.async_block_till_done()
    export = state_of(hass, entry, "export_energy")
    assert float(export.state) == pytest.approx(1.5)
    assert export.attributes["state_class"] == "total_increasing"
    net = state_of(hass, entry, "net_energy")
    assert (float(net.state), net.attributes["state_class"]) == (-1.49373, "total")
    assert float(state_of(hass, entry, "power").state) == -0.2

    await hass.config_entries.async_unload(entry.entry_id)  # writes the counters
    await hass.async_block_till_done()
    stored = hass_storage[f"{DOMAIN}.meter_{entry.entry_id}_01JMETER0000000000000000000"]
    assert stored["data"]["balanced"]["export_kwh"] == pytest.approx(1.5)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    # While Home Assistant was down the home imported 0.5 kWh net.
    async_fire_mqtt_message(
        hass, "tele/shelly3em/SENSOR", tasmota_total(TASMOTA_3EM_NET, Total=-0.99373)
    )
    await hass.async_block_till_done()
    assert float(state_of(hass, entry, "import_energy").state) == 0.5
    assert float(state_of(hass, entry, "export_energy").state) == 1.5


async def test_options_reverse_a_meters_power_showing_what_it_reads(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """A clamp fitted the other way round: the household sees 950 W while exporting, flips it."""
    entry = home_with_mqtt_meter(SHELLY_DATA)
    await set_up_home(hass, entry)
    shelly_status(hass)
    await hass.async_block_till_done()

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "device"
    assert result["description_placeholders"]["power"] == "950 W"
    assert "scan_interval" not in result["data_schema"].schema  # it sends on its own
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"reverse_power": True}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY

    shelly_status(hass)
    await hass.async_block_till_done()
    assert float(state_of(hass, entry, "power").state) == -950.5
    consumption = hass.states.get("sensor.casa_consumption")
    assert (float(consumption.state), consumption.attributes["estimated"]) == (0.0, True)


async def test_a_channel_with_nothing_of_its_own_is_refused(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, home_entry: MockConfigEntry
) -> None:
    """Only currents per channel: the chosen channel would be a meter of nothing."""
    await set_up_home(hass, home_entry)
    result = await start_flow(hass, home_entry, {"format": "tasmota", "topic": "em", "role": "pv"})
    payload = '{"ENERGY": {"Total": 1.0, "Power": 10, "Voltage": 230, "Current": [0.1, 0.2]}}'
    async_fire_mqtt_message(hass, "stat/em/STATUS10", payload)
    result = await finish(hass, result["flow_id"], {"channel": "1", "reverse_power": False})
    assert result["step_id"] == "meter"
    assert result["errors"] == {"base": "channel_without_values"}


async def test_a_meter_that_cannot_be_asked_is_waited_for_minutes_with_a_message(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, home_entry: MockConfigEntry
) -> None:
    """ESPHome sends when its sensors change: nothing to ask, a long wait, said so."""
    await set_up_home(hass, home_entry)
    result = await start_flow(
        hass, home_entry, {"format": "esphome", "topic": "contador", "role": "grid_meter"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"import_energy": "energia_importada", "import_energy_unit": "Wh", "power_unit": "W"},
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["progress_action"] == "waiting"
    assert result["description_placeholders"]["topic"] == "contador"
    assert mqtt_mock.async_publish.call_count == 0  # nothing to ask it
    async_fire_mqtt_message(hass, "contador/sensor/energia_importada/state", "1234.5")
    result = await finish(hass, result["flow_id"], {"reverse_power": False})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["mapping"] == {
        "import_energy": {"source": "energia_importada", "unit": "Wh"}
    }
    async_fire_mqtt_message(hass, "contador/sensor/energia_importada/state", "1500")
    await hass.async_block_till_done()
    assert state_of(hass, home_entry, "import_energy").state == "1.5"


async def test_reconfiguring_to_a_single_channel_device_forgets_the_old_channel(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """A Pro EM's second clamp moved to a plug: its values arrive, the old channel goes."""
    entry = home_with_subentry(
        SUBENTRY_MQTT,
        {"format": "shelly", "topic": "shellyproem50", "role": "pv", "channel": 1, "keys": []},
        title="Shelly shellyproem50 (2)",
        unique_id="mqtt/shelly/shellyproem50#1",
        subentry_id="01JMETER0000000000000000000",
    )
    await set_up_home(hass, entry)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_MQTT),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": "01JMETER0000000000000000000"},
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"format": "shelly", "topic": "shellyplusplugs-a", "role": "pv"}
    )
    async_fire_mqtt_message(hass, "shellyplusplugs-a/status/switch:0", PLUS_2PM_SWITCH_0)
    result = await finish(hass, result["flow_id"], {"reverse_power": False})
    assert result["reason"] == "reconfigure_successful"
    data = entry.subentries["01JMETER0000000000000000000"].data
    assert data["channel"] == 0
    assert "import_energy" in data["keys"]


async def test_a_reversed_meter_counts_its_first_counter_the_other_way(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """A Gen1 EM clamp fitted backwards: its 'total' is the home's export from the first."""
    entry = home_with_subentry(
        SUBENTRY_MQTT,
        {
            "format": "shelly_gen1",
            "topic": "shellies/shellyem-123456789012",
            "role": "grid_meter",
            "channel": 0,
            "reverse_power": True,
            "keys": [],
        },
        title="Shelly shellies/shellyem-123456789012",
        unique_id="mqtt/shelly_gen1/shellies/shellyem-123456789012#0",
        subentry_id="01JMETER0000000000000000000",
    )
    await set_up_home(hass, entry)
    async_fire_mqtt_message(hass, "shellies/shellyem-123456789012/emeter/0/total", "1891.9")
    await hass.async_block_till_done()
    assert float(state_of(hass, entry, "export_energy").state) == 1.8919
    registry = er.async_get(hass)
    assert (
        registry.async_get_entity_id("sensor", DOMAIN, "01JMETER0000000000000000000_import_energy")
        is None
    )


async def test_a_json_meter_reads_w_unless_told_and_an_implausible_power_is_flagged(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, home_entry: MockConfigEntry
) -> None:
    """A JSON meter sending 350 (W) was read as 350 kW when kW was the default."""
    await set_up_home(hass, home_entry)
    result = await start_flow(
        hass, home_entry, {"format": "json", "topic": "casa/enchufe", "role": "load"}
    )
    assert result["step_id"] == "values"
    defaults = {
        str(key): key.default()
        for key in result["data_schema"].schema
        if str(key).endswith("_unit")
    }
    assert defaults == {"import_energy_unit": "Wh", "export_energy_unit": "Wh", "power_unit": "W"}

    # The household picks kW by mistake: the value read is shown, and flagged.
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"power": "apower", "power_unit": "kW"}
    )
    async_fire_mqtt_message(hass, "casa/enchufe", '{"apower": 350}')
    result = await listened(hass, result["flow_id"])
    assert result["step_id"] == "meter"
    assert result["description_placeholders"]["power"] == "350 kW"  # not a 6-digit number
    assert result["errors"] == {"base": "implausible_power"}
    hass.config_entries.subentries.async_abort(result["flow_id"])

    # With the default unit, the same message is 350 W and nothing is flagged; figures are
    # written as Home Assistant's language writes them (Spanish: a decimal comma).
    await hass.config.async_update(language="es")
    result = await start_flow(
        hass, home_entry, {"format": "json", "topic": "casa/enchufe", "role": "load"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"power": "apower", "power_unit": "W", "import_energy": "total"}
    )
    async_fire_mqtt_message(hass, "casa/enchufe", '{"apower": 350, "total": 1520.3}')
    result = await listened(hass, result["flow_id"])
    assert result["description_placeholders"]["power"] == "350 W"
    assert result["description_placeholders"]["imported"] == "1,520 kWh"
    assert result["errors"] == {}
    hass.config_entries.subentries.async_abort(result["flow_id"])
