"""The IoE Community integration: a home's energy devices and its link to the energy community."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .const import CONF_CUPS, DOMAIN

# Later features (devices, community results, controls) add their platforms here.
PLATFORMS: list[Platform] = []


@dataclass(frozen=True, kw_only=True)
class IoeHome:
    """What a loaded home entry holds at run time."""

    cups: str
    device_id: str


type IoeCommunityConfigEntry = ConfigEntry[IoeHome]


async def async_setup_entry(hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> bool:
    """Set up a home: its supply point as a device, then the platforms."""
    cups: str = entry.data[CONF_CUPS]
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, cups)},
        manufacturer="IoE Community",
        name=entry.title,
        serial_number=cups,
    )
    entry.runtime_data = IoeHome(cups=cups, device_id=device.id)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> bool:
    """Unload a home entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
