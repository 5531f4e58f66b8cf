"""The sensor platform: the home's consumption and tariff period, its share, devices, decisions."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import (
    AddConfigEntryEntitiesCallback,
    async_get_current_platform,
)

from . import IoeCommunityConfigEntry
from .entity import add_control_entities
from .sensors.community import SENSORS, CommunitySensor
from .sensors.control import DecisionSensor
from .sensors.device import DeviceSensors
from .sensors.home import HomeConsumptionPowerSensor
from .sensors.share import ShareForecastSensor, SharePowerSensor, TariffPeriodSensor

# Each device is polled by its own coordinator; entities never update on their own.
PARALLEL_UPDATES = 0


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
    async_add_entities([HomeConsumptionPowerSensor(entry), TariffPeriodSensor(entry)])
    if (link := home.community) is not None:
        async_add_entities(
            CommunitySensor(entry, link, description, home.device_id) for description in SENSORS
        )
        async_add_entities(
            [
                SharePowerSensor(entry, link, home.device_id, unused=False),
                SharePowerSensor(entry, link, home.device_id, unused=True),
                ShareForecastSensor(entry, link, home.device_id),
            ]
        )
    sensors = DeviceSensors(async_get_current_platform(), async_add_entities, home.device_id)
    for coordinator in home.devices.values():
        await sensors.async_add(coordinator)
    home.sensors = sensors
    if (control := home.control) is not None:
        owners = {True: control.battery_owner, False: control.charger_owner}
        add_control_entities(
            async_add_entities,
            (
                DecisionSensor(control, owner, battery=battery)
                for battery, owner in owners.items()
                if owner is not None
            ),
        )
