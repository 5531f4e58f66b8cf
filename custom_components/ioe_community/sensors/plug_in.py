"""A charger's energy since a car was plugged in, counted on its total and kept over restarts.

The counting is ``devices.ev_session``'s; this entity feeds it the charger's readings and keeps
the session in Home Assistant's restore state, so that a restart in the middle of a session
goes on counting from the same plug-in. Counted from zero at each plug-in: ``total_increasing``
lets long-term statistics take it (a drop is a new cycle).
"""

from __future__ import annotations

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.const import UnitOfEnergy
from homeassistant.core import callback
from homeassistant.helpers.restore_state import RestoredExtraData, RestoreEntity

from ..coordinator import IoeDeviceCoordinator
from ..devices.ev_session import PlugInSession
from ..devices.profile import PlugInCounter
from ..entity import IoeDeviceEntity


class PlugInEnergySensor(IoeDeviceEntity, SensorEntity, RestoreEntity):
    """Energy charged since the car was plugged in; the last session's until the next one."""

    _attr_device_class = SensorDeviceClass.ENERGY
    _attr_state_class = SensorStateClass.TOTAL_INCREASING
    _attr_native_unit_of_measurement = UnitOfEnergy.KILO_WATT_HOUR

    def __init__(
        self, coordinator: IoeDeviceCoordinator, counter: PlugInCounter, home_device_id: str
    ) -> None:
        """Count on ``counter``'s registers of the coordinator's device."""
        super().__init__(coordinator, counter.key, home_device_id)
        self._attr_translation_key = counter.key
        self._counter = counter
        self._session = PlugInSession()

    async def async_added_to_hass(self) -> None:
        """Go on with the session kept before a restart, then with the device's reading."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_extra_data()) is not None:
            self._session = PlugInSession.from_dict(last.as_dict())
        self._follow()

    @property
    def extra_restore_state_data(self) -> RestoredExtraData:
        """Keep the session (the total at plug-in above all) for after a restart."""
        return RestoredExtraData(self._session.as_dict())

    @property
    def native_value(self) -> float | None:
        """Return the energy since plug-in (kWh), or None before any car was seen plugged in."""
        return self._session.energy_kwh

    @callback
    def _handle_coordinator_update(self) -> None:
        self._follow()
        super()._handle_coordinator_update()

    def _follow(self) -> None:
        values = self.coordinator.data or {}
        total = values.get(self._counter.counter)
        self._session = self._session.follow(
            connected=self._counter.car_connected(values),
            total_kwh=float(total) if isinstance(total, int | float) else None,
        )
