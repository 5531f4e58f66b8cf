"""Actuators: a battery or EV charger command turned into the writes its device family takes.

The control logic speaks in watts and amperes and in how long a command holds; each family
has its own registers for that, named by the profile's ``control`` field. Every command
leaves the device able to return to its own mode: the timeout it is paired with is written
first, with every command, so that a sequence cut short (Home Assistant stopping, the device
no longer answering) still ends on the device's own. Every write is read back by the writer.
"""

from __future__ import annotations

import math
from typing import Protocol

from .profile import (
    CONTROL_SETPOINTS,
    DURATION_UNITS,
    BatteryControl,
    ChargerControl,
    Profile,
    Refusal,
    SetpointRefusedError,
    WritableRegister,
)
from .writer import DeviceWriter

# Huawei's forcible command (47100) and its setting mode (47246).
_STOP, _CHARGE, _DISCHARGE = 0, 1, 2
_FOR_THE_PERIOD = 0
# SunSpec model 124's StorCtl_Mod: bit 0 applies the charging limit, bit 1 the discharging one.
_NO_LIMITS, _BOTH_LIMITS = 0, 3


class BatteryActuator(Protocol):
    """Commands a home battery; the device reverts to its own mode when commands stop."""

    # The device returns to its own mode this long after the last command; None: never. A
    # device told its timeout with each command returns after that command's hold_s: this is
    # the longest hold it takes (a longer one is cut to it).
    revert_s: int | None

    async def power_limits(self) -> tuple[float, float]:
        """Return (max charge W, max discharge W) the device takes now."""

    async def force(self, charge_w: float, hold_s: int) -> None:
        """Charge (> 0) or discharge (< 0) at ``charge_w``, or neither (0), for ``hold_s``."""

    async def release(self) -> None:
        """Return the device to its own self-consumption mode now."""


class ChargerActuator(Protocol):
    """Commands an EV charger; it falls back to its failsafe when commands stop."""

    min_current_a: float
    max_current_a: float
    phases: int
    # As BatteryActuator.revert_s: the station falls back to its failsafe current.
    revert_s: int | None

    async def set_current(self, amps: float, hold_s: int) -> None:
        """Offer ``amps`` (0 pauses) until the next command, at most ``hold_s``."""

    async def release(self, paused: bool) -> None:
        """Leave the charger in its safe state: paused, or at its minimum current."""


def timeout(setpoint: WritableRegister, hold_s: int) -> float:
    """Return ``hold_s`` in a timeout setpoint's unit: rounded up, clamped to its range.

    Huawei counts its forcible period in minutes: 90 s hold for 2 min, never for 1.
    """
    counted = math.ceil(hold_s / DURATION_UNITS[str(setpoint.unit)])
    return float(min(max(counted, setpoint.minimum), setpoint.maximum))


def _longest_s(setpoint: WritableRegister) -> int:
    """Return the longest hold a timeout setpoint takes, in seconds."""
    return int(setpoint.maximum) * DURATION_UNITS[str(setpoint.unit)]


class HuaweiForcible:
    """A LUNA2000 behind a SUN2000, through the forcible charge and discharge.

    Each command writes the period (its minutes restart with the command), the power of its
    direction, the setting mode "for the period", then the command; idle is a forcible charge
    at 0 W. Release stops the forcible mode: the battery is back in its working mode.
    """

    def __init__(self, writer: DeviceWriter) -> None:
        """Drive the battery through ``writer``."""
        self._writer = writer
        self._period = writer.profile.setpoint("forcible_period")
        # The longest period the battery takes: a longer hold is cut to it.
        self.revert_s: int | None = _longest_s(self._period)

    async def power_limits(self) -> tuple[float, float]:
        """Return what the battery reports it takes (37046, 37048), bounded by the profile."""
        charge = await self._writer.limits("forcible_charge_power")
        discharge = await self._writer.limits("forcible_discharge_power")
        return charge.maximum, discharge.maximum

    async def force(self, charge_w: float, hold_s: int) -> None:
        """Force the battery for ``hold_s`` (whole minutes, rounded up)."""
        power = "forcible_discharge_power" if charge_w < 0 else "forcible_charge_power"
        await self._writer.check(power, abs(charge_w))
        await self._writer.write("forcible_period", timeout(self._period, hold_s), refresh=True)
        await self._writer.write(power, abs(charge_w))
        await self._writer.write("forcible_setting_mode", _FOR_THE_PERIOD)
        command = _DISCHARGE if charge_w < 0 else _CHARGE
        await self._writer.write("forcible_command", command, refresh=True)

    async def release(self) -> None:
        """Stop the forcible mode (nothing written when it was just stopped)."""
        await self._writer.write("forcible_command", _STOP)


