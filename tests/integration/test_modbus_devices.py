"""Modbus devices in a real Home Assistant core, read from a real pymodbus server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
import json
from pathlib import Path
import socket
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState, ConfigSubentry
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import probatio
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    snapshot_platform,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.ioe_community.const import CONF_SUNSPEC_MODELS, DOMAIN, SUBENTRY_MODBUS
from custom_components.ioe_community.coordinator import endpoint_from
from custom_components.ioe_community.devices.modbus import ModbusBus
from custom_components.ioe_community.devices.profile import available_profiles
from custom_components.ioe_community.devices.sunspec import discover, vector_holding
from ioe_dev.modbus_server import ModbusTestServer, NullModem, Registers
from tests.conftest import StartModbusServer

from .conftest import CUPS, set_up_home
from .home_devices import add_device, answer_device_steps, device_input, home_with_device, state_of

# Read at import: the tests start with the cache cold, as Home Assistant does.
PROFILES = available_profiles()
SDM630 = PROFILES["eastron_sdm630"]
SUNSPEC = PROFILES["sunspec"]


@pytest.fixture
async def sdm630(allow_local_sockets: None, modbus_server: StartModbusServer) -> ModbusTestServer:
    """Serve an SDM630 at unit 1, answering with its first test vector."""
    return await modbus_server({1: Registers(input=dict(SDM630.test_vectors[0].input))})


async def home_with_meter(
    hass: HomeAssistant, entry: MockConfigEntry, server: ModbusTestServer
) -> None:
    """Set up the home and add the test meter through the subentry flow."""
    await set_up_home(hass, entry)
    result = await add_device(hass, entry, device_input(server.port))
    assert result["type"] is FlowResultType.CREATE_ENTRY


def assert_polled_every(entry: MockConfigEntry, subentry_id: str, seconds: int) -> None:
    """Assert that a device's interval is saved and its coordinator runs on it."""
    assert entry.subentries[subentry_id].data["scan_interval"] == seconds
    assert entry.runtime_data.devices[subentry_id].update_interval == timedelta(seconds=seconds)


async def test_add_a_meter_and_read_it(
    hass: HomeAssistant, home_entry: MockConfigEntry, sdm630: ModbusTestServer
) -> None:
    await set_up_home(hass, home_entry)

    result = await add_device(hass, home_entry, device_input(sdm630.port))

    assert result["type"] is FlowResultType.CREATE_ENTRY
    # Named by model and role, in the household's language; no network address.
    assert result["title"] == "Eastron SDM630 · grid meter"
    energy = state_of(hass, home_entry, "import_energy")
    assert float(energy.state) == pytest.approx(12345.5)
    assert energy.attributes["unit_of_measurement"] == "kWh"
    assert energy.attributes["device_class"] == "energy"
    assert energy.attributes["state_class"] == "total_increasing"
    assert float(state_of(hass, home_entry, "power").state) == 1100.0
    assert state_of(hass, home_entry, "power").attributes["unit_of_measurement"] == "W"
    # Phase powers are disabled by default: not created as states, and not read.
    subentry_id = next(iter(home_entry.subentries))
    assert er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{subentry_id}_power_l1")
    assert all(address < 12 or address >= 52 for _u, _f, address, _c in sdm630.requests)
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, subentry_id), home_entry.entry_id
    )
    assert device is not None
    assert (device.manufacturer, device.model) == ("Eastron", "SDM630")
    home = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, CUPS), home_entry.entry_id)
    assert device.via_device_id == home.id


async def test_add_a_meter_on_a_serial_port(
    hass: HomeAssistant,
    home_entry: MockConfigEntry,
    null_modem: NullModem,
    modbus_server: StartModbusServer,
) -> None:
    """An RS-485 adapter: RTU on a serial port, read before saving and then polled."""
    await modbus_server(
        {1: Registers(input=dict(SDM630.test_vectors[0].input))},
        serial_port=null_modem.device_port,
    )
    await set_up_home(hass, home_entry)
    serial = {"transport": "serial", "serial_port": null_modem.client_port, "baudrate": "9600"}
    result = await add_device(hass, home_entry, device_input(502, **serial))

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Eastron SDM630 · grid meter"
    assert "host" not in result["data"]
    assert result["data"]["baudrate"] == 9600
    assert float(state_of(hass, home_entry, "import_energy").state) == pytest.approx(12345.5)
    await hass.config_entries.async_unload(home_entry.entry_id)


