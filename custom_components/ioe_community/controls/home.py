"""The home's control: one decision for the battery and the car at each step, made safe.

Spanish self-consumption is settled per hour: the energy a member's allocation covers is the
lesser of its allocated and its net imported energy in each clock hour, and what it exports in
an hour nets against what it imports in the same hour. So the home aims its net import in each
hour at its allocation: the target now is the allocation now, corrected by how far the hour so
far is from it, spread over the rest of the hour. Never below zero (the battery does not export)
nor above the contracted power.

The split between battery and car follows evcc's "home battery priority": below its
``priority_soc`` the battery takes the surplus first; above it the car does, as much as it
draws (a full car offered 16 A takes nothing: the battery gets the surplus). The battery never
discharges into the car.

The community's allocation is an input, never a command: with the link down the last one is
used (and the home's own meters still are), and none known counts as nothing allocated.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from .battery import ask as ask_battery
from .charger import Hysteresis, ask as ask_charger
from .model import (
    BatteryDecision,
    BatteryMode,
    BatteryOverride,
    BatterySettings,
    ChargerDecision,
    ChargerSettings,
    Clip,
    Decisions,
    HomeNow,
    Limits,
    Reason,
)
from .safety import car_w, guard, uncontrolled_w

# The hour's balance is spread over at least this much of what is left of it (s), and the
# power it adds is at most this share of the contracted power: a last-minute lurch would
# only cycle the devices.
MIN_SPREAD_S = 300.0
MAX_CORRECTION_SHARE = 0.5
# A gap between two steps longer than this is not integrated (Home Assistant was stopped).
MAX_STEP_S = 900.0


@dataclass
class HourBalance:
    """The clock hour's net import and allocation so far (Wh), integrated from each step."""

    hour: datetime | None = None
    imported_wh: float = 0.0
    allocated_wh: float = 0.0
    last: datetime | None = None
    last_grid_w: float | None = None
    last_allocation_w: float = 0.0

    def add(self, now: HomeNow) -> None:
        """Count the time since the last step at the powers seen then, in the hour it was."""
        if self.last is not None and self.last_grid_w is not None:
            seconds = (now.at - self.last).total_seconds()
            if 0 < seconds <= MAX_STEP_S:
                self.imported_wh += self.last_grid_w * seconds / 3600
                self.allocated_wh += self.last_allocation_w * seconds / 3600
        hour = now.at.replace(minute=0, second=0, microsecond=0)
        if hour != self.hour:
            self.hour, self.imported_wh, self.allocated_wh = hour, 0.0, 0.0
        self.last, self.last_grid_w = now.at, now.grid_w
        self.last_allocation_w = now.allocation_w or 0.0

    def target_w(self, now: HomeNow, limits: Limits) -> float:
        """Return the grid power to aim at for the rest of the hour (W)."""
        allocation_w = now.allocation_w or 0.0
        left_s = 3600.0 - (now.at.minute * 60 + now.at.second + now.at.microsecond / 1e6)
        behind_wh = self.allocated_wh - self.imported_wh
        bound = MAX_CORRECTION_SHARE * limits.contracted_w
        correction = max(-bound, min(bound, behind_wh * 3600 / max(left_s, MIN_SPREAD_S)))
        return max(0.0, min(limits.grid_limit_w, allocation_w + correction))