class VictronEss:
    """A Victron ESS (modes 1 and 2), through the GX's volatile grid setpoint (2716).

    The battery's power is not commanded directly: the grid setpoint is moved by the
    difference between the power asked for and the battery's now, at the grid's power now
    (as openWB does). The GX drops the setpoint by itself after its own timeout. 0 clears it
    (evcc): a command that works out to 0 W from the grid leaves the GX on its own setpoint
    (2700), which is near 0 W in a self-consumption ESS.
    """

    def __init__(self, writer: DeviceWriter) -> None:
        """Drive the ESS through ``writer``."""
        self._writer = writer
        profile = writer.profile
        self._grid = [r.key for r in profile.registers if r.role == "grid_power"]
        self._battery = next(r.key for r in profile.registers if r.role == "battery_power")
        self.revert_s: int | None = profile.setpoint("ess_grid_setpoint").revert.after_s

    async def power_limits(self) -> tuple[float, float]:
        """Return the bounds of the grid setpoint: the GX reports no battery limit here.

        The Multi and the battery's BMS limit the power themselves.
        """
        limits = await self._writer.limits("ess_grid_setpoint")
        return limits.maximum, -limits.minimum

    async def force(self, charge_w: float, hold_s: int) -> None:
        """Move the grid setpoint so that the battery charges ``charge_w``.

        ``hold_s`` is not the GX's to take: it holds a setpoint for its own ``revert_s``.
        """
        # The battery's power is read positive while discharging (Home Assistant's sign).
        readings = {key: await self._writer.read(key) for key in (*self._grid, self._battery)}
        numbers = [v for v in readings.values() if isinstance(v, int | float)]
        if len(numbers) != len(readings):
            missing = next(k for k, v in readings.items() if not isinstance(v, int | float))
            raise SetpointRefusedError(
                "ess_grid_setpoint", Refusal.LIMIT_UNKNOWN, {"register": missing}
            )
        setpoint = round(sum(numbers) + charge_w)
        await self._writer.write("ess_grid_setpoint", setpoint, refresh=True)

    async def release(self) -> None:
        """Clear the override (0): the GX follows its own setpoint (2700) again."""
        await self._writer.write("ess_grid_setpoint", 0)


class SunSpecStorage:
    """A storage inverter with SunSpec model 124 (Fronius GEN24, …), through its rate limits.

    Both limits are applied (StorCtl_Mod 3) and set to one power: InWRte caps charging at it
    and OutWRte, negative, forces at least it; for a discharge the other way round. Each
    command writes the revert timeout first, then the rates (which start it again).
    """

    def __init__(self, writer: DeviceWriter) -> None:
        """Drive the storage through ``writer``."""
        self._writer = writer
        self._revert = writer.profile.setpoint("storage_rate_revert")
        self.revert_s: int | None = _longest_s(self._revert)

    async def power_limits(self) -> tuple[float, float]:
        """Return WChaMax both ways: model 124 rates both directions in % of it."""
        maximum = await self._maximum_w()
        return maximum, maximum

    async def force(self, charge_w: float, hold_s: int) -> None:
        """Hold the storage at ``charge_w`` for ``hold_s`` (seconds, as RvrtTms counts)."""
        percent = 100 * charge_w / await self._maximum_w()
        await self._writer.check("storage_charge_rate", percent)
        await self._writer.check("storage_discharge_rate", -percent)
        await self._writer.write("storage_rate_revert", timeout(self._revert, hold_s), refresh=True)
        await self._writer.write("storage_charge_rate", percent, refresh=True)
        await self._writer.write("storage_discharge_rate", -percent, refresh=True)
        await self._writer.write("storage_control_mode", _BOTH_LIMITS)

    async def release(self) -> None:
        """Apply neither limit: the inverter controls its storage itself again."""
        await self._writer.write("storage_control_mode", _NO_LIMITS)

    async def _maximum_w(self) -> float:
        maximum = await self._writer.read("storage_max_charge_power")
        if not isinstance(maximum, int | float) or maximum <= 0:
            raise SetpointRefusedError(
                "storage_charge_rate", Refusal.LIMIT_UNKNOWN, {"register": "WChaMax"}
            )
        return float(maximum)


