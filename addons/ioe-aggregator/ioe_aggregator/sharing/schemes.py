"""Sharing schemes: each turns members and history into coefficients β.

Static schemes give one β per member; hourly ones give one per member and hour. Every result
is non-negative and sums to 1 in every hour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from ioe_aggregator.sharing.calendar import DEFAULT_TZ
from ioe_aggregator.sharing.hourly import Fit, hour_classes, optimized_hourly, within_limits
from ioe_aggregator.sharing.model import Coefficients, Member
from ioe_aggregator.sharing.optimize import optimal_static
from ioe_aggregator.sharing.rules import Rules

STATIC_SCHEMES: Final = ("equal", "power", "investment", "consumption", "optimized-static")
HOURLY_SCHEMES: Final = ("hourly-profile", "optimized-hourly", "perfect-foresight")
ALL_SCHEMES: Final = STATIC_SCHEMES + HOURLY_SCHEMES
# Schemes that learn from history, and so must be judged on a later period than they learnt on.
TRAINED_SCHEMES: Final = frozenset(
    {"consumption", "optimized-static", "hourly-profile", "optimized-hourly"}
)
# A reference, never an agreement: it needs the consumption of the hour it shares.
REFERENCE_SCHEMES: Final = frozenset({"perfect-foresight"})
# The schemes that keep a community's rules (``Rules``, and each member's own min_share and
# max_share); a reference is the unconstrained ceiling, and ignores them by definition.
RULE_SCHEMES: Final = frozenset({"optimized-static", "hourly-profile", "optimized-hourly"})


def _normalise(weights: pd.Series) -> pd.Series:
    """Scale non-negative weights to sum to 1; all equal when they sum to 0."""
    if (weights < 0).any():
        raise ValueError(f"negative weights for {list(weights[weights < 0].index)}")
    total = weights.sum()
    if total <= 0:
        return pd.Series(1.0 / len(weights), index=weights.index)
    return weights / total


def _ids(members: Sequence[Member]) -> list[str]:
    return [member.member_id for member in members]


def equal(members: Sequence[Member]) -> Coefficients:
    """Return the same β for every member."""
    return Coefficients(scheme="equal", values=_normalise(pd.Series(1.0, index=_ids(members))))


def by_contracted_power(members: Sequence[Member]) -> Coefficients:
    """Return β in proportion to each member's contracted power."""
    weights = pd.Series([m.contracted_power_kw for m in members], index=_ids(members))
    return Coefficients(scheme="power", values=_normalise(weights))


def by_investment(members: Sequence[Member]) -> Coefficients:
    """Return β in proportion to each member's investment in the plant."""
    weights = pd.Series([m.investment_eur for m in members], index=_ids(members))
    return Coefficients(scheme="investment", values=_normalise(weights))


def by_consumption(consumption_kwh: pd.DataFrame) -> Coefficients:
    """Return static β in proportion to each member's consumption over the training period.

    Each member's mean hourly consumption over the hours it has, so that a member without data
    for a while is not given less for it.
    """
    return Coefficients(scheme="consumption", values=_normalise(consumption_kwh.mean().fillna(0)))


def optimized_static(
    consumption_kwh: pd.DataFrame,
    generation_kwh: pd.Series,
    members: Sequence[Member],
    rules: Rules | None = None,
) -> Coefficients:
    """Return the static β that maximises community self-consumption over the training period.

    Learnt on the hours where every member's consumption is known; exact under the community's
    ``rules`` and the members' own min_share and max_share.
    """
    complete = consumption_kwh.dropna()
    if complete.empty:
        raise ValueError("optimized-static needs hours where every member's consumption is known")
    aligned = generation_kwh.reindex(complete.index).fillna(0.0)
    limits = (rules or Rules()).limits(members, consumption_kwh)
    beta = optimal_static(complete.to_numpy(), aligned.to_numpy(), limits)
    return Coefficients(
        scheme="optimized-static", values=pd.Series(beta, index=consumption_kwh.columns)
    )


