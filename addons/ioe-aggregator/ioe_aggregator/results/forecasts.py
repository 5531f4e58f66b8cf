"""The forecasts the community publishes: the plant's generation and each member's allocation.

For the next ``HORIZON_HOURS`` hours, from the community's own history: the registered
plants' generation hour by hour over the last ``HISTORY_DAYS`` days (an hour whose quarters
are not all stored is unknown, not a low one), forecast by ``ioe_aggregator.forecast`` for
the plant's site, and shared by the β of the agreements in force in the coming hours. An
hour no agreement covers allocates nothing. No internet service is asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from ioe_aggregator.forecast import (
    HISTORY_DAYS,
    HORIZON_HOURS,
    GenerationForecast,
    Site,
    allocated_forecast,
    forecast_generation,
)
from ioe_aggregator.protocol.messages import Forecast, ForecastHour


@dataclass(frozen=True, kw_only=True)
class Forecasts:
    """The plant's forecast and each active member's, computed at one moment."""

    computed_at: datetime
    community: Forecast
    members: Mapping[str, Forecast]


def history_hours(now: datetime) -> pd.DatetimeIndex:
    """Return the UTC hours of history a forecast at ``now`` rests on (up to the hour under way)."""
    hour = pd.Timestamp(now).floor("h")
    return pd.date_range(
        hour - pd.Timedelta(days=HISTORY_DAYS), hour, freq="h", inclusive="left", name="start"
    )


def coming_hours(now: datetime) -> pd.DatetimeIndex:
    """Return the UTC hours a forecast at ``now`` covers, from the hour under way."""
    return pd.date_range(pd.Timestamp(now).floor("h"), periods=HORIZON_HOURS, freq="h")


def plant_history(
    complete: Mapping[tuple[str, datetime], float], plants: Sequence[str], hours: pd.DatetimeIndex
) -> pd.Series:
    """Return the plants' summed kWh per hour, NaN where any plant's hour is not whole."""
    if not plants:
        return pd.Series(0.0, index=hours)
    table = pd.DataFrame(
        {
            plant: [complete.get((plant, hour.to_pydatetime()), float("nan")) for hour in hours]
            for plant in plants
        },
        index=hours,
    )
    return table.sum(axis=1, min_count=len(plants))


def build(
    history: pd.Series,
    now: datetime,
    site: Site | None,
    beta: pd.DataFrame,
    members: Sequence[str],
) -> Forecasts:
    """Forecast the plant from its ``history`` and share it by ``beta`` (coming hours × members).

    CPU work of a few tens of milliseconds: the caller runs it off the event loop.
    """
    generation = forecast_generation(history, now, site, horizon_hours=HORIZON_HOURS)
    shares = allocated_forecast(generation, beta.reindex(columns=list(members), fill_value=0.0))
    return Forecasts(
        computed_at=generation.computed_at,
        community=_message(generation, generation.frame()),
        members={member: _message(generation, shares[member]) for member in members},
    )


def _message(generation: GenerationForecast, hours: pd.DataFrame) -> Forecast:
    """Return forecast ``hours`` (``kwh``, ``kwh_p10``, ``kwh_p90`` by UTC hour) as a message."""
    return Forecast(
        computed_at=generation.computed_at,
        method=generation.method,
        history_days=generation.history_days,
        hours=tuple(
            ForecastHour(
                start=start.to_pydatetime(),
                kwh=round(float(row.kwh), 4),
                kwh_p10=round(float(row.kwh_p10), 4),
                kwh_p90=round(float(row.kwh_p90), 4),
            )
            for start, row in zip(hours.index, hours.itertuples(), strict=True)
        ),
    )
