"""Compare sharing schemes honestly: learn on one period, judge on a later one.

``compare`` returns plain data (``Comparison``); ``Comparison.to_report`` gives the document
written as report.json, which other parts of the product read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
import math
from typing import Any, Final

import pandas as pd

from ioe_aggregator.sharing import schemes as sch
from ioe_aggregator.sharing.allocation import (
    Allocation,
    allocate,
    ceiling_kwh,
    community_kpis,
    member_kpis,
    monthly_totals,
)
from ioe_aggregator.sharing.backtest import rolling, rolling_split
from ioe_aggregator.sharing.calendar import DEFAULT_TZ
from ioe_aggregator.sharing.economics import Prices, monthly_economics
from ioe_aggregator.sharing.fairness import (
    Candidate,
    Fairness,
    Objective,
    Recommendation,
    fairness,
    recommend,
)
from ioe_aggregator.sharing.model import Coefficients, Member
from ioe_aggregator.sharing.optimize import Breach, Limits
from ioe_aggregator.sharing.rules import Rules

# Below this much history before the evaluated period, learning schemes are trained on the
# evaluated period itself (and the report says so).
MIN_TRAINING_DAYS: Final = 28


@dataclass(frozen=True, kw_only=True)
class Period:
    """A span of hours: ``start`` included, ``end`` excluded (UTC)."""

    start: pd.Timestamp
    end: pd.Timestamp

    def select(self, index: pd.DatetimeIndex) -> pd.DatetimeIndex:
        """Return the hours of ``index`` inside the period."""
        return index[(index >= self.start) & (index < self.end)]

    def describe(self, index: pd.DatetimeIndex) -> dict[str, Any]:
        """Return start, end (ISO 8601, UTC) and the number of hours of ``index`` inside."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "hours": len(self.select(index)),
        }


@dataclass(frozen=True, kw_only=True)
class Judged:
    """What a scheme's β did on the evaluated period."""

    coefficients: Coefficients
    allocation: Allocation
    members: pd.DataFrame
    community: dict[str, float | None]
    economics: pd.DataFrame | None
    monthly: pd.DataFrame

    @property
    def savings_eur(self) -> float | None:
        """The community's savings (EUR); None without prices."""
        return None if self.economics is None else float(self.economics.savings_eur.sum())


