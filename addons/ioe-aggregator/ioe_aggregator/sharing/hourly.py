"""Optimised hourly coefficients that hold up out of sample.

The exact optimum of each class of hours (month × working/non-working day × hour) learns the
training year by heart: a class has 8 to 23 hours, and next year's hours are not those.
``optimized_hourly`` shrinks it two ways — coarser classes (season × day type × hour, or
season × hour), and a blend with a steadier target (the static optimum, or the class's
profile of mean consumption) — and lets cross-validation on the training period choose:
fit on alternate weeks, judge on the others, keep the choice that self-consumes most, then
fit it on the whole training period. Every candidate keeps the community's rules (the
optima are exact under them, the profiles are set within them, and a blend of two β that
keep them keeps them too). ``within_limits`` also serves hourly-profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
import pandas as pd

from ioe_aggregator.sharing.calendar import DEFAULT_TZ, is_p3_day
from ioe_aggregator.sharing.model import Coefficients, Member
from ioe_aggregator.sharing.optimize import Limits, optimal_static
from ioe_aggregator.sharing.rules import Rules

# Classes of hours, finest first: the keys each is made of.
GRAINS: Final = {
    "month": ("month", "non_working", "hour"),
    "season": ("season", "non_working", "hour"),
    "season-hour": ("season", "hour"),
}
# Where a class of the chosen grain has no hour in the training data (a season not seen yet):
# the class of its day type and hour, learnt the same way.
FALLBACK: Final = ("non_working", "hour")
# The weight of the class optimum against what it is shrunk towards, tried by cross-validation.
BLENDS: Final = (0.0, 0.25, 0.5, 0.75, 1.0)
# What the class optimum is shrunk towards: the static optimum, or the class's profile (each
# member's mean consumption in the class, as hourly-profile shares).
TARGETS: Final = ("static", "profile")
# Halvings of the projection's shift: far below a millionth, the file's precision.
_BISECTIONS: Final = 60


@dataclass(frozen=True, kw_only=True)
class Fit:
    """What cross-validation chose, and what each choice self-consumed on held-out weeks."""

    grain: str
    target: str
    blend: float
    # Per "grain/target", per blend: kWh self-consumed on the held-out weeks.
    scores_kwh: dict[str, dict[float, float]]

    @classmethod
    def chosen(cls, fit: Mapping[str, Any]) -> Fit:
        """Return the choice ``describe`` gave (without the scores)."""
        return cls(grain=fit["grain"], target=fit["target"], blend=fit["blend"], scores_kwh={})

    def describe(self) -> dict[str, object]:
        """Return the choice and the scores, for the report."""
        return {
            "grain": self.grain,
            "target": self.target,
            "blend": self.blend,
            "cross_validated_kwh": {
                key: {str(blend): value for blend, value in by_blend.items()}
                for key, by_blend in self.scores_kwh.items()
            },
        }


def project(
    beta: NDArray[np.float64], low: NDArray[np.float64], high: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Return each row of β projected onto {low ≤ β ≤ high, Σβ = 1}: the nearest such row.

    The projection is clip(β − τ, low, high) for the one shift τ of the row that makes it sum
    to 1, found by bisection (the sum falls as τ grows). Rows already within bounds are kept.
    Clipping alone and rescaling the rest can leave a row summing to 0.55 or 1.10.
    """
    inside = ((beta >= low) & (beta <= high)).all(axis=1) & np.isclose(beta.sum(axis=1), 1.0)
    if inside.all():
        return beta
    rows = beta[~inside]
    # Every member at its highest sums to at least 1, at its lowest to at most 1.
    below = (rows - high).min(axis=1)
    above = (rows - low).max(axis=1)
    for _ in range(_BISECTIONS):
        shift = (below + above) / 2
        over = np.clip(rows - shift[:, None], low, high).sum(axis=1) > 1.0
        below = np.where(over, shift, below)
        above = np.where(over, above, shift)
    projected = beta.copy()
    projected[~inside] = np.clip(rows - ((below + above) / 2)[:, None], low, high)
    return projected


