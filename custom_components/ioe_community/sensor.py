"""Sensors of the home's devices: every register a profile describes, as HA understands it."""

from __future__ import annotations

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import IoeCommunityConfigEntry
from .coordinator import IoeDeviceCoordinator, MqttMeterCoordinator
from .devices.mqtt_meter import QUANTITIES, Quantity
from .devices.profile import Register
from .entity import IoeDeviceEntity

# Each device is polled by its own coordinator; entities never update on their own.
PARALLEL_UPDATES = 0


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


async def async_setup_entry(
    hass: HomeAssistant,
    entry: IoeCommunityConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of every configured device, each under its own subentry.

    An MQTT meter's values are known from its messages: a value it sends for the first time
    gets its sensor then.
    """
    home_device_id = entry.runtime_data.device_id
    for subentry_id, coordinator in entry.runtime_data.devices.items():
        async_add_entities(
            (
                IoeDeviceSensor(coordinator, description_for(quantity), home_device_id)
                for quantity in coordinator.quantities
            ),
            config_subentry_id=subentry_id,
        )
        if isinstance(coordinator, MqttMeterCoordinator):

            @callback
            def _add(
                keys: list[str],
                coordinator: MqttMeterCoordinator = coordinator,
                subentry_id: str = subentry_id,
            ) -> None:
                async_add_entities(
                    (
                        IoeDeviceSensor(
                            coordinator, description_for(QUANTITIES[key]), home_device_id
                        )
                        for key in keys
                    ),
                    config_subentry_id=subentry_id,
                )

            entry.async_on_unload(coordinator.async_add_new_key_listener(_add))


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
