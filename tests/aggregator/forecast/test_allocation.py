"""Each member's share of the forecast: β of the hour in force × the plant's."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
import numpy as np
import pandas as pd
import pytest

from ioe_aggregator.forecast import GenerationForecast, allocated_forecast

HOURS = pd.date_range("2025-06-10 10:00", periods=36, freq="h", tz="UTC", name="start")


def _plant(expected: np.ndarray) -> GenerationForecast:
    return GenerationForecast(
        computed_at=datetime(2025, 6, 10, 10, 20, tzinfo=UTC),
        hours=HOURS,
        expected_kwh=expected,
        p10_kwh=0.5 * expected,
        p90_kwh=1.5 * expected,
        method="clear-sky-index",
        history_days=14,
    )


def test_an_hourly_beta_and_a_member_who_joins() -> None:
    plant = _plant(np.linspace(1.0, 36.0, 36))
    # β by the hour: "a" takes more in the first 12 hours; "c" joins at the 20th hour, an
    # agreement that shares the last 4 hours has not been made yet.
    beta = pd.DataFrame(
        {"a": np.r_[np.full(12, 0.6), np.full(24, 0.3)], "b": 0.4, "c": 0.0}, index=HOURS
    )
    beta.iloc[12:20, 1] = 0.7
    beta.iloc[20:, :] = [0.2, 0.3, 0.5]
    frame = allocated_forecast(plant, beta.iloc[:32])
    assert list(frame["a"].columns) == ["kwh", "kwh_p10", "kwh_p90"]
    assert (frame.index == HOURS).all()
    hour = plant.expected_kwh
    np.testing.assert_allclose(frame["a"]["kwh"][:12], 0.6 * hour[:12])
    np.testing.assert_allclose(frame["a"]["kwh"][12:20], 0.3 * hour[12:20])
    np.testing.assert_allclose(frame["b"]["kwh"][12:20], 0.7 * hour[12:20])
    assert not frame["c"]["kwh"][:20].any()
    np.testing.assert_allclose(frame["c"]["kwh_p90"][20:32], 0.5 * 1.5 * hour[20:32])
    np.testing.assert_allclose(frame["c"]["kwh_p10"][20:32], 0.5 * 0.5 * hour[20:32])
    # No agreement in force: nothing shared.
    assert not frame.iloc[32:].to_numpy().any()


def test_beta_must_not_be_negative() -> None:
    beta = pd.DataFrame({"a": 1.2, "b": -0.2}, index=HOURS)
    with pytest.raises(ValueError, match="≥ 0"):
        allocated_forecast(_plant(np.ones(36)), beta)


def test_no_members_no_columns() -> None:
    frame = allocated_forecast(_plant(np.ones(36)), pd.DataFrame(index=HOURS))
    assert frame.shape == (36, 0)


@settings(max_examples=100, deadline=None)
@given(
    expected=hnp.arrays(np.float64, 36, elements=st.floats(0.0, 50.0)),
    weights=hnp.arrays(np.float64, (36, 4), elements=st.floats(0.0, 1.0)),
)
def test_shares_never_exceed_the_plant_and_keep_the_band(
    expected: np.ndarray, weights: np.ndarray
) -> None:
    totals = weights.sum(axis=1, keepdims=True)
    beta = pd.DataFrame(
        np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0),
        index=HOURS,
        columns=["a", "b", "c", "d"],
    )
    frame = allocated_forecast(_plant(expected), beta)
    shared = frame.T.groupby(level=1).sum().T
    assert (shared["kwh"] <= expected * (1 + 1e-9) + 1e-12).all()
    assert (frame.xs("kwh_p10", axis=1, level=1) <= frame.xs("kwh", axis=1, level=1)).all().all()
    assert (frame.xs("kwh", axis=1, level=1) <= frame.xs("kwh_p90", axis=1, level=1)).all().all()
