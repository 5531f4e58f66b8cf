"""What a forecast is made from and what it gives: the site, a weather forecast, the result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
import pandas as pd

Array = NDArray[np.float64]

# Kasten & Czeplak (1980): GHI / clear-sky GHI = 1 − 0.75 · (cloud cover)^3.4.
CLOUD_DIMMING = 0.75
CLOUD_EXPONENT = 3.4
# Below this hour-mean clear-sky GHI (W/m²) a GHI forecast says nothing about the sky: the sun
# is too low for the ratio to mean anything.
MIN_CLEAR_SKY_GHI_W_M2 = 25.0
# A GHI forecast a little above clear sky (cloud enhancement) is believed, not more.
MAX_CLEAR_SKY_INDEX = 1.2


@dataclass(frozen=True)
class Site:
    """Where the plant is: latitude and longitude in degrees (north, east), altitude in m."""

    latitude: float
    longitude: float
    altitude: float = 0.0


@dataclass(frozen=True, kw_only=True)
class WeatherForecast:
    """A weather forecast for the site, hour by hour: cloud cover or GHI, one of them.

    Parameters
    ----------
    hours : pd.DatetimeIndex
        Start of each hour (time-zone aware; hours outside the forecast's are ignored).
    cloud_cover : array of float, optional
        Total cloud cover, fraction 0-1 (a weather model's ``cloud_cover`` % / 100).
    ghi_w_m2 : array of float, optional
        Global horizontal irradiance, the hour's mean (W/m²).

    NaN marks an hour the source does not know. The forecast takes the weather's clear-sky
    index as the plant's: after a fortnight without a clear day, when the plant's clear-sky
    production is learnt low, a clear day it announces is forecast low too.

    """

    hours: pd.DatetimeIndex
    cloud_cover: Array | None = None
    ghi_w_m2: Array | None = None

    def __post_init__(self) -> None:
        """Check that exactly one quantity is given, one value per hour."""
        given = [v for v in (self.cloud_cover, self.ghi_w_m2) if v is not None]
        if len(given) != 1:
            raise ValueError("a weather forecast has either cloud_cover or ghi_w_m2")
        if len(given[0]) != len(self.hours):
            raise ValueError(f"{len(given[0])} values for {len(self.hours)} hours")
        if self.hours.tz is None:
            raise ValueError("weather hours must be time-zone aware")

    def clear_sky_index(self, hours: pd.DatetimeIndex, clear_sky_ghi_w_m2: Array) -> Array:
        """Return the forecast GHI / clear-sky GHI for ``hours`` (NaN where not known).

        ``clear_sky_ghi_w_m2``: the site's clear-sky GHI, hour mean, for the same ``hours``.
        Cloud cover becomes an index by Kasten & Czeplak's relation.
        """
        hours_utc = self.hours.tz_convert("UTC")
        if self.cloud_cover is not None:
            cover = np.clip(np.asarray(self.cloud_cover, dtype=float), 0.0, 1.0)
            index = 1.0 - CLOUD_DIMMING * cover**CLOUD_EXPONENT
            known = pd.Series(index, index=hours_utc).reindex(hours).to_numpy()
            return np.where(clear_sky_ghi_w_m2 > 0.0, known, np.nan)
        # __post_init__: without cloud cover, GHI.
        ghi = pd.Series(np.asarray(self.ghi_w_m2, dtype=float), index=hours_utc).reindex(hours)
        sunny = clear_sky_ghi_w_m2 >= MIN_CLEAR_SKY_GHI_W_M2
        ratio: Array = ghi.to_numpy() / np.where(sunny, clear_sky_ghi_w_m2, np.nan)
        return np.clip(ratio, 0.0, MAX_CLEAR_SKY_INDEX)


@dataclass(frozen=True, kw_only=True)
class GenerationForecast:
    """The plant's expected energy for each coming hour, with a P10-P90 band (kWh).

    ``computed_at``: the forecast's ``now``, in UTC. ``hours``: UTC starts, the first the hour
    under way at ``computed_at``. ``method``: how it was made (``clear-sky-index``,
    ``clear-sky-index+weather``, ``daily-profile``; zeros: ``no-history``, ``no-production``).
    ``history_days``: the days of the history window that had any known hour.
    """

    computed_at: datetime
    hours: pd.DatetimeIndex
    expected_kwh: Array
    p10_kwh: Array
    p90_kwh: Array
    method: str
    history_days: int

    def frame(self) -> pd.DataFrame:
        """Return the hours as rows and ``kwh``, ``kwh_p10``, ``kwh_p90`` as columns."""
        return pd.DataFrame(
            {"kwh": self.expected_kwh, "kwh_p10": self.p10_kwh, "kwh_p90": self.p90_kwh},
            index=self.hours,
        )
