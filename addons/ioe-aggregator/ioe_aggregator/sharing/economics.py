"""What the community is worth to each member: savings and simplified surplus compensation.

RD 244/2019 art. 14 (compensación simplificada): per member and billing period (here each
calendar month, local time), surplus is valued at the surplus price, and that value can at
most cancel the value of the energy imported in the same month. Nothing carries over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ioe_aggregator.sharing.allocation import Allocation, sum_by_month
from ioe_aggregator.sharing.calendar import DEFAULT_TZ, energy_period_20td


@dataclass(frozen=True, kw_only=True)
class Prices:
    """Energy prices (EUR/kWh) for every hour: what imports cost, what surplus is paid."""

    import_eur_kwh: pd.Series
    surplus_eur_kwh: pd.Series

    @classmethod
    def flat(cls, index: pd.DatetimeIndex, import_eur_kwh: float, surplus_eur_kwh: float) -> Prices:
        """Return the same prices for every hour of ``index``."""
        return cls(
            import_eur_kwh=pd.Series(import_eur_kwh, index=index),
            surplus_eur_kwh=pd.Series(surplus_eur_kwh, index=index),
        )

    @classmethod
    def by_period_20td(
        cls,
        index: pd.DatetimeIndex,
        import_eur_kwh: Mapping[int, float],
        surplus_eur_kwh: float,
        tz: str = DEFAULT_TZ,
    ) -> Prices:
        """Return import prices by 2.0TD period ({1: p1, 2: p2, 3: p3}) and a flat surplus price."""
        period = energy_period_20td(index, tz)
        return cls(
            import_eur_kwh=pd.Series([import_eur_kwh[p] for p in period], index=index),
            surplus_eur_kwh=pd.Series(surplus_eur_kwh, index=index),
        )


def monthly_economics(allocation: Allocation, prices: Prices, tz: str = DEFAULT_TZ) -> pd.DataFrame:
    """Return per member and month: cost without and with the community, compensation, savings.

    Columns: ``month`` (YYYY-MM, local), ``member_id``, ``cost_without_eur`` (all consumption
    imported), ``import_cost_eur``, ``surplus_value_eur``, ``compensation_eur`` (the surplus
    value, capped at the import cost and never below 0), ``savings_eur`` (cost without minus
    import cost plus compensation).
    """
    index = allocation.consumption_kwh.index
    price_in = prices.import_eur_kwh.reindex(index)
    price_out = prices.surplus_eur_kwh.reindex(index)
    if price_in.isna().any() or price_out.isna().any():
        missing = index[price_in.isna() | price_out.isna()]
        raise ValueError(f"no price for {len(missing)} hours from {missing[0]}")
    monthly = sum_by_month(
        {
            "cost_without_eur": allocation.consumption_kwh.mul(price_in, axis=0),
            "import_cost_eur": allocation.import_kwh.mul(price_in, axis=0),
            "surplus_value_eur": allocation.surplus_kwh.mul(price_out, axis=0),
        },
        tz,
    )
    monthly["compensation_eur"] = np.clip(
        monthly.surplus_value_eur, 0.0, monthly.import_cost_eur.clip(lower=0.0)
    )
    monthly["savings_eur"] = (
        monthly.cost_without_eur - monthly.import_cost_eur + monthly.compensation_eur
    )
    return monthly.reset_index()
