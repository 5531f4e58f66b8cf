"""Each scheme's β, computed by hand on a few members and hours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioe_aggregator.sharing import schemes

from .conftest import hours, member

MEMBERS = [
    member("a", power=3.0, investment=1000),
    member("b", power=6.0, investment=3000),
    member("c", power=6.0, investment=0, vulnerable=True),
]


def test_static_schemes_by_hand() -> None:
    assert schemes.equal(MEMBERS).values.tolist() == pytest.approx([1 / 3] * 3)
    assert schemes.by_contracted_power(MEMBERS).values.tolist() == pytest.approx([0.2, 0.4, 0.4])
    assert schemes.by_investment(MEMBERS).values.tolist() == pytest.approx([0.25, 0.75, 0.0])
    consumption = pd.DataFrame({"a": [1.0, 1.0], "b": [2.0, 0.0], "c": [0.0, 4.0]}, index=hours(2))
    assert schemes.by_consumption(consumption).values.tolist() == pytest.approx([0.25, 0.25, 0.5])


def test_schemes_are_static_or_hourly() -> None:
    consumption = pd.DataFrame({"a": [1.0], "b": [1.0], "c": [2.0]}, index=hours(1))
    assert schemes.equal(MEMBERS).is_static
    assert not schemes.perfect_foresight(consumption).is_static


def test_negative_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="negative weights"):
        schemes.by_investment([member("a", investment=-5), member("b")])


def test_perfect_foresight_follows_each_hour() -> None:
    consumption = pd.DataFrame({"a": [1.0, 0.0], "b": [3.0, 0.0], "c": [0.0, 0.0]}, index=hours(2))

    beta = schemes.perfect_foresight(consumption).values

    assert beta.iloc[0].tolist() == pytest.approx([0.25, 0.75, 0.0])
    assert beta.iloc[1].tolist() == pytest.approx([1 / 3] * 3)  # nobody consumes: equal


def two_weeks_of_history() -> pd.DataFrame:
    """Member a uses 1 kWh every hour; b uses 3 kWh in working hours 8-20 local, else 1; c 0."""
    index = pd.date_range("2025-06-02", periods=14 * 24, freq="h", tz="Europe/Madrid").tz_convert(
        "UTC"
    )
    local = index.tz_convert("Europe/Madrid")
    working = (local.dayofweek < 5) & (local.hour >= 8) & (local.hour < 20)
    return pd.DataFrame({"a": 1.0, "b": np.where(working, 3.0, 1.0), "c": 0.0}, index=index)


def test_hourly_profile_learns_month_day_type_and_hour() -> None:
    evaluate = pd.DatetimeIndex(
        [pd.Timestamp(t, tz="Europe/Madrid").tz_convert("UTC") for t in
         ("2025-06-18 12:00", "2025-06-21 12:00", "2025-06-18 03:00")]
    )  # fmt: skip

    beta = schemes.hourly_profile(two_weeks_of_history(), evaluate, MEMBERS).values

    assert beta.iloc[0].tolist() == pytest.approx([0.25, 0.75, 0.0])  # Wednesday noon
    assert beta.iloc[1].tolist() == pytest.approx([0.5, 0.5, 0.0])  # Saturday noon
    assert beta.iloc[2].tolist() == pytest.approx([0.5, 0.5, 0.0])  # Wednesday night


def test_hourly_profile_falls_back_when_the_month_was_not_seen() -> None:
    december_noon = pd.DatetimeIndex([pd.Timestamp("2025-12-17 11:00", tz="UTC")])

    beta = schemes.hourly_profile(two_weeks_of_history(), december_noon, MEMBERS).values

    assert beta.iloc[0].tolist() == pytest.approx([0.25, 0.75, 0.0])


def test_hourly_profile_reserve_goes_to_vulnerable_members_and_bounds_hold() -> None:
    evaluate = two_weeks_of_history().index[:48]

    beta = schemes.hourly_profile(
        two_weeks_of_history(), evaluate, MEMBERS, vulnerable_reserve=0.1, max_beta=0.6
    ).values

    assert np.allclose(beta.sum(axis=1), 1.0)
    assert (beta["c"] >= 0.1 - 1e-12).all()  # c consumes nothing but is vulnerable
    assert (beta.to_numpy() <= 0.6 + 1e-12).all()
    assert (beta.to_numpy() >= 0).all()


def test_hourly_profile_refuses_impossible_bounds() -> None:
    history = two_weeks_of_history()
    with pytest.raises(ValueError, match="no β can stay within"):
        schemes.hourly_profile(history, history.index[:1], MEMBERS, max_beta=0.3)


def test_build_names_what_is_missing() -> None:
    history = two_weeks_of_history()
    with pytest.raises(ValueError, match="unknown scheme 'fair'"):
        schemes.build("fair", MEMBERS, history_kwh=history)
    with pytest.raises(ValueError, match="consumption is needed"):
        schemes.build("consumption", MEMBERS, history_kwh=None)
    with pytest.raises(ValueError, match="needs the plant's generation"):
        schemes.build("optimized-static", MEMBERS, history_kwh=history)
    with pytest.raises(ValueError, match="needs the hours"):
        schemes.build("hourly-profile", MEMBERS, history_kwh=history)
    assert schemes.build("power", MEMBERS, history_kwh=None).values.tolist() == pytest.approx(
        [0.2, 0.4, 0.4]
    )
