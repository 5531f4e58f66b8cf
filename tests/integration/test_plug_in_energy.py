"""A KEBA's energy since plug-in, in a real Home Assistant core, across a restart.

The charger is a real pymodbus server answering with the profile's P40 vectors: unplugged after
a 10 kWh session, plugged in again (its own session counter, 1502, still shows those 10 kWh),
charging. The energy since plug-in is counted on the total (1036) and kept in Home Assistant's
restore state.
"""

from __future__ import annotations

from datetime import timedelta

from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_restore_state_shutdown_restart,
)

from custom_components.ioe_community.const import DOMAIN
from custom_components.ioe_community.devices.decode import encode
from custom_components.ioe_community.devices.profile import available_profiles
from ioe_dev.modbus_server import Registers
from tests.conftest import StartModbusServer

from .conftest import set_up_home
from .home_devices import device_input, home_with_device, state_of

KEBA = available_profiles()["keba_p30"]
UNPLUGGED, PLUGGED, CHARGING = (KEBA.test_vectors[i].holding for i in (2, 3, 4))
# Every word of the charger's map, 0 unless a vector says otherwise.
ZEROS = dict.fromkeys(range(1000, 1504), 0)


class Charger:
    """A KEBA at unit 255 whose registers the test changes between Home Assistant's polls."""

    def __init__(self) -> None:
        """Start unplugged, after a 10 kWh session."""
        self.registers = Registers(holding={**ZEROS, **UNPLUGGED})

    def show(self, holding: dict[int, int], **values: float) -> None:
        """Answer with a vector's words, and some values changed (in the profile's units)."""
        words = {**ZEROS, **holding}
        for key, value in values.items():
            register = KEBA.register(key)
            for offset, word in enumerate(encode(register, value)):
                words[register.address + offset] = word
        self.registers.holding = words


@pytest.fixture
async def charger(
    allow_local_sockets: None, modbus_server: StartModbusServer
) -> tuple[Charger, int]:
    """Serve a P40 and return it with its port."""
    found = Charger()
    server = await modbus_server({255: found.registers})
    return found, server.port


def charger_entry(port: int) -> MockConfigEntry:
    return home_with_device(
        device_input(port, profile="keba_p30", role="ev_charger", unit=255), title="Charger"
    )


async def next_poll(hass: HomeAssistant) -> None:
    """Let the charger's 10 s scan interval pass."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=11))
    await hass.async_block_till_done(wait_background_tasks=True)


def energies(hass: HomeAssistant, entry: MockConfigEntry) -> tuple[str, str]:
    """Return (energy since plug-in, the charger's own session counter) as states."""
    return (
        state_of(hass, entry, "plug_in_energy").state,
        state_of(hass, entry, "session_energy").state,
    )


async def test_energy_since_plug_in_goes_on_across_a_restart(
    hass: HomeAssistant,
    charger: tuple[Charger, int],
    entity_registry_enabled_by_default: None,
) -> None:
    device, port = charger
    entry = charger_entry(port)
    await set_up_home(hass, entry)
    # Every entity is now enabled in the registry: reloaded, the charger's own counter is read.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    # No car seen plugged in yet: nothing counted. The charger's counter shows its last session.
    assert energies(hass, entry) == (STATE_UNKNOWN, "10.0")

    device.show(PLUGGED)
    await next_poll(hass)
    # Plugged in again: the charger still shows the previous session's 10 kWh; nothing is charged.
    assert energies(hass, entry) == ("0.0", "10.0")

    device.show(CHARGING)
    await next_poll(hass)
    assert energies(hass, entry) == ("2.5", "2.5")

    # Home Assistant stops in the middle of the session; the car charges on meanwhile.
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await async_mock_restore_state_shutdown_restart(hass)
    device.show(CHARGING, ev_energy=20016.0, session_energy=6.0)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    # Counted from the same plug-in, not from the restart.
    assert energies(hass, entry) == ("6.0", "6.0")

    # Unplugged: the session's energy stays until the next car.
    device.show(UNPLUGGED, ev_energy=20016.0, session_energy=6.0)
    await next_poll(hass)
    assert energies(hass, entry) == ("6.0", "6.0")

    # The next plug-in starts again from 0, while the charger's counter keeps the last session.
    device.show(PLUGGED, ev_energy=20016.0, session_energy=6.0)
    await next_poll(hass)
    assert energies(hass, entry) == ("0.0", "6.0")
    await hass.config_entries.async_unload(entry.entry_id)


async def test_energy_since_plug_in_is_read_with_every_entity_at_its_default(
    hass: HomeAssistant, charger: tuple[Charger, int]
) -> None:
    """The counter and cable state are read even if their entities were disabled."""
    device, port = charger
    device.show(PLUGGED)
    entry = charger_entry(port)
    await set_up_home(hass, entry)

    assert state_of(hass, entry, "plug_in_energy").state == "0.0"
    # The charger's own session counter is a diagnostic, disabled: not read.
    subentry_id = next(iter(entry.subentries))
    registry = er.async_get(hass)
    counter = registry.async_get_entity_id("sensor", DOMAIN, f"{subentry_id}_session_energy")
    assert counter is not None
    assert registry.async_get(counter).disabled
    assert "session_energy" not in entry.runtime_data.devices[subentry_id].data
    # The model is told apart: this is a P40.
    device_entry = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, subentry_id), entry.entry_id
    )
    assert device_entry is not None
    assert device_entry.model == "KeContact P40"
    await hass.config_entries.async_unload(entry.entry_id)
