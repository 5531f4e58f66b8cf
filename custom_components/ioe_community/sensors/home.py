"""The home's own sensor: its consumption now, balanced from its devices' flows."""

from __future__ import annotations

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.const import UnitOfPower
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo

from .. import IoeCommunityConfigEntry
from ..const import CONF_CUPS, DOMAIN
from ..entity import entity_unique_id
from ..flows import FlowTracker


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
        self._attr_unique_id = entity_unique_id(entry.entry_id, "consumption_power")
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, entry.data[CONF_CUPS])})
        self._flows = FlowTracker(
            entry, lambda model: model.consumption_terms(energy=False), self._flows_changed
        )

    async def async_added_to_hass(self) -> None:
        """Follow the model's flows (once the model is known)."""
        self.async_on_remove(self._flows.async_start(self.hass))

    @callback
    def _flows_changed(self) -> None:
        estimate = self._flows.estimate("consumption_power")
        self._attr_available = estimate is not None
        if estimate is None:
            self._attr_native_value = None
        else:
            # A flow without a value (an inverter off the network) counts as zero meanwhile; a
            # balance below zero (flows read at different instants, a flow missing) is made 0.
            self._attr_native_value = round(max(estimate.value, 0.0), 1)
            self._attr_extra_state_attributes = {
                "estimated": not estimate.complete or estimate.value < 0
            }
        self.async_write_ha_state()
