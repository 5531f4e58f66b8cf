"""The site's clear-sky irradiance, averaged over each UTC hour (pvlib, no internet needed).

Ineichen's model with the Linke turbidity of the site's month from the climatology pvlib ships.
Each UTC day is computed once per site and kept: a forecast every hour then only adds a new day.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from pvlib.location import Location

from ioe_aggregator.forecast.model import Array, Site

HOURS_PER_DAY = 24
# Samples per hour at the middle of each quarter: the hour's mean without the sun's edge.
SAMPLES_PER_HOUR = 4
# About a year of days for a handful of sites; the oldest go first.
MAX_CACHED_DAYS = 4096

_cache: dict[tuple[Site, date], Array] = {}


def _days_ghi_w_m2(site: Site, days: list[date]) -> dict[date, Array]:
    """Return each day's 24 hour-mean clear-sky GHI values (W/m²), in one pvlib call."""
    starts = pd.DatetimeIndex([pd.Timestamp(day, tz="UTC") for day in days])
    offsets = pd.to_timedelta(
        (np.arange(HOURS_PER_DAY * SAMPLES_PER_HOUR) + 0.5) * 60 / SAMPLES_PER_HOUR, unit="min"
    )
    times = starts.repeat(len(offsets)) + np.tile(offsets, len(days))
    location = Location(site.latitude, site.longitude, tz="UTC", altitude=site.altitude)
    ghi = location.get_clearsky(times, model="ineichen")["ghi"].to_numpy(dtype=float)
    means = ghi.reshape(len(days), HOURS_PER_DAY, SAMPLES_PER_HOUR).mean(axis=2)
    return dict(zip(days, means, strict=True))


def clear_sky_ghi_w_m2(site: Site, hours: pd.DatetimeIndex) -> Array:
    """Return the site's clear-sky GHI, mean over each hour of ``hours`` (starts), W/m².

    ``hours`` must be whole UTC hours (in any time zone).
    """
    hours = hours.tz_convert("UTC")
    days = hours.floor("D")
    wanted = days.unique()
    # Forecasts run in worker threads: a day may go from the cache between two looks at it.
    kept = {day: _cache.get((site, day.date())) for day in wanted}
    known = {day: values for day, values in kept.items() if values is not None}
    missing = [day.date() for day in wanted if day not in known]
    if missing:
        computed = _days_ghi_w_m2(site, missing)
        known |= {pd.Timestamp(day, tz="UTC"): values for day, values in computed.items()}
        for key in list(_cache)[: max(len(_cache) + len(missing) - MAX_CACHED_DAYS, 0)]:
            _cache.pop(key, None)
        _cache.update({(site, day): values for day, values in computed.items()})
    table = np.stack([known[day] for day in wanted])
    values: Array = table[wanted.get_indexer(days), hours.hour.to_numpy()]
    return values