@dataclass(frozen=True, kw_only=True)
class SchemeResult(Judged):
    """One scheme judged on the evaluated period.

    ``agreement``: the β to sign for a static scheme, learnt on all the history there is (the
    judged β of a learning scheme were learnt on less); None for an hourly scheme, whose β are
    learnt for the year they are wanted. ``fitted_once``: a learning scheme re-fitted at the
    legal cadence, judged again fitted once at the start of the evaluated period.
    """

    agreement: Coefficients | None = None
    fitted_once: Judged | None = None


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """The outcome of ``compare``."""

    members: list[Member]
    trained_on: Period
    evaluated_on: Period
    data_index: pd.DatetimeIndex
    ceiling_kwh: float
    # What capped the surplus compensation: the imports' energy term ("energy_term"), the whole
    # import price when no energy-only price was given ("import_price"); None without prices.
    compensation_cap: str | None = None
    # The community's rules as limits (with the members' own bounds) from each fit's date: a
    # large consumer is one by the history known then. Every agreement is checked against
    # those of the stretch each of its hours falls in.
    limits: Sequence[tuple[pd.Timestamp, Limits]] = ()
    rules: Rules = field(default_factory=Rules)
    # The agreement in force (one of the schemes compared): gains and losses are against it.
    in_force: str | None = None
    objective: Objective = Objective.SELF_CONSUMPTION
    max_loss_share: float | None = None
    results: dict[str, SchemeResult] = field(default_factory=dict)

    @property
    def same_period(self) -> bool:
        """Whether the learning schemes were judged on the data they learnt from."""
        return self.trained_on == self.evaluated_on

    def ranking(self) -> list[str]:
        """Return the schemes, best self-consumption first (the reference last)."""
        return sorted(
            self.results,
            key=lambda s: (
                s in sch.REFERENCE_SCHEMES,
                -(self.results[s].community["self_consumed_kwh"] or 0.0),
            ),
        )

    @property
    def winner(self) -> str | None:
        """The agreement (not a reference) the objective picks; None without one."""
        return self.recommendation().scheme

    def savings_by_member(self, scheme: str) -> pd.Series | None:
        """Return each member's savings (EUR) over the judged period; None without prices."""
        economics = self.results[scheme].economics
        if economics is None:
            return None
        return economics.groupby("member_id").savings_eur.sum()

    def fairness(self, scheme: str) -> Fairness | None:
        """Return the scheme's fairness in money; None without prices."""
        savings = self.savings_by_member(scheme)
        if savings is None:
            return None
        before = None if self.in_force is None else self.savings_by_member(self.in_force)
        return fairness(
            self.members,
            savings,
            self.results[scheme].members["consumption_kwh"],
            in_force=None if before is None or self.in_force is None else (self.in_force, before),
        )

    def recommendation(self) -> Recommendation:
        """Return the agreement the objective picks among those compared."""
        agreements = [s for s in self.ranking() if s not in sch.REFERENCE_SCHEMES]
        return recommend(
            {
                s: Candidate(
                    self_consumed_kwh=self.results[s].community["self_consumed_kwh"] or 0.0,
                    fairness=self.fairness(s),
                    keeps_rules=not self.rules_broken(s),
                )
                for s in agreements
            },
            self.objective,
            max_loss_share=self.max_loss_share,
        )

    def _refit(self, result: SchemeResult) -> dict[str, Any] | None:
        """Return re-fitting every four months against fitting once, for the report."""
        if result.fitted_once is None:
            return None
        return {
            "changes": list(result.coefficients.fit.get("changes", [])),
            "refitted_kwh": result.community["self_consumed_kwh"],
            "fitted_once_kwh": result.fitted_once.community["self_consumed_kwh"],
            "refitted_savings_eur": result.savings_eur,
            "fitted_once_savings_eur": result.fitted_once.savings_eur,
        }

    def rules_broken(self, scheme: str) -> list[Breach]:
        """Return how the scheme's β break the community's rules (empty: they keep them).

        A reference is no agreement: it keeps no rule by definition, and is not checked.
        """
        if not self.limits or scheme in sch.REFERENCE_SCHEMES:
            return []
        result = self.results[scheme]
        hours = result.allocation.consumption_kwh.index
        beta = result.coefficients.hourly(hours).to_numpy()
        starts = [start for start, _ in self.limits] + [hours[-1] + pd.Timedelta(hours=1)]
        merged: dict[tuple[str | None, str, str], Breach] = {}
        for (_, limits), start, end in zip(self.limits, starts, starts[1:], strict=False):
            inside = (hours >= start) & (hours < end)
            for breach in limits.breaches(beta[inside]):
                key = (breach.member, breach.bound, breach.rule)
                before = merged.get(key)
                merged[key] = (
                    breach if before is None else replace(before, hours=before.hours + breach.hours)
                )
        # Out of all the hours judged (a stretch without a breach counts too).
        return [replace(breach, of=len(hours)) for breach in merged.values()]

    def to_report(self) -> dict[str, Any]:
        """Return the report.json document (NaN becomes null)."""
        schemes: dict[str, Any] = {}
        for name in self.ranking():
            result = self.results[name]
            members = result.members.copy()
            if result.agreement is not None:
                members["coefficient"] = result.agreement.values
            community: dict[str, Any] = dict(result.community)
            if result.economics is not None:
                totals = result.economics.groupby("member_id")[
                    ["savings_eur", "compensation_eur"]
                ].sum()
                members = members.join(totals)
                community["savings_eur"] = float(totals.savings_eur.sum())
                community["compensation_eur"] = float(totals.compensation_eur.sum())
            monthly = result.monthly
            if result.economics is not None:
                money = result.economics.set_index(["month", "member_id"])
                monthly = monthly.join(money[["savings_eur", "compensation_eur"]])
            community["monthly"] = monthly.groupby(level="month").sum().to_dict("index")
            # One pass over the table (a dict per member's group is slow for hundreds).
            by_member: dict[str, dict[str, Any]] = {}
            for (month, member_id), row in monthly.to_dict("index").items():
                by_member.setdefault(member_id, {})[month] = row
            found = self.fairness(name)
            schemes[name] = {
                "kind": "static" if name in sch.STATIC_SCHEMES else "hourly",
                "refit": self._refit(result),
                "agreement": name not in sch.REFERENCE_SCHEMES,
                "rules_broken": None
                if name in sch.REFERENCE_SCHEMES
                else [breach.as_dict() for breach in self.rules_broken(name)],
                "fit": _clean(result.coefficients.fit) if result.coefficients.fit else None,
                "fairness": None if found is None else _clean(found.to_report()),
                "community": _clean(community),
                "members": {
                    member_id: _clean(row | {"monthly": by_member[member_id]})
                    for member_id, row in members.to_dict("index").items()
                },
            }
        return {
            "period": self.evaluated_on.describe(self.data_index),
            "ceiling_kwh": self.ceiling_kwh,
            "trained_on": self.trained_on.describe(self.data_index),
            "evaluated_on": self.evaluated_on.describe(self.data_index),
            "trained_on_evaluated_period": self.same_period,
            "compensation_cap": self.compensation_cap,
            "rules": self.rules.asked(),
            "in_force": self.in_force,
            "recommendation": self.recommendation().to_report(),
            "schemes": schemes,
        }


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """Turn numpy scalars into floats and NaN into None, for JSON."""
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            cleaned[key] = _clean(value)
        elif value is None or (isinstance(value, float) and math.isnan(value)):
            cleaned[key] = None
        elif isinstance(value, bool | str | list):
            cleaned[key] = value
        else:
            cleaned[key] = float(value)
    return cleaned


