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
   energy-weighted), or toward a weather forecast's index where one is given. The weight of
   the last hours falls with the lag (the hours since the last known daytime hour) as the
   plant's own window shows: each hour of the window is taken as an origin and its later
   hours as targets, and the weight for each band of lags is the regression of the targets'
   index on the origins' (leaning toward exp(−lag / ``PERSISTENCE_H``) where pairs are few).
   Where clouds hold for days, the last hours count into tomorrow; where they do not, they
   count for the rest of the day only.
4. The band: the 10 % and 90 % quantiles of the errors of that same forecast made over the
   window, by lag, added to the index. The quantile levels are widened for the few
   independent draws a window holds (a day's hours share its clouds), and with few days of
   history they lean toward a prior band (``PRIOR_BAND``): a new plant's band is wider.

``daily-profile``, without a site: the same with the clear-sky GHI replaced by 1, so that the
plant's "clear-sky production" is the high quantile of its production at each UTC hour.

The hour under way is forecast whole: a partial value for it in the history is not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
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
# How fast the last hours' index gives way to the days' level before the window says (hours).
PERSISTENCE_H = 6.0
# Daytime: clear-sky production at least this share of the window's highest hour.
DAY_SHARE = 0.05
BAND_QUANTILES = (0.1, 0.9)
# Lags (hours since the last known daytime hour) whose errors are pooled for the band.
LAG_EDGES = np.array([1, 2, 3, 4, 6, 9, 13, 19, 27, 39])
MIN_ERRORS = 20
# How many pairs of the window the prior weight exp(−lag / PERSISTENCE_H) counts for.
PRIOR_PAIRS = 24.0
# The band of the index for a plant with no days of history, and how many days it weighs.
PRIOR_BAND = (-0.6, 0.4)
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
            computed_at=now.astimezone(UTC),
            hours=hours,
            expected_kwh=expected,
            p10_kwh=p10,
            p90_kwh=p90,
            method=method,
            history_days=days,
        )

    if observed.size == 0:
        zeros = np.zeros(horizon_hours)
        # Nothing known, or a plant that produced nothing in its whole window.
        method = "no-history" if days == 0 else "no-production"
        return result(method, zeros, zeros.copy(), zeros.copy())
    persistence = _Persistence(energy_kwh, clear_kwh[:past], observed)
    anchor = np.full(horizon_hours, persistence.level)
    method = "daily-profile" if site is None else "clear-sky-index"
    if site is not None and weather is not None:
        from_weather = weather.clear_sky_index(hours, reference[past:])
        if np.isfinite(from_weather).any():
            anchor = np.where(np.isfinite(from_weather), from_weather, anchor)
            method = "clear-sky-index+weather"
    blend = _fit(index, persistence, horizon_hours, days)
    recent, last = persistence.recent(np.array([past]))
    bins = _lag_bin(np.arange(past, past + horizon_hours) - last[0])
    weight = blend.weight[bins]
    expected_index = np.maximum(weight * recent[0] + (1.0 - weight) * anchor, 0.0)
    clear = clear_kwh[past:]
    expected = clear * expected_index
    p10 = np.minimum(clear * np.maximum(expected_index + blend.low[bins], 0.0), expected)
    p90 = np.maximum(clear * (expected_index + blend.high[bins]), expected)
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

    def recent(self, origins: NDArray[np.intp]) -> tuple[Array, NDArray[np.intp]]:
        """Return the last hours' index before each origin, and the last known hour's position.

        ``origins``: positions of the hour under way, each after the first known hour.
        """
        seen = np.searchsorted(self.observed, origins)
        first = np.maximum(seen - RECENT_HOURS, 0)
        energy = self._energy[seen] - self._energy[first]
        return energy / (self._clear[seen] - self._clear[first]), self.observed[seen - 1]


@dataclass(frozen=True, kw_only=True)
class _Blend:
    """Per lag bin: the last hours' index's weight, and the band's offsets of the index."""

    weight: Array
    low: Array
    high: Array


