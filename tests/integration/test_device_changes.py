"""A device added, changed or removed starts, restarts or stops alone; the home goes on.

Only a change of the home itself (its name, CUPS, membership, options) reloads it. Devices are
real pymodbus servers and MQTT messages through Home Assistant's MQTT integration; the devices
are added through the subentry flows, as the household adds them.
"""

from __future__ import annotations

from datetime import timedelta
import json
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.ioe_community import IoeHome
from custom_components.ioe_community.const import DOMAIN
from custom_components.ioe_community.coordinator import ModbusDeviceCoordinator, endpoint_from
from custom_components.ioe_community.devices.profile import available_profiles
from ioe_dev.modbus_server import ModbusTestServer, Registers
from ioe_dev.physical import write_values
from tests.conftest import StartModbusServer

from .conftest import set_up_home
from .home_devices import (
    EM_STATUS,
    SHELLY,
    SHELLY_DATA,
    add_device,
    answer_device_steps,
    device_input,
    entity_of,
    home_with_mqtt_meter,
    shelly_status,
)

SDM630 = available_profiles()["eastron_sdm630"]
CONSUMPTION = "sensor.casa_consumption"
GRID_W = 1100.0  # what the grid meter's test vector reads: imported
PV_W = 400.0  # what the PV inverter feeds in: exported through its meter


@pytest.fixture
async def grid(allow_local_sockets: None, modbus_server: StartModbusServer) -> ModbusTestServer:
    """Serve the home's grid meter: an SDM630 at unit 1, importing."""
    return await modbus_server({1: Registers(input=dict(SDM630.test_vectors[0].input))})


@pytest.fixture
async def pv(allow_local_sockets: None, modbus_server: StartModbusServer) -> ModbusTestServer:
    """Serve the PV inverter's meter: another SDM630 on its own gateway, exporting."""
    registers = Registers(input=dict(SDM630.test_vectors[0].input))
    write_values(SDM630, registers.input, {"power": -PV_W})
    return await modbus_server({1: registers})


def subentry_at(entry: MockConfigEntry, server: ModbusTestServer) -> str:
    """Return the subentry of the device served by ``server``."""
    return next(
        s.subentry_id for s in entry.subentries.values() if s.data.get("port") == server.port
    )


def value_of(hass: HomeAssistant, entity_id: str) -> float:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return float(state.state)


def modbus(home: IoeHome, subentry_id: str) -> ModbusDeviceCoordinator:
    coordinator = home.devices[subentry_id]
    assert isinstance(coordinator, ModbusDeviceCoordinator)
    return coordinator


async def add(hass: HomeAssistant, entry: MockConfigEntry, user_input: dict[str, Any]) -> None:
    result = await add_device(hass, entry, user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result


async def home_with_grid_and_pv(
    hass: HomeAssistant, entry: MockConfigEntry, grid: ModbusTestServer, pv: ModbusTestServer
) -> tuple[str, str]:
    """Set up the home and add its grid meter, then its PV meter; return their subentries."""
    await set_up_home(hass, entry)
    await add(hass, entry, device_input(grid.port))
    await add(hass, entry, device_input(pv.port, role="pv"))
    return subentry_at(entry, grid), subentry_at(entry, pv)


async def next_polls(hass: HomeAssistant, count: int = 2) -> None:
    """Move the clock past the devices' 10 s scan interval ``count`` times."""
    later = dt_util.utcnow()
    for _ in range(count):
        later += timedelta(seconds=11)
        async_fire_time_changed(hass, later)
        await hass.async_block_till_done(wait_background_tasks=True)


async def test_a_device_added_joins_the_running_home(
    hass: HomeAssistant, home_entry: MockConfigEntry, grid: ModbusTestServer, pv: ModbusTestServer
) -> None:
    await set_up_home(hass, home_entry)
    await add(hass, home_entry, device_input(grid.port))
    home = home_entry.runtime_data
    grid_id = subentry_at(home_entry, grid)
    meter = modbus(home, grid_id)
    assert meter.reader.bus.connections_opened == 1
    assert value_of(hass, CONSUMPTION) == GRID_W

    await add(hass, home_entry, device_input(pv.port, role="pv"))

    # The grid meter went on reading over the connection it had: nothing was set up again.
    assert home_entry.runtime_data is home
    assert home.devices[grid_id] is meter
    assert home.buses[endpoint_from(dict(home_entry.subentries[grid_id].data))] is meter.reader.bus
    assert meter.reader.bus.connections_opened == 1
    # The new device is read, under its own subentry's device, and counts in the home's model.
    pv_id = subentry_at(home_entry, pv)
    assert value_of(hass, entity_of(hass, pv_id, "power")) == -PV_W
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, pv_id), home_entry.entry_id)
    assert device is not None
    assert device.config_subentry_id == pv_id
    assert value_of(hass, CONSUMPTION) == GRID_W + PV_W
    await next_polls(hass)
    assert meter.reader.bus.connections_opened == 1
    await hass.config_entries.async_unload(home_entry.entry_id)


