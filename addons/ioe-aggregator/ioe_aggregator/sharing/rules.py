"""The rules a community votes for its coefficients, as limits on β.

An assembly rarely signs "whatever shares the most": it guarantees investors a share, caps
large consumers, reserves energy for households in energy poverty. ``Rules`` holds those
decisions; ``Rules.limits`` turns them, with the members (each may carry its own ``min_share``
and ``max_share``) and their history, into per-member bounds and a group floor that every
scheme which optimises must keep. A rule that cannot hold is refused, naming it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
import math
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
import pandas as pd

from ioe_aggregator.sharing.model import Member
from ioe_aggregator.sharing.optimize import Infeasible, Limits

HOURS_PER_YEAR: Final = 8760


@dataclass(frozen=True, kw_only=True)
class Rules:
    """A community's rules on β; the defaults ask for nothing.

    - ``min_beta``, ``max_beta``: every member's β within these.
    - ``vulnerable_reserve``: the members flagged vulnerable hold at least this share together.
    - ``min_investment_factor``, ``max_investment_factor``: each β at least (at most) this many
      times the member's share of the investment (0.5: half of what its money would give it).
    - ``large_consumer_kwh``, ``large_consumer_max_beta``: a member consuming more than this in
      a year (its training history, annualised) gets at most this β.
    """

    min_beta: float = 0.0
    max_beta: float = 1.0
    vulnerable_reserve: float = 0.0
    min_investment_factor: float = 0.0
    max_investment_factor: float | None = None
    large_consumer_kwh: float | None = None
    large_consumer_max_beta: float | None = None

    def __post_init__(self) -> None:
        """Refuse values that mean nothing (a negative factor, a reserve of the whole plant)."""
        for name, value in asdict(self).items():
            if value is not None and (not math.isfinite(value) or value < 0):
                raise ValueError(f"the rule {name} must be a number ≥ 0, not {value}")
        for name in ("min_beta", "max_beta", "large_consumer_max_beta"):
            value = getattr(self, name)
            if value is not None and value > 1:
                raise ValueError(f"the rule {name} is a share of the plant (0–1), not {value:g}")
        if self.vulnerable_reserve >= 1:
            raise ValueError("the rule vulnerable_reserve must be below 1")
        if (self.large_consumer_kwh is None) != (self.large_consumer_max_beta is None):
            raise ValueError("large_consumer_kwh and large_consumer_max_beta go together")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> Rules:
        """Return the rules named in ``values`` (missing or None: the default)."""
        known = {field.name for field in fields(cls)}
        if unknown := sorted(set(values or {}) - known):
            raise ValueError(f"unknown rules {unknown}; the rules are {sorted(known)}")
        return cls(**{k: v for k, v in (values or {}).items() if v is not None})

    def asked(self) -> dict[str, float]:
        """Return the rules that ask for something (differ from the defaults)."""
        neutral = Rules()
        return {
            name: value
            for name, value in asdict(self).items()
            if value is not None and value != getattr(neutral, name)
        }

    def limits(self, members: Sequence[Member], history_kwh: pd.DataFrame | None) -> Limits:
        """Return the limits these rules and the members' own shares put on β.

        Raises ``Infeasible`` naming the rules that cannot hold together. ``history_kwh``
        (hours × member ids) tells who is a large consumer; it is needed only with that rule.
        """
        bounds = _Bounds(members)
        bounds.raise_low(np.full(len(members), self.min_beta), "min_beta")
        bounds.lower_high(np.full(len(members), self.max_beta), "max_beta")
        bounds.raise_low(np.array([m.min_share for m in members]), "min_share")
        bounds.lower_high(np.array([m.max_share for m in members]), "max_share")
        if self.min_investment_factor > 0 or self.max_investment_factor is not None:
            invested = np.array([m.investment_eur for m in members])
            if invested.sum() <= 0:
                raise Infeasible("the investment rules need the members' investment")
            share = invested / invested.sum()
            bounds.raise_low(self.min_investment_factor * share, "min_investment_factor")
            if self.max_investment_factor is not None:
                bounds.lower_high(self.max_investment_factor * share, "max_investment_factor")
        if self.large_consumer_kwh is not None and self.large_consumer_max_beta is not None:
            if history_kwh is None:
                raise ValueError("the large consumers' cap needs the members' consumption")
            yearly = history_kwh.reindex(columns=bounds.ids).mean().fillna(0.0) * HOURS_PER_YEAR
            large = yearly.to_numpy() > self.large_consumer_kwh
            capped = np.where(large, self.large_consumer_max_beta, 1.0)
            bounds.lower_high(capped, "large_consumer_max_beta")
        limits = Limits(
            low=bounds.low,
            high=bounds.high,
            group=np.array([m.vulnerable for m in members], dtype=bool),
            group_floor=self.vulnerable_reserve,
            names=bounds.ids,
            low_rules=bounds.low_rule,
            high_rules=bounds.high_rule,
        )
        if problems := limits.problems():
            raise Infeasible("the rules cannot all hold: " + "; ".join(problems))
        return limits


class _Bounds:
    """Per-member bounds, remembering which rule set each one (for the reasons of refusals)."""

    def __init__(self, members: Sequence[Member]) -> None:
        self.ids = [m.member_id for m in members]
        self.low = np.zeros(len(members))
        self.high = np.ones(len(members))
        self.low_rule = [""] * len(members)
        self.high_rule = [""] * len(members)

    def raise_low(self, values: NDArray[np.float64], rule: str) -> None:
        for i in np.nonzero(values > self.low)[0]:
            self.low[i], self.low_rule[i] = values[i], rule

    def lower_high(self, values: NDArray[np.float64], rule: str) -> None:
        for i in np.nonzero(values < self.high)[0]:
            self.high[i], self.high_rule[i] = values[i], rule
