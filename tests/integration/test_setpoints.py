"""What the controls may write to a device, in a real Home Assistant core.

A setpoint's limits, or a translated refusal. Devices are real pymodbus servers: a Victron GX
before and after Venus OS 3.50 (which added the grid setpoint at 2716), a KEBA P30 and a P40.
"""

from __future__ import annotations

import json
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ioe_community.coordinator import ModbusDeviceCoordinator
from custom_components.ioe_community.devices.profile import Limits, Refusal, available_profiles
from ioe_dev.modbus_server import ModbusTestServer, Registers
from tests.conftest import INTEGRATION, StartModbusServer

from .conftest import set_up_home
from .home_devices import device_input, home_with_device

PROFILES = available_profiles()
GX_INPUT = PROFILES["victron_gx"].test_vectors[0].input
# The ESS settings a GX serves from 2700 (the test server answers its table's range only):
# before Venus OS 3.50 they end before 2716; from 3.50 on, 2716-2717 hold the grid setpoint.
OLD_GX = {2700: 50, 2715: 0}
NEW_GX = {**OLD_GX, 2716: 0, 2717: 50}
TRANSLATIONS = INTEGRATION / "translations"


async def home_with(
    hass: HomeAssistant, server: ModbusTestServer, **data: Any
) -> tuple[MockConfigEntry, ModbusDeviceCoordinator]:
    """Set up a home with one device on ``server``; return it and the device's coordinator."""
    entry = home_with_device(device_input(server.port, **data), title="Casa device")
    await set_up_home(hass, entry)
    coordinator = next(iter(entry.runtime_data.devices.values()))
    assert isinstance(coordinator, ModbusDeviceCoordinator)
    return entry, coordinator


async def test_a_gx_older_than_venus_3_50_is_refused_the_grid_setpoint(
    hass: HomeAssistant, allow_local_sockets: None, modbus_server: StartModbusServer
) -> None:
    gx = Registers(input=dict(GX_INPUT), holding=dict(OLD_GX))
    server = await modbus_server({100: gx})
    entry, coordinator = await home_with(
        hass, server, profile="victron_gx", role="battery", unit=100
    )

    with pytest.raises(HomeAssistantError) as refused:
        await coordinator.async_setpoint_limits("ess_grid_setpoint")

    assert refused.value.translation_key == Refusal.NEEDS_FIRMWARE.value
    assert str(refused.value) == (
        "Casa device cannot take this setpoint: its register 2716 came with Venus OS 3.50, and "
        "the device answers that it does not have it. Update its firmware to Venus OS 3.50 or "
        "later"  # Home Assistant drops the full stop
    )
    # Its other setpoints are not affected.
    minimum_soc = await coordinator.async_setpoint_limits("ess_minimum_soc")
    assert minimum_soc == Limits(minimum=0.0, maximum=100.0)

    # Updated to 3.50 (the GX restarts on the new firmware): asked again, it has the register.
    await server.stop()
    gx.holding = dict(NEW_GX)
    await server.start()
    limits = await coordinator.async_setpoint_limits("ess_grid_setpoint")
    assert limits == Limits(minimum=-100_000.0, maximum=100_000.0)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_gx_from_venus_3_50_takes_the_grid_setpoint(
    hass: HomeAssistant, allow_local_sockets: None, modbus_server: StartModbusServer
) -> None:
    server = await modbus_server({100: Registers(input=dict(GX_INPUT), holding=dict(NEW_GX))})
    entry, coordinator = await home_with(
        hass, server, profile="victron_gx", role="battery", unit=100
    )

    limits = await coordinator.async_setpoint_limits("ess_grid_setpoint")
    again = await coordinator.async_setpoint_limits("ess_grid_setpoint")

    assert limits == again == Limits(minimum=-100_000.0, maximum=100_000.0)
    # Found once, the register is not asked for again.
    assert [r for r in server.requests if r[2] == 2716] == [(100, 3, 2716, 2)]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("vector", "model", "pause"), [(0, "KeContact P30", None), (2, "KeContact P40", 0.0)]
)
async def test_a_keba_p40_may_be_paused_at_0_a(
    hass: HomeAssistant,
    allow_local_sockets: None,
    modbus_server: StartModbusServer,
    vector: int,
    model: str,
    pause: float | None,
) -> None:
    holding = PROFILES["keba_p30"].test_vectors[vector].holding
    server = await modbus_server({255: Registers(holding=dict(holding))})
    entry, coordinator = await home_with(
        hass, server, profile="keba_p30", role="ev_charger", unit=255
    )

    limits = await coordinator.async_setpoint_limits("charging_current")

    assert coordinator.model == model
    assert limits == Limits(minimum=6.0, maximum=32.0, pause=pause)
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_refusal_has_a_message(language: str) -> None:
    """Refusals are translation keys made from data: the code checks cannot see them."""
    exceptions = json.loads((TRANSLATIONS / f"{language}.json").read_text())["exceptions"]
    for refusal in Refusal:
        assert exceptions[refusal.value]["message"], refusal