async def test_no_value_is_unknown_never_a_number(
    hass: HomeAssistant,
    home_entry: MockConfigEntry,
    allow_local_sockets: None,
    modbus_server: StartModbusServer,
) -> None:
    server = await modbus_server({1: Registers(input=dict(SDM630.test_vectors[1].input))})
    await set_up_home(hass, home_entry)

    await add_device(hass, home_entry, device_input(server.port))

    assert state_of(hass, home_entry, "voltage_l3").state == STATE_UNKNOWN
    assert float(state_of(hass, home_entry, "voltage_l1").state) == 231.25
    await hass.config_entries.async_unload(home_entry.entry_id)


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"host": " "}, "host", "required"),
        ({"transport": "serial", "serial_port": " "}, "serial_port", "required"),
        ({"profile": "huawei_sun2000"}, "base", "wrong_device"),
        # A meter has no "SunS" model list anywhere.
        ({"profile": "sunspec"}, "base", "not_sunspec"),
    ],
)
async def test_add_errors(
    hass: HomeAssistant,
    home_entry: MockConfigEntry,
    sdm630: ModbusTestServer,
    changes: dict[str, Any],
    field: str,
    error: str,
) -> None:
    await set_up_home(hass, home_entry)
    result = await add_device(hass, home_entry, device_input(sdm630.port, **changes))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}


async def test_each_connection_failure_is_named(
    hass: HomeAssistant, home_entry: MockConfigEntry, sdm630: ModbusTestServer, tmp_path: Path
) -> None:
    """A refused port, a missing serial port, a device that does not answer: three messages."""
    await set_up_home(hass, home_entry)
    port = sdm630.port
    await sdm630.stop()
    result = await add_device(hass, home_entry, device_input(port))
    assert result["errors"] == {"base": "refused"}
    await sdm630.start()
    missing = {"transport": "serial", "serial_port": str(tmp_path / "ttyUSB7"), "baudrate": "9600"}
    result = await add_device(hass, home_entry, device_input(port, **missing))
    assert result["step_id"] == "serial"
    assert result["errors"] == {"base": "no_serial_port"}
    # Something listens, but no Modbus device answers there (a wrong port, say).
    with socket.create_server(("127.0.0.1", 0)) as silent:
        silent_port = silent.getsockname()[1]
        result = await add_device(hass, home_entry, device_input(silent_port))
    assert result["errors"] == {"base": "cannot_connect"}


async def test_same_device_twice_aborts(
    hass: HomeAssistant,
    home_entry: MockConfigEntry,
    allow_local_sockets: None,
    modbus_server: StartModbusServer,
) -> None:
    """The same device is refused: at the same address and unit, or by its serial number.

    (``localhost`` next to ``127.0.0.1`` resolves to one address: ``resolved_address``'s tests
    in tests/devices; these tests may resolve no name.)
    """
    vector = SUNSPEC.test_vectors[0]
    holding = vector_holding(vector)
    # One inverter that a gateway shows at two unit ids.
    server = await modbus_server({1: Registers(holding=holding), 2: Registers(holding=holding)})
    await set_up_home(hass, home_entry)
    inverter = device_input(server.port, profile="sunspec", role="pv")
    result = await add_device(hass, home_entry, inverter)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["serial_number"] == vector.expected["serial"]
    for again in (inverter, {**inverter, "unit": 2}):
        result = await add_device(hass, home_entry, again)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "already_configured"
    assert len(home_entry.subentries) == 1
    await hass.config_entries.async_unload(home_entry.entry_id)