@dataclass
class HomeControl:
    """Decides, at each step, what the home's battery and car are told.

    Stateful between steps (the hour's balance, the charger's hysteresis, a one-off), pure of
    I/O: the integration feeds it what the home measures and writes what it decides.
    """

    limits: Limits
    battery: BatterySettings | None = None
    charger: ChargerSettings | None = None
    enabled: bool = True
    override: BatteryOverride | None = None
    balance: HourBalance = field(default_factory=HourBalance)
    hysteresis: Hysteresis = field(default_factory=Hysteresis)
    last_charge_w: float | None = None
    last_current_a: float | None = None
    session_kwh: float = 0.0
    _last_step: datetime | None = None

    def step(self, now: HomeNow) -> Decisions:
        """Return this step's decisions for what the home measures now."""
        self._count_session(now)
        self.balance.add(now)
        if self.override is not None and now.at >= self.override.until:
            self.override = None
        grid_w = now.grid_w
        if not self.enabled or grid_w is None:
            return self._fail_safe(now, Reason.DISABLED if not self.enabled else Reason.METER_STALE)
        if now.session_kwh is None:
            now = replace(now, session_kwh=self.session_kwh)
        target_w = self.balance.target_w(now, self.limits)
        flex_w = target_w - uncontrolled_w(now, grid_w)
        charge_w, battery_reason = self._ask_battery(now, flex_w)
        battery_first = self.battery is not None and _battery_first(
            self.battery, now, charger=self.charger is not None, override=self.override
        )
        car_surplus_w = flex_w - max(charge_w or 0.0, 0.0) if battery_first else flex_w
        current_a, charger_reason = self._ask_charger(now, car_surplus_w)
        if not battery_first and charge_w is not None and self.charger is not None:
            taken_w = car_w(now, self.charger, current_a or 0.0, self.last_current_a)
            charge_w, battery_reason = self._ask_battery(now, flex_w - taken_w)
            # The battery covers the home's import, never the car's.
            charge_w = max(charge_w or 0.0, min(flex_w, 0.0)) if charge_w is not None else None
        if not now.battery_reachable:
            charge_w, battery_reason = None, Reason.DEVICE_UNREACHABLE
        if not now.charger_reachable:
            current_a, charger_reason = None, Reason.DEVICE_UNREACHABLE
        asked_w, asked_a = charge_w, current_a
        if not now.settled:
            charge_w = _no_raise(charge_w, self.last_charge_w)
            current_a = _no_raise(current_a, self.last_current_a)
        guarded = guard(
            now=now,
            grid_w=grid_w,
            limits=self.limits,
            charge_w=charge_w,
            current_a=current_a,
            charger=self.charger,
            last_charge_w=self.last_charge_w,
            last_current_a=self.last_current_a,
        )
        self.last_charge_w, self.last_current_a = guarded.charge_w, guarded.current_a
        # A start or a raise held for the readings stays asked: the mode's delays do not restart.
        if guarded.current_a is not None and current_a == asked_a:
            self.hysteresis.current_a = guarded.current_a
            self.hysteresis.charging = guarded.current_a > 0
        return Decisions(
            battery=BatteryDecision(
                charge_w=guarded.charge_w,
                reason=battery_reason,
                clips=_with(guarded.battery_clips, charge_w != asked_w),
                asked_w=asked_w,
            )
            if self.battery is not None
            else None,
            charger=ChargerDecision(
                current_a=guarded.current_a or 0.0,
                reason=charger_reason,
                clips=_with(guarded.charger_clips, current_a != asked_a),
                asked_a=asked_a,
            )
            if self.charger is not None
            else None,
            expected_grid_w=guarded.expected_grid_w,
            target_grid_w=target_w,
        )

    def _ask_battery(self, now: HomeNow, flex_w: float) -> tuple[float | None, Reason]:
        if self.battery is None:
            return None, Reason.NATIVE
        return ask_battery(self.battery, now, flex_w, self.limits, self.override)

    def _ask_charger(self, now: HomeNow, surplus_w: float) -> tuple[float | None, Reason]:
        if self.charger is None:
            return None, Reason.OFF
        return ask_charger(self.charger, now, surplus_w, self.limits, self.hysteresis)

    def _count_session(self, now: HomeNow) -> None:
        """Count the car's energy since it was plugged in, for chargers that do not."""
        if now.car_connected is False:
            self.session_kwh = 0.0
        elif self._last_step is not None and now.ev_w is not None:
            seconds = (now.at - self._last_step).total_seconds()
            if 0 < seconds <= MAX_STEP_S:
                self.session_kwh += now.ev_w * seconds / 3_600_000
        self._last_step = now.at

    def _fail_safe(self, now: HomeNow, reason: Reason) -> Decisions:
        """Return the battery to its own mode and the charger to its safe state."""
        self.hysteresis.reset()
        self.last_charge_w = None
        safe_a = None
        if self.charger is not None:
            safe_a = 0.0 if self.charger.safe_paused else self.charger.min_current_a
            if now.car_connected is False:
                safe_a = 0.0
        self.last_current_a = safe_a
        return Decisions(
            battery=BatteryDecision(charge_w=None, reason=reason) if self.battery else None,
            charger=ChargerDecision(current_a=safe_a, reason=reason)
            if self.charger is not None and safe_a is not None
            else None,
        )


def _battery_first(
    battery: BatterySettings, now: HomeNow, *, charger: bool, override: BatteryOverride | None
) -> bool:
    """Return whether the battery takes the surplus before the car."""
    return (
        not charger
        or override is not None
        or battery.mode is BatteryMode.MANUAL
        or now.soc is None
        or now.soc < battery.priority_soc
    )


def _no_raise(value: float | None, last: float | None) -> float | None:
    """Return ``value``, but no more import than ``last`` asked (held while readings settle)."""
    return value if value is None or last is None else min(value, last)


def _with(clips: tuple[Clip, ...], settling: bool) -> tuple[Clip, ...]:
    """Return ``clips``, with SETTLING first when a raise was held for the readings."""
    return (Clip.SETTLING, *clips) if settling else clips
