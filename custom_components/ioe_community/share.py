"""The home's share of the community now and in the coming hours, for its automations.

What the community sent (its state, the member's results and forecast) read against the
home's own meter, so that the figures hold when the link is down:

- the **allocation now** (W) is the member's coefficient × the community's generation while
  the community's state is fresh (younger than ``STATE_MAX_AGE`` both since it was made and
  since the home received it: the home's clock and the aggregator's may differ); without one,
  the last forecast's energy for the hour under way, as a mean power; unknown with neither.
  The link refreshes the figures at the moment the state grows old, so that all of them turn
  to the forecast together;
- the **unused share** (W) is what of it the home does not take from the grid now
  (allocation − import, at least 0), the import read from the home's own grid meter;
- the **forecast** is the last one received, hour by hour: what is left of it for today, the
  next hours', and the shapes energy-forecast cards and optimisers read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

from homeassistant.util import dt as dt_util

from .link.messages import CommunityState, Forecast, ForecastHour

if TYPE_CHECKING:
    from .community import CommunityData

# The community publishes its state every minute: older than this, it is not "now".
STATE_MAX_AGE: Final = timedelta(minutes=5)
# "Community surplus for me": an unused share of at least this much.
SURPLUS_FOR_ME_W: Final = 100.0

type Source = Literal["community", "forecast"]


@dataclass(frozen=True, kw_only=True, slots=True)
class AllocationNow:
    """The member's allocation now (W) and where it was read."""

    power_w: float
    source: Source


def state_fresh_until(state: CommunityState, received: datetime) -> datetime:
    """Return when the community's state, received at ``received``, stops being "now"."""
    return min(state.ts, received) + STATE_MAX_AGE


def allocation_now(data: CommunityData, now: datetime) -> AllocationNow | None:
    """Return the allocation now: from the community's fresh state, else the forecast."""
    state, results, fresh_until = data.community_state, data.results, data.state_fresh_until
    if state is not None and results is not None and fresh_until is not None and now < fresh_until:
        return AllocationNow(
            power_w=results.coefficient_now * state.generation_w, source="community"
        )
    if (hour := hour_of(data.forecast, now)) is not None:
        return AllocationNow(power_w=hour.kwh * 1000.0, source="forecast")
    return None


def unused_w(allocation: AllocationNow | None, import_w: float | None) -> float | None:
    """Return the unused share now (W): the allocation the home's import does not take."""
    if allocation is None or import_w is None:
        return None
    return max(allocation.power_w - max(import_w, 0.0), 0.0)


def hour_of(forecast: Forecast | None, moment: datetime) -> ForecastHour | None:
    """Return the forecast's hour holding ``moment`` (None: not forecast)."""
    if forecast is None:
        return None
    return next(
        (hour for hour in forecast.hours if hour.start <= moment < hour.start + timedelta(hours=1)),
        None,
    )


def coming(forecast: Forecast | None, now: datetime) -> list[ForecastHour]:
    """Return the forecast's hours from the one under way at ``now`` on."""
    if forecast is None:
        return []
    return [hour for hour in forecast.hours if hour.start + timedelta(hours=1) > now]


def rest_of_day_kwh(forecast: Forecast | None, now: datetime) -> float | None:
    """Return the energy expected from the hour under way to local midnight (None: none)."""
    hours = coming(forecast, now)
    if not hours:
        return None
    today = dt_util.as_local(now).date()
    return _total(hour.kwh for hour in hours if dt_util.as_local(hour.start).date() == today)


def next_hours_kwh(
    forecast: Forecast | None, now: datetime, hours: int, *, low: bool = False
) -> float | None:
    """Return the energy expected in the next ``hours`` (the P10 figure if ``low``)."""
    ahead = coming(forecast, now)[:hours]
    if not ahead:
        return None
    return _total(hour.kwh_p10 if low else hour.kwh for hour in ahead)


def forecast_attributes(forecast: Forecast | None, now: datetime) -> dict[str, Any]:
    """Return the forecast as the attributes energy-forecast cards and optimisers read.

    ``detailedHourly``: Solcast's list (``period_start`` local ISO time, mean kW = kWh per
    hour, P10 and P90); ``wh_hours``: Forecast.Solar's energy per hour (Wh), by local time.
    """
    hours = coming(forecast, now)
    if forecast is None or not hours:
        return {}
    starts = [dt_util.as_local(hour.start).isoformat() for hour in hours]
    return {
        "detailedHourly": [
            {
                "period_start": start,
                "pv_estimate": hour.kwh,
                "pv_estimate10": hour.kwh_p10,
                "pv_estimate90": hour.kwh_p90,
            }
            for start, hour in zip(starts, hours, strict=True)
        ],
        "wh_hours": {
            start: round(hour.kwh * 1000.0) for start, hour in zip(starts, hours, strict=True)
        },
        # The hour under way's (its whole hour).
        "next_hour_kwh": hours[0].kwh,
        "next_24h_kwh": next_hours_kwh(forecast, now, 24),
        "next_24h_kwh_p10": next_hours_kwh(forecast, now, 24, low=True),
        "computed_at": dt_util.as_local(forecast.computed_at).isoformat(),
        "method": forecast.method,
    }


def _total(values: Iterable[float]) -> float:
    return round(sum(values), 3)
