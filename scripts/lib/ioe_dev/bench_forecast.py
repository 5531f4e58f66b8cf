"""``scripts/bench forecast``: a year of the demo plant forecast 36 hours ahead, every hour.

The plant: ``synthetic.make_community(MEMBERS)``'s generation (2025, pvlib clear sky for central
Spain × a daily cloudiness drawn independently for each day × an hourly flicker). Its days are
independent, which favours the days' level over persistence for tomorrow; the bench also builds
a *persistent* year: the same clear sky, marginals and flicker, with the daily cloudiness an
AR(1) process (``PERSISTENCE_PHI`` from one day to the next).

Each origin is a moment in an hour (10 minutes past); the forecast sees the hours before it.
Errors are over the daytime target hours (the site's clear-sky GHI above zero), by horizon
bucket (0 = the hour under way), against two references: 24-hour persistence (the same hour one
day before, two days before where one day before is not known yet) and smart persistence (the
clear-sky index of the last daytime hour × the coming hours' clear-sky GHI). One row adds a
weather forecast that knows each day's cloudiness within ``WEATHER_ERROR``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
import statistics
import time
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
import pandas as pd
from scipy import stats

from ioe_aggregator.forecast import (
    HISTORY_DAYS,
    HORIZON_HOURS,
    Site,
    WeatherForecast,
    forecast_generation,
)
from ioe_aggregator.forecast.clearsky import clear_sky_ghi_w_m2
from ioe_aggregator.forecast.model import MIN_CLEAR_SKY_GHI_W_M2
from ioe_aggregator.sharing.calendar import DEFAULT_TZ
from ioe_dev.synthetic import SPECIFIC_YIELD_KWH_PER_KWP, make_community

Array = NDArray[np.float64]

MEMBERS: Final = 10
# The demo plant's place (``synthetic``'s clear sky).
SITE: Final = Site(latitude=40.4, longitude=-3.7, altitude=650)
BUCKETS: Final = ((0, 5), (6, 11), (12, 23), (24, 35))
# The origin's minute within the hour under way.
ORIGIN_MINUTES: Final = 10
# The persistent year: the daily cloudiness' day-to-day correlation (of its normal scores),
# and the demo's marginal of it (Beta(5, 1.6)) and hourly flicker, kept.
PERSISTENCE_PHI: Final = 0.6
CLEARNESS_BETA: Final = (5.0, 1.6)
FLICKER_SD: Final = 0.08
SEED: Final = 24
# Other choices of the history's length, and a new plant's history, every few hours.
OTHER_HISTORY_DAYS: Final = (7, 28)
NEW_PLANT_DAYS: Final = 3
SPARSE_STEP_H: Final = 3
# A weather forecast's error on the day's cloudiness (the lognormal sigma), and the share of days
# taken as clear for its scale.
WEATHER_ERROR: Final = 0.15
CLEAREST_DAYS: Final = 0.99


@dataclass(frozen=True, kw_only=True)
class Forecasts:
    """Each origin's 36 hours (rows: origins, columns: horizon) of each method, and the truth."""

    truth: Array
    daytime: NDArray[np.bool_]
    ours: Array
    p10: Array
    p90: Array
    persistence_24h: Array
    smart_persistence: Array
    seconds: list[float]


def persistent_year(index: pd.DatetimeIndex, peak_kw: float) -> pd.Series:
    """Return a year of the plant with day-to-day persistent cloudiness (kWh per hour)."""
    rng = np.random.default_rng(SEED)
    days = index.tz_convert(DEFAULT_TZ).normalize()
    _codes, day_of_hour = np.unique(days, return_inverse=True)
    scores = np.empty(day_of_hour.max() + 1)
    scores[0] = rng.normal()
    for day in range(1, len(scores)):
        innovation = rng.normal() * np.sqrt(1.0 - PERSISTENCE_PHI**2)
        scores[day] = PERSISTENCE_PHI * scores[day - 1] + innovation
    clearness = stats.beta.ppf(stats.norm.cdf(scores), *CLEARNESS_BETA)[day_of_hour]
    flicker = np.clip(rng.normal(1.0, FLICKER_SD, size=len(index)), 0.6, 1.1)
    raw = clear_sky_ghi_w_m2(SITE, index) * clearness * flicker
    return pd.Series(raw * (peak_kw * SPECIFIC_YIELD_KWH_PER_KWP / raw.sum()), index=index)


