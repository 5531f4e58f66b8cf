"""One coordinator per device: polls it through the devices library on its scan interval."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import (
    CONF_BAUDRATE,
    CONF_PROFILE,
    CONF_SERIAL_PORT,
    CONF_TRANSPORT,
    CONF_UNIT,
    DEFAULT_SCAN_INTERVAL_S,
    DOMAIN,
    LOGGER,
)
from .devices.modbus import DeviceReader, Endpoint, ModbusBus, Transport
from .devices.profile import Profile, available_profiles


def endpoint_from(data: dict[str, Any]) -> Endpoint:
    """Return the bus endpoint a subentry's data describes."""
    transport = Transport(data[CONF_TRANSPORT])
    if transport is Transport.SERIAL:
        return Endpoint(
            transport=transport, serial_port=data[CONF_SERIAL_PORT], baudrate=data[CONF_BAUDRATE]
        )
    return Endpoint(transport=transport, host=data[CONF_HOST], port=data[CONF_PORT])


type DeviceValues = dict[str, float | str | None]


class ModbusDeviceCoordinator(DataUpdateCoordinator[DeviceValues]):
    """Polls one Modbus device; keeps the last values through a short glitch."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        subentry: ConfigSubentry,
        bus: ModbusBus,
        keys: set[str],
    ) -> None:
        """Prepare the reader for the registers of enabled entities."""
        self.subentry = subentry
        self.profile: Profile = available_profiles()[subentry.data[CONF_PROFILE]]
        self.reader = DeviceReader(self.profile, bus, subentry.data[CONF_UNIT], keys)
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=subentry.title,
            update_interval=timedelta(
                seconds=subentry.data.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL_S)
            ),
        )

    async def _async_update_data(self) -> DeviceValues:
        poll = await self.reader.poll()
        for error in poll.errors:
            LOGGER.debug("%s: %s", self.subentry.title, error)
        if poll.failed:
            if self.reader.available and self.data is not None:
                return self.data  # a glitch: keep the last values until it repeats
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="device_not_answering",
                translation_placeholders={"device": self.subentry.title, "error": poll.errors[-1]},
            )
        # A register not read this time (its block failed) is unknown, never a stale number.
        return poll.values
