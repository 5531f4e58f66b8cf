"""The static β that maximises community self-consumption, exactly.

Maximise Σ_i Σ_h min(β_i·G_h, C_ih) subject to Σ_i β_i = 1, β ≥ 0. Each member's term is
concave and piecewise linear in β_i, with breakpoints at r_ih = C_ih / G_h and slope
D_i(β) = Σ {G_h : r_ih > β}. At the optimum every member with β_i > 0 has the same marginal
value λ (water-filling on the Lagrange multiplier): find the λ at which the members' demands
β_i(λ) add up to 1. ``optimal_static_lp`` solves the same problem as a linear programme with
HiGHS, to verify it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import linprog


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


def optimal_static(
    consumption_kwh: NDArray[np.float64], generation_kwh: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Return the static β (one per member, summing to 1) that maximises self-consumption.

    ``consumption_kwh`` is hours × members, ``generation_kwh`` the plant's net generation in
    each of those hours. Where several β reach the optimum, the share that no member can use
    is split in proportion to consumption, so no member gets β it cannot use while another
    could.
    """
    consumption_kwh = np.asarray(consumption_kwh, dtype=float)
    generation_kwh = np.asarray(generation_kwh, dtype=float)
    _validate(consumption_kwh, generation_kwh)
    members = consumption_kwh.shape[1]
    sunny = generation_kwh > 0
    if not sunny.any() or members == 0:
        return _proportional(consumption_kwh.sum(axis=0), members)
    g = generation_kwh[sunny]
    ratios = consumption_kwh[sunny] / g[:, None]  # r_ih: the β that exactly covers hour h

    # Per member: breakpoints in decreasing order and the slope just below each of them.
    order = np.argsort(-ratios, axis=0, kind="stable")
    r_sorted = np.take_along_axis(ratios, order, axis=0)  # hours × members, decreasing
    slope = np.cumsum(g[order], axis=0)  # W_i(k) = Σ of G over the k largest ratios

    def demand(lam: float) -> NDArray[np.float64]:
        """β_i(λ): the largest β at which member i's marginal value is still ≥ λ."""
        k = np.array([np.searchsorted(slope[:, i], lam, side="left") for i in range(members)])
        beta = np.zeros(members)
        inside = k < len(g)
        beta[inside] = r_sorted[k[inside], np.nonzero(inside)[0]]
        return beta

    upper = demand(0.0)  # every member fully covered whenever the sun shines
    if upper.sum() <= 1.0:
        # Generation exceeds what any β can place: the rest is surplus whoever gets it.
        spare = 1.0 - float(upper.sum())
        return upper + spare * _proportional(consumption_kwh.sum(axis=0), members)

    # Demands are constant between consecutive slope values: search those values exactly.
    candidates = np.unique(slope[r_sorted > 0])
    low, high = 0, len(candidates) - 1  # demand(candidates[low]) ≥ 1 > demand(candidates[high])
    if demand(candidates[high]).sum() >= 1.0:
        low = high
    while high - low > 1:
        middle = (low + high) // 2
        if demand(candidates[middle]).sum() >= 1.0:
            low = middle
        else:
            high = middle
    at = demand(candidates[low])
    above = demand(np.nextafter(candidates[low], np.inf))
    # Members whose β can move between ``above`` and ``at`` all have marginal value λ:
    # any split of the remainder among them is optimal; split it by their room.
    room = at - above
    remainder = 1.0 - float(above.sum())
    if room.sum() <= 0:
        return above / float(above.sum())
    return above + remainder * room / float(room.sum())


def _proportional(weights: NDArray[np.float64], members: int) -> NDArray[np.float64]:
    total = float(weights.sum())
    if total <= 0:
        return np.full(members, 1.0 / members) if members else np.zeros(0)
    return weights / total


def optimal_static_lp(
    consumption_kwh: NDArray[np.float64], generation_kwh: NDArray[np.float64]
) -> tuple[NDArray[np.float64], float]:
    """Solve the same problem as a linear programme (HiGHS); return β and the optimum.

    Variables: β (members) and s_ih ≤ min(β_i·G_h, C_ih) for the hours with generation.
    N·T auxiliary variables: fine for verification, slow for a large community.
    """
    consumption_kwh = np.asarray(consumption_kwh, dtype=float)
    generation_kwh = np.asarray(generation_kwh, dtype=float)
    _validate(consumption_kwh, generation_kwh)
    sunny = generation_kwh > 0
    c = consumption_kwh[sunny]
    g = generation_kwh[sunny]
    hours, members = c.shape
    n_s = hours * members
    # s flattened hour-major: index h * members + i.  Constraint s_ih − G_h·β_i ≤ 0.
    rows = np.arange(n_s)
    s_part = sparse.csr_matrix((np.ones(n_s), (rows, rows)), shape=(n_s, n_s))
    beta_part = sparse.csr_matrix(
        (-np.repeat(g, members), (rows, np.tile(np.arange(members), hours))),
        shape=(n_s, members),
    )
    result = linprog(
        c=np.concatenate([np.zeros(members), -np.ones(n_s)]),
        A_ub=sparse.hstack([beta_part, s_part]).tocsr(),
        b_ub=np.zeros(n_s),
        A_eq=np.concatenate([np.ones(members), np.zeros(n_s)])[None, :],
        b_eq=[1.0],
        bounds=[(0, None)] * members + [(0, value) for value in c.ravel()],
        method="highs-ipm",  # interior point: several times faster than simplex here
    )
    if not result.success:
        raise RuntimeError(f"HiGHS did not solve the problem: {result.message}")
    return result.x[:members], float(-result.fun)