def weather_forecast(generation: pd.Series) -> WeatherForecast:
    """Return a GHI forecast that knows each local day's cloudiness within ``WEATHER_ERROR``.

    The day's clear-sky index is read from what happened (the day's energy ÷ its clear-sky
    GHI, over the same ratio on the year's clearest days), times a lognormal error of its own
    each day; the hours of the day get the day's index, as the demo's sky does.
    """
    rng = np.random.default_rng(SEED + 1)
    ghi = pd.Series(clear_sky_ghi_w_m2(SITE, generation.index), index=generation.index)
    days = generation.index.tz_convert(DEFAULT_TZ).normalize()
    ratio = generation.groupby(days).transform("sum") / ghi.groupby(days).transform("sum")
    _codes, day_of_hour = np.unique(days, return_inverse=True)
    error = rng.lognormal(0.0, WEATHER_ERROR, size=day_of_hour.max() + 1)[day_of_hour]
    index = ratio.to_numpy() / ratio.quantile(CLEAREST_DAYS) * error
    return WeatherForecast(hours=generation.index, ghi_w_m2=ghi.to_numpy() * index)


def run_year(
    generation: pd.Series,
    origins: NDArray[np.intp],
    *,
    history_days: int = HISTORY_DAYS,
    site: Site | None = SITE,
    known_days: int | None = None,
    weather: WeatherForecast | None = None,
) -> Forecasts:
    """Forecast from each origin (positions in the year) and line up the references.

    ``known_days``: the plant's history starts that many days before each origin (a new plant).
    """
    values = generation.to_numpy()
    clear_ghi = clear_sky_ghi_w_m2(SITE, generation.index)
    ahead = np.arange(HORIZON_HOURS)
    targets = origins[:, None] + ahead[None, :]
    shape = targets.shape
    ours, p10, p90 = np.empty(shape), np.empty(shape), np.empty(shape)
    seconds = []
    kept = (known_days if known_days is not None else history_days) * 24
    for row, origin in enumerate(origins):
        history = generation.iloc[max(origin - kept, 0) : origin]
        now = generation.index[origin] + timedelta(minutes=ORIGIN_MINUTES)
        start = time.perf_counter()
        forecast = forecast_generation(
            history, now, site, history_days=history_days, weather=weather
        )
        seconds.append(time.perf_counter() - start)
        ours[row], p10[row], p90[row] = forecast.expected_kwh, forecast.p10_kwh, forecast.p90_kwh
    one_day = np.where(ahead < 24, targets - 24, targets - 48)
    sunny = np.flatnonzero(clear_ghi >= MIN_CLEAR_SKY_GHI_W_M2)
    last = sunny[np.searchsorted(sunny, origins) - 1]
    index_now = values[last] / clear_ghi[last]
    return Forecasts(
        truth=values[targets],
        daytime=clear_ghi[targets] > 0,
        ours=ours,
        p10=p10,
        p90=p90,
        persistence_24h=values[one_day],
        smart_persistence=index_now[:, None] * clear_ghi[targets],
        seconds=seconds,
    )


def score(forecasts: Forecasts, mean_daytime_kwh: float) -> dict[str, Any]:
    """Return MAE (kWh, % of the mean daytime hour) by bucket, and the band's coverage."""
    methods = {
        "ours": forecasts.ours,
        "persistence_24h": forecasts.persistence_24h,
        "smart_persistence": forecasts.smart_persistence,
    }
    buckets: dict[str, Any] = {}
    for first, last in (*BUCKETS, (0, HORIZON_HOURS - 1)):
        columns = slice(first, last + 1)
        daytime = forecasts.daytime[:, columns]
        truth = forecasts.truth[:, columns][daytime]
        row: dict[str, Any] = {}
        for name, forecast in methods.items():
            mae = float(np.abs(forecast[:, columns][daytime] - truth).mean())
            row[name] = {"mae_kwh": mae, "mae_share": mae / mean_daytime_kwh}
        inside = (forecasts.p10[:, columns][daytime] <= truth + 1e-9) & (
            truth <= forecasts.p90[:, columns][daytime] + 1e-9
        )
        row["coverage"] = float(inside.mean())
        row["band_share"] = float(
            (forecasts.p90[:, columns][daytime] - forecasts.p10[:, columns][daytime]).mean()
            / mean_daytime_kwh
        )
        buckets[f"{first}-{last}"] = row
    return {
        "buckets": buckets,
        "origins": len(forecasts.seconds),
        "forecast_ms_median": 1000 * statistics.median(forecasts.seconds),
        "forecast_ms_p99": 1000 * float(np.quantile(forecasts.seconds, 0.99)),
    }


