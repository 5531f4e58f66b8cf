"""The static β that maximises community self-consumption, exactly.

Maximise Σ_i Σ_h min(β_i·G_h, C_ih) subject to Σ_i β_i = 1, β ≥ 0. Each member's term is
concave and piecewise linear in β_i, with breakpoints at r_ih = C_ih / G_h and slope
D_i(β) = Σ {G_h : r_ih > β}. At the optimum every member with β_i > 0 has the same marginal
value λ (water-filling on the Lagrange multiplier): find the λ at which the members' demands
β_i(λ) add up to 1. A community's rules bound each β_i (each demand is clipped to its bounds
at the same λ) and may give a group of members a floor on their total (a second multiplier:
see ``optimal_static``). ``optimal_static_lp`` solves the same problem as a linear programme
with HiGHS, to verify it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import linprog

# How far sums of β may miss what they should add up to (far below the file's 1e-6).
TOLERANCE: Final = 1e-12
# Above this many sunny hours a member's demand is found by binary search, below by comparison.
_SEARCHED_HOURS: Final = 512


def _validate(consumption_kwh: NDArray[np.float64], generation_kwh: NDArray[np.float64]) -> None:
    if consumption_kwh.ndim != 2 or generation_kwh.shape != (consumption_kwh.shape[0],):
        raise ValueError("consumption must be hours × members and generation one value per hour")
    if (consumption_kwh < 0).any() or (generation_kwh < 0).any():
        raise ValueError("energies must be non-negative")


def self_consumption_kwh(
    beta: NDArray[np.float64],
    consumption_kwh: NDArray[np.float64],
    generation_kwh: NDArray[np.float64],
) -> float:
    """Return Σ_i Σ_h min(β_i·G_h, C_ih) for static β."""
    return float(np.minimum(np.outer(generation_kwh, beta), consumption_kwh).sum())


@dataclass(frozen=True, kw_only=True)
class Limits:
    """The constraints a community's rules put on β, beyond Σβ = 1 and β ≥ 0.

    ``low`` ≤ β_i ≤ ``high`` for each member, and the members of ``group`` together hold at
    least ``group_floor`` (a reserve for vulnerable members). ``names`` (member ids),
    ``low_rules`` and ``high_rules`` (the rule behind each bound, "" for none) only make the
    reasons of ``problems`` readable.
    """

    low: NDArray[np.float64]
    high: NDArray[np.float64]
    group: NDArray[np.bool_]
    group_floor: float = 0.0
    names: Sequence[str] = ()
    low_rules: Sequence[str] = ()
    high_rules: Sequence[str] = ()

    @classmethod
    def none(cls, members: int) -> Limits:
        """Return limits that ask for nothing."""
        return cls(low=np.zeros(members), high=np.ones(members), group=np.zeros(members, bool))

    def _rules(self, side: Sequence[str], where: NDArray[np.bool_]) -> str:
        named = sorted({side[i] for i in np.nonzero(where)[0] if i < len(side) and side[i]})
        return f" ({', '.join(named)})" if named else ""

    def problems(self) -> list[str]:
        """Return why no β can keep these limits, naming the rules (empty when some can)."""
        low, high = self.low, np.minimum(self.high, 1.0)
        group, floor = self.group, self.group_floor
        names = list(self.names) or [str(i) for i in range(len(low))]
        found = []
        for i in np.nonzero(low > high + TOLERANCE)[0]:
            alone = np.arange(len(low)) == i
            found.append(
                f"member {names[i]}: its lowest β {low[i]:g}{self._rules(self.low_rules, alone)}"
                f" is above its highest {high[i]:g}{self._rules(self.high_rules, alone)}"
            )
        if low.sum() > 1 + TOLERANCE:
            found.append(
                f"the lowest β add up to {low.sum():.4g}, more than the whole plant"
                + self._rules(self.low_rules, low > 0)
            )
        if high.sum() < 1 - TOLERANCE:
            found.append(
                f"the highest β add up to {high.sum():.4g}: the plant cannot be shared out whole"
                + self._rules(self.high_rules, high < 1)
            )
        if floor > 0 and not group.any():
            found.append(f"a vulnerable reserve of {floor:g} needs a member flagged vulnerable")
        elif floor > 0 and high[group].sum() < floor - TOLERANCE:
            found.append(
                f"the vulnerable reserve {floor:g} is more than the vulnerable members may hold "
                f"together, {high[group].sum():.4g}"
                + self._rules(self.high_rules, group & (high < 1))
            )
        if floor > 0 and low[~group].sum() > 1 - floor + TOLERANCE:
            found.append(
                f"the vulnerable reserve {floor:g} and the other members' lowest β, "
                f"{low[~group].sum():.4g}, add up to more than the whole plant"
                + self._rules(self.low_rules, ~group & (low > 0))
            )
        return found

    def breaches(self, beta: NDArray[np.float64], tolerance: float = 1e-6) -> list[Breach]:
        """Return how ``beta`` (one row, or hours × members) breaks the limits.

        Within ``tolerance`` (the distributor's file's precision) a β keeps its bound.
        """
        beta = np.atleast_2d(beta)
        names = list(self.names) or [str(i) for i in range(beta.shape[1])]
        found: list[Breach] = []
        for bound, values, rules, hours in (
            ("lowest", self.low, self.low_rules, (beta < self.low - tolerance).sum(axis=0)),
            ("highest", self.high, self.high_rules, (beta > self.high + tolerance).sum(axis=0)),
        ):
            found.extend(
                Breach(
                    member=names[i],
                    bound=bound,
                    value=float(values[i]),
                    rule=rules[i] if i < len(rules) else "",
                    hours=int(hours[i]),
                    of=len(beta),
                )
                for i in np.nonzero(hours)[0]
            )
        if self.group_floor > 0:
            short = int((beta[:, self.group].sum(axis=1) < self.group_floor - tolerance).sum())
            if short:
                found.append(
                    Breach(
                        member=None,
                        bound="reserve",
                        value=self.group_floor,
                        rule="vulnerable_reserve",
                        hours=short,
                        of=len(beta),
                    )
                )
        return found

    def hold(self, beta: NDArray[np.float64], tolerance: float = 1e-9) -> bool:
        """Whether ``beta`` (one row, or hours × members) keeps the limits and sums to 1."""
        beta = np.atleast_2d(beta)
        return bool(
            (beta >= self.low - tolerance).all()
            and (beta <= self.high + tolerance).all()
            and np.allclose(beta.sum(axis=1), 1.0, atol=tolerance)
            and (beta[:, self.group].sum(axis=1) >= self.group_floor - tolerance).all()
        )


@dataclass(frozen=True, kw_only=True)
class Breach:
    """A rule some β break, in ``hours`` of ``of``.

    A member below its lowest or above its highest β, or the vulnerable members (``member``
    None) below their reserve.
    """

    member: str | None
    bound: str  # "lowest", "highest" or "reserve"
    value: float
    rule: str
    hours: int
    of: int

    def __str__(self) -> str:
        """Say it in English (the command line's and the log's language)."""
        rule = f" ({self.rule})" if self.rule else ""
        if self.member is None:
            what = f"the vulnerable members below their reserve {self.value:g}"
        else:
            what = f"{self.member}: beyond its {self.bound} β {self.value:g}{rule}"
        return f"{what} in {self.hours} of {self.of} hours"

    def as_dict(self) -> dict[str, str | float | int | None]:
        """Return the breach for report.json."""
        return {
            "member_id": self.member,
            "bound": self.bound,
            "value": self.value,
            "rule": self.rule,
            "hours": self.hours,
            "of": self.of,
        }


class Infeasible(ValueError):
    """No β keeps the limits; the message says which of them cannot hold."""


class _Curves:
    """Each member's self-consumption as a function of its β: breakpoints and slopes."""

    def __init__(
        self, consumption_kwh: NDArray[np.float64], generation_kwh: NDArray[np.float64]
    ) -> None:
        sunny = generation_kwh > 0
        g = generation_kwh[sunny]
        ratios = consumption_kwh[sunny] / g[:, None]  # r_ih: the β that exactly covers hour h
        # Per member: breakpoints in decreasing order and the slope just below each of them.
        order = np.argsort(-ratios, axis=0, kind="stable")
        self.hours = len(g)
        self.r_sorted = np.take_along_axis(ratios, order, axis=0)  # hours × members
        self.slope = np.cumsum(g[order], axis=0)  # W_i(k) = Σ of G over the k largest ratios
        self.weights = consumption_kwh.sum(axis=0)

    def demand(self, lam: float, members: NDArray[np.intp]) -> NDArray[np.float64]:
        """β_i(λ): the largest β at which member i's marginal value is still ≥ λ."""
        # How many of each member's slopes lie below λ: a binary search of each sorted column
        # over a year's hours; over a class's few hours, one comparison of them all is faster.
        if self.hours > _SEARCHED_HOURS:
            k = np.array([np.searchsorted(self.slope[:, i], lam, side="left") for i in members])
        else:
            k = (self.slope[:, members] < lam).sum(axis=0)
        beta = np.zeros(len(members))
        inside = k < self.hours
        beta[inside] = self.r_sorted[k[inside], members[inside]]
        return beta

    def fill(
        self,
        members: NDArray[np.intp],
        low: NDArray[np.float64],
        high: NDArray[np.float64],
        total: float,
    ) -> NDArray[np.float64]:
        """Return the best β of ``members`` within [low, high], adding up to ``total``.

        The best: the most self-consumption. Each member's demand at one multiplier λ,
        clipped to its bounds: the KKT conditions of the bounded problem.
        """

        def supplied(lam: float) -> NDArray[np.float64]:
            return np.clip(self.demand(lam, members), low, high)

        base = supplied(0.0)  # every member as covered as its bounds let it be
        if base.sum() <= total:
            # More than anyone can use: the rest is surplus, spread by consumption.
            return base + _spread(total - float(base.sum()), self.weights[members], high - base)
        # The supply is constant between consecutive slope values: search those values exactly.
        candidates = np.unique(self.slope[:, members][self.r_sorted[:, members] > 0])
        if not len(candidates):
            return base  # the lowest β alone, over the total by a rounding: nobody can use more
        lo, hi = 0, len(candidates) - 1  # supplied(candidates[lo]) ≥ total > at hi
        if supplied(candidates[hi]).sum() >= total:
            lo = hi
        while hi - lo > 1:
            middle = (lo + hi) // 2
            if supplied(candidates[middle]).sum() >= total:
                lo = middle
            else:
                hi = middle
        at = supplied(candidates[lo])
        above = supplied(np.nextafter(candidates[lo], np.inf))
        # Members whose β can move between ``above`` and ``at`` all have marginal value λ:
        # any split of the remainder among them is optimal; split it by their room.
        room = at - above
        if room.sum() <= 0:
            return above
        return above + (total - float(above.sum())) * room / float(room.sum())


