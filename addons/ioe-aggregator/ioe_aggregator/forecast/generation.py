"""The plant's generation for the coming hours, from its own recent history and the clear sky.

``clear-sky-index``, a plant at a known site:

1. Clear-sky production: the site's clear-sky GHI for each hour (``clearsky``) × the plant's
   response to it, learnt for each UTC hour of the day as a high quantile (``CLEAR_QUANTILE``)
   of production ÷ clear-sky GHI over the last ``history_days`` days. Orientation, shading and
   inverter clipping are in the data: no model of the plant is needed. UTC hours because the
   sun keeps to them, whatever the local clock does on the days of 23 and 25 hours.
2. The clear-sky index k = production ÷ clear-sky production of each daytime hour.
3. A coming hour's index blends the last hours' (``RECENT_HOURS`` daytime hours,
   energy-weighted) toward the recent days' level (every daytime hour of the window,
   energy-weighted), or toward a weather forecast's index where one is given, with the weight
   exp(−lag / ``PERSISTENCE_H``), lag the hours since the last known daytime hour.
4. The band: the same forecast made at every hour of the window for the window's own hours;
   its errors' 10 % and 90 % quantiles, by lag, added to the index. With few days of history
   the quantiles lean toward a prior band (``PRIOR_BAND``): a new plant's band is wider.

``daily-profile``, without a site: the same with the clear-sky GHI replaced by 1, so that the
plant's "clear-sky production" is the high quantile of its production at each UTC hour.

The hour under way is forecast whole: a partial value for it in the history is not used.
"""

from __future__ import annotations

from datetime import datetime
import warnings

import numpy as np
from numpy.typing import NDArray
import pandas as pd

from ioe_aggregator.forecast.clearsky import HOURS_PER_DAY, clear_sky_ghi_w_m2
from ioe_aggregator.forecast.model import (
    MIN_CLEAR_SKY_GHI_W_M2,
    Array,
    GenerationForecast,
    Site,
    WeatherForecast,
)

HISTORY_DAYS = 14
HORIZON_HOURS = 36
# Production ÷ clear-sky GHI on the clearest days, not the clearest hour (a passing cloud's
# edge can lift one hour above clear sky).
CLEAR_QUANTILE = 0.9
RECENT_HOURS = 3
# How fast the last hours' index gives way to the days' level (hours).
PERSISTENCE_H = 6.0
# Daytime: clear-sky production at least this share of the window's highest hour.
DAY_SHARE = 0.05
BAND_QUANTILES = (0.1, 0.9)
# Lags (hours since the last known daytime hour) whose errors are pooled for the band.
LAG_EDGES = np.array([1, 2, 3, 4, 6, 9, 13, 19, 27, 39])
MIN_ERRORS = 20
# The band of the index for a plant with no days of history, and how many days it weighs.
PRIOR_BAND = (-0.4, 0.3)
PRIOR_DAYS = 2.0


