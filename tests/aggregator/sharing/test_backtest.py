"""Re-fitting at the legal cadence: the dates, and no fit that knows its future."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioe_aggregator.sharing import backtest
from ioe_aggregator.sharing.compare import compare
from ioe_aggregator.sharing.rules import Rules
from ioe_aggregator.sharing.schemes import TRAINED_SCHEMES
from ioe_dev.synthetic import make_community


def local(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="Europe/Madrid").tz_convert("UTC")


def hourly(first: str, last: str) -> pd.DatetimeIndex:
    """Return the UTC hours of the local days ``first`` to ``last`` (included)."""
    return pd.date_range(
        local(first), local(last) + pd.Timedelta(days=1), freq="h", inclusive="left"
    )


@pytest.mark.parametrize(
    ("first", "last", "changes"),
    [
        ("2025-03-10", "2026-01-20", None),  # less than a year from its first whole month
        # A year: eight months learnt, the last four judged.
        ("2025-01-01", "2025-12-31", ["2025-09-01"]),
        # Eighteen months: judged from the ninth, re-fitted every four months.
        ("2025-01-01", "2026-06-30", ["2025-09-01", "2026-01-01", "2026-05-01"]),
        # Two years and more: the last year, re-fitted every four months.
        ("2024-01-15", "2026-12-31", ["2026-01-01", "2026-05-01", "2026-09-01"]),
        # Data starting mid-month: its first whole month counts.
        ("2025-02-10", "2026-02-28", ["2025-11-01"]),
    ],
)
def test_the_months_judged_and_the_change_dates(
    first: str, last: str, changes: list[str] | None
) -> None:
    split = backtest.rolling_split(hourly(first, last))

    if changes is None:
        assert split is None
        return
    assert split is not None
    assert split[2] == [local(day) for day in changes]  # local midnights, in and out of summer


def test_no_fit_knows_what_comes_after_its_date() -> None:
    """Whatever happens from a change date on, the β used before it stay the same."""
    community = make_community(6, seed=2)
    consumption, generation = community.consumption_kwh, community.generation_kwh
    changes = [local("2025-07-01"), local("2025-09-01"), local("2025-11-01")]
    later = consumption.index >= changes[1]
    rng = np.random.default_rng(0)
    altered = consumption.copy()
    altered.loc[later] = altered.loc[later].to_numpy()[:, rng.permutation(6)] * 3

    for scheme in sorted(TRAINED_SCHEMES):
        before, after = (
            backtest.rolling(
                scheme, community.members, data, generation,
                changes=changes, end=local("2026-01-01"),
            ).coefficients.values
            for data in (consumption, altered)
        )  # fmt: skip

        first = before.index < changes[1]
        # The same to the last bits a sum's order leaves (the altered frame lies otherwise in
        # memory); a fit that saw the altered months would be off by far more.
        assert np.abs(before[first] - after[first]).to_numpy().max() < 1e-12, scheme
        # ... while the next stretches, fitted on the altered months, do change.
        assert np.abs(before[~first] - after[~first]).to_numpy().max() > 1e-3, scheme


def test_refitting_every_four_months_is_compared_with_fitting_once() -> None:
    community = make_community(6, years=2, seed=3)

    report = compare(
        community.members,
        community.consumption_kwh,
        community.generation_kwh,
        schemes=["equal", "optimized-static", "hourly-profile"],
    ).to_report()

    assert report["evaluated_on"]["start"] == local("2026-01-01").isoformat()
    refit = report["schemes"]["optimized-static"]["refit"]
    assert refit["changes"] == [
        local(d).isoformat() for d in ("2026-01-01", "2026-05-01", "2026-09-01")
    ]
    assert (
        refit["refitted_kwh"]
        == report["schemes"]["optimized-static"]["community"]["self_consumed_kwh"]
    )
    assert refit["fitted_once_kwh"] > 0
    assert report["schemes"]["equal"]["refit"] is None  # learns nothing
    # The agreement to sign is static, learnt on both years.
    assert report["schemes"]["optimized-static"]["kind"] == "static"
    coefficients = [
        m["coefficient"] for m in report["schemes"]["optimized-static"]["members"].values()
    ]
    assert sum(coefficients) == pytest.approx(1)


def test_each_stretch_is_judged_by_the_rules_of_its_fit() -> None:
    """A large consumer that stops being one is capped while it is, and free after."""
    community = make_community(4, years=2, seed=3)
    consumption = community.consumption_kwh.copy()
    first_year = consumption.index < local("2026-01-01")
    consumption.loc[first_year, "m-0001"] *= 3
    consumption.loc[~first_year, "m-0001"] *= 0.2
    yearly = consumption.loc[first_year, "m-0001"].mean() * 8760
    rules = Rules(large_consumer_kwh=0.95 * yearly, large_consumer_max_beta=0.1)

    comparison = compare(
        community.members, consumption, community.generation_kwh,
        schemes=["equal", "optimized-static"], rules=rules,
    )  # fmt: skip

    # The first fit (on 2025) caps m-0001; by May 2026 its year is small, and it is free.
    assert [limits.high[0] for _, limits in comparison.limits] == [0.1, 1.0, 1.0]
    assert comparison.rules_broken("optimized-static") == []
    (broken,) = comparison.rules_broken("equal")  # 0.25 each, above the cap until May
    assert (broken.member, broken.rule) == ("m-0001", "large_consumer_max_beta")
    assert broken.hours == (local("2026-05-01") - local("2026-01-01")) / pd.Timedelta(hours=1)
    assert broken.of == 8760
