"""One member's energy over a local day, month or year: their consumption against their share.

The figures are the results engine's (``ResultsEngine.shares``), read for one member: per hour,
consumption C, allocated A = β·G with the β of the agreement in force, self-consumed
S = min(A, C) and surplus X = max(A − C, 0). A day is given per hour (23 or 25 on the days the
clocks change), a month per local day, a year per local month. An hour whose consumption is
unknown counts in no sum; a point without a known hour is null throughout, not zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ioe_aggregator.agreements import Agreement
from ioe_aggregator.distributor.timeline import local_midnight
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.results.engine import Shares
from ioe_aggregator.sharing.allocation import member_kpis
from ioe_aggregator.sharing.calendar import add_months

PeriodKind = Literal["day", "month", "year"]
PERIODS: tuple[PeriodKind, ...] = ("day", "month", "year")
ENERGIES = ("consumption_kwh", "allocated_kwh", "self_consumed_kwh", "surplus_kwh")


@dataclass(frozen=True, slots=True)
class Period:
    """A local day, month or year: from ``first`` (included) to ``end`` (excluded)."""

    kind: PeriodKind
    first: date

    @classmethod
    def containing(cls, kind: PeriodKind, day: date) -> Period:
        """Return the day, month or year ``day`` falls in."""
        if kind == "day":
            return cls(kind, day)
        if kind == "month":
            return cls(kind, day.replace(day=1))
        return cls(kind, day.replace(month=1, day=1))

    def shifted(self, steps: int) -> Period:
        """Return the period ``steps`` periods later (earlier when negative)."""
        if self.kind == "day":
            return Period(self.kind, self.first + timedelta(days=steps))
        return Period(
            self.kind, add_months(self.first, steps * (1 if self.kind == "month" else 12))
        )

    @property
    def end(self) -> date:
        """The first day after the period."""
        return self.shifted(1).first

    def hours(self, zone: ZoneInfo) -> pd.DatetimeIndex:
        """Return the period's hours in UTC, as the engine takes them."""
        return pd.date_range(
            local_midnight(self.first, zone),
            local_midnight(self.end, zone),
            freq="h",
            inclusive="left",
            name="start",
        ).tz_convert("UTC")


def _kwh(value: float) -> float:
    return round(float(value), 4)


def _sums(frame: pd.DataFrame) -> dict[str, Any]:
    """Return the energies of some hours (rows) summed over the known ones, with the counts."""
    known = int(frame["consumption_kwh"].notna().sum())
    sums: dict[str, Any] = {"hours": len(frame), "hours_known": known}
    for column in ENERGIES:
        sums[column] = _kwh(np.nansum(frame[column].to_numpy())) if known else None
    return sums


def _coefficient(frame: pd.DataFrame) -> float | None:
    """Return the β of some hours (rows) when one held throughout them under an agreement."""
    if not frame["covered"].all() or frame["beta"].nunique() != 1:
        return None
    return round(float(frame["beta"].iloc[0]), 6)


def _ratio(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 4)


def _agreements(beta: pd.Series, in_force: list[Agreement | None]) -> list[dict[str, Any]]:
    """Return the agreements in force over the hours, in order, with the member's β under each."""
    found: dict[str, tuple[Agreement, list[float]]] = {}
    for agreement, value in zip(in_force, beta, strict=True):
        if agreement is not None:
            found.setdefault(agreement.id, (agreement, []))[1].append(float(value))
    return [
        {
            "id": agreement.id,
            "name": agreement.name,
            "scheme": agreement.scheme,
            "kind": "hourly" if agreement.hourly else "static",
            "valid_from": agreement.valid_from.isoformat(),
            "valid_to": None if agreement.valid_to is None else agreement.valid_to.isoformat(),
            "coefficient_min": round(min(values), 6),
            "coefficient_max": round(max(values), 6),
        }
        for agreement, values in found.values()
    ]


def member_energy(shares: Shares, member: str, period: Period, zone: ZoneInfo) -> dict[str, Any]:
    """Return a member's points and totals over ``period`` as the API gives them.

    ``shares`` covers exactly ``period.hours(zone)``. Each point has its start (UTC), its local
    label (the hour with its UTC offset, the day, or the month), the energies (kWh), how many
    of its hours are known, and the member's β when one held throughout it.
    """
    allocation = shares.allocation
    index = allocation.consumption_kwh.index
    beta = shares.beta[member] if member in shares.beta else pd.Series(0.0, index=index)
    hourly = pd.DataFrame(
        {column: getattr(allocation, column)[member] for column in ENERGIES}
        | {"beta": beta, "covered": [agreement is not None for agreement in shares.in_force]},
        index=index,
    )
    if period.kind == "day":
        labels = [moment.isoformat() for moment in index.tz_convert(zone).to_pydatetime()]
    else:
        # A day's or a month's label per hour (strftime is tens of ms for a year's hours; and
        # each field of a zoned index converts it again: the local wall clock, once).
        local = index.tz_convert(zone).tz_localize(None)
        months = [
            f"{year:04d}-{month:02d}" for year, month in zip(local.year, local.month, strict=True)
        ]
        labels = (
            [f"{month}-{day:02d}" for month, day in zip(months, local.day, strict=True)]
            if period.kind == "month"
            else months
        )
    points = [
        {
            "start": utc_text(frame.index[0].to_pydatetime()),
            "local": label,
            **_sums(frame),
            "coefficient": _coefficient(frame),
        }
        for label, frame in hourly.groupby(np.array(labels), sort=False)
    ]
    kpis = member_kpis(allocation).loc[member]
    totals = _sums(hourly)
    known = totals["hours_known"] > 0
    return {
        "member": member,
        "period": period.kind,
        "from": period.first.isoformat(),
        "to": (period.end - timedelta(days=1)).isoformat(),
        "previous": period.shifted(-1).first.isoformat(),
        "next": period.end.isoformat(),
        "timezone": zone.key,
        "points": points,
        "totals": totals
        | {
            "self_consumption": _ratio(kpis.self_consumption_ratio) if known else None,
            "self_sufficiency": _ratio(kpis.self_sufficiency) if known else None,
        },
        "agreements": _agreements(beta, shares.in_force),
    }
