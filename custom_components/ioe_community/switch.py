"""The switch platform: the home's local control, on or off."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity
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
    """Add the control's switch, on the home's device."""
    if (control := entry.runtime_data.control) is not None:
        add_control_entities(async_add_entities, [ControlSwitch(control, entry.entry_id)])


class ControlSwitch(IoeControlEntity, SwitchEntity, RestoreEntity):
    """Local control on; off sends the battery to its own mode and the charger to its safe state."""

    def __init__(self, coordinator: ControlCoordinator, owner: str) -> None:
        """Switch the home's control."""
        super().__init__(coordinator, "control", owner)

    async def async_added_to_hass(self) -> None:
        """Stay as the household left it before a restart (on, the first time)."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is not None:
            self.coordinator.set_enabled(last.state != "off")

    @property
    def is_on(self) -> bool:
        """Return whether the home controls its devices."""
        return self.coordinator.control.enabled

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Control the devices again."""
        self.coordinator.set_enabled(True)
        self.async_write_ha_state()

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Leave the devices to their own modes."""
        self.coordinator.set_enabled(False)
        self.async_write_ha_state()