def reserve_parts(limits: Limits) -> NDArray[np.float64]:
    """Return each vulnerable member's part of the reserve (0 for the others).

    As equal as their bounds let them be: each part is one level t, raised to the member's
    lowest β and held at its highest, the level chosen so that the parts add up to the reserve
    (or to the vulnerable members' lowest β, when those add up to more). Whenever the limits
    can hold (``Limits.problems`` is empty), so can these parts with the other members' lowest.
    """
    group = limits.group
    low, high = limits.low[group], np.minimum(limits.high[group], 1.0)
    total = max(limits.group_floor, float(low.sum()))
    below, above = 0.0, 1.0  # the parts at the level: at most, at least the total
    for _ in range(_BISECTIONS):
        level = (below + above) / 2
        if np.minimum(high, np.maximum(low, level)).sum() < total:
            below = level
        else:
            above = level
    parts = np.zeros(len(group))
    parts[group] = np.minimum(high, np.maximum(low, above))
    return parts


def within_limits(beta: NDArray[np.float64], limits: Limits) -> NDArray[np.float64]:
    """Return each row of β (each summing to 1) within the limits.

    The vulnerable reserve is set aside in every row, split among the vulnerable members
    (``reserve_parts``), before the rest is shared as β says; then each row is projected onto
    its bounds (a vulnerable member's lowest raised to its part, which the projection keeps).
    """
    low, high = limits.low, np.minimum(limits.high, 1.0)
    if limits.group_floor > 0 and limits.group.any():
        parts = reserve_parts(limits)
        low = np.where(limits.group, np.maximum(low, parts), low)
        beta = parts + (1 - float(parts.sum())) * beta
    return project(beta, low, high)


def hour_classes(index: pd.DatetimeIndex, tz: str = DEFAULT_TZ) -> pd.DataFrame:
    """Return each hour's month, season (0: Dec–Feb … 3: Sep–Nov), day type and local hour."""
    local = index.tz_convert(tz)
    return pd.DataFrame(
        {
            "month": local.month,
            "season": (local.month % 12) // 3,
            "non_working": is_p3_day(local),
            "hour": local.hour,
        },
        index=index,
    )


def _codes(classes: pd.DataFrame, keys_of: Sequence[str]) -> NDArray[np.int64]:
    keys = classes[list(keys_of)].to_numpy(dtype=np.int64)
    # A number per class: month < 13, season < 4, day type < 2, hour < 24.
    code = np.zeros(len(keys), dtype=np.int64)
    for column in range(keys.shape[1]):
        code = code * 100 + keys[:, column]
    return code


@dataclass(frozen=True, kw_only=True)
class _Learnt:
    """What one stretch of history teaches.

    The static optimum, and per class of hours with sun its exact optimum and its profile
    (both within the limits).
    """

    static: NDArray[np.float64]
    optima: dict[int, NDArray[np.float64]]
    profiles: dict[int, NDArray[np.float64]]


def _learn(
    consumption: NDArray[np.float64],
    generation: NDArray[np.float64],
    codes: NDArray[np.int64],
    limits: Limits,
    static: NDArray[np.float64],
) -> _Learnt:
    """Return what the hours teach; ``static`` is their static optimum, found once."""
    members = consumption.shape[1]
    optima, shares = {}, {}
    for code in np.unique(codes[generation > 0]):
        inside = codes == code
        optima[int(code)] = optimal_static(consumption[inside], generation[inside], limits)
        mean = consumption[inside].mean(axis=0)
        shares[int(code)] = mean / mean.sum() if mean.sum() > 0 else np.full(members, 1 / members)
    # Every class's profile set within the limits at once.
    within = within_limits(np.array(list(shares.values())).reshape(-1, members), limits)
    return _Learnt(
        static=static,
        optima=optima,
        profiles=dict(zip(shares, within, strict=True)),
    )


def _beta(
    codes: NDArray[np.int64], learnt: _Learnt, target: str, blend: float
) -> NDArray[np.float64]:
    """Return hours × members: each hour's class optimum blended with the target."""
    beta = np.tile(learnt.static, (len(codes), 1))
    if not learnt.optima:
        return beta
    known = np.array(sorted(learnt.optima))
    optima = np.array([learnt.optima[code] for code in known])
    towards = (
        np.tile(learnt.static, (len(known), 1))
        if target == "static"
        else np.array([learnt.profiles[code] for code in known])
    )
    at = np.minimum(np.searchsorted(known, codes), len(known) - 1)
    found = known[at] == codes
    beta[found] = blend * optima[at[found]] + (1 - blend) * towards[at[found]]
    return beta