def bench_forecast() -> dict[str, Any]:
    """Score the forecast on the demo year and the persistent year, and time it."""
    started = time.perf_counter()
    community = make_community(MEMBERS)
    years = {
        "demo": community.generation_kwh,
        "persistent": persistent_year(community.generation_kwh.index, community.peak_kw),
    }
    # Origins once the longest history and two days of persistence are there, to 36 h before
    # the year's end.
    first = max(*OTHER_HISTORY_DAYS, HISTORY_DAYS) * 24
    every_hour = np.arange(first, len(community.generation_kwh) - HORIZON_HOURS)
    sparse = every_hour[::SPARSE_STEP_H]
    results: dict[str, Any] = {
        "members": MEMBERS,
        "peak_kw": community.peak_kw,
        "history_days": HISTORY_DAYS,
        "years": {},
    }
    for name, generation in years.items():
        values = generation.to_numpy()
        clear = clear_sky_ghi_w_m2(SITE, generation.index) > 0
        mean_daytime = float(values[clear].mean())
        runs = {f"{HISTORY_DAYS} days, every hour": run_year(generation, every_hour)}
        for days in OTHER_HISTORY_DAYS:
            runs[f"{days} days, every {SPARSE_STEP_H} h"] = run_year(
                generation, sparse, history_days=days
            )
        runs[f"new plant ({NEW_PLANT_DAYS} days known), every {SPARSE_STEP_H} h"] = run_year(
            generation, sparse, known_days=NEW_PLANT_DAYS
        )
        runs[f"no site (daily profile), every {SPARSE_STEP_H} h"] = run_year(
            generation, sparse, site=None
        )
        runs[
            f"with a weather forecast (each day's cloudiness ±{WEATHER_ERROR:.0%}), "
            f"every {SPARSE_STEP_H} h"
        ] = run_year(generation, sparse, weather=weather_forecast(generation))
        results["years"][name] = {
            "mean_daytime_kwh": mean_daytime,
            "runs": {label: score(run, mean_daytime) for label, run in runs.items()},
        }
    # A site whose clear sky is not kept yet (the libraries loaded): a community's first.
    cold_start = time.perf_counter()
    forecast_generation(
        community.generation_kwh.iloc[:first],
        community.generation_kwh.index[first].to_pydatetime(),
        Site(latitude=SITE.latitude + 1.0, longitude=SITE.longitude),
    )
    results["cold_forecast_ms"] = 1000 * (time.perf_counter() - cold_start)
    results["seconds"] = time.perf_counter() - started
    return results


def print_table(results: dict[str, Any]) -> None:
    """Print the results as docs/benchmarks.md's tables."""
    labels = [f"{first}-{last} h" for first, last in BUCKETS] + ["all"]
    for year, measured in results["years"].items():
        print(f"\n{year} year, mean daytime hour {measured['mean_daytime_kwh']:.2f} kWh")
        print("| forecast | " + " | ".join(labels) + " |")
        print("|---|" + "---:|" * len(labels))
        for run_label, run in measured["runs"].items():
            rows = [("ours", f"ours, {run_label}")]
            if run_label.startswith(f"{HISTORY_DAYS} days"):
                rows += [
                    ("persistence_24h", "24-h persistence"),
                    ("smart_persistence", "smart persistence (last hour's index)"),
                ]
            for method, name in rows:
                cells = [
                    f"{bucket[method]['mae_kwh']:.2f} ({bucket[method]['mae_share']:.0%})"
                    for bucket in run["buckets"].values()
                ]
                print(f"| {name} | " + " | ".join(cells) + " |")
            cells = [
                f"{bucket['coverage']:.0%} (±{bucket['band_share'] / 2:.0%})"
                for bucket in run["buckets"].values()
            ]
            print(f"| P10-P90 coverage (half-width), {run_label} | " + " | ".join(cells) + " |")
    first = next(iter(results["years"].values()))["runs"]
    timing = next(iter(first.values()))
    print(
        f"\nforecast: median {timing['forecast_ms_median']:.1f} ms, p99 "
        f"{timing['forecast_ms_p99']:.1f} ms; a site's first {results['cold_forecast_ms']:.0f} ms;"
        f" the whole bench {results['seconds']:.0f} s"
    )
