"""The synthetic community of the demo and the benchmarks: households that differ by the hour."""

from __future__ import annotations

import numpy as np
import pytest

from ioe_aggregator.sharing.compare import compare
from ioe_aggregator.sharing.profiles import ree_profile
from ioe_dev.synthetic import HABITS, habit_of, habit_profile, make_community


def test_habits_keep_rees_day_totals_and_move_the_hours() -> None:
    profile = ree_profile()
    days = profile.index.tz_convert("Europe/Madrid").normalize()
    daily = profile.groupby(days).sum()
    evening = profile.index.tz_convert("Europe/Madrid").hour == 20
    for habit in HABITS:
        shaped = habit_profile(profile, habit)
        assert shaped.groupby(days).sum().to_numpy() == pytest.approx(daily.to_numpy())
        assert (shaped >= 0).all()
    assert habit_profile(profile, "away_working_days")[evening].sum() > profile[evening].sum()


def test_members_differ_by_the_hour_and_hourly_sharing_can_learn_it() -> None:
    community = make_community(8)
    hours = community.consumption_kwh.index.tz_convert("Europe/Madrid").hour
    by_hour = community.consumption_kwh.groupby(hours).mean()
    habits = {habit_of(n) for n in range(8)}
    assert habits == set(HABITS)
    # Members of different habits have different days (those of one habit, the same).
    correlation = np.corrcoef(by_hour.T.to_numpy())
    assert correlation[0, 4] > 0.95  # both at home all day
    assert correlation[0, 3] < 0.5  # at home all day, and charging a car at night

    comparison = compare(community.members, community.consumption_kwh, community.generation_kwh)

    self_consumed = {
        name: result.community["self_consumed_kwh"] for name, result in comparison.results.items()
    }
    # Learnt on the first half, judged on the second: sharing by the hour beats every static one.
    assert comparison.ranking()[0] == "hourly-profile"
    assert self_consumed["hourly-profile"] > 1.03 * self_consumed["consumption"]
