"""What each charger mode asks for, with the hysteresis that keeps cars and relays calm.

``surplus_w`` is what the car may draw and still keep the home's import at its target (see
``battery``): the home's surplus and its unused community share. Charging on surplus starts
only after surplus enough for the minimum current has lasted ``start_delay_s``, and stops only
after it has been missing for ``stop_delay_s`` (meanwhile the car keeps the minimum current);
the current moves only by ``current_step_a`` or more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
import math

from .model import ChargerMode, ChargerSettings, HomeNow, Limits, Reason
from .tariff import Period, period, valley_seconds

# Plans with 90 % of the charger's power (cars taper) and 15 minutes to spare.
DEADLINE_POWER_SHARE = 0.9
DEADLINE_MARGIN_H = 0.25


@dataclass
class Hysteresis:
    """The state of surplus charging between decisions."""

    charging: bool = False
    surplus_since: datetime | None = None
    shortage_since: datetime | None = None
    current_a: float = 0.0
    # A plan charging in the valley goes on until its target or the valley's end: what it
    # charged faster than assumed must not stop it and start it again.
    planned: bool = False

    def reset(self) -> None:
        """Forget the surplus seen so far (the car left, the mode changed)."""
        self.charging, self.surplus_since, self.shortage_since, self.current_a = (
            False,
            None,
            None,
            0.0,
        )
        self.planned = False


def ask(
    settings: ChargerSettings,
    now: HomeNow,
    surplus_w: float,
    limits: Limits,
    state: Hysteresis,
) -> tuple[float, Reason]:
    """Return the current the mode asks for (0: paused) and why."""
    if now.car_connected is False:
        state.reset()
        return 0.0, Reason.NO_CAR
    match settings.mode:
        case ChargerMode.OFF:
            state.reset()
            return 0.0, Reason.OFF
        case ChargerMode.NOW:
            return _hold(state, limits.max_current_a), Reason.CHARGING_NOW
        case ChargerMode.SURPLUS:
            return _surplus(settings, now, surplus_w, state)
        case ChargerMode.MIN_SURPLUS:
            amps = max(settings.min_current_a, settings.amps(surplus_w))
            return _step(settings, state, amps), (
                Reason.CHARGING_SURPLUS if amps > settings.min_current_a else Reason.MINIMUM_CURRENT
            )
        case ChargerMode.PLAN:
            return _by_deadline(settings, now, surplus_w, limits, state)


def _hold(state: Hysteresis, amps: float) -> float:
    state.charging, state.current_a = amps > 0, amps
    state.surplus_since = state.shortage_since = None
    return amps


def _step(settings: ChargerSettings, state: Hysteresis, amps: float) -> float:
    """Move to ``amps`` (whole amperes down) only when it differs by a step or more."""
    if state.charging and abs(amps - state.current_a) < settings.current_step_a:
        return state.current_a
    return _hold(state, float(math.floor(amps)))


def _surplus(
    settings: ChargerSettings, now: HomeNow, surplus_w: float, state: Hysteresis
) -> tuple[float, Reason]:
    enough = settings.amps(surplus_w) >= settings.min_current_a
    if not state.charging:
        if not enough:
            state.surplus_since = None
            return 0.0, Reason.WAITING_SURPLUS
        state.surplus_since = state.surplus_since or now.at
        if (now.at - state.surplus_since).total_seconds() < settings.start_delay_s:
            return 0.0, Reason.STARTING
        return _step(settings, state, settings.amps(surplus_w)), Reason.CHARGING_SURPLUS
    if enough:
        state.shortage_since = None
        return _step(settings, state, settings.amps(surplus_w)), Reason.CHARGING_SURPLUS
    state.shortage_since = state.shortage_since or now.at
    if (now.at - state.shortage_since).total_seconds() < settings.stop_delay_s:
        current = state.current_a = settings.min_current_a
        return current, Reason.STOPPING
    state.reset()
    return 0.0, Reason.WAITING_SURPLUS


def _by_deadline(
    settings: ChargerSettings,
    now: HomeNow,
    surplus_w: float,
    limits: Limits,
    state: Hysteresis,
) -> tuple[float, Reason]:
    """Surplus first; the night's P3 as late as will do; the full current when time runs out."""
    missing_kwh = settings.target_kwh - (now.session_kwh or 0.0)
    if missing_kwh <= 0:
        state.reset()
        return 0.0, Reason.TARGET_REACHED
    if settings.deadline is None or now.at >= settings.deadline:
        return _surplus(settings, now, surplus_w, state)
    power_kw = settings.watts(limits.max_current_a) / 1000 * DEADLINE_POWER_SHARE
    needed_h = missing_kwh / power_kw + DEADLINE_MARGIN_H
    hours_left = (settings.deadline - now.at).total_seconds() / 3600
    in_valley = period(now.at) is Period.P3
    state.planned = state.planned and in_valley
    if in_valley and (
        state.planned or valley_seconds(now.at, settings.deadline) / 3600 <= needed_h
    ):
        state.planned = True
        return _hold(state, limits.max_current_a), Reason.DEADLINE_VALLEY
    if hours_left <= needed_h:
        return _hold(state, limits.max_current_a), Reason.DEADLINE_CATCH_UP
    return _surplus(settings, now, surplus_w, state)