def choose_periods(
    index: pd.DatetimeIndex, train: Period | None, evaluate: Period | None
) -> tuple[Period, Period]:
    """Decide where learning schemes learn once and where all schemes are judged.

    ``backtest.rolling_split`` decides instead for a year or more when neither is given. Given
    one: the other is the data before (or after) it, when there is at least
    ``MIN_TRAINING_DAYS`` of it; otherwise the same period. Given neither: both on everything.
    """
    everything = Period(start=index[0], end=index[-1] + pd.Timedelta(hours=1))
    if train is not None and evaluate is not None:
        return train, evaluate
    if evaluate is not None:
        before = Period(start=everything.start, end=evaluate.start)
        enough = len(before.select(index)) >= MIN_TRAINING_DAYS * 24
        return (before if enough else evaluate), evaluate
    if train is not None:
        after = Period(start=train.end, end=everything.end)
        return train, (after if len(after.select(index)) > 0 else train)
    return everything, everything


def _check_asked(
    schemes: Sequence[str],
    in_force: str | None,
    objective: Objective,
    max_loss_share: float | None,
    *,
    priced: bool,
) -> None:
    """Refuse a comparison that cannot give what it is asked for, before any work."""
    unknown = sorted(set(schemes) - set(sch.ALL_SCHEMES))
    if unknown:
        raise ValueError(f"unknown schemes {unknown}; choose from {list(sch.ALL_SCHEMES)}")
    if in_force is not None and in_force not in schemes:
        raise ValueError(f"the agreement in force, {in_force}, must be among the schemes compared")
    if objective is not Objective.SELF_CONSUMPTION and not priced:
        raise ValueError(f"the objective {objective} weighs euros: give the prices")
    if objective is Objective.SAVINGS_NO_LOSS and (in_force is None or max_loss_share is None):
        raise ValueError(
            f"the objective {objective} needs the agreement in force and the largest share of "
            "its savings a member may lose"
        )