def perfect_foresight(consumption_kwh: pd.DataFrame) -> Coefficients:
    """Return hourly β in proportion to each hour's actual consumption: the ceiling.

    With these β the community reaches Σ_h min(G_h, Σ_i C_ih). Nobody can sign them in
    advance; they are a reference. A member without a value in an hour gets nothing of it.
    """
    known = consumption_kwh.fillna(0.0)
    total = known.sum(axis=1)
    members = consumption_kwh.shape[1]
    beta = known.div(total.where(total > 0), axis=0).fillna(1.0 / members)
    return Coefficients(scheme="perfect-foresight", values=beta)


def hourly_profile(
    consumption_kwh: pd.DataFrame,
    evaluate_index: pd.DatetimeIndex,
    members: Sequence[Member],
    *,
    tz: str = DEFAULT_TZ,
    rules: Rules | None = None,
) -> Coefficients:
    """Return ex-ante hourly β learnt from history: month × day type × hour of day.

    For each class, β is each member's mean consumption in that class over the training data,
    normalised. The rules' ``vulnerable_reserve`` is set aside in every hour for the members
    flagged vulnerable (split equally among them) before the rest is shared; then every β is
    projected onto its bounds (the rules' and the member's own). Classes absent from the
    history fall back to day type × hour, then to the hour of day.
    """
    ids = list(consumption_kwh.columns)
    n = len(ids)
    limits = (rules or Rules()).limits(members, consumption_kwh)
    history = consumption_kwh.join(hour_classes(consumption_kwh.index, tz))
    target = hour_classes(evaluate_index, tz)
    profile = np.full((len(evaluate_index), n), np.nan)
    for keys in (["month", "non_working", "hour"], ["non_working", "hour"], ["hour"]):
        means = history.groupby(keys)[ids].mean()
        found = target[keys].merge(means, left_on=keys, right_index=True, how="left")[ids]
        missing = np.isnan(profile).any(axis=1)
        profile[missing] = found.to_numpy()[missing]
    profile = np.nan_to_num(profile, nan=0.0)
    totals = profile.sum(axis=1, keepdims=True)
    beta = np.divide(profile, totals, out=np.full_like(profile, 1.0 / n), where=totals > 0)

    beta = within_limits(beta, limits)
    return Coefficients(
        scheme="hourly-profile", values=pd.DataFrame(beta, index=evaluate_index, columns=ids)
    )


def build(
    scheme: str,
    members: Sequence[Member],
    *,
    history_kwh: pd.DataFrame | None,
    history_generation_kwh: pd.Series | None = None,
    target_index: pd.DatetimeIndex | None = None,
    tz: str = DEFAULT_TZ,
    rules: Rules | None = None,
    options: Mapping[str, Any] | None = None,
) -> Coefficients:
    """Return the named scheme's β.

    ``history_kwh`` (hours × members) is what learning schemes learn from — for
    perfect-foresight, the very hours it shares; ``history_generation_kwh`` serves the
    optimised schemes; ``target_index`` is where the hourly schemes' β are wanted. ``rules`` go to
    the schemes that keep them (``RULE_SCHEMES``); the others' β are what their formula gives,
    and ``Limits.breaches`` tells how they break the rules. ``options``: what an earlier fit
    of the scheme chose (its ``Coefficients.fit``), used instead of choosing again
    (optimized-hourly's grain, target and blend; the other schemes choose nothing).
    """
    if scheme in ("equal", "power", "investment"):
        static = {"equal": equal, "power": by_contracted_power, "investment": by_investment}
        return static[scheme](members)
    if scheme not in ALL_SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose from {list(ALL_SCHEMES)}")
    if history_kwh is None:
        raise ValueError(f"{scheme} learns from history: consumption is needed")
    if scheme == "consumption":
        return by_consumption(history_kwh)
    if scheme == "perfect-foresight":
        return perfect_foresight(history_kwh)
    if scheme in ("optimized-static", "optimized-hourly") and history_generation_kwh is None:
        raise ValueError(f"{scheme} needs the plant's generation too")
    if scheme == "optimized-static":
        return optimized_static(history_kwh, history_generation_kwh, members, rules)
    if target_index is None:
        raise ValueError(f"{scheme} needs the hours to give β for")
    if scheme == "optimized-hourly":
        return optimized_hourly(
            history_kwh,
            history_generation_kwh,
            target_index,
            members,
            tz=tz,
            rules=rules,
            chosen=None if not options else Fit.chosen(options),
        )
    return hourly_profile(history_kwh, target_index, members, tz=tz, rules=rules)
