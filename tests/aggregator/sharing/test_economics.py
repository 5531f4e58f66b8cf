"""Savings and the monthly compensation cap, by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from ioe_aggregator.sharing import schemes
from ioe_aggregator.sharing.allocation import allocate
from ioe_aggregator.sharing.economics import Prices, monthly_economics

from .conftest import member

MEMBERS = [member("a"), member("b")]
# Two hours in June and one in July (local time).
INDEX = pd.DatetimeIndex(
    [
        pd.Timestamp(t, tz="UTC")
        for t in ("2025-06-30 10:00", "2025-06-30 11:00", "2025-07-01 10:00")
    ]
)


def test_savings_and_capped_compensation() -> None:
    # β ½ each of G = 10, 10, 10.  a: 1, 1, 8 kWh; b: 5, 5, 5.
    consumption = pd.DataFrame({"a": [1.0, 1.0, 8.0], "b": [5.0, 5.0, 5.0]}, index=INDEX)
    generation = pd.Series(10.0, index=INDEX)
    result = allocate(schemes.equal(MEMBERS), consumption, generation)
    prices = Prices.flat(INDEX, import_eur_kwh=0.20, surplus_eur_kwh=0.05)

    table = monthly_economics(result, prices).set_index(["month", "member_id"])

    june_a = table.loc[("2025-06", "a")]
    # a self-consumes everything it uses in June, imports nothing: surplus 8 kWh worth 0.40 €
    # but the cap (value of imports = 0) leaves no compensation.
    assert june_a.cost_without_eur == pytest.approx(0.40)
    assert june_a.import_cost_eur == 0
    assert june_a.surplus_value_eur == pytest.approx(0.40)
    assert june_a.compensation_eur == 0
    assert june_a.savings_eur == pytest.approx(0.40)
    july_a = table.loc[("2025-07", "a")]
    # July: allocated 5, uses 8: imports 3 kWh (0.60 €), no surplus.
    assert july_a.import_cost_eur == pytest.approx(0.60)
    assert july_a.savings_eur == pytest.approx(1.00)
    june_b = table.loc[("2025-06", "b")]
    assert june_b.compensation_eur == 0
    assert june_b.savings_eur == pytest.approx(2.0)


def test_compensation_reaches_the_import_value_and_no_further() -> None:
    index = INDEX[:2]
    # a: allocated 5 each hour; uses 0 then 9: surplus 5 kWh, import 4 kWh.
    consumption = pd.DataFrame({"a": [0.0, 9.0], "b": [5.0, 5.0]}, index=index)
    result = allocate(schemes.equal(MEMBERS), consumption, pd.Series(10.0, index=index))

    cheap = monthly_economics(result, Prices.flat(index, 0.20, 0.10)).set_index("member_id")
    dear = monthly_economics(result, Prices.flat(index, 0.20, 0.50)).set_index("member_id")

    assert cheap.loc["a", "compensation_eur"] == pytest.approx(0.50)  # below the cap (0.80)
    assert dear.loc["a", "compensation_eur"] == pytest.approx(0.80)  # 2.50 € capped at 0.80
    assert dear.loc["a", "savings_eur"] == pytest.approx(1.80 - 0.80 + 0.80)


def test_prices_by_20td_period() -> None:
    index = pd.DatetimeIndex(
        [
            pd.Timestamp(t, tz="Europe/Madrid").tz_convert("UTC")
            for t in ("2025-04-18 11:00", "2025-04-18 09:00", "2025-04-19 11:00")
        ]
    )  # fmt: skip  (Good Friday P1 and P2, Saturday P3)
    prices = Prices.by_period_20td(index, {1: 0.30, 2: 0.20, 3: 0.10}, surplus_eur_kwh=0.05)
    assert prices.import_eur_kwh.tolist() == [0.30, 0.20, 0.10]


def test_missing_prices_are_an_error() -> None:
    consumption = pd.DataFrame({"a": [1.0, 1.0, 1.0], "b": [1.0, 1.0, 1.0]}, index=INDEX)
    result = allocate(schemes.equal(MEMBERS), consumption, pd.Series(1.0, index=INDEX))
    with pytest.raises(ValueError, match="no price for 1 hours"):
        monthly_economics(result, Prices.flat(INDEX[:2], 0.2, 0.05))


def test_the_cap_is_the_imports_energy_term() -> None:
    index = INDEX[:2]
    # a: surplus 5 kWh, import 4 kWh, as above; the energy term is 0.08 of the 0.20 €/kWh.
    consumption = pd.DataFrame({"a": [0.0, 9.0], "b": [5.0, 5.0]}, index=index)
    result = allocate(schemes.equal(MEMBERS), consumption, pd.Series(10.0, index=index))

    prices = Prices.flat(index, 0.20, 0.50, import_energy_eur_kwh=0.08)
    table = monthly_economics(result, prices).set_index("member_id")

    assert table.loc["a", "import_cost_eur"] == pytest.approx(0.80)
    assert table.loc["a", "import_energy_eur"] == pytest.approx(0.32)
    assert table.loc["a", "compensation_eur"] == pytest.approx(0.32)  # not 0.80
    assert table.loc["a", "savings_eur"] == pytest.approx(1.80 - 0.80 + 0.32)


def test_prices_by_period_in_ceuta_and_melilla() -> None:
    index = pd.DatetimeIndex(
        [pd.Timestamp(f"2025-01-13 {hour:02d}:00", tz="Europe/Madrid") for hour in (8, 10, 14)]
    ).tz_convert("UTC")
    periods = {1: 0.30, 2: 0.20, 3: 0.10}

    peninsula = Prices.by_period_20td(index, periods, 0.05)
    ceuta = Prices.by_period_20td(index, periods, 0.05, ceuta_melilla=True)

    assert peninsula.import_eur_kwh.tolist() == [0.20, 0.30, 0.20]
    assert ceuta.import_eur_kwh.tolist() == [0.20, 0.20, 0.30]
