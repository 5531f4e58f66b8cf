"""The binary sensor platform: "community surplus for me", for the household's automations."""

from __future__ import annotations

from typing import Any

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import IoeCommunityConfigEntry
from .sensors.share import ShareEntity
from .share import SURPLUS_FOR_ME_W

# Entities follow the link's coordinator, the grid meter and the clock: none polls.
PARALLEL_UPDATES = 0


class SurplusForMeBinarySensor(ShareEntity, BinarySensorEntity):
    """On while the home's unused share is at least ``SURPLUS_FOR_ME_W``: time to run things."""

    @property
    def is_on(self) -> bool | None:
        """Return whether the unused share now covers a load worth starting."""
        value = self.unused_w
        return None if value is None else value >= SURPLUS_FOR_ME_W

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Give the unused share (W) with where the allocation was read."""
        attributes = super().extra_state_attributes
        value = self.unused_w
        if attributes is None or value is None:
            return attributes
        return {**attributes, "unused_w": round(value, 1)}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: IoeCommunityConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add "community surplus for me" to a home that is a member of a community."""
    home = entry.runtime_data
    if (link := home.community) is not None:
        async_add_entities(
            [SurplusForMeBinarySensor(entry, link, home.device_id, "surplus_for_me")]
        )