async def test_a_role_is_chosen_and_a_second_grid_meter_confirmed(
    hass: HomeAssistant, home_entry: MockConfigEntry, sdm630: ModbusTestServer
) -> None:
    await set_up_home(hass, home_entry)
    result = await hass.config_entries.subentries.async_init(
        (home_entry.entry_id, SUBENTRY_MODBUS), context={"source": SOURCE_USER}
    )
    # Nothing preselected: the form would otherwise offer the first role, the grid's.
    role = next(key for key in result["data_schema"].schema if key == "role")
    assert not isinstance(role, probatio.Required)
    assert role.default is probatio.UNDEFINED
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"profile": "eastron_sdm630", "transport": "tcp"}
    )
    assert result["errors"] == {"role": "role_required"}
    result = await answer_device_steps(hass, result["flow_id"], device_input(sdm630.port))
    assert result["type"] is FlowResultType.CREATE_ENTRY

    # A second grid meter is asked about, naming the first; a sub-meter is not.
    result = await hass.config_entries.subentries.async_init(
        (home_entry.entry_id, SUBENTRY_MODBUS), context={"source": SOURCE_USER}
    )
    # Asked up front once the home has a grid meter.
    assert "another_grid_meter" in [str(key) for key in result["data_schema"].schema]
    second = {"profile": "eastron_sdm630", "role": "grid_meter", "transport": "tcp"}
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], second)
    assert result["errors"] == {"role": "second_grid_meter"}
    assert result["description_placeholders"] == {"grid_meter": "Eastron SDM630 · grid meter"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**second, "role": "load"}
    )
    assert result["step_id"] == "tcp"
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(home_entry.entry_id)


async def test_device_goes_unavailable_and_comes_back(
    hass: HomeAssistant, home_entry: MockConfigEntry, sdm630: ModbusTestServer
) -> None:
    await home_with_meter(hass, home_entry, sdm630)
    assert float(state_of(hass, home_entry, "power").state) == 1100.0
    later = dt_util.utcnow()

    async def next_poll() -> None:
        nonlocal later
        later += timedelta(seconds=11)  # past the 10 s scan interval
        async_fire_time_changed(hass, later)
        await hass.async_block_till_done(wait_background_tasks=True)

    await sdm630.stop()
    await next_poll()
    # One failed poll is a glitch: the last values stay.
    assert float(state_of(hass, home_entry, "power").state) == 1100.0
    await next_poll()
    await next_poll()
    assert state_of(hass, home_entry, "power").state == STATE_UNAVAILABLE

    await sdm630.start()
    await asyncio.sleep(1.1)  # the bus's first reconnect wait is one (real) second
    await next_poll()
    assert float(state_of(hass, home_entry, "power").state) == 1100.0
    await hass.config_entries.async_unload(home_entry.entry_id)


async def test_diagnostics_show_devices_without_addresses(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    home_entry: MockConfigEntry,
    sdm630: ModbusTestServer,
) -> None:
    await home_with_meter(hass, home_entry, sdm630)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, home_entry)

    text = json.dumps(diagnostics)
    assert "127.0.0.1" not in text
    assert CUPS not in text
    (device,) = diagnostics["devices"].values()
    assert device["profile"] == "eastron_sdm630"
    assert device["available"] is True
    assert device["connections_opened"] == 1
    assert device["reads_per_poll"] == [
        {"function": "input", "address": 0, "count": 12},
        {"function": "input", "address": 52, "count": 2},
        {"function": "input", "address": 72, "count": 4},
    ]
    assert device["values"]["import_energy"] == pytest.approx(12345.5)
    await hass.config_entries.async_unload(home_entry.entry_id)


async def test_restart_with_a_device_reads_it(
    hass: HomeAssistant, sdm630: ModbusTestServer
) -> None:
    """A home that already has a device, set up cold as at Home Assistant's start."""
    entry = home_with_device({**device_input(sdm630.port)}, title="Meter")
    await set_up_home(hass, entry)

    assert float(state_of(hass, entry, "import_energy").state) == pytest.approx(12345.5)
    await hass.config_entries.async_unload(entry.entry_id)


# The role each kind of device is added with in the tests below.
ROLES = {
    "eastron_sdm630": "grid_meter",
    "eastron_sdm120": "grid_meter",
    "huawei_sun2000": "pv",
    "sunspec": "pv",
    "victron_gx": "battery",
    "keba_p30": "ev_charger",
}
VECTORS = [
    (profile_id, index)
    for profile_id, profile in sorted(PROFILES.items())
    for index in range(len(profile.test_vectors))
]


