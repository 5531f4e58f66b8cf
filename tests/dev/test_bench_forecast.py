"""The forecast benchmark's references, scores and persistent year."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioe_aggregator.forecast.clearsky import clear_sky_ghi_w_m2
from ioe_dev.bench_forecast import (
    SITE,
    Forecasts,
    persistent_year,
    run_year,
    score,
    weather_forecast,
)
from ioe_dev.synthetic import SPECIFIC_YIELD_KWH_PER_KWP, make_community

HOURS = pd.date_range("2025-05-01", periods=10 * 24, freq="h", tz="UTC")


def test_the_references_are_the_hours_they_name() -> None:
    generation = pd.Series(0.005 * clear_sky_ghi_w_m2(SITE, HOURS), index=HOURS)
    generation *= np.random.default_rng(2).uniform(0.5, 1.0, len(HOURS))
    values = generation.to_numpy()
    origins = np.array([5 * 24 + 10, 6 * 24 + 3])
    run = run_year(generation, origins, history_days=3)
    for row, origin in enumerate(origins):
        assert (run.truth[row] == values[origin : origin + 36]).all()
        assert (run.persistence_24h[row, :24] == values[origin - 24 : origin]).all()
        assert (run.persistence_24h[row, 24:] == values[origin - 24 : origin - 12]).all()
    # At 10:00 UTC the last daytime hour is 09:00; at 03:00, yesterday's last sunny hour.
    ghi = clear_sky_ghi_w_m2(SITE, HOURS)
    last = [origins[0] - 1, np.flatnonzero(ghi[: origins[1]] >= 25)[-1]]
    for row, hour in enumerate(last):
        index = values[hour] / ghi[hour]
        expected = index * ghi[origins[row] : origins[row] + 36]
        np.testing.assert_allclose(run.smart_persistence[row], expected)


def test_scores_by_bucket() -> None:
    truth = np.tile(np.r_[np.zeros(3), np.full(33, 2.0)], (2, 1))
    forecasts = Forecasts(
        truth=truth,
        daytime=truth > 0,
        ours=truth + 0.5,
        p10=truth - 1.0,
        p90=np.where(np.arange(36) < 24, truth + 1.0, truth - 0.1),
        persistence_24h=truth * 0,
        smart_persistence=truth,
        seconds=[0.001, 0.003],
    )
    scored = score(forecasts, mean_daytime_kwh=2.0)
    # The night's hours are not judged: ours is 0.5 off in every daytime hour.
    assert scored["buckets"]["0-5"]["ours"] == {"mae_kwh": 0.5, "mae_share": 0.25}
    assert scored["buckets"]["6-11"]["ours"] == {"mae_kwh": 0.5, "mae_share": 0.25}
    assert scored["buckets"]["12-23"]["persistence_24h"]["mae_share"] == 1.0
    assert scored["buckets"]["12-23"]["coverage"] == 1.0
    assert scored["buckets"]["24-35"]["coverage"] == 0.0
    assert scored["buckets"]["0-35"]["coverage"] == pytest.approx(21 / 33)
    assert scored["forecast_ms_median"] == pytest.approx(2.0)


def _daily_index(generation: pd.Series) -> np.ndarray:
    ghi = pd.Series(clear_sky_ghi_w_m2(SITE, generation.index), index=generation.index)
    days = generation.index.tz_convert("Europe/Madrid").date
    return (generation.groupby(days).sum() / ghi.groupby(days).sum()).to_numpy()


def test_the_persistent_year_keeps_the_demo_year_but_its_clouds_hold() -> None:
    demo = make_community(10)
    persistent = persistent_year(demo.generation_kwh.index, demo.peak_kw)
    assert persistent.sum() == pytest.approx(demo.peak_kw * SPECIFIC_YIELD_KWH_PER_KWP)
    demo_days, persistent_days = _daily_index(demo.generation_kwh), _daily_index(persistent)
    assert abs(np.corrcoef(demo_days[:-1], demo_days[1:])[0, 1]) < 0.15
    assert np.corrcoef(persistent_days[:-1], persistent_days[1:])[0, 1] > 0.4
    assert np.median(persistent_days) == pytest.approx(np.median(demo_days), rel=0.05)


def test_the_weather_forecast_knows_the_day_within_its_error() -> None:
    demo = make_community(10).generation_kwh
    weather = weather_forecast(demo)
    assert weather.ghi_w_m2 is not None
    forecast_days = _daily_index(pd.Series(weather.ghi_w_m2, index=demo.index))
    ratio = forecast_days / (_daily_index(demo) / np.quantile(_daily_index(demo), 0.99))
    assert np.std(np.log(ratio)) == pytest.approx(0.15, rel=0.15)