def forecast_generation(
    history: pd.Series,
    now: datetime,
    site: Site | None,
    *,
    horizon_hours: int = HORIZON_HOURS,
    weather: WeatherForecast | None = None,
    history_days: int = HISTORY_DAYS,
) -> GenerationForecast:
    """Forecast the plant's energy for each hour from the hour under way at ``now``.

    Parameters
    ----------
    history : pd.Series
        The plant's energy per hour (kWh), indexed by the hours' time-zone-aware starts; NaN
        or a missing hour is unknown. Only the ``history_days`` days before the hour under
        way are read.
    now : datetime
        Time-zone aware.
    site : Site or None
        Where the plant is; None: the daily-profile method.
    horizon_hours : int
        How many hours, the hour under way first.
    weather : WeatherForecast, optional
        A weather forecast for the site (used with a site only).
    history_days : int
        Days of history the plant's clear-sky production and its index are learnt from.

    Returns
    -------
    GenerationForecast
        Expected, P10 and P90 energies (kWh) per UTC hour; zero at night.

    """
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    if horizon_hours < 1 or history_days < 1:
        raise ValueError("horizon_hours and history_days must be at least 1")
    start = pd.Timestamp(now).tz_convert("UTC").floor("h")
    past = history_days * HOURS_PER_DAY
    window = pd.date_range(
        start - pd.Timedelta(hours=past), periods=past + horizon_hours, freq="h", name="start"
    )
    hours = window[past:]
    energy_kwh = _history_kwh(history, window[:past])
    days = int(np.isfinite(energy_kwh).reshape(history_days, HOURS_PER_DAY).any(axis=1).sum())
    if site is None:
        reference = np.ones(len(window))
        learn = np.ones(past, dtype=bool)
    else:
        reference = clear_sky_ghi_w_m2(site, window)
        learn = reference[:past] >= MIN_CLEAR_SKY_GHI_W_M2
    clear_kwh = _clear_sky_kwh(energy_kwh, reference, learn)
    daytime = clear_kwh >= DAY_SHARE * clear_kwh.max() if clear_kwh.max() > 0 else clear_kwh > 0
    index = np.where(
        daytime[:past], energy_kwh / np.where(daytime[:past], clear_kwh[:past], 1.0), np.nan
    )
    observed = np.flatnonzero(np.isfinite(index))

    def result(method: str, expected: Array, p10: Array, p90: Array) -> GenerationForecast:
        return GenerationForecast(
            computed_at=now,
            hours=hours,
            expected_kwh=expected,
            p10_kwh=p10,
            p90_kwh=p90,
            method=method,
            history_days=days,
        )

    if observed.size == 0:
        zeros = np.zeros(horizon_hours)
        return result("no-history", zeros, zeros.copy(), zeros.copy())
    persistence = _Persistence(energy_kwh, clear_kwh[:past], observed)
    anchor = np.full(horizon_hours, persistence.level)
    method = "daily-profile" if site is None else "clear-sky-index"
    if site is not None and weather is not None:
        from_weather = weather.clear_sky_index(hours, reference[past:])
        if np.isfinite(from_weather).any():
            anchor = np.where(np.isfinite(from_weather), from_weather, anchor)
            method = "clear-sky-index+weather"
    targets = np.arange(past, past + horizon_hours)
    expected_index, lag = persistence.index(np.array([past]), targets[None, :], anchor[None, :])
    low, high = _band(index, persistence, horizon_hours, days)
    bins = _lag_bin(lag[0])
    clear = clear_kwh[past:]
    expected = clear * np.maximum(expected_index[0], 0.0)
    p10 = np.minimum(clear * np.maximum(expected_index[0] + low[bins], 0.0), expected)
    p90 = np.maximum(clear * (expected_index[0] + high[bins]), expected)
    return result(method, expected, p10, p90)


def _history_kwh(history: pd.Series, hours: pd.DatetimeIndex) -> Array:
    """Return the history's kWh for ``hours`` (UTC), NaN where unknown."""
    if history.empty:
        return np.full(len(hours), np.nan)
    index = pd.DatetimeIndex(history.index)
    if index.tz is None:
        raise ValueError("the history's hours must be time-zone aware")
    values = pd.Series(history.to_numpy(dtype=float), index=index.tz_convert("UTC"))
    known: Array = values.reindex(hours).to_numpy(dtype=float)
    return known