@asynccontextmanager
async def home_serving_vector(
    hass: HomeAssistant, modbus_server: StartModbusServer, profile_id: str, index: int
) -> AsyncIterator[MockConfigEntry]:
    """Set up a home whose one device answers with a profile's test vector, as at a restart."""
    case = PROFILES[profile_id].test_vectors[index]
    server = await modbus_server(
        {1: Registers(holding=vector_holding(case), input=dict(case.input))}
    )
    data = device_input(server.port, profile=profile_id, role=ROLES[profile_id])
    if PROFILES[profile_id].sunspec:
        bus = ModbusBus(endpoint_from(data), 1.0)
        data[CONF_SUNSPEC_MODELS] = {str(m): a for m, a in (await discover(bus, 1)).items()}
        bus.close()
    entry = home_with_device(data, title=PROFILES[profile_id].model)
    await set_up_home(hass, entry)
    # Every entity is now enabled in the registry; reloading reads them all, as Home
    # Assistant's reload after a user enables entities does.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(("profile_id", "index"), VECTORS)
async def test_every_profile_vector_through_states(
    hass: HomeAssistant,
    allow_local_sockets: None,
    modbus_server: StartModbusServer,
    entity_registry_enabled_by_default: None,
    profile_id: str,
    index: int,
) -> None:
    """Each vector's values, units and unknowns, as Home Assistant shows them."""
    profile = PROFILES[profile_id]
    expected = profile.test_vectors[index].expected
    async with home_serving_vector(hass, modbus_server, profile_id, index) as entry:
        for register in profile.values:
            state = state_of(hass, entry, register.key)
            assert state.attributes.get("unit_of_measurement") == register.unit, register.key
            if register.key not in expected:
                continue
            value = expected[register.key]
            if value is None:
                assert state.state == STATE_UNKNOWN, register.key
            elif isinstance(value, str):
                assert state.state == value, register.key
            else:
                assert float(state.state) == pytest.approx(value, rel=1e-6), register.key


# The tariff period follows the clock: the snapshot is taken at one moment (that ticks).
@pytest.mark.freeze_time("2026-12-03 12:00:00+00:00", tick=True)
@pytest.mark.parametrize("profile_id", sorted(PROFILES))
async def test_entities_snapshot(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    allow_local_sockets: None,
    modbus_server: StartModbusServer,
    entity_registry_enabled_by_default: None,
    profile_id: str,
) -> None:
    """Every entity of every profile: names, units, classes, categories, values."""
    async with home_serving_vector(hass, modbus_server, profile_id, 0) as entry:
        await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_a_block_that_fails_is_unknown_not_stale(
    hass: HomeAssistant, home_entry: MockConfigEntry, sdm630: ModbusTestServer
) -> None:
    await home_with_meter(hass, home_entry, sdm630)
    assert float(state_of(hass, home_entry, "import_energy").state) == pytest.approx(12345.5)

    # The meter stops serving its energy registers (exception 2 for that block only).
    for address in range(52, 76):
        sdm630.units[1].input.pop(address, None)
    await sdm630.stop()
    await sdm630.start()
    await asyncio.sleep(1.1)  # the bus's reconnect wait after the restart
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=11))
    await hass.async_block_till_done(wait_background_tasks=True)

    assert state_of(hass, home_entry, "import_energy").state == STATE_UNKNOWN
    assert float(state_of(hass, home_entry, "voltage_l1").state) == 231.25
    await hass.config_entries.async_unload(home_entry.entry_id)


