"""What the home's control sees, what the household set, and what it decides.

Power signs inside the control: into the battery and into the car are positive (``charge_w``,
``ev_w``); the grid is positive while the home imports. The home's own sensors follow Home
Assistant's Energy dashboard (a battery positive while discharging); the integration turns
them round once, where it builds ``HomeNow``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

# A single-phase charger's volts per phase, to turn amperes into watts.
PHASE_VOLTS: Final = 230.0


class BatteryMode(StrEnum):
    """What the battery does."""

    NATIVE = "native"  # the device's own self-consumption: the safe default
    USE_MY_SHARE = "use_my_share"  # store what the home would export, cover what it imports
    VALLEY = "valley"  # as use_my_share, and charge in P3 hours up to a target for the evening
    RESERVE = "reserve"  # as use_my_share, never below a reserve kept for outages
    MANUAL = "manual"  # a power the household sets


class ChargerMode(StrEnum):
    """What the EV charger does (evcc's words, where they fit)."""

    OFF = "off"
    NOW = "now"  # as fast as the charger, the car and the contracted power allow
    SURPLUS = "surplus"  # only from the home's surplus and unused community share
    MIN_SURPLUS = "min_surplus"  # the minimum current always, the rest from surplus
    PLAN = "plan"  # a target energy by a time (evcc's plan), preferring surplus and P3 hours


class Reason(StrEnum):
    """Why a device is doing what it does now; each is a translated state of its sensor."""

    DISABLED = "disabled"
    NATIVE = "native"
    METER_STALE = "meter_stale"
    DEVICE_UNREACHABLE = "device_unreachable"
    STORING_SURPLUS = "storing_surplus"
    COVERING_IMPORT = "covering_import"
    BALANCED = "balanced"
    VALLEY_CHARGING = "valley_charging"
    RESERVE_CHARGING = "reserve_charging"
    RESERVE_HOLDING = "reserve_holding"
    MANUAL = "manual"
    ONE_OFF = "one_off"
    OFF = "off"
    NO_CAR = "no_car"
    CHARGING_NOW = "charging_now"
    CHARGING_SURPLUS = "charging_surplus"
    WAITING_SURPLUS = "waiting_surplus"
    STARTING = "starting"
    STOPPING = "stopping"
    MINIMUM_CURRENT = "minimum_current"
    DEADLINE_VALLEY = "deadline_valley"
    DEADLINE_CATCH_UP = "deadline_catch_up"
    TARGET_REACHED = "target_reached"


class Clip(StrEnum):
    """A limit that changed what a mode asked for; each is translated."""

    CONTRACTED_POWER = "contracted_power"
    MAX_CHARGE_POWER = "max_charge_power"
    MAX_DISCHARGE_POWER = "max_discharge_power"
    SOC_MAX = "soc_max"
    SOC_MIN = "soc_min"
    RAMP = "ramp"
    MAX_CURRENT = "max_current"
    BELOW_MIN_CURRENT = "below_min_current"
    SETTLING = "settling"


@dataclass(frozen=True, kw_only=True)
class HomeNow:
    """The home at one moment, as the control sees it; None where it is not known.

    ``grid_w`` is None when the grid meter's value is older than the household allows: control
    without it would be blind. ``allocation_w`` is the last allocation the community sent (it
    is kept while the link is down).
    """

    at: datetime  # aware, in the supply's local time
    grid_w: float | None
    charge_w: float | None = None  # the battery's power, into it
    soc: float | None = None  # %
    ev_w: float | None = None  # the charger's power
    car_connected: bool | None = None
    session_kwh: float | None = None  # charged since the car was plugged in
    allocation_w: float | None = None
    battery_reachable: bool = True
    charger_reachable: bool = True
    # False while a reading was taken before the last command could show in it (the meters are
    # polled apart from the devices): no setpoint is raised on such readings.
    settled: bool = True


@dataclass(frozen=True, kw_only=True)
class Limits:
    """The household's limits, which every command passes through."""

    contracted_w: float  # the contracted power: the meter's limiter cuts above it
    # Kept free below the contracted power, for the load that starts before the next decision.
    headroom_w: float = 300.0
    max_charge_w: float = 0.0  # the battery's, as the household allows it
    max_discharge_w: float = 0.0
    soc_min: float = 10.0
    soc_max: float = 100.0
    max_current_a: float = 16.0  # the charger's, as the household's wiring allows it
    # The most a setpoint may move in one decision (W, A); reductions for safety are immediate.
    ramp_w: float = 1000.0
    ramp_a: float = 6.0

    @property
    def grid_limit_w(self) -> float:
        """The most the home may import."""
        return self.contracted_w - self.headroom_w


@dataclass(frozen=True, kw_only=True)
class BatterySettings:
    """How the household wants its battery used."""

    mode: BatteryMode = BatteryMode.NATIVE
    reserve_soc: float = 30.0  # reserve mode: kept for outages
    valley_target_soc: float = 80.0  # valley mode: reached by the end of the night's P3
    manual_charge_w: float = 0.0  # manual mode: + charges, - discharges
    capacity_wh: float = (
        0.0  # what the battery stores (0: not known; valley then charges at full power)
    )
    # Below this SoC the battery takes the surplus before the car (evcc's "home battery priority").
    priority_soc: float = 50.0


@dataclass(frozen=True, kw_only=True)
class ChargerSettings:
    """How the household wants its car charged."""

    mode: ChargerMode = ChargerMode.OFF
    min_current_a: float = 6.0  # the least a car takes (IEC 61851)
    phases: int = 1
    # Surplus must last this long before charging starts, and be gone this long before it stops.
    start_delay_s: float = 60.0
    stop_delay_s: float = 180.0
    # A change of current smaller than this is not made (cars and relays are not cycled).
    current_step_a: float = 1.0
    target_kwh: float = 0.0  # plan
    deadline: datetime | None = None  # plan
    # What the charger does when control stops (meter lost, disabled): paused, or minimum current.
    safe_paused: bool = True

    def watts(self, amps: float) -> float:
        """Return the power ``amps`` draw on the charger's phases."""
        return amps * PHASE_VOLTS * self.phases

    def amps(self, watts: float) -> float:
        """Return the current that draws ``watts`` on the charger's phases."""
        return watts / (PHASE_VOLTS * self.phases)


@dataclass(frozen=True, kw_only=True)
class BatteryOverride:
    """A one-off: charge (or discharge) at ``charge_w`` until a SoC or a time, then the mode."""

    charge_w: float
    until: datetime
    until_soc: float | None = None


@dataclass(frozen=True, kw_only=True)
class BatteryDecision:
    """What the battery is told: a power (+ charge), or None: its own mode."""

    charge_w: float | None
    reason: Reason
    clips: tuple[Clip, ...] = ()
    asked_w: float | None = None  # what the mode asked for, before the limits


@dataclass(frozen=True, kw_only=True)
class ChargerDecision:
    """What the charger is told: a current (0: paused)."""

    current_a: float
    reason: Reason
    clips: tuple[Clip, ...] = ()
    asked_a: float | None = None


@dataclass(frozen=True, kw_only=True)
class Decisions:
    """One step's decisions, with the grid power they are expected to make."""

    battery: BatteryDecision | None = None
    charger: ChargerDecision | None = None
    expected_grid_w: float | None = None
    target_grid_w: float | None = None