async def test_a_device_removed_stops_alone(
    hass: HomeAssistant, home_entry: MockConfigEntry, grid: ModbusTestServer, pv: ModbusTestServer
) -> None:
    grid_id, pv_id = await home_with_grid_and_pv(hass, home_entry, grid, pv)
    home = home_entry.runtime_data
    meter = modbus(home, grid_id)
    pv_endpoint = modbus(home, pv_id).reader.bus.endpoint
    pv_power = entity_of(hass, pv_id, "power")
    assert value_of(hass, CONSUMPTION) == GRID_W + PV_W

    assert hass.config_entries.async_remove_subentry(home_entry, pv_id)
    await hass.async_block_till_done()

    assert home_entry.runtime_data is home  # not reloaded
    # Its coordinator, connection, sensors and device are gone...
    assert pv_id not in home.devices
    assert pv_endpoint not in home.buses
    assert hass.states.get(pv_power) is None
    assert er.async_get(hass).async_get(pv_power) is None
    assert (
        dr.async_get(hass).async_get_device_by_identifier((DOMAIN, pv_id), home_entry.entry_id)
        is None
    )
    asked = len(pv.requests)
    await next_polls(hass)
    assert len(pv.requests) == asked  # no longer polled
    # ...while the grid meter goes on as it was, and the home's model no longer has the PV.
    assert home.devices[grid_id] is meter
    assert meter.reader.bus.connections_opened == 1
    assert value_of(hass, CONSUMPTION) == GRID_W
    await hass.config_entries.async_unload(home_entry.entry_id)


async def test_a_device_reconfigured_restarts_alone(
    hass: HomeAssistant, home_entry: MockConfigEntry, grid: ModbusTestServer, pv: ModbusTestServer
) -> None:
    grid_id, pv_id = await home_with_grid_and_pv(hass, home_entry, grid, pv)
    home = home_entry.runtime_data
    meter, inverter = modbus(home, grid_id), modbus(home, pv_id)
    pv_power = entity_of(hass, pv_id, "power")

    result = await home_entry.start_subentry_reconfigure_flow(hass, pv_id)
    result = await answer_device_steps(
        hass, result["flow_id"], device_input(pv.port, role="pv", scan_interval=30)
    )
    await hass.async_block_till_done()

    assert result["reason"] == "reconfigure_successful"
    assert home_entry.runtime_data is home  # not reloaded
    # The reconfigured device runs on its new settings, under the same entities...
    restarted = modbus(home, pv_id)
    assert restarted is not inverter
    assert restarted.update_interval == timedelta(seconds=30)
    assert entity_of(hass, pv_id, "power") == pv_power
    assert value_of(hass, pv_power) == -PV_W
    # ...and the other device was not touched.
    assert home.devices[grid_id] is meter
    assert meter.reader.bus.connections_opened == 1
    assert value_of(hass, CONSUMPTION) == GRID_W + PV_W
    await hass.config_entries.async_unload(home_entry.entry_id)