def compare(
    members: Sequence[Member],
    consumption_kwh: pd.DataFrame,
    generation_kwh: pd.Series,
    *,
    schemes: Sequence[str] = sch.ALL_SCHEMES,
    train: Period | None = None,
    evaluate: Period | None = None,
    prices: Prices | None = None,
    tz: str = DEFAULT_TZ,
    rules: Rules | None = None,
    in_force: str | None = None,
    objective: Objective = Objective.SELF_CONSUMPTION,
    max_loss_share: float | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Callable[[float], None] | None = None,
) -> Comparison:
    """Compute every scheme's β on the training period and judge it on the evaluated one.

    ``consumption_kwh`` (hours × member ids) and ``generation_kwh`` are hourly, on one UTC
    index. Each scheme's allocation, member and community KPIs, and (with ``prices``) monthly
    economics are returned. ``rules`` go to the schemes that keep them (``RULE_SCHEMES``);
    every agreement is checked against them. ``in_force`` (one of ``schemes``), ``objective``
    and ``max_loss_share`` decide the recommendation (``fairness.recommend``). ``options``:
    by scheme, what an earlier fit chose, used instead of choosing again (`schemes.build`).
    ``progress``, when given, is called with the share of the work done
    (0 to 1) after each scheme's β and after its allocation; an exception it raises stops the
    comparison.
    """
    _check_asked(schemes, in_force, objective, max_loss_share, priced=prices is not None)
    index = consumption_kwh.index
    split = rolling_split(index, tz) if train is None and evaluate is None else None
    if split is not None:
        first, end, changes = split
        trained_on = Period(start=first, end=changes[0])
        evaluated_on = Period(start=changes[0], end=end)
    else:
        changes = []
        trained_on, evaluated_on = choose_periods(index, train, evaluate)
    history = consumption_kwh.loc[trained_on.select(index)]
    history_generation = generation_kwh.reindex(history.index).fillna(0.0)
    evaluate_index = evaluated_on.select(index)
    if len(evaluate_index) == 0 or len(history) == 0:
        raise ValueError("the training or the evaluated period holds no data")
    judged = consumption_kwh.loc[evaluate_index]
    judged_generation = generation_kwh.reindex(evaluate_index).fillna(0.0)

    comparison = Comparison(
        members=list(members),
        trained_on=trained_on,
        evaluated_on=evaluated_on,
        data_index=index,
        ceiling_kwh=ceiling_kwh(judged, judged_generation),
        compensation_cap=None
        if prices is None
        else "import_price"
        if prices.import_energy_eur_kwh is None
        else "energy_term",
        limits=[
            (start, (rules or Rules()).limits(members, consumption_kwh.loc[index < start]))
            for start in changes
        ]
        or [(evaluated_on.start, (rules or Rules()).limits(members, history))],
        rules=rules or Rules(),
        in_force=in_force,
        objective=objective,
        max_loss_share=max_loss_share,
    )
    steps = 2 * len(schemes)

    def judge(coefficients: Coefficients) -> Judged:
        allocation = allocate(coefficients, judged, judged_generation)
        return Judged(
            coefficients=coefficients,
            allocation=allocation,
            members=member_kpis(allocation),
            community=community_kpis(allocation, comparison.ceiling_kwh),
            economics=monthly_economics(allocation, prices, tz) if prices is not None else None,
            monthly=monthly_totals(allocation, tz),
        )

    def build(name: str, history_kwh: pd.DataFrame, generation: pd.Series) -> Coefficients:
        return sch.build(
            name,
            members,
            history_kwh=history_kwh,
            history_generation_kwh=generation,
            target_index=evaluate_index,
            tz=tz,
            rules=rules,
            options=(options or {}).get(name),
        )

    for number, name in enumerate(schemes):
        learning = name in sch.TRAINED_SCHEMES
        fitted_once = None
        if learning and changes:
            rolled = rolling(
                name, members, consumption_kwh, generation_kwh, changes=changes,
                end=evaluated_on.end, tz=tz, rules=rules, options=(options or {}).get(name),
            )  # fmt: skip
            coefficients = rolled.coefficients
            if len(changes) > 1:
                fitted_once = judge(rolled.first)
        else:
            # Perfect foresight shares each hour by that hour's own consumption.
            reference = name in sch.REFERENCE_SCHEMES
            coefficients = build(name, judged if reference else history, history_generation)
        agreement = coefficients if coefficients.is_static else None
        if learning and changes and name in sch.STATIC_SCHEMES:
            agreement = sch.build(
                name,
                members,
                history_kwh=consumption_kwh.loc[index < evaluated_on.end],
                history_generation_kwh=generation_kwh,
                tz=tz,
                rules=rules,
            )
        if progress is not None:
            progress((2 * number + 1) / steps)
        judged_here = judge(coefficients)
        comparison.results[name] = SchemeResult(
            **{field.name: getattr(judged_here, field.name) for field in fields(Judged)},
            agreement=agreement,
            fitted_once=fitted_once,
        )
        if progress is not None:
            progress((2 * number + 2) / steps)
    return comparison