def _lag_bin(lag: NDArray[np.intp]) -> NDArray[np.intp]:
    return np.clip(np.searchsorted(LAG_EDGES, lag, side="right") - 1, 0, len(LAG_EDGES) - 1)


def _fit(index: Array, persistence: _Persistence, horizon_hours: int, days: int) -> _Blend:
    """Learn how far the last hours' index holds, and the band, from the window itself.

    Each hour of the window after the first known one is taken as an origin, and each later
    known hour of the window within the horizon as a target. Per lag bin, the weight is the
    regression of the targets' index on the origins' recent index (both less the level),
    leaning toward exp(−lag / ``PERSISTENCE_H``) as if ``PRIOR_PAIRS`` pairs said so; the band
    is the quantiles of what that forecast gets wrong, leaning toward ``PRIOR_BAND`` by the
    days of history. A bin with too few pairs takes the spread of the index around its level.
    """
    past = len(index)
    origins = np.arange(persistence.observed[0] + 1, past)
    recent, last = persistence.recent(origins)
    targets = origins[:, None] + np.arange(horizon_hours)[None, :]
    inside = targets < past
    actual = np.where(inside, index[np.where(inside, targets, 0)], np.nan)
    valid = np.isfinite(actual)
    pairs_bin = _lag_bin((targets - last[:, None])[valid])
    pairs_day = targets[valid] // HOURS_PER_DAY
    above = (actual - persistence.level)[valid]
    recent_above = np.broadcast_to((recent - persistence.level)[:, None], targets.shape)[valid]
    pseudo = PRIOR_PAIRS * float(np.mean(recent_above**2)) if recent_above.size else 0.0
    spread = index[persistence.observed] - persistence.level
    prior = np.array(PRIOR_BAND)
    fallback = (
        np.quantile(spread, _levels(spread, persistence.observed // HOURS_PER_DAY))
        if spread.size >= MIN_ERRORS
        else prior
    )
    trust = days / (days + PRIOR_DAYS)
    weight = np.exp(-LAG_EDGES / PERSISTENCE_H)
    band = np.empty((len(LAG_EDGES), 2))
    for number in range(len(LAG_EDGES)):
        chosen = pairs_bin == number
        x, y = recent_above[chosen], above[chosen]
        if pseudo > 0:
            learnt = (x @ y + pseudo * weight[number]) / (x @ x + pseudo)
            weight[number] = min(max(learnt, 0.0), 1.0)
        errors = y - weight[number] * x
        empirical = (
            np.quantile(errors, _levels(errors, pairs_day[chosen]))
            if errors.size >= MIN_ERRORS
            else fallback
        )
        band[number] = trust * empirical + (1.0 - trust) * prior
    return _Blend(weight=weight, low=band[:, 0], high=band[:, 1])


def _levels(errors: Array, day: NDArray[np.intp]) -> tuple[float, float]:
    """Return the quantile levels whose interval holds ``BAND_QUANTILES``' share of new errors.

    The 10-90 % interval of n independent draws holds on average only (n − 1)/(n + 1) × 80 %
    of the next ones: the levels are widened by the inverse (to the whole range at most). A
    day's hours share its clouds, so the errors are fewer draws than hours: n is the days ×
    the errors' variance ÷ the variance of the days' means (the hours if they are independent,
    the days if each day's are alike).
    """
    count = np.bincount(day)
    used = count > 0
    means = np.bincount(day, weights=errors)[used] / count[used]
    between = float(np.average((means - errors.mean()) ** 2, weights=count[used]))
    days = int(used.sum())
    draws = (
        min(max(days * float(errors.var()) / between, days), errors.size)
        if between > 0
        else errors.size
    )
    low, high = BAND_QUANTILES
    width = (high - low) * (draws + 1) / max(draws - 1, 1)
    middle = (low + high) / 2
    return max(middle - width / 2, 0.0), min(middle + width / 2, 1.0)
