"""What each battery mode asks for, before the safety layer.

``flex_w`` is what the home may draw beyond what it draws now without the battery and the car
and still import no more than its target (its community allocation, with the hour's balance):
positive, energy the home would otherwise export or leave unused; negative, import beyond it.
"""

from __future__ import annotations

from datetime import timedelta

from .model import BatteryMode, BatteryOverride, BatterySettings, HomeNow, Limits, Reason
from .tariff import Period, next_change, period

# Below this a battery's power is "neither charging nor discharging" (W).
IDLE_W = 50.0
# Valley mode charges from the grid only in the last P3 stretch before a working day's P1/P2.
VALLEY_NIGHT = timedelta(hours=8)
# Reserve mode restores its reserve from the grid at this share of the battery's power.
RESERVE_RESTORE_SHARE = 0.5
# The reserve and the valley target are held within this many SoC points.
SOC_BAND = 0.5


def ask(
    settings: BatterySettings,
    now: HomeNow,
    flex_w: float,
    limits: Limits,
    override: BatteryOverride | None = None,
) -> tuple[float | None, Reason]:
    """Return the battery power the mode asks for (None: the device's own mode) and why."""
    if override is not None and _override_holds(override, now):
        return override.charge_w, Reason.ONE_OFF
    match settings.mode:
        case BatteryMode.NATIVE:
            return None, Reason.NATIVE
        case BatteryMode.MANUAL:
            return settings.manual_charge_w, Reason.MANUAL
        case BatteryMode.USE_MY_SHARE:
            return flex_w, _reason(flex_w)
        case BatteryMode.VALLEY:
            return _valley(settings, now, flex_w, limits)
        case BatteryMode.RESERVE:
            return _reserve(settings, now, flex_w, limits)


def _override_holds(override: BatteryOverride, now: HomeNow) -> bool:
    if now.at >= override.until:
        return False
    if override.until_soc is None or now.soc is None:
        return True
    if override.charge_w >= 0:
        return now.soc < override.until_soc
    return now.soc > override.until_soc


def _reason(charge_w: float) -> Reason:
    if charge_w > IDLE_W:
        return Reason.STORING_SURPLUS
    if charge_w < -IDLE_W:
        return Reason.COVERING_IMPORT
    return Reason.BALANCED


def _valley(
    settings: BatterySettings, now: HomeNow, flex_w: float, limits: Limits
) -> tuple[float, Reason]:
    """In the night's P3 before a working day, charge to the target by its end; else share."""
    if period(now.at) is not Period.P3 or now.soc is None:
        return flex_w, _reason(flex_w)
    ends = next_change(now.at)
    below_target = now.soc < settings.valley_target_soc - SOC_BAND
    if below_target and ends - now.at <= VALLEY_NIGHT:
        hours_left = max((ends - now.at).total_seconds() / 3600, 0.25)
        missing_wh = (settings.valley_target_soc - now.soc) / 100 * settings.capacity_wh
        needed_w = limits.max_charge_w
        if settings.capacity_wh > 0:  # spread over the night, not all at its start
            needed_w = min(missing_wh / hours_left, needed_w)
        return max(flex_w, needed_w), Reason.VALLEY_CHARGING
    if now.soc <= settings.valley_target_soc + SOC_BAND and ends - now.at <= VALLEY_NIGHT:
        return max(flex_w, 0.0), _reason(max(flex_w, 0.0))  # kept for the day's peak
    return flex_w, _reason(flex_w)


def _reserve(
    settings: BatterySettings, now: HomeNow, flex_w: float, limits: Limits
) -> tuple[float, Reason]:
    """Restore the reserve (from the grid if need be), then share, never below the reserve."""
    if now.soc is None:
        return 0.0, Reason.RESERVE_HOLDING
    if now.soc < settings.reserve_soc - SOC_BAND:
        return max(flex_w, RESERVE_RESTORE_SHARE * limits.max_charge_w), Reason.RESERVE_CHARGING
    if now.soc <= settings.reserve_soc + SOC_BAND and flex_w < 0:
        return 0.0, Reason.RESERVE_HOLDING
    return flex_w, _reason(flex_w)
