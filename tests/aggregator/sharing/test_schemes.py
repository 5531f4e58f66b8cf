"""Each scheme's β, computed by hand on a few members and hours."""

from __future__ import annotations

from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra.numpy import arrays
import numpy as np
import pandas as pd
import pytest

from ioe_aggregator.sharing import hourly, schemes
from ioe_aggregator.sharing.allocation import allocate
from ioe_aggregator.sharing.compare import compare
from ioe_aggregator.sharing.optimize import Infeasible
from ioe_aggregator.sharing.rules import Rules

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
        two_weeks_of_history(),
        evaluate,
        MEMBERS,
        rules=Rules(vulnerable_reserve=0.1, max_beta=0.6),
    ).values

    assert np.allclose(beta.sum(axis=1), 1.0)
    assert (beta["c"] >= 0.1 - 1e-12).all()  # c consumes nothing but is vulnerable
    assert (beta.to_numpy() <= 0.6 + 1e-12).all()
    assert (beta.to_numpy() >= 0).all()


def test_hourly_profile_refuses_impossible_bounds() -> None:
    history = two_weeks_of_history()
    with pytest.raises(Infeasible, match=r"the highest β add up to 0\.9.* \(max_beta\)"):
        schemes.hourly_profile(history, history.index[:1], MEMBERS, rules=Rules(max_beta=0.3))


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


@settings(max_examples=200, deadline=None)
@given(
    arrays(float, st.tuples(st.integers(1, 6), st.integers(2, 8)), elements=st.floats(0, 1)),
    st.floats(0, 0.1),
    st.floats(0.3, 1),
)
def test_bounds_are_an_exact_projection(raw: np.ndarray, low: float, high: float) -> None:
    n = raw.shape[1]
    assume(low * n <= 1 <= high * n)
    totals = raw.sum(axis=1, keepdims=True)
    beta = np.divide(raw, totals, out=np.full_like(raw, 1 / n), where=totals > 0)

    bounded = hourly.project(beta, np.full(n, low), np.full(n, high))

    assert np.allclose(bounded.sum(axis=1), 1.0, atol=1e-12)
    assert (bounded >= low - 1e-12).all()
    assert (bounded <= high + 1e-12).all()
    # The nearest point: one shift τ per row, every β not at a bound moved by exactly τ.
    for row, projected in zip(beta, bounded, strict=True):
        free = (projected > low + 1e-9) & (projected < high - 1e-9)
        if free.any():
            shifts = row[free] - projected[free]
            assert np.ptp(shifts) < 1e-9


def test_bounds_never_share_more_than_the_plant_makes() -> None:
    # Three members, one of whom takes nearly all the history: with [0.2, 0.5] the old clipping
    # let hours sum to 1.10 (allocating 23.4 kWh of 21.3 generated).
    index = hours(24 * 14)
    history = pd.DataFrame({"a": 5.0, "b": 0.1, "c": 0.05}, index=index) * (
        1 + np.sin(np.arange(len(index)))[:, None] ** 2
    )

    rules = Rules(min_beta=0.2, max_beta=0.5)
    beta = schemes.hourly_profile(history, index, MEMBERS, rules=rules).values

    assert np.allclose(beta.sum(axis=1), 1.0)
    # a is held at 0.5; b and c move by one shift, keeping the gap the history gave them.
    first = history.iloc[0] / history.iloc[0].sum()
    assert beta.iloc[0]["a"] == pytest.approx(0.5)
    assert beta.iloc[0]["b"] - beta.iloc[0]["c"] == pytest.approx(first["b"] - first["c"])
    generation = pd.Series(1.5, index=index)
    allocated = allocate(schemes.Coefficients(scheme="x", values=beta), history, generation)
    assert allocated.allocated_kwh.to_numpy().sum() == pytest.approx(generation.sum())


def test_allocation_refuses_coefficients_that_do_not_sum_to_one() -> None:
    index = hours(2)
    beta = pd.DataFrame({"a": [0.5, 0.5], "b": [0.5, 0.6]}, index=index)
    consumption = pd.DataFrame({"a": [1.0, 1.0], "b": [1.0, 1.0]}, index=index)

    with pytest.raises(ValueError, match=r"sum to 1 in every hour; at .* they sum to 1.1"):
        allocate(schemes.Coefficients(scheme="x", values=beta), consumption, pd.Series(1.0, index))


def test_agreements_that_do_not_keep_the_rules_are_judged_against_them() -> None:
    history = two_weeks_of_history()
    rules = Rules(min_beta=0.25, vulnerable_reserve=0.3)

    comparison = compare(
        MEMBERS,
        history,
        history.sum(axis=1),
        schemes=["power", "investment", "optimized-static"],
        rules=rules,
    )

    report = comparison.to_report()
    assert report["rules"] == {"min_beta": 0.25, "vulnerable_reserve": 0.3}
    # power (0.2, 0.4, 0.4): a is below 0.25 in every hour; c, vulnerable, holds 0.4 ≥ 0.3.
    hours = len(history)
    every = {"hours": hours, "of": hours}
    assert report["schemes"]["power"]["rules_broken"] == [
        {"member_id": "a", "bound": "lowest", "value": 0.25, "rule": "min_beta", **every}
    ]
    # investment (0.25, 0.75, 0): c gets nothing, below both rules.
    broken = comparison.rules_broken("investment")
    assert [str(breach) for breach in broken] == [
        f"c: beyond its lowest β 0.25 (min_beta) in {hours} of {hours} hours",
        f"the vulnerable members below their reserve 0.3 in {hours} of {hours} hours",
    ]
    assert report["schemes"]["optimized-static"]["rules_broken"] == []
    beta = comparison.results["optimized-static"].coefficients.values
    assert beta["c"] >= 0.3 - 1e-12
    assert (beta >= 0.25 - 1e-12).all()


def test_a_vulnerable_reserve_that_cannot_be_kept_is_refused() -> None:
    history = two_weeks_of_history()
    nobody = [member("a"), member("b"), member("c")]
    with pytest.raises(Infeasible, match="needs a member flagged vulnerable"):
        schemes.hourly_profile(
            history, history.index[:1], nobody, rules=Rules(vulnerable_reserve=0.1)
        )
    above = (
        r"the vulnerable reserve 0\.5 is more than the vulnerable members may hold together, "
        r"0\.4 \(max_beta\)"
    )
    with pytest.raises(Infeasible, match=above):
        schemes.hourly_profile(
            history, history.index[:1], MEMBERS, rules=Rules(vulnerable_reserve=0.5, max_beta=0.4)
        )
