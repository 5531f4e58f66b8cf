"""REE's standard household load profile (P2.0TD), for a member known by its annual kWh alone.

Red Eléctrica de España publishes each month the hourly coefficients that settle low-voltage
supplies without hourly metering ("perfiles finales", PERFF); ``data/`` holds 2025's, as
published (``data/README.md``). A member who has no hourly history gets its annual kWh spread
over the hours by that shape.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from ioe_aggregator.sharing.calendar import DEFAULT_TZ, hours_of_year

PROFILE_YEAR = 2025
# The P2.0TD coefficient's column in REE's files (year, month, day, hour, summer flag, P2.0TD…).
_P20TD_COLUMN = 5
_WEEK = pd.Timedelta(days=7)


@cache
def ree_profile() -> pd.Series:
    """Return REE's 2025 P2.0TD profile on the year's UTC hours, normalised to sum 1.

    Each month's rows are its consecutive local hours (the October day has 25, March's 23).
    """
    folder = resources.files("ioe_aggregator.sharing") / "data" / "ree-perff-2025"
    frames = []
    for month in range(1, 13):
        with (folder / f"PERFF_{PROFILE_YEAR}{month:02d}.csv").open("rb") as file:
            frames.append(
                pd.read_csv(
                    file,
                    sep=";",
                    encoding="iso-8859-15",
                    usecols=[_P20TD_COLUMN],
                    header=0,
                    names=["p"],
                )
            )
    values = pd.concat(frames, ignore_index=True)["p"].to_numpy(dtype=float)
    index = hours_of_year(PROFILE_YEAR, DEFAULT_TZ)
    if len(values) != len(index):
        raise ValueError(f"REE profile has {len(values)} hours, the year {len(index)}")
    return pd.Series(values / values.sum(), index=index)


def standard_consumption(annual_kwh: float, index: pd.DatetimeIndex, tz: str) -> pd.Series:
    """Return a household's hourly kWh on ``index`` (UTC hours) from its annual kWh.

    Each hour takes the profile's value for the same clock hour (local, in ``tz``) of the 2025
    day that falls on the same weekday and within three days of its date (the week's shape is
    kept: a Sunday takes a Sunday's; a holiday's lower day is not moved with it). A year of
    hours sums to about ``annual_kwh``.
    """
    profile = ree_profile()
    # REE's hours are the peninsula's clock; elsewhere (the Canaries) a household lives the
    # same clock hours on its own.
    local = profile.index.tz_convert(DEFAULT_TZ).tz_localize(None)
    # The October hour that comes twice takes the mean of the two; March's missing one the
    # hour before it.
    by_clock = pd.Series(profile.to_numpy(), index=local).groupby(level=0).mean()
    wanted = index.tz_convert(tz).tz_localize(None)
    same_date = pd.to_datetime(
        {
            "year": PROFILE_YEAR,
            "month": wanted.month,
            "day": np.where((wanted.month == 2) & (wanted.day == 29), 28, wanted.day),
        }
    )
    weeks = np.round((same_date.to_numpy() - wanted.normalize().to_numpy()) / _WEEK)
    shifted = wanted + pd.to_timedelta(weeks * 7, unit="D")
    # Near New Year the nearest same weekday may fall in the year before or after: a week back.
    shifted = shifted + pd.to_timedelta(
        np.where(shifted.year > PROFILE_YEAR, -7, np.where(shifted.year < PROFILE_YEAR, 7, 0)),
        unit="D",
    )
    looked_up = by_clock.reindex(by_clock.index.union(shifted.unique())).ffill().bfill()
    values = looked_up.reindex(shifted).to_numpy()
    return pd.Series(values * annual_kwh, index=index)
