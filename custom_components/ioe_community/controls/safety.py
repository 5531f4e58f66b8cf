"""The safety layer: every command passes through it, and it says what it changed and why.

In order: both moved by at most a ramp per decision; the battery within its powers and the
household's SoC window; the charger within its currents (below the car's minimum is paused);
then the contracted power. A ramp slows a setpoint moving away from zero only: less power into
or out of a device is never delayed.

The grid meter's limiter (ICP) cuts a Spanish home's supply above its contracted power, the
home's own load included: what the commands would add to the load that is not theirs must stay
under the contracted power less a headroom. When it would not, the battery's charge goes first,
then the car's current (down to paused), then the battery discharges to cover the rest, as far
as it may.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

from .model import ChargerSettings, Clip, HomeNow, Limits


@dataclass(frozen=True, kw_only=True)
class Guarded:
    """Commands after the safety layer, with the limits that changed them."""

    charge_w: float | None
    battery_clips: tuple[Clip, ...]
    current_a: float | None
    charger_clips: tuple[Clip, ...]
    expected_grid_w: float


def uncontrolled_w(now: HomeNow, grid_w: float) -> float:
    """Return the grid power (``grid_w`` now) the home would have without battery and car (W)."""
    return grid_w - (now.charge_w or 0.0) - (now.ev_w or 0.0)


def car_w(
    now: HomeNow, charger: ChargerSettings, current_a: float, last_current_a: float | None
) -> float:
    """Return what the car will draw when offered ``current_a`` (W).

    A car takes at most what it is offered, and often less (its own charger's limit, a full
    battery): what it draws now, plus what the new offer adds to the last one.
    """
    offered_w = charger.watts(current_a)
    if now.ev_w is None:
        return offered_w
    more_w = max(offered_w - charger.watts(last_current_a or 0.0), 0.0)
    return min(offered_w, max(now.ev_w, 0.0) + more_w)


def guard(
    *,
    now: HomeNow,
    grid_w: float,
    limits: Limits,
    charge_w: float | None,
    current_a: float | None,
    charger: ChargerSettings | None,
    last_charge_w: float | None,
    last_current_a: float | None,
) -> Guarded:
    """Return ``charge_w`` (None: the battery's own mode) and ``current_a`` made safe.

    ``grid_w`` is the grid meter's power now (the step has none without it: fail-safe).

    ``last_*`` are the values the devices were last told (None: not told, or their own mode);
    the ramp starts from them, or from what the device measures.
    """
    battery_clips: list[Clip] = []
    charger_clips: list[Clip] = []
    if charge_w is not None:
        start = last_charge_w if last_charge_w is not None else (now.charge_w or 0.0)
        charge_w = _ramp(charge_w, start, limits.ramp_w, battery_clips)
        charge_w = _battery_window(charge_w, now, limits, battery_clips)
    if current_a is not None and charger is not None:
        current_a = _charger_window(current_a, charger, limits, last_current_a, charger_clips)
    # Contracted power: what is not the battery's nor the car's, plus what they are told.
    battery_w = charge_w if charge_w is not None else (now.charge_w or 0.0)
    ev_w = (
        car_w(now, charger, current_a, last_current_a)
        if current_a is not None and charger
        else (now.ev_w or 0.0)
    )
    expected = uncontrolled_w(now, grid_w) + battery_w + ev_w
    excess = expected - limits.grid_limit_w
    if excess > 0 and charge_w is not None and charge_w > 0:
        cut = min(excess, charge_w)
        charge_w, excess = charge_w - cut, excess - cut
        _add(battery_clips, Clip.CONTRACTED_POWER)
    if excess > 0 and current_a and charger is not None:
        # Offered no more than what the car may take without the excess: it takes at most that.
        reduced = math.floor(charger.amps(max(ev_w - excess, 0.0)))
        reduced_a = float(reduced) if reduced >= charger.min_current_a else 0.0
        excess -= ev_w - min(ev_w, charger.watts(reduced_a))
        current_a = reduced_a
        _add(charger_clips, Clip.CONTRACTED_POWER)
    if excess > 0 and charge_w is not None and _may_discharge(now, limits):
        deeper = max(charge_w - excess, -limits.max_discharge_w)
        if deeper < charge_w:
            excess -= charge_w - deeper
            charge_w = deeper
            _add(battery_clips, Clip.CONTRACTED_POWER)
    return Guarded(
        charge_w=charge_w,
        battery_clips=tuple(battery_clips),
        current_a=current_a,
        charger_clips=tuple(charger_clips),
        expected_grid_w=limits.grid_limit_w + excess,
    )


def _battery_window(charge_w: float, now: HomeNow, limits: Limits, clips: list[Clip]) -> float:
    if charge_w > limits.max_charge_w:
        charge_w = limits.max_charge_w
        clips.append(Clip.MAX_CHARGE_POWER)
    if charge_w < -limits.max_discharge_w:
        charge_w = -limits.max_discharge_w
        clips.append(Clip.MAX_DISCHARGE_POWER)
    # An unknown SoC is outside the window both ways: neither forced charge nor discharge.
    if charge_w > 0 and (now.soc is None or now.soc >= limits.soc_max):
        charge_w = 0.0
        clips.append(Clip.SOC_MAX)
    if charge_w < 0 and not _may_discharge(now, limits):
        charge_w = 0.0
        clips.append(Clip.SOC_MIN)
    return charge_w


def _may_discharge(now: HomeNow, limits: Limits) -> bool:
    return now.soc is not None and now.soc > limits.soc_min


def _charger_window(
    current_a: float,
    charger: ChargerSettings,
    limits: Limits,
    last_current_a: float | None,
    clips: list[Clip],
) -> float:
    if current_a > limits.max_current_a:
        current_a = limits.max_current_a
        clips.append(Clip.MAX_CURRENT)
    if last_current_a and last_current_a >= charger.min_current_a:
        current_a = _ramp(current_a, last_current_a, limits.ramp_a, clips)
    current_a = float(math.floor(current_a))  # whole amperes, never more than asked
    if 0 < current_a < charger.min_current_a:
        current_a = 0.0
        clips.append(Clip.BELOW_MIN_CURRENT)
    return current_a


def _ramp(value: float, start: float, ramp: float, clips: list[Clip]) -> float:
    """Return ``value``, at most ``ramp`` further from zero than ``start``; nearer zero at once."""
    if value * start < 0:
        start = 0.0  # the other way: from zero
    if abs(value) > abs(start) + ramp:
        clips.append(Clip.RAMP)
        return math.copysign(abs(start) + ramp, value)
    return value


def _add(clips: list[Clip], clip: Clip) -> None:
    if clip not in clips:
        clips.append(clip)