async def test_reconfigure_a_device(
    hass: HomeAssistant, home_entry: MockConfigEntry, sdm630: ModbusTestServer
) -> None:
    await home_with_meter(hass, home_entry, sdm630)
    subentry_id = next(iter(home_entry.subentries))

    result = await home_entry.start_subentry_reconfigure_flow(hass, subentry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    # The wrong profile is refused (the meter has no such registers) and nothing changes.
    wrong = await answer_device_steps(
        hass, result["flow_id"], device_input(sdm630.port, profile="huawei_sun2000")
    )
    assert wrong["errors"] == {"base": "wrong_device"}
    # Reconfigured, a device is not a second of its own kind.
    result = await home_entry.start_subentry_reconfigure_flow(hass, subentry_id)
    done = await answer_device_steps(
        hass, result["flow_id"], device_input(sdm630.port, scan_interval=30)
    )
    await hass.async_block_till_done()

    assert done["type"] is FlowResultType.ABORT
    assert done["reason"] == "reconfigure_successful"
    assert_polled_every(home_entry, subentry_id, 30)
    await hass.config_entries.async_unload(home_entry.entry_id)


async def test_add_a_sunspec_inverter_finds_its_models(
    hass: HomeAssistant,
    home_entry: MockConfigEntry,
    allow_local_sockets: None,
    modbus_server: StartModbusServer,
) -> None:
    """The model chain is read when the device is added, kept, and used after a restart."""
    vector = SUNSPEC.test_vectors[0]
    server = await modbus_server({1: Registers(holding=vector_holding(vector))})
    await set_up_home(hass, home_entry)
    result = await add_device(
        hass, home_entry, device_input(server.port, profile="sunspec", role="pv")
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["sunspec_models"] == {"1": 40002, "103": 40070, "203": 40122}
    assert float(state_of(hass, home_entry, "pv_energy").state) == pytest.approx(12345.678)
    assert state_of(hass, home_entry, "inverter_state").state == "mppt"
    assert state_of(hass, home_entry, "inverter_state").attributes["options"] == sorted(
        [
            "off",
            "sleeping",
            "starting",
            "mppt",
            "throttled",
            "shutting_down",
            "fault",
            "standby",
        ]
    )
    # Scale factors are read, never shown.
    registry = er.async_get(hass)
    subentry_id = next(iter(home_entry.subentries))
    assert not [
        e.unique_id
        for e in er.async_entries_for_config_entry(registry, home_entry.entry_id)
        if e.unique_id.startswith(subentry_id) and e.unique_id.endswith("_sf")
    ]
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, subentry_id), home_entry.entry_id
    )
    assert device.serial_number == "34119102"
    # A PV inverter's meter is the grid: the home's consumption follows.
    # 2500 W produced − 1500 W measured at the meter (SunSpec: import positive) = 1000 W.
    assert float(hass.states.get("sensor.casa_consumption").state) == pytest.approx(1000.0)
    await hass.config_entries.async_unload(home_entry.entry_id)


async def test_options_change_a_devices_scan_interval_and_power_sign(
    hass: HomeAssistant, home_entry: MockConfigEntry, sdm630: ModbusTestServer
) -> None:
    """With one device, the options go straight to it, showing the power it reads now."""
    await home_with_meter(hass, home_entry, sdm630)
    subentry_id = next(iter(home_entry.subentries))
    now = float(state_of(hass, home_entry, "power").state)
    assert now != 0
    import_before = float(state_of(hass, home_entry, "import_energy").state)

    result = await hass.config_entries.options.async_init(home_entry.entry_id)
    assert result["step_id"] == "device"
    assert result["description_placeholders"] == {
        "device": "Eastron SDM630 · grid meter",
        "power": f"{now:.0f} W",
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 60, "reverse_power": True}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert_polled_every(home_entry, subentry_id, 60)
    assert home_entry.subentries[subentry_id].data["host"] == "127.0.0.1"
    # Reversed: the meter's power, and the home's balance from it, read the other way.
    assert float(state_of(hass, home_entry, "power").state) == -now
    assert float(hass.states.get("sensor.casa_consumption").state) == max(-now, 0.0)
    # Its counters are swapped with it: what it counted as import was export.
    assert float(state_of(hass, home_entry, "export_energy").state) == import_before
    await hass.config_entries.async_unload(home_entry.entry_id)


async def test_options_ask_which_device_when_there_are_several(
    hass: HomeAssistant,
    home_entry: MockConfigEntry,
    allow_local_sockets: None,
    modbus_server: StartModbusServer,
) -> None:
    case = SDM630.test_vectors[0]
    server = await modbus_server(
        {1: Registers(input=dict(case.input)), 2: Registers(input=dict(case.input))}
    )
    await set_up_home(hass, home_entry)
    for unit, role in ((1, "grid_meter"), (2, "load")):
        result = await add_device(hass, home_entry, device_input(server.port, unit=unit, role=role))
        assert result["type"] is FlowResultType.CREATE_ENTRY
    second = next(s for s in home_entry.subentries.values() if s.data["unit"] == 2)

    result = await hass.config_entries.options.async_init(home_entry.entry_id)
    assert result["step_id"] == "devices"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"device": second.subentry_id}
    )
    assert result["step_id"] == "device"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 5, "reverse_power": False}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    intervals = {s.data["unit"]: s.data["scan_interval"] for s in home_entry.subentries.values()}
    assert intervals == {1: 10, 2: 5}
    await hass.config_entries.async_unload(home_entry.entry_id)


