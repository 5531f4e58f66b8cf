"""The optimal static β: by hand, against HiGHS, and against every other static scheme."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
import numpy as np
import pytest

from ioe_aggregator.sharing.optimize import optimal_static, optimal_static_lp, self_consumption_kwh


def test_by_hand() -> None:
    # G = [10, 4]; member 1 uses 6 then 0, member 2 uses 2 then 4.
    # f(b) = 10b + 2 + (4 − 4b) up to b = 0.6, then falls: the optimum is b = 0.6, 9.6 kWh.
    consumption = np.array([[6.0, 2.0], [0.0, 4.0]])
    generation = np.array([10.0, 4.0])

    beta = optimal_static(consumption, generation)

    assert beta == pytest.approx([0.6, 0.4])
    assert self_consumption_kwh(beta, consumption, generation) == pytest.approx(9.6)
    _, optimum = optimal_static_lp(consumption, generation)
    assert optimum == pytest.approx(9.6)


def test_more_sun_than_anyone_can_use_leaves_no_member_short() -> None:
    consumption = np.array([[1.0, 3.0], [1.0, 1.0]])
    generation = np.array([100.0, 100.0])

    beta = optimal_static(consumption, generation)

    assert beta.sum() == pytest.approx(1.0)
    assert self_consumption_kwh(beta, consumption, generation) == pytest.approx(6.0)


def test_no_sun_shares_by_consumption() -> None:
    beta = optimal_static(np.array([[1.0, 3.0]]), np.array([0.0]))
    assert beta == pytest.approx([0.25, 0.75])


def test_member_who_never_consumes_gets_nothing() -> None:
    consumption = np.array([[2.0, 0.0, 1.0], [1.0, 0.0, 2.0]])
    beta = optimal_static(consumption, np.array([6.0, 6.0]))
    assert beta[1] == 0.0
    assert beta.sum() == pytest.approx(1.0)


def test_rejects_negative_energy() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        optimal_static(np.array([[-1.0, 1.0]]), np.array([1.0]))


@st.composite
def communities(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    members = draw(st.integers(1, 5))
    count = draw(st.integers(1, 12))
    energy = st.floats(0, 10, allow_nan=False).map(lambda x: round(x, 3))
    consumption = draw(arrays(float, (count, members), elements=energy))
    generation = draw(arrays(float, count, elements=energy))
    return consumption, generation


@settings(max_examples=150, deadline=None)
@given(communities())
def test_equals_the_linear_programme(community: tuple[np.ndarray, np.ndarray]) -> None:
    consumption, generation = community

    beta = optimal_static(consumption, generation)

    assert beta.sum() == pytest.approx(1.0)
    assert (beta >= 0).all()
    _, optimum = optimal_static_lp(consumption, generation)
    assert self_consumption_kwh(beta, consumption, generation) == pytest.approx(
        optimum, rel=1e-9, abs=1e-9
    )


@settings(max_examples=150, deadline=None)
@given(communities(), st.lists(st.floats(0.01, 1), min_size=5, max_size=5))
def test_beats_any_static_beta_and_stays_under_the_ceiling(
    community: tuple[np.ndarray, np.ndarray], weights: list[float]
) -> None:
    consumption, generation = community
    other = np.array(weights[: consumption.shape[1]])
    other /= other.sum()

    best = self_consumption_kwh(optimal_static(consumption, generation), consumption, generation)

    assert best >= self_consumption_kwh(other, consumption, generation) - 1e-9
    ceiling = np.minimum(generation, consumption.sum(axis=1)).sum()
    assert best <= ceiling + 1e-9
