"""The optimal static β: by hand, against HiGHS, and against every other static scheme."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
import numpy as np
import pytest

from ioe_aggregator.sharing.optimize import (
    Infeasible,
    Limits,
    optimal_static,
    optimal_static_lp,
    self_consumption_kwh,
)


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


# --- Under a community's rules: bounds on each β and a floor for the vulnerable members ---

BY_HAND_CONSUMPTION = np.array([[6.0, 2.0], [0.0, 4.0]])
BY_HAND_GENERATION = np.array([10.0, 4.0])


def limits(
    low: list[float], high: list[float], group: list[bool] | None = None, floor: float = 0.0
) -> Limits:
    return Limits(
        low=np.array(low),
        high=np.array(high),
        group=np.array(group or [False] * len(low)),
        group_floor=floor,
    )


@pytest.mark.parametrize(
    ("rules", "expected", "value"),
    [
        # f(b) = 6 + 6b for member 1's β b up to 0.6 (see test_by_hand).
        (limits([0, 0], [0.5, 1]), [0.5, 0.5], 9.0),  # a cap below the optimum: at the cap
        (limits([0, 0.45], [1, 1]), [0.55, 0.45], 9.3),  # a floor above member 2's 0.4
        (limits([0, 0], [1, 1], [False, True], 0.5), [0.5, 0.5], 9.0),  # the floor binds
        (limits([0, 0], [1, 1], [False, True], 0.3), [0.6, 0.4], 9.6),  # the floor is met
        (limits([0.2, 0.2], [0.8, 0.8]), [0.6, 0.4], 9.6),  # bounds that do not bite
    ],
)
def test_rules_by_hand(rules: Limits, expected: list[float], value: float) -> None:
    beta = optimal_static(BY_HAND_CONSUMPTION, BY_HAND_GENERATION, rules)

    assert beta == pytest.approx(expected)
    assert self_consumption_kwh(beta, BY_HAND_CONSUMPTION, BY_HAND_GENERATION) == pytest.approx(
        value
    )
    _, optimum = optimal_static_lp(BY_HAND_CONSUMPTION, BY_HAND_GENERATION, rules)
    assert optimum == pytest.approx(value)


def test_the_floor_is_shared_inside_the_group_by_what_each_can_use() -> None:
    # Three members in one sunny hour of 10 kWh: a uses 8, b (vulnerable) 1, c (vulnerable) 3.
    # The optimum without rules covers everyone whose use fits: b 0.1, c 0.3, a the rest.
    # A floor of 0.6 for b and c: they hold 0.6, b and c covered first (0.1, 0.3) and the
    # 0.2 they cannot use split by room; a gets 0.4 (4 kWh of its 8).
    consumption = np.array([[8.0, 1.0, 3.0]])
    generation = np.array([10.0])
    rules = limits([0, 0, 0], [1, 1, 1], [False, True, True], 0.6)

    beta = optimal_static(consumption, generation, rules)

    assert beta[1:].sum() == pytest.approx(0.6)
    assert beta[0] == pytest.approx(0.4)
    assert (beta[1:] >= [0.1, 0.3]).all()
    assert self_consumption_kwh(beta, consumption, generation) == pytest.approx(8.0)


def test_sun_nobody_can_use_is_spread_within_the_caps() -> None:
    # 100 kWh, a uses 1 and b 3: all of it is surplus beyond 4 kWh. Spread by consumption
    # (0.25, 0.75) would break b's cap of 0.6: b gets 0.6 and a the 0.4 left.
    consumption = np.array([[1.0, 3.0]])
    beta = optimal_static(consumption, np.array([100.0]), limits([0, 0], [1, 0.6]))
    assert beta == pytest.approx([0.4, 0.6])


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        (limits([0.6, 0.6], [1, 1]), r"the lowest β add up to 1\.2, more than the whole plant"),
        (limits([0, 0], [0.3, 0.4]), r"the highest β add up to 0\.7"),
        (limits([0.5, 0], [0.4, 1]), r"member 0: its lowest β 0\.5 is above its highest 0\.4"),
        (limits([0, 0], [1, 0.2], [False, True], 0.3), r"vulnerable reserve 0\.3 is more than"),
        (limits([0.8, 0], [1, 1], [False, True], 0.3), r"the other members' lowest β, 0\.8"),
        (limits([0, 0], [1, 1], [False, False], 0.1), r"needs a member flagged vulnerable"),
    ],
)
def test_rules_that_cannot_hold_are_refused_by_name(rules: Limits, reason: str) -> None:
    with pytest.raises(Infeasible, match=reason):
        optimal_static(BY_HAND_CONSUMPTION, BY_HAND_GENERATION, rules)
    with pytest.raises(Infeasible):
        optimal_static_lp(BY_HAND_CONSUMPTION, BY_HAND_GENERATION, rules)


def random_instance(seed: int) -> tuple[np.ndarray, np.ndarray, Limits]:
    """Return a small community with random rules; some of them cannot hold."""
    rng = np.random.default_rng(seed)
    members = int(rng.integers(2, 8))
    hours = int(rng.integers(8, 40))
    consumption = rng.gamma(1.5, 1.0, (hours, members)) * (rng.random((hours, members)) > 0.2)
    generation = rng.gamma(2.0, 3.0, hours) * (rng.random(hours) > 0.3)
    low = np.where(rng.random(members) < 0.4, rng.uniform(0, 0.35, members), 0.0)
    high = np.where(rng.random(members) < 0.4, rng.uniform(0.05, 0.6, members), 1.0)
    group = rng.random(members) < 0.4
    floor = float(rng.uniform(0, 0.7)) if group.any() and rng.random() < 0.6 else 0.0
    return (
        consumption.round(3),
        generation.round(3),
        Limits(low=low, high=high, group=group, group_floor=floor),
    )


def test_the_constrained_optimum_equals_the_linear_programme() -> None:
    """Within 1e-6 of HiGHS on 40 random communities and rules; both refuse the same ones."""
    refused = solved = 0
    for seed in range(40):
        consumption, generation, rules = random_instance(seed)
        if rules.problems():
            with pytest.raises(Infeasible):
                optimal_static(consumption, generation, rules)
            with pytest.raises(Infeasible):
                optimal_static_lp(consumption, generation, rules)
            refused += 1
            continue
        beta = optimal_static(consumption, generation, rules)
        _, optimum = optimal_static_lp(consumption, generation, rules)

        assert rules.hold(beta), seed
        assert self_consumption_kwh(beta, consumption, generation) == pytest.approx(
            optimum, abs=1e-6
        ), seed
        solved += 1
    assert solved >= 30
    assert refused >= 4


def test_a_floor_at_its_very_limit_with_nobody_to_use_the_sun() -> None:
    # The others' lowest (0.21) and the floor (0.79) fill the plant to within a rounding; no
    # sun: each member at its lowest, the group at its floor.
    rules = limits([0, 0, 0, 0.21], [1, 1, 1, 1], [True, True, True, False], 0.79)
    consumption = np.array([[1.0, 0, 1, 0], [2, 3, 2, 3]])

    beta = optimal_static(consumption, np.array([0.0, 0.0]), rules)

    assert rules.hold(beta)
    assert beta[3] == pytest.approx(0.21)
