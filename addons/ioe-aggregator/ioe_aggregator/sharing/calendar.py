"""Spanish electricity time rules: hours of the year, 2.0TD energy periods, national holidays.

Sources: CNMC Circular 3/2020 (periods and holidays), Orden TED/1247/2021 (hourly coefficients,
hour n = the n-th elapsed local hour of the year).
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
import pandas as pd

DEFAULT_TZ: Final = "Europe/Madrid"

# National, fixed-date, non-substitutable holidays that make a whole day P3 in 2.0TD
# (Circular 3/2020). Good Friday is a holiday in most regions but NOT a P3 day.
NATIONAL_HOLIDAYS_MONTH_DAY: Final = frozenset(
    {(1, 1), (1, 6), (5, 1), (8, 15), (10, 12), (11, 1), (12, 6), (12, 8), (12, 25)}
)


def hours_of_year(year: int, tz: str = DEFAULT_TZ) -> pd.DatetimeIndex:
    """Return the start (UTC) of every elapsed local hour of ``year``: 8760, or 8784 in leap years.

    Position n - 1 holds hour n of the distributor's hourly coefficient file. The 23-hour day in
    March and the 25-hour day in October cancel out, so the count is that of a plain year.
    """
    zone = ZoneInfo(tz)
    start = pd.Timestamp(dt.datetime(year, 1, 1, tzinfo=zone)).tz_convert("UTC")
    end = pd.Timestamp(dt.datetime(year + 1, 1, 1, tzinfo=zone)).tz_convert("UTC")
    return pd.date_range(start, end, freq="h", inclusive="left", name="start")


def is_p3_day(local: pd.DatetimeIndex) -> NDArray[np.bool_]:
    """Return whether each local timestamp falls on a Saturday, Sunday or national holiday."""
    weekend = local.dayofweek >= 5
    holiday = np.array(
        [
            (m, d) in NATIONAL_HOLIDAYS_MONTH_DAY
            for m, d in zip(local.month, local.day, strict=True)
        ],
        dtype=bool,
    )
    return np.asarray(weekend | holiday)


def energy_period_20td(
    index: pd.DatetimeIndex, tz: str = DEFAULT_TZ, *, ceuta_melilla: bool = False
) -> NDArray[np.int8]:
    """Return the 2.0TD energy period (1, 2 or 3) of each hour starting at ``index`` (tz-aware).

    Working days: P1 10-14 and 18-22, P2 8-10, 14-18 and 22-24, P3 0-8. In Ceuta and Melilla
    P1 and P2 start an hour later (P1 11-15 and 19-23, P2 8-11, 15-19 and 23-24); P3 is still
    0-8. Weekends and national holidays: P3 all day.
    """
    local = index.tz_convert(tz)
    hour = np.asarray(local.hour)
    # P1's hours, shifted by an hour in Ceuta and Melilla.
    peak = hour - (1 if ceuta_melilla else 0)
    period = np.full(len(index), 2, dtype=np.int8)
    period[((peak >= 10) & (peak < 14)) | ((peak >= 18) & (peak < 22))] = 1
    period[hour < 8] = 3
    period[is_p3_day(local)] = 3
    return period


def add_months(day: dt.date, months: int) -> dt.date:
    """Return the same day ``months`` later (the month's last day when it has fewer days)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
