"""Setting up and unloading a home entry in a real Home Assistant core."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ioe_community import async_migrate_entry
from custom_components.ioe_community.const import CONF_CUPS, DOMAIN, SUBENTRY_MODBUS, SUBENTRY_MQTT

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


async def test_devices_titled_by_address_get_model_and_role(hass: HomeAssistant) -> None:
    """Titles from before 0.2 named the device by address or topic (a Shelly's holds its MAC)."""
    modbus = {"profile": "eastron_sdm630", "role": "grid_meter", "transport": "tcp"}
    modbus |= {"host": "192.168.1.50", "port": 502, "unit": 1, "scan_interval": 10}
    shelly = {"format": "shelly", "topic": "shellyproem50-08f9e0e5b1a4", "role": "pv"}
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Casa",
        unique_id=CUPS,
        data={CONF_NAME: "Casa", CONF_CUPS: CUPS},
        version=1,
        minor_version=2,
        subentries_data=[
            {
                "subentry_type": SUBENTRY_MODBUS,
                "title": "Eastron SDM630 (192.168.1.50:502 #1)",
                "unique_id": "192.168.1.50:502/1",
                "data": modbus,
            },
            {
                "subentry_type": SUBENTRY_MQTT,
                "title": "Shelly shellyproem50-08f9e0e5b1a4 (2)",
                "unique_id": "mqtt/shelly/shellyproem50-08f9e0e5b1a4#1",
                "data": {**shelly, "channel": 1, "keys": ["power"]},
            },
            {
                "subentry_type": SUBENTRY_MODBUS,
                "title": "Contador del garaje",  # the household's own: kept
                "unique_id": "192.168.1.51:502/1",
                "data": {**modbus, "host": "192.168.1.51", "role": "load"},
            },
        ],
    )
    entry.add_to_hass(hass)
    await hass.config.async_update(language="es")
    # As Home Assistant migrates before setting up (which would reach for the devices).
    assert await async_migrate_entry(hass, entry)

    assert entry.minor_version == 3
    assert sorted(subentry.title for subentry in entry.subentries.values()) == [
        "Contador del garaje",
        "Eastron SDM630 · contador de red",
        "Shelly (2) · solar",
    ]
