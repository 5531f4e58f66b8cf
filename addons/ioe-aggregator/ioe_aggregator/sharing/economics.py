"""What the community is worth to each member: savings and simplified surplus compensation.

RD 244/2019 art. 14 (compensación simplificada): per member and billing period (here each
calendar month, local time), surplus is valued at the surplus price, and that value can at
most cancel the value of the energy imported in the same month — its energy term, without the
tolls and charges (peajes y cargos) or taxes the import price also carries. Nothing carries
over.

Which price goes where: ``import_eur_kwh`` (everything a kWh from the grid costs the member) for
the costs with and without the community; ``import_energy_eur_kwh`` (the energy term alone) for
the compensation's cap; ``surplus_eur_kwh`` for the surplus. Without an energy-only price the
cap is taken at the whole import price, which overstates it (the report says so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from ioe_aggregator.sharing.allocation import Allocation, sum_by_month
from ioe_aggregator.sharing.calendar import DEFAULT_TZ, energy_period_20td

# One price for every hour, or one per 2.0TD period (1, 2, 3).
type PeriodPrice = float | Mapping[int, float]


@dataclass(frozen=True, kw_only=True)
class Prices:
    """Energy prices (EUR/kWh) for every hour: what imports cost, what surplus is paid.

    ``import_energy_eur_kwh`` is the import price's energy term (the compensation's cap); None
    when it was not given.
    """

    import_eur_kwh: pd.Series
    surplus_eur_kwh: pd.Series
    import_energy_eur_kwh: pd.Series | None = None

    @classmethod
    def flat(
        cls,
        index: pd.DatetimeIndex,
        import_eur_kwh: float,
        surplus_eur_kwh: float,
        import_energy_eur_kwh: float | None = None,
    ) -> Prices:
        """Return the same prices for every hour of ``index``."""
        return cls.by_period_20td(
            index, import_eur_kwh, surplus_eur_kwh, import_energy_eur_kwh=import_energy_eur_kwh
        )

    @classmethod
    def by_period_20td(
        cls,
        index: pd.DatetimeIndex,
        import_eur_kwh: PeriodPrice,
        surplus_eur_kwh: PeriodPrice,
        tz: str = DEFAULT_TZ,
        *,
        import_energy_eur_kwh: PeriodPrice | None = None,
        ceuta_melilla: bool = False,
    ) -> Prices:
        """Return prices by 2.0TD period: each one price, or one per period {1: p1, 2: p2, 3: p3}.

        ``ceuta_melilla`` places the periods as they are there (`energy_period_20td`).
        """
        period = energy_period_20td(index, tz, ceuta_melilla=ceuta_melilla)

        def by_period(price: PeriodPrice) -> pd.Series:
            if isinstance(price, Mapping):
                return pd.Series([price[p] for p in period], index=index)
            return pd.Series(price, index=index)

        return cls(
            import_eur_kwh=by_period(import_eur_kwh),
            surplus_eur_kwh=by_period(surplus_eur_kwh),
            import_energy_eur_kwh=(
                None if import_energy_eur_kwh is None else by_period(import_energy_eur_kwh)
            ),
        )


def compensation[T: (float, pd.Series)](surplus_value_eur: T, import_energy_eur: T) -> T:
    """Return a month's surplus compensation: its value, at most the imports' energy term, ≥ 0."""
    return cast(T, np.clip(surplus_value_eur, 0.0, np.maximum(import_energy_eur, 0.0)))


def monthly_economics(allocation: Allocation, prices: Prices, tz: str = DEFAULT_TZ) -> pd.DataFrame:
    """Return per member and month: cost without and with the community, compensation, savings.

    Columns: ``month`` (YYYY-MM, local), ``member_id``, ``cost_without_eur`` (all consumption
    imported), ``import_cost_eur``, ``import_energy_eur`` (the imports' energy term, the cap),
    ``surplus_value_eur``, ``compensation_eur`` (the surplus value, capped at the imports'
    energy term and never below 0), ``savings_eur`` (cost without minus import cost plus
    compensation).
    """
    index = allocation.consumption_kwh.index
    price_in = prices.import_eur_kwh.reindex(index)
    price_out = prices.surplus_eur_kwh.reindex(index)
    price_cap = (
        price_in
        if prices.import_energy_eur_kwh is None
        else prices.import_energy_eur_kwh.reindex(index)
    )
    unknown = price_in.isna() | price_out.isna() | price_cap.isna()
    if unknown.any():
        missing = index[unknown]
        raise ValueError(f"no price for {len(missing)} hours from {missing[0]}")
    monthly = sum_by_month(
        {
            "cost_without_eur": allocation.consumption_kwh.mul(price_in, axis=0),
            "import_cost_eur": allocation.import_kwh.mul(price_in, axis=0),
            "import_energy_eur": allocation.import_kwh.mul(price_cap, axis=0),
            "surplus_value_eur": allocation.surplus_kwh.mul(price_out, axis=0),
        },
        tz,
    )
    monthly["compensation_eur"] = compensation(monthly.surplus_value_eur, monthly.import_energy_eur)
    monthly["savings_eur"] = (
        monthly.cost_without_eur - monthly.import_cost_eur + monthly.compensation_eur
    )
    return monthly.reset_index()
