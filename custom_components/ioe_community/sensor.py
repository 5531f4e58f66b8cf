"""Sensors of the home's devices: every register a profile describes, as HA understands it."""

from __future__ import annotations

import asyncio
import functools

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfPower
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import (
    AddConfigEntryEntitiesCallback,
    EntityPlatform,
    async_get_current_platform,
)
from homeassistant.helpers.event import async_track_state_change_event

from . import IoeCommunityConfigEntry, signal_energy_model
from .const import CONF_CUPS, DOMAIN
from .coordinator import IoeDeviceCoordinator, ModbusDeviceCoordinator, MqttMeterCoordinator
from .devices.mqtt_meter import QUANTITIES, Quantity
from .devices.profile import Register
from .energy_model import reading
from .entity import IoeDeviceEntity
from .sensors.community import SENSORS, CommunitySensor
from .sensors.plug_in import PlugInEnergySensor

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
    """Add the home's sensors, and those of every configured device under its own subentry.

    A device started later (added or changed while the home runs) gets its sensors through
    ``DeviceSensors``, kept in the home's runtime data.
    """
    home = entry.runtime_data
    async_add_entities([HomeConsumptionPowerSensor(entry)])
    if (link := home.community) is not None:
        async_add_entities(
            CommunitySensor(entry, link, description, home.device_id) for description in SENSORS
        )
    sensors = DeviceSensors(async_get_current_platform(), async_add_entities, home.device_id)
    for coordinator in home.devices.values():
        await sensors.async_add(coordinator)
    home.sensors = sensors


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


class HomeConsumptionPowerSensor(SensorEntity):
    """The home's consumption now: measured, or from its grid, PV and battery flows.

    Unavailable when the home has no grid measurement (nothing to balance) or the grid has no
    value; a PV or battery flow without one counts as zero and marks the value estimated.
    """

    _attr_has_entity_name = True
    _attr_translation_key = "consumption_power"
    _attr_device_class = SensorDeviceClass.POWER
    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_native_unit_of_measurement = UnitOfPower.WATT
    _attr_should_poll = False
    _attr_available = False

    def __init__(self, entry: IoeCommunityConfigEntry) -> None:
        """Attach the sensor to the home's device."""
        self._entry = entry
        self._attr_unique_id = f"{entry.entry_id}_consumption_power"
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, entry.data[CONF_CUPS])})
        self._unsubscribe: list[CALLBACK_TYPE] = []

    async def async_added_to_hass(self) -> None:
        """Follow the model's flows once the model is known."""
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, signal_energy_model(self._entry.entry_id), self._follow_model
            )
        )
        self.async_on_remove(self._stop_following)
        if self._entry.runtime_data.energy_model is not None:
            self._follow_model()

    @callback
    def _stop_following(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    @callback
    def _follow_model(self) -> None:
        self._stop_following()
        model = self._entry.runtime_data.energy_model
        terms = model.consumption_terms(energy=False) if model else None
        if terms:
            self._unsubscribe.append(
                async_track_state_change_event(
                    self.hass, sorted({t.source for t in terms}), self._flows_changed
                )
            )
        self._compute()
        self.async_write_ha_state()

    @callback
    def _flows_changed(self, event: Event[EventStateChangedData]) -> None:
        self._compute()
        self.async_write_ha_state()

    def _compute(self) -> None:
        model = self._entry.runtime_data.energy_model
        if model is None:
            return
        terms = model.consumption_terms(energy=False) or ()
        readings = {
            t.source: reading(self.hass.states.get(t.source), "consumption_power") for t in terms
        }
        estimate = model.estimate("consumption_power", readings)
        self._attr_available = estimate is not None
        if estimate is None:
            self._attr_native_value = None
            return
        # A flow without a value (an inverter off the network) counts as zero meanwhile; a
        # balance below zero (flows read at different instants, a flow missing) is made 0.
        self._attr_native_value = round(max(estimate.value, 0.0), 1)
        self._attr_extra_state_attributes = {
            "estimated": not estimate.complete or estimate.value < 0
        }
