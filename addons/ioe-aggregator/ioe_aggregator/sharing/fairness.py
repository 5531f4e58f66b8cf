"""Fairness in money: who saves how many euros under each agreement, and who would lose.

An assembly argues about euros, not kWh. For each scheme judged with prices: each member's
savings, per euro invested and per kWh consumed; across members the spread of the return on
the investment (Gini, lowest, highest) and the vulnerable members' share of the savings;
against the agreement in force, who gains and who loses by changing. ``recommend`` picks a
scheme by a stated objective.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from ioe_aggregator.sharing.model import Member


class Objective(StrEnum):
    """What the community wants most of the agreement it chooses."""

    SELF_CONSUMPTION = "self-consumption"  # the most kWh used where they are made
    SAVINGS = "savings"  # the most euros for the community
    SAVINGS_NO_LOSS = "savings-no-loss"  # the most euros, nobody losing more than a limit


def gini(values: Sequence[float] | pd.Series) -> float | None:
    """Return the Gini coefficient of ``values`` (0: all equal; 1: one has everything).

    The mean absolute difference between every pair over twice the mean; None for fewer than
    two values, or with a loss among them (the coefficient then leaves 0–1 and means nothing).
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) < 2 or (x < 0).any() or x.mean() <= 0:
        return None
    x = np.sort(x)
    n = len(x)
    # Σ_i Σ_j |x_i − x_j| = 2 Σ_i (2i − n − 1) x_(i) for x sorted ascending, i from 1.
    weighted = float(((2 * np.arange(1, n + 1) - n - 1) * x).sum())
    return weighted / (n * n * float(x.mean()))


@dataclass(frozen=True, kw_only=True)
class Fairness:
    """One scheme's money, member by member and across the community."""

    # Per member id: savings_eur, consumption_kwh, investment_eur, eur_per_eur_invested (NaN
    # without investment), eur_per_kwh; with an agreement in force also change_eur and
    # change_share (the change over the member's savings in force).
    members: pd.DataFrame
    savings_eur: float
    gini_per_eur_invested: float | None
    min_per_eur_invested: float | None
    max_per_eur_invested: float | None
    vulnerable_share_of_savings: float | None
    in_force: str | None = None

    @property
    def gainers(self) -> list[str]:
        """The members who save more than under the agreement in force (by a cent or more)."""
        return self._changed(self.members.get("change_eur", pd.Series(dtype=float)) >= 0.01)

    @property
    def losers(self) -> list[str]:
        """The members who save less than under the agreement in force (by a cent or more)."""
        return self._changed(self.members.get("change_eur", pd.Series(dtype=float)) <= -0.01)

    def _changed(self, mask: pd.Series) -> list[str]:
        return [str(member_id) for member_id in mask[mask].index]

    @property
    def worst_loss_share(self) -> float | None:
        """The largest loss against the agreement in force, as a share of what it gave (≥ 0)."""
        if "change_share" not in self.members:
            return None
        if not self.losers:
            return 0.0
        return float(-self.members.change_share[self.losers].min())

    def to_report(self) -> dict[str, Any]:
        """Return the fairness section of report.json (NaN becomes None)."""
        members = self.members.astype(object).where(self.members.notna(), None)
        return {
            "savings_eur": self.savings_eur,
            "gini_per_eur_invested": self.gini_per_eur_invested,
            "min_per_eur_invested": self.min_per_eur_invested,
            "max_per_eur_invested": self.max_per_eur_invested,
            "vulnerable_share_of_savings": self.vulnerable_share_of_savings,
            "in_force": self.in_force,
            "gainers": self.gainers,
            "losers": self.losers,
            "worst_loss_share": self.worst_loss_share,
            "members": members.to_dict("index"),
        }


