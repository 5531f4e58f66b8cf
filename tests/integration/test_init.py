"""Setting up and unloading a home entry in a real Home Assistant core."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ioe_community.const import DOMAIN

from .conftest import CUPS, set_up_home


async def test_setup_registers_supply_point_and_unloads(
    hass: HomeAssistant, home_entry: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    await set_up_home(hass, home_entry)

    device = device_registry.async_get_device_by_identifier((DOMAIN, CUPS), home_entry.entry_id)
    assert device is not None
    assert device.name == "Casa"
    assert device.serial_number == CUPS
    assert home_entry.runtime_data.device_id == device.id

    assert await hass.config_entries.async_unload(home_entry.entry_id)
    await hass.async_block_till_done()
    assert home_entry.state is ConfigEntryState.NOT_LOADED


async def test_removing_entry_removes_its_device(
    hass: HomeAssistant, home_entry: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    await set_up_home(hass, home_entry)

    assert await hass.config_entries.async_remove(home_entry.entry_id)
    await hass.async_block_till_done()

    assert (
        device_registry.async_get_device_by_identifier((DOMAIN, CUPS), home_entry.entry_id) is None
    )
