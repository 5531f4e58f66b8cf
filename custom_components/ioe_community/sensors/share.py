"""The household's signals for its automations: its share now and ahead, and the tariff period.

On the membership device: the allocation now, the unused share now, "community surplus for
me" (``binary_sensor.py``) and the forecast of the share (``share.py`` says how each is read).
They follow what the community sends, the home's own grid meter and the clock, so they go on
with the last forecast when the link is down. On the home's device: the 2.0TD period now and
its next change, worked out in the home (no link needed).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.const import UnitOfEnergy, UnitOfPower
from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.event import async_track_point_in_utc_time, async_track_utc_time_change
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from homeassistant.util import dt as dt_util

from ..community import CommunityCoordinator, CommunityLink
from ..const import CONF_CUPS, DOMAIN
from ..controls import tariff
from ..entity import entity_unique_id
from ..flows import FlowTracker
from ..share import AllocationNow, allocation_now, forecast_attributes, rest_of_day_kwh, unused_w
from .community import membership_device_info, membership_unique_id

if TYPE_CHECKING:
    from .. import IoeCommunityConfigEntry

# Ceuta and Melilla keep the peak an hour later; Home Assistant's zone there is Africa/Ceuta.
_CEUTA_MELILLA_ZONE = "Africa/Ceuta"


class ShareEntity(CoordinatorEntity[CommunityCoordinator], Entity):
    """A figure of the home's share now: refreshed by the community, the grid meter, the clock.

    The link refreshes it when the community's state grows old (the forecast takes over during
    an outage); each hour too, as the forecast's hours move on.
    """

    _attr_has_entity_name = True
    _unrecorded_attributes = frozenset({"source"})

    def __init__(
        self, entry: IoeCommunityConfigEntry, link: CommunityLink, home_device_id: str, key: str
    ) -> None:
        """Put the entity on the home's membership device."""
        super().__init__(link.coordinator)
        self._attr_translation_key = key
        self._attr_unique_id = membership_unique_id(entry, link, key)
        self._attr_device_info = membership_device_info(entry, link, home_device_id)
        self._grid = FlowTracker(entry, lambda model: model.terms.get("grid_power"), self._refresh)
        self._allocation: AllocationNow | None = None
        self._import_w: float | None = None

    async def async_added_to_hass(self) -> None:
        """Follow the grid meter and the clock as well as the community."""
        await super().async_added_to_hass()
        self.async_on_remove(self._grid.async_start(self.hass))
        self.async_on_remove(
            async_track_utc_time_change(self.hass, self._each_hour, minute=0, second=0)
        )
        self._read(dt_util.utcnow())

    @callback
    def _handle_coordinator_update(self) -> None:
        self._refresh()

    @callback
    def _each_hour(self, _now: datetime) -> None:
        self._refresh()

    @callback
    def _refresh(self) -> None:
        self._read(dt_util.utcnow())
        if self.hass is not None:
            self.async_write_ha_state()

    def _read(self, now: datetime) -> None:
        """Read the allocation now and the home's import now."""
        self._allocation = allocation_now(self.coordinator.data, now)
        estimate = self._grid.estimate("grid_power")
        # Only a whole measurement: a grid meter of several phases missing one is no import.
        self._import_w = (
            None if estimate is None or not estimate.complete else max(estimate.value, 0.0)
        )

    @property
    def unused_w(self) -> float | None:
        """The unused share now (W), None when the allocation or the import is unknown."""
        return unused_w(self._allocation, self._import_w)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Say where the allocation now was read: the community's state, or the forecast."""
        return None if self._allocation is None else {"source": self._allocation.source}


