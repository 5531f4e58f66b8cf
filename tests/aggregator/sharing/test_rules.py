"""A community's rules as limits on β: each rule by hand, refusals by name, and the files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ioe_aggregator.sharing import schemes
from ioe_aggregator.sharing.files import InputError, read_members
from ioe_aggregator.sharing.optimize import Infeasible, optimal_static_lp, self_consumption_kwh
from ioe_aggregator.sharing.rules import Rules

from .conftest import hours, member

# Investments 1000, 3000, 0 and 6000 €: shares 0.1, 0.3, 0 and 0.6.
MEMBERS = [
    member("a", investment=1000),
    member("b", investment=3000),
    member("c", investment=0, vulnerable=True),
    member("d", investment=6000),
]
# A year's consumption of 876, 2628, 1752 and 8760 kWh (0.1, 0.3, 0.2 and 1 kWh an hour).
HISTORY = pd.DataFrame({"a": 0.1, "b": 0.3, "c": 0.2, "d": 1.0}, index=hours(48))


def test_no_rules_ask_for_nothing() -> None:
    limits = Rules().limits(MEMBERS, None)
    assert limits.low.tolist() == [0, 0, 0, 0]
    assert limits.high.tolist() == [1, 1, 1, 1]
    assert limits.group.tolist() == [False, False, True, False]
    assert limits.group_floor == 0
    assert Rules().asked() == {}


def test_each_rule_by_hand() -> None:
    rules = Rules(
        min_beta=0.02,
        max_beta=0.7,
        min_investment_factor=0.5,  # half of what their money would give: 0.05, 0.15, 0, 0.3
        max_investment_factor=2.0,  # twice: 0.2, 0.6, 0, 1.2
        large_consumer_kwh=5000,  # only d uses more than 5000 kWh a year...
        large_consumer_max_beta=0.5,  # ... and is held at 0.5
        vulnerable_reserve=0.05,
    )
    # c invested nothing: max_investment_factor would give it 0, below its min_beta 0.02.
    with pytest.raises(Infeasible, match=r"member c: its lowest β 0\.02 \(min_beta\) is above"):
        rules.limits(MEMBERS, HISTORY)

    limits = replace(rules, min_beta=0.0, vulnerable_reserve=0.0).limits(MEMBERS, HISTORY)

    assert limits.low == pytest.approx([0.05, 0.15, 0.0, 0.3])
    assert limits.high == pytest.approx([0.2, 0.6, 0.0, 0.5])
    assert limits.low_rules == [
        "min_investment_factor",
        "min_investment_factor",
        "",
        "min_investment_factor",
    ]
    assert limits.high_rules == [
        "max_investment_factor",
        "max_investment_factor",
        "max_investment_factor",
        "large_consumer_max_beta",
    ]
    # ... and the reserve cannot go to c, whom the investment cap holds at 0.
    with pytest.raises(Infeasible, match=r"vulnerable reserve 0\.05 is more than the vulnerable"):
        replace(rules, min_beta=0.0).limits(MEMBERS, HISTORY)
    assert replace(rules, min_beta=0.0, max_investment_factor=None).limits(
        MEMBERS, HISTORY
    ).group_floor == pytest.approx(0.05)


def optimal_static_via(rules: Rules, members: list | None = None) -> np.ndarray:
    generation = pd.Series(1.0, index=HISTORY.index)
    return schemes.optimized_static(HISTORY, generation, members or MEMBERS, rules).values


def test_members_own_bounds_are_kept_with_the_communitys() -> None:
    own = [
        replace(MEMBERS[0], min_share=0.3),  # a's agreement guarantees it 0.3
        MEMBERS[1],
        MEMBERS[2],
        replace(MEMBERS[3], max_share=0.4),
    ]
    limits = Rules(min_beta=0.1).limits(own, HISTORY)
    assert limits.low == pytest.approx([0.3, 0.1, 0.1, 0.1])
    assert limits.low_rules == ["min_share", "min_beta", "min_beta", "min_beta"]
    assert limits.high == pytest.approx([1, 1, 1, 0.4])

    beta = optimal_static_via(Rules(min_beta=0.1), own)

    # 1 kWh an hour against 0.1 + 0.3 + 0.2 + 1.0 used. a must hold 0.3 and uses 0.1 of it;
    # the 0.7 left fits within what b, c and d use (0.3, 0.2, d up to its cap 0.4): 0.8 kWh
    # of every hour self-consumed, 38.4 kWh in 48 hours, and nobody beyond its use but a.
    assert limits.hold(beta)
    generation = np.ones(len(HISTORY))
    assert self_consumption_kwh(beta, HISTORY.to_numpy(), generation) == pytest.approx(38.4)
    assert (beta[1:] <= [0.3, 0.2, 0.4]).all()


@pytest.mark.parametrize(
    ("rules", "own", "reason"),
    [
        (
            Rules(min_beta=0.2),
            {"a": {"min_share": 0.5}},
            r"the lowest β add up to 1\.1, more than the whole plant \(min_beta, min_share\)",
        ),
        (
            Rules(max_beta=0.2),
            {},
            r"the highest β add up to 0\.8: the plant cannot be shared out whole \(max_beta\)",
        ),
        (
            Rules(large_consumer_kwh=2000, large_consumer_max_beta=0.1),
            {"d": {"min_share": 0.2}},
            r"member d: its lowest β 0\.2 \(min_share\) is above its highest 0\.1 "
            r"\(large_consumer_max_beta\)",
        ),
        (
            Rules(vulnerable_reserve=0.3),
            {"c": {"max_share": 0.25}},
            r"vulnerable reserve 0\.3 is more than the vulnerable members may hold together, "
            r"0\.25 \(max_share\)",
        ),
        (
            Rules(vulnerable_reserve=0.3, min_investment_factor=0.9),
            {},
            r"the vulnerable reserve 0\.3 and the other members' lowest β, 0\.9, add up to more "
            r"than the whole plant \(min_investment_factor\)",
        ),
    ],
)
def test_rules_that_cannot_hold_together_are_named(
    rules: Rules, own: dict[str, dict[str, float]], reason: str
) -> None:
    members = [replace(m, **own.get(m.member_id, {})) for m in MEMBERS]
    with pytest.raises(Infeasible, match=reason):
        optimal_static_via(rules, members)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"min_beta": -0.1}, "min_beta must be a number ≥ 0"),
        ({"max_beta": 1.5}, r"max_beta is a share of the plant \(0–1\)"),
        ({"vulnerable_reserve": 1.0}, "vulnerable_reserve must be below 1"),
        (
            {"large_consumer_kwh": 3000},
            "large_consumer_kwh and large_consumer_max_beta go together",
        ),
        ({"lottery": 1}, r"unknown rules \['lottery'\]"),
    ],
)
def test_rules_that_mean_nothing_are_refused(values: dict[str, float], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Rules.from_mapping(values)


def test_the_optimum_under_rules_matches_the_linear_programme() -> None:
    rng = np.random.default_rng(7)
    history = pd.DataFrame(
        rng.gamma(1.2, 0.4, (96, 4)), index=hours(96), columns=[m.member_id for m in MEMBERS]
    )
    generation = pd.Series(
        np.clip(np.sin(np.arange(96) / 24 * 2 * np.pi), 0, None) * 2, history.index
    )
    rules = Rules(vulnerable_reserve=0.3, min_investment_factor=0.5, max_beta=0.45)
    limits = rules.limits(MEMBERS, history)

    beta = schemes.optimized_static(history, generation, MEMBERS, rules).values.to_numpy()
    _, optimum = optimal_static_lp(history.to_numpy(), generation.to_numpy(), limits)

    assert limits.hold(beta)
    assert beta[2] >= 0.3 - 1e-12  # c, alone in the vulnerable group, holds the reserve
    value = self_consumption_kwh(beta, history.to_numpy(), generation.to_numpy())
    assert value == pytest.approx(optimum, abs=1e-6)


def test_members_file_carries_own_bounds(tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    cups = [m.cups for m in MEMBERS[:3]]
    path.write_text(
        "member_id,cups,contracted_power_kw,investment_eur,vulnerable,min_share,max_share\n"
        f"a,{cups[0]},3.45,1000,false,0.1,\n"
        f"b,{cups[1]},3.45,1000,false,,0.5\n"
        f"c,{cups[2]},3.45,1000,true,,\n"
    )

    members = read_members(path)

    assert [(m.min_share, m.max_share) for m in members] == [(0.1, 1.0), (0.0, 0.5), (0.0, 1.0)]


@pytest.mark.parametrize(
    ("header", "row", "problem"),
    [
        ("min_share", "x", ":2: min_share 'x' is not a number"),
        ("max_share", "1.5", ":2: max_share 1.5 is a fraction of the plant (0–1)"),
        ("min_share", "-0.1", ":2: min_share '-0.1' must be a number ≥ 0"),
        ("bounds", "0.1", ":1: expected the header member_id,cups,contracted_power_kw,"),
    ],
)
def test_members_file_refuses_bad_bounds(
    tmp_path: Path, header: str, row: str, problem: str
) -> None:
    path = tmp_path / "members.csv"
    path.write_text(
        f"member_id,cups,contracted_power_kw,investment_eur,vulnerable,{header}\n"
        f"a,{MEMBERS[0].cups},3.45,1000,false,{row}\n"
    )
    with pytest.raises(InputError) as refused:
        read_members(path)
    assert problem in str(refused.value)


@pytest.mark.parametrize("scheme", ["optimized-static", "hourly-profile", "optimized-hourly"])
def test_a_reserve_one_vulnerable_member_cannot_half_hold_goes_to_the_other(scheme: str) -> None:
    # c and d vulnerable, 0.2 for them together; c may hold 0.05 at most: d takes the 0.15 left.
    members = [
        MEMBERS[0],
        MEMBERS[1],
        replace(MEMBERS[2], max_share=0.05),
        replace(MEMBERS[3], vulnerable=True),
    ]
    rules = Rules(vulnerable_reserve=0.2)
    limits = rules.limits(members, HISTORY)
    generation = pd.Series(1.0, index=HISTORY.index)

    beta = schemes.build(scheme, members, history_kwh=HISTORY, history_generation_kwh=generation,
                         target_index=HISTORY.index, rules=rules).hourly(HISTORY.index)  # fmt: skip

    assert limits.breaches(beta.to_numpy()) == []
    assert (beta["c"] + beta["d"] >= 0.2 - 1e-9).all()
    assert (beta["c"] <= 0.05 + 1e-9).all()
