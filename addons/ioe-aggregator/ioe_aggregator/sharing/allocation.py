"""Allocation of the plant's generation by β, and the KPIs of members and community.

Per member i and hour h: allocated A = β·G, self-consumed S = min(A, C), import
I = max(C − A, 0), surplus X = max(A − C, 0). Unused allocation is never passed on to a
neighbour in the same hour: that is how distributors settle collective self-consumption.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
import pandas as pd

from ioe_aggregator.sharing.model import SUM_TOLERANCE, Coefficients


@dataclass(frozen=True, kw_only=True)
class Allocation:
    """Hourly energies per member (kWh); hours as index, members as columns."""

    generation_kwh: pd.Series
    consumption_kwh: pd.DataFrame
    allocated_kwh: pd.DataFrame
    self_consumed_kwh: pd.DataFrame
    import_kwh: pd.DataFrame
    surplus_kwh: pd.DataFrame


def allocate(
    coefficients: Coefficients,
    consumption_kwh: pd.DataFrame,
    generation_kwh: pd.Series,
    *,
    members: Sequence[str] | None = None,
) -> Allocation:
    """Share each hour's generation by β and settle it against each member's consumption.

    ``members``: settle only theirs (the allocation holds their columns alone, and
    ``consumption_kwh`` need hold no others); β is checked over every member it has all the
    same. One member's share needs nobody else's consumption.
    """
    index = consumption_kwh.index
    beta = coefficients.hourly(index)
    if members is None:
        beta = beta[consumption_kwh.columns]
    if beta.isna().any().any():
        missing = beta.index[beta.isna().any(axis=1)]
        raise ValueError(f"{coefficients.scheme}: no β for {len(missing)} hours from {missing[0]}")
    sums = beta.sum(axis=1)
    # β summing to 1; or all 0, an hour no agreement covers (the results' case): nothing shared.
    wrong = ((sums - 1.0).abs() > SUM_TOLERANCE) & (sums != 0)
    if wrong.any() or (beta < 0).any().any():
        first = beta.index[wrong.to_numpy() | (beta < 0).any(axis=1).to_numpy()][0]
        raise ValueError(
            f"{coefficients.scheme}: β must be ≥ 0 and sum to 1 in every hour; at {first} "
            f"they sum to {sums[first]:.9f}"
        )
    if members is not None:
        beta, consumption_kwh = beta[list(members)], consumption_kwh[list(members)]
    generation = generation_kwh.reindex(index).fillna(0.0)
    # A member's hour without consumption is not judged: its allocation is unknown too.
    allocated = beta.mul(generation, axis=0).where(consumption_kwh.notna())
    consumption = consumption_kwh.to_numpy()
    given = allocated.to_numpy()
    return Allocation(
        generation_kwh=generation,
        consumption_kwh=consumption_kwh,
        allocated_kwh=allocated,
        self_consumed_kwh=_frame(np.minimum(given, consumption), consumption_kwh),
        import_kwh=_frame(np.maximum(consumption - given, 0.0), consumption_kwh),
        surplus_kwh=_frame(np.maximum(given - consumption, 0.0), consumption_kwh),
    )


def _frame(values: NDArray[np.float64], like: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(values, index=like.index, columns=like.columns)


def ceiling_kwh(consumption_kwh: pd.DataFrame, generation_kwh: pd.Series) -> float:
    """Return the most the community can self-consume: Σ_h min(G_h, Σ_i C_ih).

    Over the hours where every member's consumption is known (`community_kpis` judges the
    allocation's efficiency on the same hours).
    """
    complete = consumption_kwh.dropna()
    generation = generation_kwh.reindex(complete.index).fillna(0.0)
    return float(np.minimum(generation, complete.sum(axis=1)).sum())


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def member_kpis(allocation: Allocation) -> pd.DataFrame:
    """Return each member's totals and ratios (members as rows).

    self_consumption_ratio = S / A (share of its allocation the member used);
    self_sufficiency = S / C (share of its consumption the plant covered). A ratio whose
    denominator is 0 is NaN.
    """
    totals = pd.DataFrame(
        {
            "allocated_kwh": allocation.allocated_kwh.sum(),
            "consumption_kwh": allocation.consumption_kwh.sum(),
            "self_consumed_kwh": allocation.self_consumed_kwh.sum(),
            "surplus_kwh": allocation.surplus_kwh.sum(),
            "import_kwh": allocation.import_kwh.sum(),
        }
    )
    totals["self_consumption_ratio"] = [
        _ratio(s, a) for s, a in zip(totals.self_consumed_kwh, totals.allocated_kwh, strict=True)
    ]
    totals["self_sufficiency"] = [
        _ratio(s, c) for s, c in zip(totals.self_consumed_kwh, totals.consumption_kwh, strict=True)
    ]
    return totals


ENERGY_COLUMNS = (
    "allocated_kwh",
    "consumption_kwh",
    "self_consumed_kwh",
    "surplus_kwh",
    "import_kwh",
)


def sum_by_month(frames: Mapping[str, pd.DataFrame], tz: str) -> pd.DataFrame:
    """Sum hourly frames (hours × members) per local month.

    Returns one column per frame, indexed by (month ``YYYY-MM``, member id).
    """
    first = next(iter(frames.values()))
    local = first.index.tz_convert(tz)
    # Grouped by a number (formatting every hour's month as text is slow), named once each.
    number = local.year * 100 + local.month
    names = {n: f"{n // 100:04d}-{n % 100:02d}" for n in np.unique(number)}
    table = pd.concat(
        {k: f.groupby(number).sum().rename(index=names).stack() for k, f in frames.items()},
        axis=1,
    )
    table.index.names = ["month", "member_id"]
    return table


def monthly_totals(allocation: Allocation, tz: str) -> pd.DataFrame:
    """Return each member's energies per local month: index (month YYYY-MM, member id)."""
    return sum_by_month({column: getattr(allocation, column) for column in ENERGY_COLUMNS}, tz)


def community_kpis(allocation: Allocation, ceiling: float) -> dict[str, float | None]:
    """Return the community's totals and ratios, with allocation efficiency against ``ceiling``.

    Members' hours without consumption are left out of the sums; the self-consumption ratio is
    against the generation allocated to the hours judged (all of it when no hour is missing),
    and the efficiency is judged on the hours where every member is known, as the ceiling is.
    """
    allocated = float(np.nansum(allocation.allocated_kwh.to_numpy()))
    consumption = float(np.nansum(allocation.consumption_kwh.to_numpy()))
    self_consumed = float(np.nansum(allocation.self_consumed_kwh.to_numpy()))
    complete = allocation.consumption_kwh.notna().all(axis=1).to_numpy()
    self_consumed_complete = float(np.nansum(allocation.self_consumed_kwh.to_numpy()[complete]))
    return {
        "generation_kwh": float(allocation.generation_kwh.sum()),
        "allocated_kwh": allocated,
        "consumption_kwh": consumption,
        "self_consumed_kwh": self_consumed,
        "surplus_kwh": float(np.nansum(allocation.surplus_kwh.to_numpy())),
        "import_kwh": float(np.nansum(allocation.import_kwh.to_numpy())),
        "self_consumption_ratio": _ratio(self_consumed, allocated),
        "self_sufficiency": _ratio(self_consumed, consumption),
        "allocation_efficiency": _ratio(self_consumed_complete, ceiling),
    }