def fairness(
    members: Sequence[Member],
    savings_eur: pd.Series,
    consumption_kwh: pd.Series,
    *,
    in_force: tuple[str, pd.Series] | None = None,
) -> Fairness:
    """Return the fairness figures of one scheme.

    ``savings_eur`` and ``consumption_kwh`` are per member id over the judged period;
    ``in_force`` is the agreement in force's name and its members' savings on the same period.
    A loss is measured against what the member saved in force (when that was not positive,
    against 1 €, so the share stays finite and a loss still shows).
    """
    ids = [m.member_id for m in members]
    invested = pd.Series([m.investment_eur for m in members], index=ids, dtype=float)
    table = pd.DataFrame(
        {
            "savings_eur": savings_eur.reindex(ids).astype(float),
            "consumption_kwh": consumption_kwh.reindex(ids).astype(float),
            "investment_eur": invested,
        }
    )
    table["eur_per_eur_invested"] = table.savings_eur / invested.where(invested > 0)
    table["eur_per_kwh"] = table.savings_eur / table.consumption_kwh.where(
        table.consumption_kwh > 0
    )
    if in_force is not None:
        before = in_force[1].reindex(ids).astype(float)
        table["change_eur"] = table.savings_eur - before
        table["change_share"] = table.change_eur / before.where(before > 0, 1.0)
    returns = table.eur_per_eur_invested.dropna()
    total = float(table.savings_eur.sum())
    vulnerable = [m.member_id for m in members if m.vulnerable]
    return Fairness(
        members=table,
        savings_eur=total,
        gini_per_eur_invested=gini(returns),
        min_per_eur_invested=float(returns.min()) if len(returns) else None,
        max_per_eur_invested=float(returns.max()) if len(returns) else None,
        vulnerable_share_of_savings=(
            float(table.savings_eur[vulnerable].sum()) / total if vulnerable and total > 0 else None
        ),
        in_force=None if in_force is None else in_force[0],
    )


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """An agreement as the recommendation weighs it."""

    self_consumed_kwh: float
    fairness: Fairness | None = None  # None without prices
    keeps_rules: bool = True


@dataclass(frozen=True, kw_only=True)
class Recommendation:
    """The scheme an objective picks, and why the others were passed over."""

    objective: Objective
    scheme: str | None
    max_loss_share: float | None = None
    # Schemes left out: for breaking the community's rules, or for a member's loss (who, and
    # the share of its savings in force).
    breaking_rules: Sequence[str] = ()
    too_costly: Mapping[str, tuple[str, float]] | None = None

    def to_report(self) -> dict[str, Any]:
        """Return the recommendation of report.json."""
        return {
            "objective": str(self.objective),
            "scheme": self.scheme,
            "max_loss_share": self.max_loss_share,
            "breaking_rules": list(self.breaking_rules),
            "too_costly": {
                scheme: {"member_id": member_id, "loss_share": share}
                for scheme, (member_id, share) in (self.too_costly or {}).items()
            },
        }


def recommend(
    candidates: Mapping[str, Candidate],
    objective: Objective,
    *,
    max_loss_share: float | None = None,
) -> Recommendation:
    """Return the candidate the objective picks.

    Agreements that break the community's rules are passed over while one keeps them.
    SAVINGS and SAVINGS_NO_LOSS need every candidate's fairness (prices); SAVINGS_NO_LOSS also
    ``max_loss_share`` and the agreement in force: a scheme under which some member loses a
    larger share of its savings in force is passed over. Ties go to the first candidate given.
    """
    if objective is not Objective.SELF_CONSUMPTION and any(
        c.fairness is None for c in candidates.values()
    ):
        raise ValueError(f"the objective {objective} needs prices: give the import price")
    if objective is Objective.SAVINGS_NO_LOSS and (
        max_loss_share is None or any(f.in_force is None for f in _priced(candidates))
    ):
        raise ValueError(
            f"the objective {objective} needs the agreement in force and the largest loss a "
            "member may take, as a share of what it saves now"
        )
    breaking = [s for s, c in candidates.items() if not c.keeps_rules]
    allowed = {s: c for s, c in candidates.items() if s not in breaking} or dict(candidates)
    too_costly: dict[str, tuple[str, float]] = {}
    if objective is Objective.SAVINGS_NO_LOSS and max_loss_share is not None:
        for scheme, candidate in allowed.items():
            found = candidate.fairness
            worst = (found.worst_loss_share if found else None) or 0.0
            if found is not None and worst > max_loss_share + 1e-12:
                losing = found.members.change_share[found.losers]
                too_costly[scheme] = (str(losing.idxmin()), worst)
    allowed = {s: c for s, c in allowed.items() if s not in too_costly}

    def value(scheme: str) -> float:
        candidate = allowed[scheme]
        if objective is Objective.SELF_CONSUMPTION or candidate.fairness is None:
            return candidate.self_consumed_kwh
        return candidate.fairness.savings_eur

    return Recommendation(
        objective=objective,
        scheme=max(allowed, key=value, default=None),
        max_loss_share=max_loss_share if objective is Objective.SAVINGS_NO_LOSS else None,
        breaking_rules=breaking if len(breaking) < len(candidates) else (),
        too_costly=too_costly,
    )


def _priced(candidates: Mapping[str, Candidate]) -> list[Fairness]:
    return [c.fairness for c in candidates.values() if c.fairness is not None]