class SharePowerSensor(ShareEntity, SensorEntity):
    """A power of the member's share now (W): the allocation, or what of it goes unused."""

    _attr_device_class = SensorDeviceClass.POWER
    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_native_unit_of_measurement = UnitOfPower.WATT
    _attr_suggested_display_precision = 0

    def __init__(
        self, entry: IoeCommunityConfigEntry, link: CommunityLink, home: str, *, unused: bool
    ) -> None:
        """Show the unused share now if ``unused``, else the allocation now."""
        super().__init__(entry, link, home, "unused_share" if unused else "allocated_power")
        self._unused = unused

    @property
    def native_value(self) -> float | None:
        """Return the power now (W)."""
        if self._unused:
            value = self.unused_w
        else:
            value = None if self._allocation is None else self._allocation.power_w
        return None if value is None else round(value, 1)


class ShareForecastSensor(CoordinatorEntity[CommunityCoordinator], SensorEntity):
    """The forecast of the member's share: the energy left for today, and hour by hour.

    The hours are attributes (not recorded: they change every hour and the recorder keeps
    the state); they move on with the clock, also while no new forecast comes.
    """

    _attr_has_entity_name = True
    _attr_translation_key = "share_forecast"
    _attr_device_class = SensorDeviceClass.ENERGY
    _attr_native_unit_of_measurement = UnitOfEnergy.KILO_WATT_HOUR
    _attr_suggested_display_precision = 2
    _unrecorded_attributes = frozenset({"detailedHourly", "wh_hours"})

    def __init__(self, entry: IoeCommunityConfigEntry, link: CommunityLink, home: str) -> None:
        """Put the sensor on the home's membership device."""
        super().__init__(link.coordinator)
        self._attr_unique_id = membership_unique_id(entry, link, "share_forecast")
        self._attr_device_info = membership_device_info(entry, link, home)

    async def async_added_to_hass(self) -> None:
        """Move on with the hours as well as with each forecast."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_track_utc_time_change(self.hass, self._hour_passed, minute=0, second=0)
        )

    @callback
    def _hour_passed(self, _now: datetime) -> None:
        self.async_write_ha_state()

    @property
    def native_value(self) -> float | None:
        """Return the energy the share is expected to bring from now to midnight (kWh)."""
        return rest_of_day_kwh(self.coordinator.data.forecast, dt_util.utcnow())

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the hours as energy-forecast cards and optimisers read them."""
        return forecast_attributes(self.coordinator.data.forecast, dt_util.utcnow())


class TariffPeriodSensor(SensorEntity):
    """The home's 2.0TD energy period now (P1, P2, P3) and when it next changes.

    Worked out in the home from the local clock and the national calendar: it needs no link.
    """

    _attr_has_entity_name = True
    _attr_translation_key = "tariff_period"
    _attr_device_class = SensorDeviceClass.ENUM
    _attr_should_poll = False

    def __init__(self, entry: IoeCommunityConfigEntry) -> None:
        """Attach the sensor to the home's device."""
        self._attr_options = [period.name for period in tariff.Period]
        self._attr_unique_id = entity_unique_id(entry.entry_id, "tariff_period")
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, entry.data[CONF_CUPS])})
        self._next: CALLBACK_TYPE | None = None

    async def async_added_to_hass(self) -> None:
        """Show the period now and change it when it changes."""
        self.async_on_remove(self._cancel_next)
        self._show()

    @callback
    def _cancel_next(self) -> None:
        if self._next is not None:
            self._next()
            self._next = None

    @callback
    def _changed(self, _now: datetime) -> None:
        self._next = None
        self._show()

    @callback
    def _show(self) -> None:
        ceuta_melilla = self.hass.config.time_zone == _CEUTA_MELILLA_ZONE
        local = dt_util.now()
        now = tariff.period(local, ceuta_melilla=ceuta_melilla)
        change = tariff.next_change(local, ceuta_melilla=ceuta_melilla)
        self._attr_native_value = now.name
        self._attr_extra_state_attributes = {
            "next_period": tariff.period(change, ceuta_melilla=ceuta_melilla).name,
            "next_change": change.isoformat(),
        }
        self._cancel_next()
        self._next = async_track_point_in_utc_time(self.hass, self._changed, dt_util.as_utc(change))
        self.async_write_ha_state()
