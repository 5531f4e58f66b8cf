"""One coordinator per device: a Modbus device is polled, an MQTT meter pushes its values."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
import logging
from typing import TYPE_CHECKING, Any

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_SCAN_INTERVAL
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import (
    CONF_BAUDRATE,
    CONF_CHANNEL,
    CONF_COUNTER,
    CONF_FORMAT,
    CONF_KEYS,
    CONF_MAPPING,
    CONF_PROFILE,
    CONF_REVERSE_POWER,
    CONF_SERIAL_PORT,
    CONF_SUNSPEC_MODELS,
    CONF_TOPIC,
    CONF_TRANSPORT,
    CONF_UNIT,
    DEFAULT_SCAN_INTERVAL_S,
    DOMAIN,
    LOGGER,
    MQTT_SILENCE_LIMIT,
)
from .devices.energy_model import reverse_power
from .devices.modbus import DeviceReader, Endpoint, ModbusBus, Transport
from .devices.mqtt_meter import (
    QUANTITIES,
    CounterKind,
    MeterFormat,
    MeterReader,
    MeterSource,
    Quantity,
    ValueMapping,
)
from .devices.mqtt_parsers import PayloadError
from .devices.profile import Limits, Profile, Register, SetpointRefusedError, available_profiles
from .devices.sunspec import resolve_profile

if TYPE_CHECKING:
    from . import IoeCommunityConfigEntry


def endpoint_from(data: dict[str, Any]) -> Endpoint:
    """Return the bus endpoint a subentry's data describes."""
    transport = Transport(data[CONF_TRANSPORT])
    if transport is Transport.SERIAL:
        return Endpoint(
            transport=transport, serial_port=data[CONF_SERIAL_PORT], baudrate=data[CONF_BAUDRATE]
        )
    return Endpoint(transport=transport, host=data[CONF_HOST], port=data[CONF_PORT])


def profile_for(data: Mapping[str, Any]) -> Profile:
    """Return a Modbus subentry's profile, SunSpec points placed on the device's model chain.

    The profiles (and SunSpec model definitions) must have been preloaded off the event loop.
    """
    models = {int(model): address for model, address in data.get(CONF_SUNSPEC_MODELS, {}).items()}
    return resolve_profile(available_profiles()[data[CONF_PROFILE]], models)


def meter_source_from(data: Mapping[str, Any]) -> MeterSource:
    """Return the MQTT meter a subentry's data describes."""
    return MeterSource(
        format=MeterFormat(data[CONF_FORMAT]),
        topic=data[CONF_TOPIC],
        mapping={
            key: ValueMapping(source=value["source"], unit=value["unit"])
            for key, value in data.get(CONF_MAPPING, {}).items()
        },
        channel=data.get(CONF_CHANNEL),
        counter=CounterKind(data.get(CONF_COUNTER, CounterKind.NET)),
    )


type DeviceValues = dict[str, float | str | None]
# How long a meter's balanced counters may wait to be written (they are written at shutdown).
_STATE_SAVE_DELAY_S = 60
# Who makes the meters of each payload format (shown in the device registry).
METER_MAKERS = {
    MeterFormat.SHELLY: "Shelly",
    MeterFormat.SHELLY_GEN1: "Shelly",
    MeterFormat.TASMOTA: "Tasmota",
    MeterFormat.ESPHOME: "ESPHome",
    MeterFormat.EMONHUB: "OpenEnergyMonitor",
    MeterFormat.JSON: "MQTT",
}


def meter_store(
    hass: HomeAssistant, entry: IoeCommunityConfigEntry, subentry: ConfigSubentry
) -> Store[dict[str, Any]]:
    """Return where an MQTT meter's counted energies are kept across restarts."""
    return Store(hass, 1, f"{DOMAIN}.meter_{entry.entry_id}_{subentry.subentry_id}")


class IoeDeviceCoordinator(DataUpdateCoordinator[DeviceValues]):
    """The values of one configured device (a config subentry) and what they are."""

    config_entry: IoeCommunityConfigEntry
    subentry: ConfigSubentry
    manufacturer: str
    model: str
    serial_key: str | None = None

    @property
    def quantities(self) -> Sequence[Register | Quantity]:
        """What the device reports, one entity each."""
        raise NotImplementedError

    def diagnostics(self) -> dict[str, Any]:
        """How reading the device goes, for the diagnostics download."""
        raise NotImplementedError

    async def async_start(self) -> None:
        """Start reading the device."""
        raise NotImplementedError

    async def async_stop(self) -> None:
        """Stop reading the device: it was removed or changed, or the home unloads."""
        await self.async_shutdown()

    def _as_chosen(self, values: DeviceValues) -> DeviceValues:
        """Return values with the power sign the household chose for the device."""
        if not self.subentry.data.get(CONF_REVERSE_POWER):
            return values
        return reverse_power(values, self.roles)

    @property
    def roles(self) -> dict[str, str | None]:
        """Return what each value the device can have means (by key)."""
        return {q.key: q.role for q in self.quantities}


