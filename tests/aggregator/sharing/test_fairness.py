"""Fairness in money and the recommendation, by hand."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from ioe_aggregator.sharing.fairness import Candidate, Objective, fairness, gini, recommend

from .conftest import member

MEMBERS = [
    member("a", investment=1000),
    member("b", investment=3000),
    member("c", investment=0, vulnerable=True),
]
CONSUMED = pd.Series({"a": 1000.0, "b": 3000.0, "c": 500.0})


def saved(a: float, b: float, c: float) -> pd.Series:
    return pd.Series({"a": a, "b": b, "c": c})


def test_gini_by_hand() -> None:
    assert gini([1, 1, 1]) == 0
    # Every pair's |difference| (0, 1, 1, 0) averaged, over twice the mean 0.5.
    assert gini([0, 1]) == pytest.approx(0.5)
    assert gini([0.05, 0.1]) == pytest.approx(0.025 / 0.15)
    assert gini([3]) is None  # no spread with one value
    assert gini([-1, 1]) is None  # a spread of losses has no meaning here


def test_fairness_by_hand() -> None:
    found = fairness(
        MEMBERS, saved(100, 150, 50), CONSUMED, in_force=("equal", saved(120, 100, 50))
    )

    members = found.members
    assert members.eur_per_eur_invested["a"] == pytest.approx(0.1)
    assert members.eur_per_eur_invested["b"] == pytest.approx(0.05)
    assert pd.isna(members.eur_per_eur_invested["c"])  # invested nothing
    assert members.eur_per_kwh.tolist() == pytest.approx([0.1, 0.05, 0.1])
    assert found.savings_eur == 300
    assert found.gini_per_eur_invested == pytest.approx(1 / 6)
    assert (found.min_per_eur_invested, found.max_per_eur_invested) == pytest.approx((0.05, 0.1))
    assert found.vulnerable_share_of_savings == pytest.approx(50 / 300)
    assert members.change_eur.tolist() == [-20, 50, 0]
    assert found.gainers == ["b"]
    assert found.losers == ["a"]
    assert found.worst_loss_share == pytest.approx(20 / 120)
    report = found.to_report()
    assert report["members"]["c"]["eur_per_eur_invested"] is None
    assert report["in_force"] == "equal"


def test_a_loss_from_nothing_still_shows() -> None:
    # c saved nothing in force and loses 5 €: measured against 1 €, a 500 % loss.
    found = fairness(MEMBERS, saved(10, 10, -5), CONSUMED, in_force=("equal", saved(10, 10, 0)))
    assert found.losers == ["c"]
    assert found.worst_loss_share == pytest.approx(5.0)


def test_without_an_agreement_in_force_nobody_gains_or_loses() -> None:
    found = fairness(MEMBERS, saved(100, 150, 50), CONSUMED)
    assert found.gainers == []
    assert found.losers == []
    assert found.worst_loss_share is None


def candidates() -> dict[str, Candidate]:
    in_force = ("x", saved(120, 100, 80))

    def candidate(kwh: float, savings: pd.Series) -> Candidate:
        found = fairness(MEMBERS, savings, CONSUMED, in_force=in_force)
        return Candidate(self_consumed_kwh=kwh, fairness=found)

    return {
        "x": candidate(500.0, saved(120, 100, 80)),
        "y": candidate(520.0, saved(120, 110, 50)),
        "z": candidate(480.0, saved(84, 150, 86)),
    }


@pytest.mark.parametrize(
    ("objective", "max_loss", "chosen", "too_costly"),
    [
        (Objective.SELF_CONSUMPTION, None, "y", {}),  # 520 kWh
        (Objective.SAVINGS, None, "z", {}),  # 320 € against 300 and 280
        # z makes a lose 30 % of its 120 €, y makes c lose 37.5 % of its 80 €: only x is left
        (Objective.SAVINGS_NO_LOSS, 0.2, "x", {"y": ("c", 0.375), "z": ("a", 0.3)}),
        (Objective.SAVINGS_NO_LOSS, 0.3, "z", {"y": ("c", 0.375)}),
    ],
)
def test_recommendation_by_objective(
    objective: Objective,
    max_loss: float | None,
    chosen: str,
    too_costly: dict[str, tuple[str, float]],
) -> None:
    found = recommend(candidates(), objective, max_loss_share=max_loss)

    assert found.scheme == chosen
    assert {
        k: (m, pytest.approx(v)) for k, (m, v) in (found.too_costly or {}).items()
    } == too_costly


def test_agreements_breaking_the_rules_are_passed_over_while_one_keeps_them() -> None:
    options = candidates()
    options["z"] = replace(options["z"], keeps_rules=False)
    found = recommend(options, Objective.SAVINGS)
    assert found.scheme == "x"  # 300 €: z's 320 € break the rules
    assert found.breaking_rules == ["z"]
    # Nobody keeps them: the objective alone decides, and none is singled out.
    everyone = {name: replace(c, keeps_rules=False) for name, c in options.items()}
    found = recommend(everyone, Objective.SAVINGS)
    assert found.scheme == "z"
    assert found.breaking_rules == ()


def test_objectives_in_euros_need_what_they_weigh() -> None:
    with pytest.raises(ValueError, match="needs prices"):
        recommend({"x": Candidate(self_consumed_kwh=500.0)}, Objective.SAVINGS)
    unforced = Candidate(
        self_consumed_kwh=500.0, fairness=fairness(MEMBERS, saved(1, 1, 1), CONSUMED)
    )
    with pytest.raises(ValueError, match="needs the agreement in force"):
        recommend({"x": unforced}, Objective.SAVINGS_NO_LOSS, max_loss_share=0.1)


def test_the_member_named_for_a_loss_is_one_who_loses() -> None:
    # b loses half a cent of half a cent (−100 %, but no loss worth naming); a loses 30 %.
    tiny = pd.Series({"a": 70.0, "b": 0.0, "c": 50.0})
    before = pd.Series({"a": 100.0, "b": 0.005, "c": 50.0})
    found = fairness(MEMBERS, tiny, CONSUMED, in_force=("x", before))
    chosen = recommend(
        {"y": Candidate(self_consumed_kwh=1.0, fairness=found)},
        Objective.SAVINGS_NO_LOSS,
        max_loss_share=0.1,
    )
    assert found.losers == ["a"]
    assert chosen.too_costly == {"y": ("a", pytest.approx(0.3))}