async def test_only_a_change_of_the_home_itself_reloads_it(
    hass: HomeAssistant, home_entry: MockConfigEntry, grid: ModbusTestServer, pv: ModbusTestServer
) -> None:
    """A device's options restart that device; the home's own data and options reload it."""
    grid_id, pv_id = await home_with_grid_and_pv(hass, home_entry, grid, pv)
    home = home_entry.runtime_data
    meter, inverter = modbus(home, grid_id), modbus(home, pv_id)

    # The options reverse the PV meter's power: it restarts, the home's balance follows.
    result = await hass.config_entries.options.async_init(home_entry.entry_id)
    assert result["step_id"] == "devices"
    result = await hass.config_entries.options.async_configure(result["flow_id"], {"device": pv_id})
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 10, "reverse_power": True}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert home_entry.runtime_data is home  # not reloaded
    assert home.devices[pv_id] is not inverter
    assert home.devices[grid_id] is meter
    assert value_of(hass, entity_of(hass, pv_id, "power")) == PV_W
    assert value_of(hass, CONSUMPTION) == GRID_W - PV_W

    # The home's own name (its data) reloads it, with all its devices.
    result = await home_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Casa nueva", "cups": home_entry.data["cups"]}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert home_entry.state is ConfigEntryState.LOADED
    reloaded = home_entry.runtime_data
    assert reloaded is not home
    assert reloaded.devices[grid_id] is not meter
    assert value_of(hass, CONSUMPTION) == GRID_W - PV_W

    # So do its options.
    hass.config_entries.async_update_entry(home_entry, options={"kept": True})
    await hass.async_block_till_done()
    assert home_entry.state is ConfigEntryState.LOADED
    assert home_entry.runtime_data is not reloaded
    await hass.config_entries.async_unload(home_entry.entry_id)


async def test_an_mqtt_meter_goes_on_while_a_modbus_device_comes_and_goes(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    close_mqtt_socket: None,
    grid: ModbusTestServer,
) -> None:
    """The MQTT meter measures the grid, the SDM630 a load; then the meter is removed."""
    entry = home_with_mqtt_meter(SHELLY_DATA)
    await set_up_home(hass, entry)
    shelly_status(hass)
    await hass.async_block_till_done()
    home = entry.runtime_data
    (meter_id,) = entry.subentries
    shelly = home.devices[meter_id]
    shelly_power = entity_of(hass, meter_id, "power")
    assert value_of(hass, shelly_power) == 950.5

    await add(hass, entry, device_input(grid.port, role="load"))

    assert entry.runtime_data is home
    assert home.devices[meter_id] is shelly
    assert value_of(hass, entity_of(hass, subentry_at(entry, grid), "power")) == GRID_W
    async_fire_mqtt_message(
        hass, f"{SHELLY}/status/em:0", json.dumps({**EM_STATUS, "total_act_power": 700.0})
    )
    await hass.async_block_till_done()
    assert value_of(hass, shelly_power) == 700.0  # still subscribed
    assert value_of(hass, CONSUMPTION) == 700.0

    assert hass.config_entries.async_remove_subentry(entry, meter_id)
    await hass.async_block_till_done()

    assert meter_id not in home.devices
    assert hass.states.get(shelly_power) is None
    async_fire_mqtt_message(
        hass, f"{SHELLY}/status/em:0", json.dumps({**EM_STATUS, "total_act_power": 123.0})
    )
    await hass.async_block_till_done()
    assert shelly.data is not None
    assert shelly.data["power"] == 700.0  # unsubscribed: the message reached nobody
    # Without a grid meter the home's consumption cannot be worked out.
    assert hass.states.get(CONSUMPTION).state == "unavailable"
    assert entry.runtime_data is home
    await hass.config_entries.async_unload(entry.entry_id)