class ModbusDeviceCoordinator(IoeDeviceCoordinator):
    """Polls one Modbus device; keeps the last values through a short glitch."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: IoeCommunityConfigEntry,
        subentry: ConfigSubentry,
        bus: ModbusBus,
        keys: set[str],
    ) -> None:
        """Prepare the reader for the registers of enabled entities."""
        self.subentry = subentry
        self.profile = profile_for(subentry.data)
        self.serial_key = self.profile.serial_number
        # The serial number, the model and what derived values count from: read whether
        # their entities are enabled or not.
        keys = keys | self.profile.always_read
        self.reader = DeviceReader(self.profile, bus, subentry.data[CONF_UNIT], keys)
        self.manufacturer = self.profile.manufacturer
        self.model = self.profile.model
        # Setpoints found on the device (a register a later firmware added): asked once.
        self._setpoints_found: set[str] = set()
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=subentry.title,
            update_interval=timedelta(
                seconds=subentry.data.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL_S)
            ),
        )

    async def async_start(self) -> None:
        """Read the device once; then it is polled while it has entities.

        A device that is off makes its entities unavailable, not the whole home.
        """
        await self.async_refresh()

    async def _async_update_data(self) -> DeviceValues:
        poll = await self.reader.poll()
        for error in poll.errors:
            LOGGER.debug("%s: %s", self.subentry.title, error.detail)
        if poll.failed:
            if self.reader.available and self.data is not None:
                return self.data  # a glitch: keep the last values until it repeats
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="device_not_answering",
                translation_placeholders={
                    "device": self.subentry.title,
                    "error": poll.errors[-1].detail,
                },
            )
        if (model := self.profile.identify(poll.values)) is not None:
            self.model = model.name
        # A register not read this time (its block failed) is unknown, never a stale number.
        return self._as_chosen(poll.values)

    async def async_setpoint_limits(self, key: str) -> Limits:
        """Return what the setpoint ``key`` may be written as now, for this device.

        Raise HomeAssistantError, with a translated message, when nothing may be written: the
        device's firmware lacks the register, has not said whether it has it, or has not
        reported a limit the setpoint is bounded by.
        """
        setpoint = self.profile.setpoint(key)
        present: bool | None = None
        if setpoint.since is not None:
            present = key in self._setpoints_found or await self.reader.has_registers(
                setpoint.address, setpoint.count
            )
            if present:
                self._setpoints_found.add(key)
        values = self.data or {}
        try:
            return setpoint.limits(values, model=self.profile.identify(values), present=present)
        except SetpointRefusedError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=err.refusal.value,
                translation_placeholders={"device": self.subentry.title, **err.placeholders},
            ) from err

    @property
    def quantities(self) -> Sequence[Register]:
        """Every value of the profile (scale factors are read, not shown)."""
        return self.profile.values

    def diagnostics(self) -> dict[str, Any]:
        """Return the profile, the bus and the reads each poll makes."""
        reader = self.reader
        return {
            "profile": self.profile.id,
            "available": reader.available,
            "consecutive_failures": reader.failures,
            "connections_opened": reader.bus.connections_opened,
            "reads_per_poll": [
                {"function": b.function.value, "address": b.address, "count": b.count}
                for b in reader.blocks
            ],
        }


class MqttMeterCoordinator(IoeDeviceCoordinator):
    """Receives one MQTT meter's messages; unavailable when it falls silent.

    A malformed message is logged and counted and changes nothing: the values stay those of
    the last good message.
    """

    def __init__(
        self, hass: HomeAssistant, entry: IoeCommunityConfigEntry, subentry: ConfigSubentry
    ) -> None:
        """Prepare the meter; ``async_start`` subscribes to its topics."""
        self.subentry = subentry
        self.source = meter_source_from(subentry.data)
        self.reader = MeterReader(self.source)
        # What the meter's balanced counters go on from after a restart.
        self._store = meter_store(hass, entry, subentry)
        self.manufacturer = METER_MAKERS[self.source.format]
        self.model = "MQTT"
        self.keys: list[str] = [k for k in subentry.data.get(CONF_KEYS, []) if k in QUANTITIES]
        self.invalid_payloads = 0
        self.last_problem: str | None = None
        self.last_message: datetime = dt_util.utcnow()
        self.subscribed = False
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._new_key_listeners: list[Callable[[list[str]], None]] = []
        super().__init__(hass, LOGGER, config_entry=entry, name=subentry.title)

    @property
    def quantities(self) -> Sequence[Quantity]:
        """The values this meter has sent so far."""
        return [QUANTITIES[key] for key in self.keys]

    @property
    def roles(self) -> dict[str, str | None]:
        """Return what each value a meter can send means: an export it has not sent yet too."""
        return {key: quantity.role for key, quantity in QUANTITIES.items()}

    def diagnostics(self) -> dict[str, Any]:
        """Return the format, the subscriptions and what went wrong with the messages."""
        return {
            "format": self.source.format.value,
            "channel": self.source.channel,
            "counter": self.source.counter.value,
            "subscriptions": list(self.source.subscriptions),
            "subscribed": self.subscribed,
            "last_message": self.last_message.isoformat(),
            "invalid_payloads": self.invalid_payloads,
            "last_problem": self.last_problem,
        }

    async def async_start(self) -> None:
        """Subscribe to the meter's topics and ask it to report (``async_stop`` undoes it)."""
        undo = self._unsubscribe
        self.reader = MeterReader(self.source, await self._store.async_load())
        try:
            if not await mqtt.async_wait_for_mqtt_client(self.hass):
                raise HomeAssistantError("MQTT is not set up")  # noqa: TRY301 - one handler
            for topic in self.source.subscriptions:
                undo.append(
                    await mqtt.async_subscribe(self.hass, topic, self._message, encoding=None)
                )
            self.subscribed = True
        except HomeAssistantError as err:
            LOGGER.warning("%s: cannot subscribe to its MQTT topics: %s", self.name, err)
            self.async_set_update_error(
                UpdateFailed(
                    translation_domain=DOMAIN,
                    translation_key="mqtt_not_available",
                    translation_placeholders={"device": self.name},
                )
            )
        undo.append(
            async_track_time_interval(self.hass, self._check_silence, MQTT_SILENCE_LIMIT / 3)
        )
        await self._request_report()

    @callback
    def stop_listening(self) -> None:
        """Unsubscribe from the meter's topics and stop watching for its silence."""
        while self._unsubscribe:
            self._unsubscribe.pop()()

    async def async_stop(self) -> None:
        """Stop listening and write what the meter counted.

        A meter the household removed forgets it.
        """
        self.stop_listening()
        await super().async_stop()
        if self.subentry.subentry_id not in self.config_entry.subentries:
            await self._store.async_remove()
        elif self.reader.counts:
            await self._store.async_save(self.reader.state())

    @callback
    def async_add_new_key_listener(self, listener: Callable[[list[str]], None]) -> CALLBACK_TYPE:
        """Call ``listener`` with the keys a message brings for the first time."""
        self._new_key_listeners.append(listener)
        return lambda: self._new_key_listeners.remove(listener)

    @callback
    def _message(self, message: mqtt.ReceiveMessage) -> None:
        try:
            values = self.reader.read(message.topic, message.payload)
        except PayloadError as err:
            self.invalid_payloads += 1
            # One warning per kind of problem, not one per message.
            level = logging.WARNING if str(err) != self.last_problem else logging.DEBUG
            LOGGER.log(level, "%s: ignored a message on %s: %s", self.name, message.topic, err)
            self.last_problem = str(err)
            return
        if not values:
            return
        if self.reader.counts:  # counted from what came before: kept for the next start
            self._store.async_delay_save(self.reader.state, _STATE_SAVE_DELAY_S)
        self.last_message = dt_util.utcnow()
        chosen = self._as_chosen(dict(values))
        if new := sorted(set(chosen) - set(self.keys)):
            self.keys.extend(new)
            for listener in self._new_key_listeners:
                listener(new)
        if not self.last_update_success:
            LOGGER.info("%s is sending values again", self.name)
        self.async_set_updated_data({**(self.data or {}), **chosen})

    def _silence(self, now: datetime) -> UpdateFailed | None:
        """Return the error to show when the meter has been silent too long."""
        if now - self.last_message <= MQTT_SILENCE_LIMIT:
            return None
        return UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="meter_silent",
            translation_placeholders={
                "device": self.name,
                "minutes": str(int(MQTT_SILENCE_LIMIT.total_seconds() // 60)),
            },
        )

    @callback
    def _check_silence(self, now: datetime) -> None:
        if (error := self._silence(now)) is not None:
            self.async_set_update_error(error)

    async def _request_report(self) -> None:
        if self.subscribed and (request := self.source.request) is not None:
            await mqtt.async_publish(self.hass, *request)

    async def _async_update_data(self) -> DeviceValues:
        """Ask the meter to report now (homeassistant.update_entity); its reply arrives later."""
        await self._request_report()
        if (error := self._silence(dt_util.utcnow())) is not None:
            raise error
        return self.data or {}
