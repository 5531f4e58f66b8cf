"""optimized-hourly: class optima shrunk by cross-validation, judged on a year it never saw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioe_aggregator.sharing import hourly, schemes
from ioe_aggregator.sharing.compare import compare
from ioe_aggregator.sharing.optimize import self_consumption_kwh
from ioe_aggregator.sharing.rules import Rules
from ioe_dev.synthetic import make_community

from .conftest import member


def mornings_and_afternoons(days: int = 56) -> tuple[pd.DataFrame, pd.Series]:
    """Return a using 2 kWh from 8 to 12 local, b 2 kWh from 12 to 17, a plant making 1 kWh 8–17.

    Nothing varies from day to day: each hour's optimum (all of it to whoever uses it) holds
    out of sample, and no static β can do as well.
    """
    index = pd.date_range("2025-03-03", periods=days * 24, freq="h", tz="Europe/Madrid")
    hour = index.hour
    consumption = pd.DataFrame(
        {
            "a": np.where((hour >= 8) & (hour < 12), 2.0, 0.0),
            "b": np.where((hour >= 12) & (hour < 17), 2.0, 0.0),
        },
        index=index.tz_convert("UTC"),
    )
    generation = pd.Series(np.where((hour >= 8) & (hour < 17), 1.0, 0.0), index=consumption.index)
    return consumption, generation


def test_what_each_hour_teaches_without_noise_is_learnt() -> None:
    consumption, generation = mornings_and_afternoons()
    members = [member("a"), member("b")]

    beta = hourly.optimized_hourly(consumption, generation, consumption.index, members).values

    local = beta.index.tz_convert("Europe/Madrid").hour
    assert beta.a[(local >= 8) & (local < 12)].to_numpy() == pytest.approx(1.0)
    assert beta.b[(local >= 12) & (local < 17)].to_numpy() == pytest.approx(1.0)
    # Every sunny kWh self-consumed, where the best static β loses some.
    used = np.minimum(beta.to_numpy() * generation.to_numpy()[:, None], consumption.to_numpy())
    assert used.sum() == pytest.approx(generation.sum())
    static = schemes.optimized_static(consumption, generation, members).values.to_numpy()
    assert self_consumption_kwh(static, consumption.to_numpy(), generation.to_numpy()) < (
        generation.sum() - 1
    )


def test_every_hour_keeps_the_rules() -> None:
    community = make_community(6, seed=4)
    year = community.consumption_kwh
    rules = Rules(min_beta=0.05, max_beta=0.4, vulnerable_reserve=0.2)
    members = [
        m if i != 2 else type(m)(**{**m.__dict__, "vulnerable": True, "max_share": 0.3})
        for i, m in enumerate(community.members)
    ]
    limits = rules.limits(members, year)

    result = hourly.optimized_hourly(
        year, community.generation_kwh, year.index[: 24 * 30], members, rules=rules
    )

    assert limits.hold(result.values.to_numpy())
    assert limits.breaches(result.values.to_numpy()) == []
    assert result.fit["grain"] in hourly.GRAINS
    assert result.fit["target"] in hourly.TARGETS


def test_judged_on_a_year_it_never_saw_it_beats_the_profile_and_the_static_optimum() -> None:
    """Two years of households that differ by the hour: learn on 2025, judge on 2026."""
    community = make_community(12, years=2, seed=7)

    comparison = compare(
        community.members,
        community.consumption_kwh,
        community.generation_kwh,
        schemes=["optimized-static", "hourly-profile", "optimized-hourly"],
    )

    assert comparison.evaluated_on.start == pd.Timestamp("2025-12-31T23:00Z")
    assert not comparison.same_period
    kwh = {name: r.community["self_consumed_kwh"] for name, r in comparison.results.items()}
    assert kwh["optimized-hourly"] > kwh["hourly-profile"] > kwh["optimized-static"]
    report = comparison.to_report()
    assert report["schemes"]["optimized-hourly"]["fit"]["cross_validated_kwh"]
