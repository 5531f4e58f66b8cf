"""Sensors of the home's devices: every value a profile or an MQTT meter gives, as HA knows it.

A device's sensors are added as it starts and removed as it stops, under its own subentry.
"""

from __future__ import annotations

import asyncio
import functools

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback, EntityPlatform

from ..coordinator import IoeDeviceCoordinator, ModbusDeviceCoordinator, MqttMeterCoordinator
from ..devices.mqtt_meter import QUANTITIES, Quantity
from ..devices.profile import Register
from ..entity import IoeDeviceEntity
from .plug_in import PlugInEnergySensor


def description_for(register: Register | Quantity) -> SensorEntityDescription:
    """Return the sensor description of a profile register or an MQTT meter's value."""
    return SensorEntityDescription(
        key=register.key,
        translation_key=register.key,
        native_unit_of_measurement=register.unit or None,
        device_class=SensorDeviceClass(register.device_class) if register.device_class else None,
        state_class=SensorStateClass(register.state_class) if register.state_class else None,
        entity_category=EntityCategory.DIAGNOSTIC if register.diagnostic else None,
        entity_registry_enabled_default=register.enabled_by_default,
        options=sorted(set(register.options.values())) if register.options else None,
    )


class DeviceSensors:
    """The sensors of the home's devices: added as a device starts, removed as it stops.

    An MQTT meter's values are known from its messages: a value it sends for the first time
    gets its sensor then.
    """

    def __init__(
        self,
        platform: EntityPlatform,
        async_add_entities: AddConfigEntryEntitiesCallback,
        home_device_id: str,
    ) -> None:
        """Add sensors to ``platform``: at once, or (new MQTT values) through the callback."""
        self._platform = platform
        self._async_add_entities = async_add_entities
        self._home_device_id = home_device_id

    async def async_add(self, coordinator: IoeDeviceCoordinator) -> None:
        """Add a device's sensors under its subentry; return once they are registered.

        The home's energy model is made of their registry entries. A device whose subentry was
        removed meanwhile gets none (it is stopped next).
        """
        subentry_id = coordinator.subentry.subentry_id
        if subentry_id not in coordinator.config_entry.subentries:
            return
        sensors: list[SensorEntity] = [
            IoeDeviceSensor(coordinator, description_for(quantity), self._home_device_id)
            for quantity in coordinator.quantities
        ]
        if isinstance(coordinator, ModbusDeviceCoordinator) and coordinator.profile.plug_in:
            sensors.append(
                PlugInEnergySensor(coordinator, coordinator.profile.plug_in, self._home_device_id)
            )
        if isinstance(coordinator, MqttMeterCoordinator):
            coordinator.async_add_new_key_listener(functools.partial(self._add_keys, coordinator))
        await self._platform.async_add_entities(sensors, config_subentry_id=subentry_id)

    @callback
    def _add_keys(self, coordinator: MqttMeterCoordinator, keys: list[str]) -> None:
        self._async_add_entities(
            (
                IoeDeviceSensor(coordinator, description_for(QUANTITIES[key]), self._home_device_id)
                for key in keys
            ),
            config_subentry_id=coordinator.subentry.subentry_id,
        )

    async def async_remove(self, coordinator: IoeDeviceCoordinator) -> None:
        """Remove a device's sensors from Home Assistant (their registry entries stay).

        A removed device's entries are Home Assistant's to delete with its subentry.
        """
        await asyncio.gather(
            *(
                entity.async_remove()
                for entity in list(self._platform.entities.values())
                if isinstance(entity, IoeDeviceEntity) and entity.coordinator is coordinator
            )
        )


class IoeDeviceSensor(IoeDeviceEntity, SensorEntity):
    """One value of one device."""

    def __init__(
        self,
        coordinator: IoeDeviceCoordinator,
        description: SensorEntityDescription,
        home_device_id: str,
    ) -> None:
        """Describe the sensor."""
        super().__init__(coordinator, description.key, home_device_id)
        self.entity_description = description

    @property
    def native_value(self) -> float | str | None:
        """Return the last value read, or None when the device has none."""
        return (self.coordinator.data or {}).get(self.entity_description.key)
