"""Local control of the home's battery and car: what the home measures in, setpoints out.

Every ``CONTROL_INTERVAL`` the loop reads what the home measures (its grid meter, the battery,
the charger, the community's last allocation), asks the HA-free core (``controls``) what the
devices should do, and writes it through their actuators, only when a value really changes or
must be refreshed before the device reverts on its own (``WriteGate``).

Fail-safe: a grid meter older than the household allows, control switched off, a device that
does not answer, or Home Assistant stopping sends the battery back to its own mode and the
charger to its safe state. Each force is written with a hold of ``HOLD_S``: a Home Assistant
that dies leaves no battery forced for longer. The community link being down changes nothing
but the allocation's age: the last one goes on being used.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .charger_entities import EntityCharger, EntityChargerError
from .const import (
    CHARGER_ENTITIES,
    CONF_BATTERY,
    CONF_CAPACITY_KWH,
    CONF_CHARGER,
    CONF_CONTRACTED_POWER,
    CONF_HEADROOM,
    CONF_MAX_CHARGE_POWER,
    CONF_MAX_CURRENT,
    CONF_MAX_DISCHARGE_POWER,
    CONF_METER_MAX_AGE,
    CONF_MIN_CURRENT,
    CONF_PHASES,
    CONF_SAFE_PAUSED,
    CONF_SOC_MAX,
    CONF_SOC_MIN,
    CONF_START_DELAY,
    CONF_STOP_DELAY,
    CONF_UNIT,
    LOGGER,
)
from .controls.home import HomeControl
from .controls.model import (
    BatteryOverride,
    BatterySettings,
    ChargerMode,
    ChargerSettings,
    Decisions,
    HomeNow,
    Limits,
)
from .controls.writes import WriteGate
from .coordinator import ModbusDeviceCoordinator
from .devices.actuators import BatteryActuator, ChargerActuator, battery_actuator, charger_actuator
from .devices.energy_model import Term
from .devices.modbus import ModbusError
from .devices.profile import SetpointRefusedError
from .devices.writer import DeviceWriter, SetpointWriteError
from .energy_entities import state_in_model_unit
from .link.protocol import ControlledDevice

if TYPE_CHECKING:
    from . import IoeCommunityConfigEntry, IoeHome

CONTROL_INTERVAL: Final = timedelta(seconds=10)
# How long a battery force (or a charger's current) holds without a new command.
HOLD_S: Final = 120
# How long a device takes to do what it is told: a car follows a new current within 5 s
# (IEC 61851-1's pilot signal), a battery inverter sooner.
RESPONSE: Final = timedelta(seconds=5)
# After a write fails, the device counts as unreachable this long (its own mode meanwhile).
FAILED_WRITE_BACKOFF: Final = timedelta(minutes=5)
# Setpoints move by more than this, or are not written (W, A); and at most this often an hour.
BATTERY_STEP_W: Final = 50.0
CHARGER_STEP_A: Final = 1.0
WRITES_PER_HOUR: Final = 120
# What a write may fail with: refused or not read back, out of the device's limits now, no
# answer from the device, or another integration's entities not taking it.
WRITE_ERRORS: Final = (SetpointWriteError, SetpointRefusedError, ModbusError, EntityChargerError)


@dataclass
class Health:
    """Whether a device took its last write: after a failure it rests a while."""

    error: str | None = None
    failed_at: datetime | None = None

    def ok(self, now: datetime) -> bool:
        """Return whether the device may be commanded now."""
        return self.failed_at is None or now - self.failed_at >= FAILED_WRITE_BACKOFF

    def failed(self, error: Exception, now: datetime) -> None:
        """Record a write the device did not take, by the key of its translated message."""
        self.error, self.failed_at = _error_key(error), now

    def took(self) -> None:
        """Record a write the device took."""
        self.error = self.failed_at = None


@dataclass(frozen=True, kw_only=True)
class ControlState:
    """One step of the loop, as the entities show it."""

    at: datetime
    decisions: Decisions
    # The last write that failed, per device (a translated message's key and its facts).
    battery_error: str | None = None
    charger_error: str | None = None


class ControlCoordinator(DataUpdateCoordinator[ControlState]):
    """The home's control loop: one step every ``CONTROL_INTERVAL``."""

    config_entry: IoeCommunityConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: IoeCommunityConfigEntry, subentry: ConfigSubentry
    ) -> None:
        """Prepare the control the household configured (``async_start`` finds its devices)."""
        self.subentry = subentry
        # The unique ids of the control's entities, as the platforms make them.
        self.unique_ids: set[str] = set()
        data = subentry.data
        self.meter_max_age = timedelta(seconds=data[CONF_METER_MAX_AGE])
        battery = data.get(CONF_BATTERY)
        charger = data.get(CONF_CHARGER)
        self.control = HomeControl(
            limits=Limits(
                contracted_w=data[CONF_CONTRACTED_POWER],
                headroom_w=data[CONF_HEADROOM],
                max_charge_w=data.get(CONF_MAX_CHARGE_POWER, 0.0),
                max_discharge_w=data.get(CONF_MAX_DISCHARGE_POWER, 0.0),
                soc_min=data.get(CONF_SOC_MIN, 10.0),
                soc_max=data.get(CONF_SOC_MAX, 100.0),
                max_current_a=data.get(CONF_MAX_CURRENT, 16.0),
            ),
            battery=BatterySettings(capacity_wh=data.get(CONF_CAPACITY_KWH, 0.0) * 1000)
            if battery
            else None,
            charger=ChargerSettings(
                min_current_a=data[CONF_MIN_CURRENT],
                phases=data[CONF_PHASES],
                start_delay_s=data[CONF_START_DELAY],
                stop_delay_s=data[CONF_STOP_DELAY],
                safe_paused=data[CONF_SAFE_PAUSED],
            )
            if charger
            else None,
        )
        self.battery_device: ModbusDeviceCoordinator | None = None
        self.charger_device: ModbusDeviceCoordinator | None = None
        self.battery: BatteryActuator | None = None
        self.charger: ChargerActuator | EntityCharger | None = None
        self._battery_gate = WriteGate(step=BATTERY_STEP_W, per_hour=WRITES_PER_HOUR)
        self._charger_gate = WriteGate(step=CHARGER_STEP_A, per_hour=WRITES_PER_HOUR)
        # When a device last took a command: readings older than that and its RESPONSE do
        # not show it yet.
        self._commanded_at: datetime | None = None
        # The charger's plan: a time of day, or a one-off moment (the charge_car_by action).
        self.ready_by: time | None = None
        self.plan_deadline: datetime | None = None
        # When each device entered its mode, for the home's status (what the community sees).
        self._modes: dict[str, tuple[str, datetime]] = {}
        self._battery_health = Health()
        self._charger_health = Health()
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} control",
            update_interval=CONTROL_INTERVAL,
            always_update=True,
        )

    @property
    def home(self) -> IoeHome:
        """Return the home this control belongs to."""
        return self.config_entry.runtime_data

    @property
    def battery_owner(self) -> str | None:
        """Return the subentry id of the battery the home controls (its entities' device).

        None when it names none, or a device the household has since removed.
        """
        battery = self.subentry.data.get(CONF_BATTERY)
        return battery if battery in self.config_entry.subentries else None

    @property
    def charger_owner(self) -> str | None:
        """Return the charger's subentry id; the home's entry id for another integration's."""
        charger = self.subentry.data.get(CONF_CHARGER)
        if charger == CHARGER_ENTITIES:
            return self.config_entry.entry_id
        return charger if charger in self.config_entry.subentries else None

    async def async_start(self) -> None:
        """Find the configured devices' actuators, then take the first step."""
        data = self.subentry.data
        devices = self.home.devices
        if (battery_id := data.get(CONF_BATTERY)) and isinstance(
            device := devices.get(battery_id), ModbusDeviceCoordinator
        ):
            self.battery_device = device
            self.battery = battery_actuator(device.profile, _writer(device))
        charger_id = data.get(CONF_CHARGER)
        if charger_id == CHARGER_ENTITIES:
            self.charger = EntityCharger.from_config(self.hass, data)
        elif charger_id and isinstance(device := devices.get(charger_id), ModbusDeviceCoordinator):
            self.charger_device = device
            self.charger = charger_actuator(
                device.profile,
                _writer(device),
                phases=data[CONF_PHASES],
                failsafe_paused=data[CONF_SAFE_PAUSED],
            )
        # Each command holds for HOLD_S, or the longest a device takes: refreshed before that ends.
        if self.battery is not None:
            self._battery_gate.revert_s = _held_s(self.battery.revert_s)
        if self.charger is not None:
            self._charger_gate.revert_s = _held_s(self.charger.revert_s)
            if self.control.charger is not None:
                self.control.limits = replace(
                    self.control.limits,
                    max_current_a=min(
                        self.control.limits.max_current_a, self.charger.max_current_a
                    ),
                )
        self._report_modes()
        await self.async_refresh()

    async def async_release(self) -> None:
        """Send the battery back to its own mode and the charger to its safe state, now."""
        now = dt_util.now()
        if self.battery is not None:
            await self._write_battery(self.battery, None, now, force=True)
        if self.charger is not None and (settings := self.control.charger) is not None:
            safe_a = 0.0 if settings.safe_paused else settings.min_current_a
            await self._write_charger(self.charger, safe_a, now, force=True)

    def set_battery(self, **changes: Any) -> None:
        """Change the battery's settings (its mode, a target) and decide again now."""
        if self.control.battery is not None:
            self.control.battery = replace(self.control.battery, **changes)
            self._settings_changed()

    def set_charger(self, **changes: Any) -> None:
        """Change the charger's settings (its mode, a plan) and decide again now."""
        if self.control.charger is not None:
            self.control.charger = replace(self.control.charger, **changes)
            self.control.hysteresis.reset()
            self._settings_changed()

    def set_ready_by(self, ready_by: time | None) -> None:
        """Change the time of day the car must be charged by."""
        self.ready_by = ready_by
        self.control.hysteresis.reset()  # a plan under way is planned again
        self._settings_changed()

    def plan_charge(self, energy_kwh: float, by: datetime) -> None:
        """Charge the car with ``energy_kwh`` by ``by``, once (the charger's mode becomes plan)."""
        self.plan_deadline = by
        self.set_charger(mode=ChargerMode.PLAN, target_kwh=energy_kwh)

    def set_enabled(self, enabled: bool) -> None:
        """Switch control on or off (off: the devices to their own modes)."""
        self.control.enabled = enabled
        self._settings_changed()

    def set_override(self, override: BatteryOverride | None) -> None:
        """Charge or discharge the battery once, until a time or a SoC."""
        self.control.override = override
        self._settings_changed()

    def diagnostics(self) -> dict[str, Any]:
        """Return the control's settings, its last step and how its writes go, for a download."""
        control, state = self.control, self.data
        return {
            "enabled": control.enabled,
            "limits": asdict(control.limits),
            "battery": asdict(control.battery) if control.battery else None,
            "charger": asdict(control.charger) if control.charger else None,
            "override": asdict(control.override) if control.override else None,
            "last_step": asdict(state) if state else None,
            "writes": {
                kind: {
                    "last_value": gate.last_value,
                    "last_at": gate.last_at,
                    "revert_s": gate.revert_s,
                    "in_the_last_hour": len(gate.recent),
                }
                for kind, gate in (("battery", self._battery_gate), ("charger", self._charger_gate))
            },
            "commanded_at": self._commanded_at,
        }

    def _settings_changed(self) -> None:
        self._report_modes()
        self.hass.async_create_task(self.async_request_refresh(), eager_start=False)

    def _report_modes(self) -> None:
        """Tell the community, in the home's status, what the home controls and how."""
        if (link := self.home.community) is None:
            return
        now = dt_util.utcnow()
        modes = {}
        if self.control.battery is not None and self.battery is not None:
            modes["battery"] = self.control.battery.mode.value
        if self.control.charger is not None and self.charger is not None:
            modes["charger"] = self.control.charger.mode.value
        if not self.control.enabled:
            modes = dict.fromkeys(modes, "native")
            if "charger" in modes:
                modes["charger"] = "off"
        devices = []
        for kind, mode in modes.items():
            if self._modes.get(kind, ("", now))[0] != mode:
                self._modes[kind] = (mode, now)
            devices.append(
                ControlledDevice(id=kind, kind=kind, mode=mode, since=self._modes[kind][1])
            )
        link.async_set_control(tuple(devices))

    async def _async_update_data(self) -> ControlState:
        now = self._home_now()
        if self.control.charger is not None:
            self.control.charger = replace(self.control.charger, deadline=self._deadline(now.at))
        decisions = self.control.step(now)
        if decisions.battery is not None and self.battery is not None:
            await self._write_battery(self.battery, decisions.battery.charge_w, now.at)
        if decisions.charger is not None and self.charger is not None:
            await self._write_charger(self.charger, decisions.charger.current_a, now.at)
        return ControlState(
            at=now.at,
            decisions=decisions,
            battery_error=self._battery_health.error,
            charger_error=self._charger_health.error,
        )

    async def _write_battery(
        self, battery: BatteryActuator, charge_w: float | None, at: datetime, *, force: bool = False
    ) -> None:
        """Write the battery's power (None: its own mode), if due; read back."""

        def command() -> Awaitable[None]:
            return battery.release() if charge_w is None else battery.force(charge_w, HOLD_S)

        await self._write(
            command,
            charge_w,
            at,
            device="battery",
            unit="W",
            gate=self._battery_gate,
            health=self._battery_health,
            force=force,
        )

    async def _write_charger(
        self,
        charger: ChargerActuator | EntityCharger,
        current_a: float,
        at: datetime,
        *,
        force: bool = False,
    ) -> None:
        """Write the charger's current (0: paused), if due; read back."""
        await self._write(
            lambda: charger.set_current(current_a, HOLD_S),
            current_a,
            at,
            device="charger",
            unit="A",
            gate=self._charger_gate,
            health=self._charger_health,
            force=force,
        )

    async def _write(
        self,
        command: Callable[[], Awaitable[None]],
        value: float | None,
        at: datetime,
        *,
        device: str,
        unit: str,
        gate: WriteGate,
        health: Health,
        force: bool,
    ) -> None:
        """Send ``command`` (which writes ``value``) when the gate says it is due, or ``force``.

        A write the device does not take leaves it resting (``health``) and forgotten by its
        gate, so the next command is sent whatever it is.
        """
        if not force and not gate.due(value, at):
            return
        try:
            await command()
        except WRITE_ERRORS as err:
            health.failed(err, at)
            gate.forget()
            LOGGER.warning("%s: the %s did not take %s %s: %s", self.name, device, value, unit, err)
            return
        if health.ok(at):  # its safe state, taken while it rests, is no cure
            health.took()
        if value != gate.last_value:  # a refresh changes nothing the meters would show
            self._commanded_at = dt_util.utcnow()
        gate.wrote(value, at)

    def _deadline(self, now: datetime) -> datetime | None:
        """Return when the plan must be done: the one-off moment, else the next ready-by time."""
        if self.plan_deadline is not None and now >= self.plan_deadline:
            self.plan_deadline = None
        if self.plan_deadline is not None:
            return self.plan_deadline
        if self.ready_by is None:
            return None
        today = datetime.combine(now.date(), self.ready_by, now.tzinfo)
        return (
            today
            if today > now
            else datetime.combine(now.date() + timedelta(days=1), self.ready_by, now.tzinfo)
        )

    def _home_now(self) -> HomeNow:
        """Return what the home measures now, as the core takes it."""
        at = dt_util.now()
        model = self.home.energy_model
        grid_w = battery_w = ev_w = None
        readings: list[datetime] = []
        if model is not None:
            grid_w = self._fresh_estimate(model.terms, "grid_power", readings)
            battery_w = self._fresh_estimate(model.terms, "battery_power", readings)
            ev_w = self._fresh_estimate(model.terms, "ev_power", readings)
        commanded = self._commanded_at
        if isinstance(self.charger, EntityCharger) and self.charger.power_w() is not None:
            ev_w = self.charger.power_w()
        return HomeNow(
            at=at,
            grid_w=grid_w,
            charge_w=-battery_w if battery_w is not None else None,
            soc=self._soc(),
            ev_w=ev_w,
            car_connected=self._car_connected(),
            allocation_w=self._allocation_w(),
            battery_reachable=self._reachable(self.battery_device) and self._battery_health.ok(at),
            charger_reachable=self._reachable(self.charger_device) and self._charger_health.ok(at),
            settled=commanded is None or min(readings, default=at) >= commanded + RESPONSE,
        )

    def _fresh_estimate(
        self, terms: Mapping[str, tuple[Term, ...]], quantity: str, readings: list[datetime]
    ) -> float | None:
        """Return the sum of a quantity's entities, if every one has a value recent enough.

        The time of each reading used is added to ``readings``.
        """
        if not (quantity_terms := terms.get(quantity, ())):
            return None
        oldest = dt_util.utcnow() - self.meter_max_age
        total = 0.0
        for term in quantity_terms:
            state = self.hass.states.get(term.source)
            value = state_in_model_unit(state, quantity)
            if state is None or value is None or state.last_reported < oldest:
                return None
            total += term.sign * value
            readings.append(state.last_reported)
        return total

    def _soc(self) -> float | None:
        device = self.battery_device
        if device is None or not device.last_update_success or not device.data:
            return None
        for key, role in device.roles.items():
            if role == "battery_soc" and isinstance(value := device.data.get(key), int | float):
                return float(value)
        return None

    def _car_connected(self) -> bool | None:
        device = self.charger_device
        if device is not None and device.profile.plug_in is not None and device.data:
            return device.profile.plug_in.car_connected(device.data)
        if isinstance(self.charger, EntityCharger):
            return self.charger.car_connected()
        return None

    def _allocation_w(self) -> float | None:
        link = self.home.community
        if link is None or (results := link.coordinator.data.results) is None:
            return None
        return results.allocated_w_now

    @staticmethod
    def _reachable(device: ModbusDeviceCoordinator | None) -> bool:
        return device is None or device.last_update_success


def _writer(device: ModbusDeviceCoordinator) -> DeviceWriter:
    """Return a writer of the device's setpoints, on the bus it is read through."""
    return DeviceWriter(device.profile, device.reader.bus, device.subentry.data[CONF_UNIT])


def _error_key(error: Exception) -> str:
    """Return the key of a failed write's translated message (the sensor's error attribute)."""
    if isinstance(error, SetpointWriteError):
        return error.translation_key
    if isinstance(error, SetpointRefusedError):
        return error.refusal.value
    if isinstance(error, EntityChargerError):
        return error.translation_key or "charger_entity_refused"
    return "device_not_answering"


def _held_s(revert_s: int | None) -> int | None:
    """Return how long a command holds on a device that reverts after ``revert_s`` at most."""
    return None if revert_s is None else min(HOLD_S, revert_s)