def _self_consumed(
    beta: NDArray[np.float64], consumption: NDArray[np.float64], generation: NDArray[np.float64]
) -> float:
    return float(np.minimum(beta * generation[:, None], consumption).sum())


def choose(
    consumption_kwh: pd.DataFrame,
    generation_kwh: pd.Series,
    limits: Limits,
    tz: str = DEFAULT_TZ,
) -> Fit:
    """Choose the grain, the target and the blend by two-fold cross-validation.

    The folds are alternate ISO weeks, so each holds every season and day type. Learnt on the
    hours where every member's consumption is known.
    """
    complete = consumption_kwh.dropna()
    generation = generation_kwh.reindex(complete.index).fillna(0.0).to_numpy()
    consumption = complete.to_numpy()
    classes = hour_classes(complete.index, tz)
    week = (complete.index.tz_convert(tz).isocalendar().week.to_numpy() % 2).astype(bool)
    scores: dict[str, dict[float, float]] = {}
    folds = [held_out for held_out in (week, ~week) if held_out.any() and (~held_out).any()]
    statics = [optimal_static(consumption[~fold], generation[~fold], limits) for fold in folds]
    for grain in GRAINS:
        codes = _codes(classes, GRAINS[grain])
        for target in TARGETS:
            scores[f"{grain}/{target}"] = dict.fromkeys(BLENDS, 0.0)
        for held_out, static in zip(folds, statics, strict=True):
            learn = ~held_out
            learnt = _learn(consumption[learn], generation[learn], codes[learn], limits, static)
            for target in TARGETS:
                for blend in BLENDS:
                    beta = _beta(codes[held_out], learnt, target, blend)
                    scores[f"{grain}/{target}"][blend] += _self_consumed(
                        beta, consumption[held_out], generation[held_out]
                    )
    # The best score; among equals the coarsest grain and the smallest blend (less to learn).
    grains = list(GRAINS)
    ranked = [
        (round(value, 6), grains.index(key.split("/")[0]), -blend, key, blend)
        for key, by_blend in scores.items()
        for blend, value in by_blend.items()
    ]
    _, _, _, key, blend = max(ranked)
    grain, target = key.split("/")
    return Fit(grain=grain, target=target, blend=blend, scores_kwh=scores)


def optimized_hourly(
    consumption_kwh: pd.DataFrame,
    generation_kwh: pd.Series,
    target_index: pd.DatetimeIndex,
    members: Sequence[Member],
    *,
    tz: str = DEFAULT_TZ,
    rules: Rules | None = None,
    chosen: Fit | None = None,
) -> Coefficients:
    """Return hourly β for ``target_index``: the cross-validated blend of class optima.

    Learnt on the training history (hours × member ids) and the plant's generation in it;
    every β keeps the community's ``rules`` and the members' own bounds. ``chosen``: the grain,
    target and blend an earlier cross-validation chose, not chosen again.
    """
    complete = consumption_kwh.dropna()
    if complete.empty:
        raise ValueError("optimized-hourly needs hours where every member's consumption is known")
    limits = (rules or Rules()).limits(members, consumption_kwh)
    fit = chosen or choose(consumption_kwh, generation_kwh, limits, tz)
    consumption = complete.to_numpy()
    generation = generation_kwh.reindex(complete.index).fillna(0.0).to_numpy()
    classes, target = hour_classes(complete.index, tz), hour_classes(target_index, tz)
    beta = np.empty((len(target_index), len(complete.columns)))
    known = np.zeros(len(target_index), dtype=bool)
    static = optimal_static(consumption, generation, limits)
    for keys in (GRAINS[fit.grain], FALLBACK):
        learnt = _learn(consumption, generation, _codes(classes, keys), limits, static)
        codes = _codes(target, keys)
        # The chosen grain where its class was seen with sun; else the fallback's.
        here = ~known & (np.isin(codes, list(learnt.optima)) | (keys == FALLBACK))
        beta[here] = _beta(codes[here], learnt, fit.target, fit.blend)
        known |= here
    return Coefficients(
        scheme="optimized-hourly",
        values=pd.DataFrame(beta, index=target_index, columns=consumption_kwh.columns),
        fit=fit.describe(),
    )
