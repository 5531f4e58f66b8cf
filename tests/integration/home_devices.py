"""Homes with devices, as the device tests build them.

Entries as after a restart, the subentry flow's steps that add a Modbus device, the entities
of a device's values, and what a Shelly Pro 3EM sends over MQTT.
"""

from __future__ import annotations

import json
from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message

from custom_components.ioe_community.const import DOMAIN, SUBENTRY_MODBUS, SUBENTRY_MQTT

from .conftest import home_with_subentry

SHELLY = "shellypro3em-0123456789ab"


def home_with_device(data: dict[str, Any], *, title: str) -> MockConfigEntry:
    """Return a home entry that already has one Modbus device, as after a restart."""
    return home_with_subentry(
        SUBENTRY_MODBUS,
        data,
        title=title,
        unique_id=f"{data['host']}:{data['port']}/{data['unit']}",
        subentry_id="01JDEVICE000000000000000000",
    )


def device_input(port: int, **changes: Any) -> dict[str, Any]:
    return {
        "profile": "eastron_sdm630",
        "role": "grid_meter",
        "transport": "tcp",
        "host": "127.0.0.1",
        "port": port,
        "unit": 1,
        "scan_interval": 10,
        **changes,
    }


# The first step's fields: the device, its role, its kind of connection.
DEVICE_FIELDS = ("profile", "role", "transport", "another_grid_meter")


async def answer_device_steps(
    hass: HomeAssistant, flow_id: str, user_input: dict[str, Any]
) -> dict:
    """Answer the device step, then the connection's (tcp or serial) with the rest."""
    first = {key: value for key, value in user_input.items() if key in DEVICE_FIELDS}
    result = await hass.config_entries.subentries.async_configure(flow_id, first)
    if result["type"] is FlowResultType.FORM and result["step_id"] in ("tcp", "serial"):
        fields = {str(key) for key in result["data_schema"].schema}
        rest = {key: value for key, value in user_input.items() if key in fields}
        result = await hass.config_entries.subentries.async_configure(flow_id, rest)
    return result


async def add_device(
    hass: HomeAssistant, entry: MockConfigEntry, user_input: dict[str, Any]
) -> dict:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_MODBUS), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    result = await answer_device_steps(hass, result["flow_id"], user_input)
    await hass.async_block_till_done()
    return result


def entity_of(hass: HomeAssistant, subentry_id: str, key: str) -> str:
    """Return the entity id of ``key`` on the device of ``subentry_id``."""
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{subentry_id}_{key}")
    assert entity_id is not None, key
    return entity_id


def state_of(hass: HomeAssistant, entry: MockConfigEntry, key: str) -> State | None:
    """Return the state of the entity of ``key`` on the home's first device."""
    return hass.states.get(entity_of(hass, next(iter(entry.subentries)), key))


EM_STATUS = {
    "id": 0,
    "a_voltage": 231.2, "b_voltage": 230.1, "c_voltage": 229.8,
    "a_current": 1.5, "b_current": 0.8, "c_current": 2.1,
    "total_act_power": 950.5,
}  # fmt: skip
EMDATA_STATUS = {"id": 0, "total_act": 2390660.0, "total_act_ret": 100150.0}


def shelly_status(hass: HomeAssistant) -> None:
    """Publish what a Pro 3EM sends after ``status_update``, non-meter components too."""
    async_fire_mqtt_message(hass, f"{SHELLY}/status/sys", json.dumps({"uptime": 120}))
    async_fire_mqtt_message(hass, f"{SHELLY}/status/em:0", json.dumps(EM_STATUS))
    async_fire_mqtt_message(hass, f"{SHELLY}/status/emdata:0", json.dumps(EMDATA_STATUS))


def home_with_mqtt_meter(data: dict[str, Any]) -> MockConfigEntry:
    """Return a home that already has an MQTT meter, as after a restart (fixed ids)."""
    return home_with_subentry(
        SUBENTRY_MQTT,
        data,
        title=f"Shelly {SHELLY}",
        unique_id=f"mqtt/shelly/{SHELLY}",
        subentry_id="01JMETER0000000000000000000",
    )


SHELLY_DATA = {
    "format": "shelly",
    "topic": SHELLY,
    "role": "grid_meter",
    "reverse_power": False,
    "keys": [
        "counting", "current_l1", "current_l2", "current_l3", "export_energy", "import_energy",
        "power", "voltage_l1", "voltage_l2", "voltage_l3",
    ],
}  # fmt: skip