async def test_options_without_devices_abort(
    hass: HomeAssistant, home_entry: MockConfigEntry
) -> None:
    await set_up_home(hass, home_entry)

    result = await hass.config_entries.options.async_init(home_entry.entry_id)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "nothing_to_configure"


async def test_a_device_added_while_the_home_starts_is_not_missed(
    hass: HomeAssistant, sdm630: ModbusTestServer
) -> None:
    """A device saved while the home is still waiting for another one gets set up too."""

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # a gateway that accepts and stays silent

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    silent_port = silent.sockets[0].getsockname()[1]
    entry = home_with_device(device_input(silent_port), title="Silent meter")
    entry.add_to_hass(hass)
    try:
        setup = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
        await asyncio.sleep(0.3)
        assert entry.state is ConfigEntryState.SETUP_IN_PROGRESS  # waiting for the silent one

        hass.config_entries.async_add_subentry(
            entry,
            ConfigSubentry(
                data=MappingProxyType(device_input(sdm630.port)),
                subentry_type=SUBENTRY_MODBUS,
                title="Meter",
                unique_id=f"127.0.0.1:{sdm630.port}/1",
            ),
        )
        await setup
        await hass.async_block_till_done(wait_background_tasks=True)

        assert entry.state is ConfigEntryState.LOADED
        assert len(entry.runtime_data.devices) == 2
        added = next(s for s in entry.subentries.values() if s.title == "Meter")
        energy = er.async_get(hass).async_get_entity_id(
            "sensor", DOMAIN, f"{added.subentry_id}_import_energy"
        )
        assert float(hass.states.get(energy).state) == pytest.approx(12345.5)
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        silent.close()


async def test_add_a_der_with_only_700_series_models(
    hass: HomeAssistant,
    home_entry: MockConfigEntry,
    allow_local_sockets: None,
    modbus_server: StartModbusServer,
) -> None:
    """A chain of 1, 701 and 714 (the DERSec emulator's, the profile's vector): it is read."""
    vector = next(v for v in SUNSPEC.test_vectors if v.sunspec[1][0] == 701)
    server = await modbus_server({1: Registers(holding=vector_holding(vector))})
    await set_up_home(hass, home_entry)

    result = await add_device(
        hass, home_entry, device_input(server.port, profile="sunspec", role="pv")
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["sunspec_models"] == {"1": 40002, "701": 40070, "714": 40225}
    assert float(state_of(hass, home_entry, "pv_power").state) == 9800.0
    assert float(state_of(hass, home_entry, "pv_energy").state) == pytest.approx(0.15)
    assert float(state_of(hass, home_entry, "dc_power").state) == 10000.0
    await hass.config_entries.async_unload(home_entry.entry_id)


async def test_a_sunspec_chain_without_a_model_read_is_named(
    hass: HomeAssistant,
    home_entry: MockConfigEntry,
    allow_local_sockets: None,
    modbus_server: StartModbusServer,
) -> None:
    """A device answering with a model list of nothing read: not "did not answer"."""
    from custom_components.ioe_community.devices.sunspec import image  # noqa: PLC0415

    words = image([(1, {"Mn": "Acme"}), (120, {"WRtg": 3680, "WRtg_SF": 0})])
    server = await modbus_server({1: Registers(holding=words)})
    await set_up_home(hass, home_entry)

    result = await add_device(
        hass, home_entry, device_input(server.port, profile="sunspec", role="pv")
    )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "sunspec_unsupported"}


async def test_options_of_a_device_with_no_direction_ask_only_its_interval(
    hass: HomeAssistant, allow_local_sockets: None, modbus_server: StartModbusServer
) -> None:
    """A charger's power only ever flows one way: nothing to reverse, no power to show."""
    async with home_serving_vector(hass, modbus_server, "keba_p30", 0) as entry:
        result = await hass.config_entries.options.async_init(entry.entry_id)
        assert result["step_id"] == "scan_interval"
        assert list(result["data_schema"].schema) == ["scan_interval"]
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"scan_interval": 30}
        )
        await hass.async_block_till_done()
        assert result["type"] is FlowResultType.CREATE_ENTRY
        subentry = next(iter(entry.subentries.values()))
        assert (subentry.data["scan_interval"], subentry.data["reverse_power"]) == (30, False)