class KebaCharger:
    """A KEBA KeContact P30 or P40, with its failsafe armed by every command.

    Each command writes the failsafe timeout (which the station counts from its last
    command), the failsafe current, then the current; a P30 is enabled after its current is
    set, and paused by disabling it; a P40 pauses at 0 A. The writer keeps KEBA's 5 s between
    two writes of one register.
    """

    def __init__(self, writer: DeviceWriter, *, phases: int, failsafe_paused: bool) -> None:
        """Drive the station through ``writer``; ``failsafe_paused``: its failsafe is 0 A."""
        self._writer = writer
        current = writer.profile.setpoint("charging_current")
        self._failsafe = writer.profile.setpoint("failsafe_timeout_setpoint")
        self._failsafe_paused = failsafe_paused
        self.min_current_a = current.minimum
        self.max_current_a = current.maximum
        self.phases = phases
        self.revert_s: int | None = _longest_s(self._failsafe)

    async def set_current(self, amps: float, hold_s: int) -> None:
        """Offer ``amps``; 0 pauses. The station falls back after ``hold_s`` (10-600 s)."""
        if amps:
            await self._writer.check("charging_current", amps)
        await self._writer.write(
            "failsafe_timeout_setpoint", timeout(self._failsafe, hold_s), refresh=True
        )
        await self._writer.write("failsafe_current_setpoint", self._safe_a(self._failsafe_paused))
        await self._offer(amps)

    async def release(self, paused: bool) -> None:
        """Leave the station paused, or at its minimum current, and its failsafe the same."""
        await self._writer.write("failsafe_current_setpoint", self._safe_a(paused))
        await self._offer(self._safe_a(paused))

    def _safe_a(self, paused: bool) -> float:
        return 0.0 if paused else self.min_current_a

    async def _offer(self, amps: float) -> None:
        # The station needs its current and its enable again after a failsafe fallback:
        # both are written as refreshes (within the write interval only when changed).
        pauses_at_0 = (await self._writer.limits("charging_current")).pause == 0
        if pauses_at_0 or amps:
            await self._writer.write("charging_current", amps, refresh=True)
        if not pauses_at_0:
            await self._writer.write("enable_charging", 1 if amps else 0, refresh=True)


def battery_actuator(profile: Profile, writer: DeviceWriter) -> BatteryActuator | None:
    """Return the actuator of a battery profile, or None when the device has no such control.

    A SunSpec device without model 124 has none: its resolved profile lacks the setpoints.
    """
    kind = profile.control.battery
    if kind is None or not _has_setpoints(profile, kind, writer):
        return None
    actuators: dict[BatteryControl, type[HuaweiForcible | VictronEss | SunSpecStorage]] = {
        BatteryControl.HUAWEI_FORCIBLE: HuaweiForcible,
        BatteryControl.VICTRON_ESS: VictronEss,
        BatteryControl.SUNSPEC_STORAGE: SunSpecStorage,
    }
    return actuators[kind](writer)


def charger_actuator(
    profile: Profile, writer: DeviceWriter, *, phases: int = 3, failsafe_paused: bool = True
) -> ChargerActuator | None:
    """Return the actuator of a charger profile, or None when the device has no such control.

    ``phases`` is how the charger is wired; ``failsafe_paused`` whether its failsafe stops
    charging (else it keeps the minimum current).
    """
    kind = profile.control.charger
    if kind is not ChargerControl.KEBA or not _has_setpoints(profile, kind, writer):
        return None
    return KebaCharger(writer, phases=phases, failsafe_paused=failsafe_paused)


def can_control(profile: Profile, *, battery: bool) -> bool:
    """Return whether a device of ``profile`` can be commanded as a battery (or a charger).

    It must declare that control and have every setpoint the control writes (a SunSpec device
    without model 124 has not).
    """
    kind = profile.control.battery if battery else profile.control.charger
    return kind is not None and set(CONTROL_SETPOINTS[kind]) <= {s.key for s in profile.writable}


def _has_setpoints(
    profile: Profile, kind: BatteryControl | ChargerControl, writer: DeviceWriter
) -> bool:
    if writer.profile is not profile:
        raise ValueError(f"the writer writes {writer.profile.id}, not {profile.id}")
    return can_control(profile, battery=isinstance(kind, BatteryControl))
