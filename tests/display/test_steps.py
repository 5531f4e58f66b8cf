"""The year's first figures are computed a few days at a time, not in one step."""

from __future__ import annotations

from datetime import date, timedelta

from ioe_aggregator.public.figures import consecutive_runs


def test_days_go_in_runs_of_consecutive_days_none_longer_than_a_step() -> None:
    first = date(2026, 1, 1)
    year = [first + timedelta(days=n) for n in range(40)]
    later = [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 10)]

    runs = consecutive_runs([*year, *later], 14)

    assert [len(run) for run in runs] == [14, 14, 12, 2, 1]
    assert [day for run in runs for day in run] == [*year, *later]
    assert all(run[-1] - run[0] == timedelta(days=len(run) - 1) for run in runs)
