"""The time platform: when the car must be ready, for the charger's plan."""

from __future__ import annotations

from contextlib import suppress
from datetime import time

from homeassistant.components.time import TimeEntity
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from . import IoeCommunityConfigEntry
from .control import ControlCoordinator
from .entity import IoeControlEntity, add_control_entities

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: IoeCommunityConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the car's ready-by time, when the home controls a charger."""
    control = entry.runtime_data.control
    if control is not None and (owner := control.charger_owner) is not None:
        add_control_entities(async_add_entities, [ReadyByTime(control, owner)])


class ReadyByTime(IoeControlEntity, TimeEntity, RestoreEntity):
    """The time of day the plan charges the car's target energy by."""

    _attr_entity_category = EntityCategory.CONFIG

    def __init__(self, coordinator: ControlCoordinator, owner: str) -> None:
        """Set the ready-by time of the charger ``owner`` is."""
        super().__init__(coordinator, "car_ready_by", owner)

    async def async_added_to_hass(self) -> None:
        """Take the time set before a restart."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is not None:
            with suppress(ValueError):  # unknown before it was ever set
                self.coordinator.set_ready_by(time.fromisoformat(last.state))

    @property
    def native_value(self) -> time | None:
        """Return the ready-by time."""
        return self.coordinator.ready_by

    async def async_set_value(self, value: time) -> None:
        """Change the ready-by time."""
        self.coordinator.set_ready_by(value)
        self.async_write_ha_state()
