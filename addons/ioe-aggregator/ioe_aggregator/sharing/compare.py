"""Compare sharing schemes honestly: learn on one period, judge on a later one.

``compare`` returns plain data (``Comparison``); ``Comparison.to_report`` gives the document
written as report.json, which other parts of the product read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
from ioe_aggregator.sharing.calendar import DEFAULT_TZ
from ioe_aggregator.sharing.economics import Prices, monthly_economics
from ioe_aggregator.sharing.model import Coefficients, Member

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
class SchemeResult:
    """One scheme judged on the evaluated period."""

    coefficients: Coefficients
    allocation: Allocation
    members: pd.DataFrame
    community: dict[str, float | None]
    economics: pd.DataFrame | None

    monthly: pd.DataFrame


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
        """The agreement (not a reference) with the most self-consumption; None without one."""
        return next((s for s in self.ranking() if s not in sch.REFERENCE_SCHEMES), None)

    def to_report(self) -> dict[str, Any]:
        """Return the report.json document (NaN becomes null)."""
        schemes: dict[str, Any] = {}
        for name in self.ranking():
            result = self.results[name]
            members = result.members.copy()
            if result.coefficients.is_static:
                members["coefficient"] = result.coefficients.values
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
            by_member = {
                member_id: table.droplevel("member_id").to_dict("index")
                for member_id, table in monthly.groupby(level="member_id")
            }
            schemes[name] = {
                "kind": "static" if result.coefficients.is_static else "hourly",
                "agreement": name not in sch.REFERENCE_SCHEMES,
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
            "schemes": schemes,
        }


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Turn numpy scalars into floats and NaN into None, for JSON."""
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            cleaned[key] = _clean(value)
        elif value is None or (isinstance(value, float) and math.isnan(value)):
            cleaned[key] = None
        elif isinstance(value, bool | str):
            cleaned[key] = value
        else:
            cleaned[key] = float(value)
    return cleaned


def choose_periods(
    index: pd.DatetimeIndex, train: Period | None, evaluate: Period | None
) -> tuple[Period, Period]:
    """Decide where learning schemes learn and where all schemes are judged.

    Given neither: with at least two years of data, learn on all but the last year and judge
    on the last; otherwise both on everything. Given one: the other is the data before (or
    after) it, when there is at least ``MIN_TRAINING_DAYS`` of it; otherwise the same period.
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
    last_year = everything.end - pd.DateOffset(years=1)
    if last_year - everything.start >= pd.Timedelta(days=365):
        return Period(start=everything.start, end=last_year), Period(
            start=last_year, end=everything.end
        )
    return everything, everything


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
    profile_options: Mapping[str, float] | None = None,
    progress: Callable[[float], None] | None = None,
) -> Comparison:
    """Compute every scheme's β on the training period and judge it on the evaluated one.

    ``consumption_kwh`` (hours × member ids) and ``generation_kwh`` are hourly, on one UTC
    index. Each scheme's allocation, member and community KPIs, and (with ``prices``) monthly
    economics are returned. ``profile_options`` go to ``hourly_profile`` (vulnerable_reserve,
    min_beta, max_beta). ``progress``, when given, is called with the share of the work done
    (0 to 1) after each scheme's β and after its allocation; an exception it raises stops the
    comparison.
    """
    unknown = sorted(set(schemes) - set(sch.ALL_SCHEMES))
    if unknown:
        raise ValueError(f"unknown schemes {unknown}; choose from {list(sch.ALL_SCHEMES)}")
    index = consumption_kwh.index
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
    )
    steps = 2 * len(schemes)
    for number, name in enumerate(schemes):
        coefficients = sch.build(
            name,
            members,
            # Perfect foresight shares each hour by that hour's own consumption.
            history_kwh=judged if name in sch.REFERENCE_SCHEMES else history,
            history_generation_kwh=history_generation,
            target_index=evaluate_index,
            tz=tz,
            profile_options=profile_options,
        )
        if progress is not None:
            progress((2 * number + 1) / steps)
        allocation = allocate(coefficients, judged, judged_generation)
        comparison.results[name] = SchemeResult(
            coefficients=coefficients,
            allocation=allocation,
            members=member_kpis(allocation),
            community=community_kpis(allocation, comparison.ceiling_kwh),
            economics=monthly_economics(allocation, prices, tz) if prices is not None else None,
            monthly=monthly_totals(allocation, tz),
        )
        if progress is not None:
            progress((2 * number + 2) / steps)
    return comparison
