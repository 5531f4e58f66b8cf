"""The home's own sensor: its consumption now, balanced from its devices' flows."""

from __future__ import annotations

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.const import UnitOfPower
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.event import async_track_state_change_event

from .. import IoeCommunityConfigEntry, signal_energy_model
from ..const import CONF_CUPS, DOMAIN
from ..energy_entities import state_in_model_unit
from ..entity import entity_unique_id


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
        self._attr_unique_id = entity_unique_id(entry.entry_id, "consumption_power")
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
            t.source: state_in_model_unit(self.hass.states.get(t.source), "consumption_power")
            for t in terms
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