def _spread(
    amount: float, weights: NDArray[np.float64], room: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Split ``amount`` in proportion to ``weights``, nobody above its ``room``.

    What the weighted members cannot hold goes to the others in proportion to their room.
    """
    spread = np.zeros(len(room))
    if amount <= 0:
        return spread
    open_ = (weights > 0) & (room > 0)
    left = amount
    while open_.any() and left > TOLERANCE:
        share = left * weights * open_ / float(weights[open_].sum())
        full = open_ & (spread + share >= room)
        if not full.any():
            return spread + share
        left -= float((room[full] - spread[full]).sum())
        spread[full] = room[full]
        open_ &= ~full
    rest = room - spread
    if left > 0 and rest.sum() > 0:
        spread += left * rest / float(rest.sum())
    return spread


def optimal_static(
    consumption_kwh: NDArray[np.float64],
    generation_kwh: NDArray[np.float64],
    limits: Limits | None = None,
) -> NDArray[np.float64]:
    """Return the static β (one per member, summing to 1) that maximises self-consumption.

    ``consumption_kwh`` is hours × members, ``generation_kwh`` the plant's net generation in
    each of those hours; ``limits`` the community's rules (none by default). Where several β
    reach the optimum, the share that no member can use is split in proportion to
    consumption, so no member gets β it cannot use while another could.

    With a group floor: when the optimum within the bounds already gives the group its floor,
    it is the answer; otherwise the floor holds with equality at the optimum (the value is
    concave in the group's total), and the group and the others are two problems of their
    own, each with its own multiplier. Raises ``Infeasible`` when no β keeps the limits.
    """
    consumption_kwh = np.asarray(consumption_kwh, dtype=float)
    generation_kwh = np.asarray(generation_kwh, dtype=float)
    _validate(consumption_kwh, generation_kwh)
    members = consumption_kwh.shape[1]
    if members == 0:
        return np.zeros(0)
    limits = limits or Limits.none(members)
    if problems := limits.problems():
        raise Infeasible("the rules cannot all hold: " + "; ".join(problems))
    curves = _Curves(consumption_kwh, generation_kwh)
    low, high = limits.low, np.minimum(limits.high, 1.0)
    everyone = np.arange(members)
    beta = curves.fill(everyone, low, high, 1.0)
    group = limits.group
    if limits.group_floor > 0 and beta[group].sum() < limits.group_floor - TOLERANCE:
        inside, outside = everyone[group], everyone[~group]
        beta[inside] = curves.fill(inside, low[inside], high[inside], limits.group_floor)
        beta[outside] = curves.fill(outside, low[outside], high[outside], 1 - limits.group_floor)
    return beta


def optimal_static_lp(
    consumption_kwh: NDArray[np.float64],
    generation_kwh: NDArray[np.float64],
    limits: Limits | None = None,
) -> tuple[NDArray[np.float64], float]:
    """Solve the same problem as a linear programme (HiGHS); return β and the optimum.

    Variables: β (members) and s_ih ≤ min(β_i·G_h, C_ih) for the hours with generation.
    N·T auxiliary variables: fine for verification, slow for a large community. Raises
    ``Infeasible`` when HiGHS finds no β within the limits.
    """
    consumption_kwh = np.asarray(consumption_kwh, dtype=float)
    generation_kwh = np.asarray(generation_kwh, dtype=float)
    _validate(consumption_kwh, generation_kwh)
    sunny = generation_kwh > 0
    c = consumption_kwh[sunny]
    g = generation_kwh[sunny]
    hours, members = c.shape
    limits = limits or Limits.none(members)
    n_s = hours * members
    # s flattened hour-major: index h * members + i.  Constraint s_ih − G_h·β_i ≤ 0.
    rows = np.arange(n_s)
    s_part = sparse.csr_matrix((np.ones(n_s), (rows, rows)), shape=(n_s, n_s))
    beta_part = sparse.csr_matrix(
        (-np.repeat(g, members), (rows, np.tile(np.arange(members), hours))),
        shape=(n_s, members),
    )
    # The group's floor: −Σ_{i∈group} β_i ≤ −floor.
    floor_row = sparse.csr_matrix(
        np.concatenate([-limits.group.astype(float), np.zeros(n_s)])[None, :]
    )
    result = linprog(
        c=np.concatenate([np.zeros(members), -np.ones(n_s)]),
        A_ub=sparse.vstack([sparse.hstack([beta_part, s_part]), floor_row]).tocsr(),
        b_ub=np.concatenate([np.zeros(n_s), [-limits.group_floor]]),
        A_eq=np.concatenate([np.ones(members), np.zeros(n_s)])[None, :],
        b_eq=[1.0],
        bounds=list(zip(limits.low, limits.high, strict=True))
        + [(0, value) for value in c.ravel()],
        method="highs-ipm",  # interior point: several times faster than simplex here
    )
    if result.status == 2:
        raise Infeasible(f"HiGHS finds no β within the limits: {result.message}")
    if not result.success:
        raise RuntimeError(f"HiGHS did not solve the problem: {result.message}")
    return result.x[:members], float(-result.fun)
