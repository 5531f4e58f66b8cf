"""The number platform: the household's targets for its battery and its car."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntityDescription,
    NumberMode,
    RestoreNumber,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfEnergy, UnitOfPower
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import IoeCommunityConfigEntry
from .control import ControlCoordinator
from .controls.model import Limits
from .entity import IoeControlEntity, add_control_entities

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class ControlNumberDescription(NumberEntityDescription):
    """A setting of the battery's or the charger's, by its field in the core's settings."""

    field: str
    battery: bool  # the battery's setting (else the charger's)
    # The range, from the household's limits, where it depends on them.
    range_fn: Callable[[Limits], tuple[float, float]] | None = None


def _soc(key: str, field: str) -> ControlNumberDescription:
    """Return the description of a battery setting in % of state of charge."""
    return ControlNumberDescription(
        key=key,
        field=field,
        battery=True,
        native_min_value=0,
        native_max_value=100,
        native_step=1,
        native_unit_of_measurement=PERCENTAGE,
        device_class=NumberDeviceClass.BATTERY,
        entity_category=EntityCategory.CONFIG,
        mode=NumberMode.SLIDER,
    )


NUMBERS: tuple[ControlNumberDescription, ...] = (
    _soc("reserve_soc", "reserve_soc"),
    _soc("valley_target_soc", "valley_target_soc"),
    _soc("battery_priority_soc", "priority_soc"),
    ControlNumberDescription(
        key="manual_charge_power",
        field="manual_charge_w",
        battery=True,
        native_step=50,
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=NumberDeviceClass.POWER,
        mode=NumberMode.BOX,
        range_fn=lambda limits: (-limits.max_discharge_w, limits.max_charge_w),
    ),
    ControlNumberDescription(
        key="car_target_energy",
        field="target_kwh",
        battery=False,
        native_min_value=0,
        native_max_value=150,
        native_step=0.5,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        device_class=NumberDeviceClass.ENERGY,
        mode=NumberMode.BOX,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: IoeCommunityConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the settings of the devices the home controls."""
    if (control := entry.runtime_data.control) is None:
        return
    owners = {True: control.battery_owner, False: control.charger_owner}
    add_control_entities(
        async_add_entities,
        (
            ControlNumber(control, description, owner)
            for description in NUMBERS
            if (owner := owners[description.battery]) is not None
        ),
    )


class ControlNumber(IoeControlEntity, RestoreNumber):
    """One of the household's targets; kept across restarts."""

    entity_description: ControlNumberDescription

    def __init__(
        self, coordinator: ControlCoordinator, description: ControlNumberDescription, owner: str
    ) -> None:
        """Set ``description``'s field of the device ``owner`` is."""
        super().__init__(coordinator, description.key, owner)
        self.entity_description = description
        if description.range_fn is not None:
            low, high = description.range_fn(coordinator.control.limits)
            self._attr_native_min_value, self._attr_native_max_value = low, high

    async def async_added_to_hass(self) -> None:
        """Take the value set before a restart."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_number_data()) and last.native_value is not None:
            self._set(last.native_value)

    @property
    def native_value(self) -> float | None:
        """Return the setting's value."""
        control = self.coordinator.control
        settings = control.battery if self.entity_description.battery else control.charger
        return getattr(settings, self.entity_description.field) if settings else None

    async def async_set_native_value(self, value: float) -> None:
        """Change the setting."""
        self._set(value)
        self.async_write_ha_state()

    def _set(self, value: float) -> None:
        change = {self.entity_description.field: value}
        if self.entity_description.battery:
            self.coordinator.set_battery(**change)
        else:
            self.coordinator.set_charger(**change)
