"""Plants whose every hour is known: a site's clear sky × a scale × the sky of each day."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from ioe_aggregator.forecast import Site
from ioe_aggregator.forecast.clearsky import clear_sky_ghi_w_m2

SITE = Site(latitude=40.4, longitude=-3.7, altitude=650)
# kWh per hour for each W/m² of clear-sky GHI: a plant of about 5 kWp.
KWH_PER_W_M2 = 0.005
# An origin in June, at 10:20 UTC: three daytime hours are behind it.
NOW = datetime(2025, 6, 10, 10, 20, tzinfo=UTC)


def hours_before(now: datetime, days: int) -> pd.DatetimeIndex:
    """Return the ``days`` × 24 whole UTC hours before the hour under way at ``now``."""
    end = pd.Timestamp(now).floor("h")
    return pd.date_range(end - pd.Timedelta(days=days), end, freq="h", inclusive="left")


def clear_kwh(hours: pd.DatetimeIndex) -> np.ndarray:
    """Return the plant's production under a clear sky (kWh per hour)."""
    return KWH_PER_W_M2 * clear_sky_ghi_w_m2(SITE, hours)


def cloudy_days(hours: pd.DatetimeIndex, seed: int = 1) -> np.ndarray:
    """Return each hour's clear-sky index: a random level for each UTC day, a little flicker."""
    rng = np.random.default_rng(seed)
    day = (hours - hours[0].floor("D")).days.to_numpy()
    level = rng.uniform(0.5, 1.0, size=day.max() + 1)[day]
    return level * rng.uniform(0.95, 1.05, size=len(hours))


def history(hours: pd.DatetimeIndex, index: np.ndarray | float = 1.0) -> pd.Series:
    """Return the plant's hourly kWh under the clear-sky index ``index``."""
    return pd.Series(clear_kwh(hours) * index, index=hours)
