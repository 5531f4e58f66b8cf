"""The select platform: the mode of the home's battery and of its car's charger."""

from __future__ import annotations

from homeassistant.components.select import SelectEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from . import IoeCommunityConfigEntry
from .control import ControlCoordinator
from .controls.model import BatteryMode, ChargerMode
from .entity import IoeControlEntity, add_control_entities

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: IoeCommunityConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the modes of the devices the home controls."""
    if (control := entry.runtime_data.control) is None:
        return
    entities: list[IoeControlEntity] = []
    if (battery := control.battery_owner) is not None:
        entities.append(BatteryModeSelect(control, battery))
    if (charger := control.charger_owner) is not None:
        entities.append(ChargerModeSelect(control, charger))
    add_control_entities(async_add_entities, entities)


class BatteryModeSelect(IoeControlEntity, SelectEntity, RestoreEntity):
    """What the battery does: its own mode (the safe default), or one of the home's."""

    def __init__(self, coordinator: ControlCoordinator, owner: str) -> None:
        """Choose the mode of the battery ``owner`` is."""
        super().__init__(coordinator, "battery_mode", owner)
        self._attr_options = [mode.value for mode in BatteryMode]

    async def async_added_to_hass(self) -> None:
        """Take the mode chosen before a restart."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) and last.state in self.options:
            self.coordinator.set_battery(mode=BatteryMode(last.state))

    @property
    def current_option(self) -> str | None:
        """Return the battery's mode."""
        settings = self.coordinator.control.battery
        return settings.mode.value if settings is not None else None

    async def async_select_option(self, option: str) -> None:
        """Change the battery's mode."""
        self.coordinator.set_battery(mode=BatteryMode(option))
        self.async_write_ha_state()


class ChargerModeSelect(IoeControlEntity, SelectEntity, RestoreEntity):
    """How the car charges: off, now, on surplus, minimum plus surplus, or to a plan."""

    def __init__(self, coordinator: ControlCoordinator, owner: str) -> None:
        """Choose the mode of the charger ``owner`` is."""
        super().__init__(coordinator, "charger_mode", owner)
        self._attr_options = [mode.value for mode in ChargerMode]

    async def async_added_to_hass(self) -> None:
        """Take the mode chosen before a restart."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) and last.state in self.options:
            self.coordinator.set_charger(mode=ChargerMode(last.state))

    @property
    def current_option(self) -> str | None:
        """Return the charger's mode."""
        settings = self.coordinator.control.charger
        return settings.mode.value if settings is not None else None

    async def async_select_option(self, option: str) -> None:
        """Change the charger's mode."""
        self.coordinator.set_charger(mode=ChargerMode(option))
        self.async_write_ha_state()
