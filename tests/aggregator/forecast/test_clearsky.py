"""The site's clear sky, averaged over each hour, and kept per day."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pvlib.location import Location

from ioe_aggregator.forecast.clearsky import clear_sky_ghi_w_m2

from .conftest import SITE


def test_each_hour_is_the_mean_of_its_minutes_in_any_time_zone() -> None:
    hours = pd.date_range("2025-03-29 20:00", periods=40, freq="h", tz="UTC")
    minutes = pd.date_range(hours[0], periods=40 * 60, freq="min") + pd.Timedelta(seconds=30)
    location = Location(SITE.latitude, SITE.longitude, altitude=SITE.altitude)
    by_minute = location.get_clearsky(minutes, model="ineichen")["ghi"].to_numpy()
    expected = by_minute.reshape(40, 60).mean(axis=1)
    np.testing.assert_allclose(clear_sky_ghi_w_m2(SITE, hours), expected, rtol=0.01, atol=1.0)
    # The same hours in local time, and again (from the days kept): the same values.
    local = hours.tz_convert("Europe/Madrid")
    np.testing.assert_allclose(clear_sky_ghi_w_m2(SITE, local), clear_sky_ghi_w_m2(SITE, hours))
    assert (clear_sky_ghi_w_m2(SITE, hours[:6]) == 0).all()  # 20:00-02:00 UTC