def _clear_sky_kwh(energy_kwh: Array, reference: Array, learn: Array) -> Array:
    """Return the plant's clear-sky production (kWh) for every hour of the window.

    The window starts at the same UTC hour of the day as the forecast, so position p of the
    window is hour of day p mod 24 from there. An hour of day with nothing to learn from takes
    the nearest one's response.
    """
    past = len(energy_kwh)
    ratio = np.where(learn, energy_kwh / np.where(learn, reference[:past], 1.0), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an hour of day with no known value
        by_hour = np.nanquantile(ratio.reshape(-1, HOURS_PER_DAY), CLEAR_QUANTILE, axis=0)
    known = np.flatnonzero(np.isfinite(by_hour))
    if known.size == 0:
        return np.zeros(len(reference))
    distance = np.abs(np.arange(HOURS_PER_DAY)[:, None] - known[None, :])
    nearest = known[np.argmin(np.minimum(distance, HOURS_PER_DAY - distance), axis=1)]
    response: Array = by_hour[nearest][np.arange(len(reference)) % HOURS_PER_DAY]
    return response * reference


class _Persistence:
    """The last hours' clear-sky index as seen from any hour of the window, and its level."""

    def __init__(self, energy_kwh: Array, clear_kwh: Array, observed: NDArray[np.intp]) -> None:
        """Index the known daytime hours ``observed`` (positions in the window, ascending)."""
        self.observed = observed
        self._energy = np.concatenate([[0.0], np.cumsum(energy_kwh[observed])])
        self._clear = np.concatenate([[0.0], np.cumsum(clear_kwh[observed])])
        self.level = float(self._energy[-1] / self._clear[-1])

    def index(
        self, origins: NDArray[np.intp], targets: NDArray[np.intp], anchor: Array | float
    ) -> tuple[Array, NDArray[np.intp]]:
        """Return the forecast index of ``targets`` made at ``origins``, and their lags (h).

        ``origins``: positions of the hour under way (n); ``targets``: positions (n × m);
        ``anchor``: the index far ahead (the level, or the weather's). An origin with no known
        daytime hour before it forecasts the anchor.
        """
        seen = np.searchsorted(self.observed, origins)
        first = np.maximum(seen - RECENT_HOURS, 0)
        clear = self._clear[seen] - self._clear[first]
        recent = (self._energy[seen] - self._energy[first]) / np.where(clear > 0, clear, 1.0)
        lag = targets - self.observed[np.maximum(seen - 1, 0)][:, None]
        weight = np.where((seen > 0)[:, None], np.exp(-lag / PERSISTENCE_H), 0.0)
        return weight * recent[:, None] + (1.0 - weight) * anchor, lag


def _lag_bin(lag: NDArray[np.intp]) -> NDArray[np.intp]:
    return np.clip(np.searchsorted(LAG_EDGES, lag, side="right") - 1, 0, len(LAG_EDGES) - 1)


def _band(
    index: Array, persistence: _Persistence, horizon_hours: int, days: int
) -> tuple[Array, Array]:
    """Return the index's low and high offsets (P10, P90) for each lag bin.

    From the errors of the forecasts the method would have made at each hour of the window
    for the window's later hours, leaning toward ``PRIOR_BAND`` by the days of history. A bin
    with too few errors takes the spread of the index around its level.
    """
    past = len(index)
    origins = np.arange(persistence.observed[0] + 1, past)
    targets = origins[:, None] + np.arange(horizon_hours)[None, :]
    inside = targets < past
    actual = np.where(inside, index[np.where(inside, targets, 0)], np.nan)
    forecast, lag = persistence.index(origins, targets, persistence.level)
    errors = actual - forecast
    valid = np.isfinite(errors)
    error_bins = _lag_bin(lag[valid])
    errors = errors[valid]
    prior = np.array(PRIOR_BAND)
    spread = index[persistence.observed] - persistence.level
    fallback = np.quantile(spread, BAND_QUANTILES) if spread.size >= MIN_ERRORS else prior
    trust = days / (days + PRIOR_DAYS)
    band = np.empty((len(LAG_EDGES), 2))
    for number in range(len(LAG_EDGES)):
        chosen = errors[error_bins == number]
        empirical = np.quantile(chosen, BAND_QUANTILES) if chosen.size >= MIN_ERRORS else fallback
        band[number] = trust * empirical + (1.0 - trust) * prior
    return band[:, 0], band[:, 1]
