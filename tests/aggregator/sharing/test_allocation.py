"""Allocation and KPIs: by hand, and the properties that must hold for any community."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
import numpy as np
import pandas as pd
import pytest

from ioe_aggregator.sharing import schemes
from ioe_aggregator.sharing.allocation import allocate, ceiling_kwh, community_kpis, member_kpis
from ioe_aggregator.sharing.model import Coefficients

from .conftest import hours, member

MEMBERS = [member("a"), member("b")]


def test_by_hand() -> None:
    # G = 4 then 2 kWh, β = ½ each. a: 3 then 0 kWh; b: 1 then 2 kWh.
    consumption = pd.DataFrame({"a": [3.0, 0.0], "b": [1.0, 2.0]}, index=hours(2))
    generation = pd.Series([4.0, 2.0], index=hours(2))

    result = allocate(schemes.equal(MEMBERS), consumption, generation)

    assert result.allocated_kwh.to_numpy().tolist() == [[2.0, 2.0], [1.0, 1.0]]
    assert result.self_consumed_kwh.to_numpy().tolist() == [[2.0, 1.0], [0.0, 1.0]]
    assert result.import_kwh.to_numpy().tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert result.surplus_kwh.to_numpy().tolist() == [[0.0, 1.0], [1.0, 0.0]]

    members = member_kpis(result)
    assert members.loc["a"].to_dict() == pytest.approx(
        {"allocated_kwh": 3.0, "consumption_kwh": 3.0, "self_consumed_kwh": 2.0,
         "surplus_kwh": 1.0, "import_kwh": 1.0,
         "self_consumption_ratio": 2 / 3, "self_sufficiency": 2 / 3}
    )  # fmt: skip
    ceiling = ceiling_kwh(consumption, generation)
    assert ceiling == 6.0  # min(4, 4) + min(2, 2)
    community = community_kpis(result, ceiling)
    assert community["self_consumed_kwh"] == 4.0
    assert community["self_consumption_ratio"] == pytest.approx(4 / 6)
    assert community["self_sufficiency"] == pytest.approx(4 / 6)
    assert community["allocation_efficiency"] == pytest.approx(4 / 6)


def test_perfect_foresight_reaches_the_ceiling() -> None:
    consumption = pd.DataFrame({"a": [3.0, 0.0], "b": [1.0, 2.0]}, index=hours(2))
    generation = pd.Series([4.0, 2.0], index=hours(2))

    result = allocate(schemes.perfect_foresight(consumption), consumption, generation)

    assert (
        community_kpis(result, ceiling_kwh(consumption, generation))["allocation_efficiency"] == 1
    )


def test_a_member_without_consumption_has_no_ratio() -> None:
    consumption = pd.DataFrame({"a": [0.0], "b": [1.0]}, index=hours(1))
    result = allocate(schemes.equal(MEMBERS), consumption, pd.Series([0.0], index=hours(1)))
    assert pd.isna(member_kpis(result).loc["a", "self_sufficiency"])


def test_hours_without_beta_are_an_error() -> None:
    consumption = pd.DataFrame({"a": [1.0, 1.0], "b": [1.0, 1.0]}, index=hours(2))
    partial = schemes.perfect_foresight(consumption.iloc[:1])
    with pytest.raises(ValueError, match="no β for 1 hours"):
        allocate(partial, consumption, pd.Series([1.0, 1.0], index=hours(2)))


def test_one_members_allocation_is_its_column_and_beta_is_checked_over_everyone() -> None:
    consumption = pd.DataFrame({"a": [3.0, 0.0], "b": [1.0, np.nan]}, index=hours(2))
    generation = pd.Series([4.0, 2.0], index=hours(2))
    everyone = allocate(schemes.equal(MEMBERS), consumption, generation)

    mine = allocate(schemes.equal(MEMBERS), consumption, generation, members=["b"])

    for name in ("allocated_kwh", "self_consumed_kwh", "import_kwh", "surplus_kwh"):
        assert list(getattr(mine, name).columns) == ["b"]
        pd.testing.assert_frame_equal(getattr(mine, name), getattr(everyone, name)[["b"]])
    # b's consumption alone is enough; a's β is checked all the same.
    alone = allocate(schemes.equal(MEMBERS), consumption[["b"]], generation, members=["b"])
    pd.testing.assert_frame_equal(alone.self_consumed_kwh, mine.self_consumed_kwh)
    wrong = Coefficients(scheme="wrong", values=pd.Series({"a": 0.7, "b": 0.5}))
    with pytest.raises(ValueError, match="sum to 1"):
        allocate(wrong, consumption[["b"]], generation, members=["b"])


@st.composite
def cases(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    n = draw(st.integers(1, 4))
    t = draw(st.integers(1, 24))
    energy = st.floats(0, 50, allow_nan=False)
    ids = [f"m{i}" for i in range(n)]
    consumption = pd.DataFrame(
        draw(arrays(float, (t, n), elements=energy)), index=hours(t), columns=ids
    )
    generation = pd.Series(draw(arrays(float, t, elements=energy)), index=hours(t))
    raw = draw(arrays(float, (t, n), elements=st.floats(0.001, 1)))
    beta = pd.DataFrame(raw / raw.sum(axis=1, keepdims=True), index=hours(t), columns=ids)
    return consumption, generation, beta


@settings(max_examples=200, deadline=None)
@given(cases())
def test_allocation_properties(case: tuple[pd.DataFrame, pd.Series, pd.DataFrame]) -> None:
    consumption, generation, beta = case
    result = allocate(schemes.Coefficients(scheme="any", values=beta), consumption, generation)

    np.testing.assert_allclose(result.allocated_kwh.sum(axis=1), generation, atol=1e-9)
    allocated, used = result.allocated_kwh.to_numpy(), result.self_consumed_kwh.to_numpy()
    assert (used <= np.minimum(allocated, consumption.to_numpy()) + 1e-12).all()
    np.testing.assert_allclose(used + result.import_kwh, consumption, atol=1e-9)
    np.testing.assert_allclose(used + result.surplus_kwh, allocated, atol=1e-9)
    ceiling = ceiling_kwh(consumption, generation)
    assert used.sum() <= ceiling + 1e-9
