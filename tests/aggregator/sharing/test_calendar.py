"""Hours of the year and 2.0TD periods: DST days, leap years, holidays (DOMAIN.md)."""

from __future__ import annotations

import pandas as pd
import pytest

from ioe_aggregator.sharing.calendar import energy_period_20td, hours_of_year

MADRID = "Europe/Madrid"


@pytest.mark.parametrize(
    ("year", "hours"), [(2025, 8760), (2024, 8784), (2026, 8760), (2028, 8784)]
)
def test_a_year_has_8760_or_8784_hours_with_both_dst_days(year: int, hours: int) -> None:
    index = hours_of_year(year, MADRID)
    assert len(index) == hours
    local = index.tz_convert(MADRID)
    per_day = pd.Series(1, index=local).groupby(local.date).sum()
    assert sorted(per_day.value_counts().items()) == [(23, 1), (24, len(per_day) - 2), (25, 1)]


def hour_number(index: pd.DatetimeIndex, local: str) -> int:
    """Return the 1-based hour of the year starting at the local wall time given."""
    return int(index.get_loc(pd.Timestamp(local, tz=MADRID).tz_convert("UTC"))) + 1


def test_hour_numbering_on_the_march_dst_day() -> None:
    index = hours_of_year(2025, MADRID)
    assert hour_number(index, "2025-01-01 00:00") == 1
    first_of_day = (31 + 28 + 29) * 24 + 1  # 30 March
    assert hour_number(index, "2025-03-30 00:00") == first_of_day
    assert hour_number(index, "2025-03-30 01:00") == first_of_day + 1
    # 02:00 does not exist: 03:00 CEST is the very next elapsed hour.
    assert hour_number(index, "2025-03-30 03:00") == first_of_day + 2


def test_hour_numbering_on_the_october_dst_day() -> None:
    index = hours_of_year(2025, MADRID)
    first_of_day = hour_number(index, "2025-10-26 00:00")
    assert first_of_day == (31 + 28 + 31 + 30 + 31 + 30 + 31 + 31 + 30 + 25) * 24 + 1 - 1
    local = index[first_of_day - 1 : first_of_day + 4].tz_convert(MADRID)
    # 02:00 happens twice: first in summer time (+02:00), then in winter time (+01:00).
    assert [t.strftime("%H:%M%z") for t in local] == [
        "00:00+0200", "01:00+0200", "02:00+0200", "02:00+0100", "03:00+0100",
    ]  # fmt: skip
    assert hour_number(index, "2025-12-31 23:00") == 8760


def period_at(local: str, **kwargs: bool) -> int:
    index = pd.DatetimeIndex([pd.Timestamp(local, tz=MADRID)])
    return int(energy_period_20td(index, MADRID, **kwargs)[0])


@pytest.mark.parametrize(
    ("local", "period"),
    [
        ("2025-01-13 03:00", 3),  # Monday night
        ("2025-01-13 08:00", 2),
        ("2025-01-13 09:59", 2),
        ("2025-01-13 10:00", 1),
        ("2025-01-13 14:00", 2),
        ("2025-01-13 18:00", 1),
        ("2025-01-13 22:00", 2),
        ("2025-01-13 23:00", 2),
        ("2025-01-18 11:00", 3),  # Saturday
        ("2025-01-19 19:00", 3),  # Sunday
        ("2025-01-06 11:00", 3),  # Epiphany, a Monday: P3 all day
        ("2025-12-08 19:00", 3),  # Immaculate Conception, a Monday
        ("2025-04-18 11:00", 1),  # Good Friday is NOT a P3 day
        ("2025-04-17 11:00", 1),  # Maundy Thursday neither
        ("2025-07-25 11:00", 1),  # regional holidays neither
    ],
)
def test_energy_periods_20td(local: str, period: int) -> None:
    assert period_at(local) == period


def test_ceuta_and_melilla_start_p1_and_p2_an_hour_later() -> None:
    # P3 0-8; P2 8-11, 15-19, 23-24; P1 11-15, 19-23 (as aiopvpc, behind Home Assistant's PVPC
    # integration, has it). The night stays P3 until 08:00, as on the peninsula.
    day = [period_at(f"2025-01-13 {hour:02d}:00", ceuta_melilla=True) for hour in range(24)]
    assert day == [3] * 8 + [2] * 3 + [1] * 4 + [2] * 4 + [1] * 4 + [2]
    peninsula = [period_at(f"2025-01-13 {hour:02d}:00") for hour in range(24)]
    assert peninsula == [3] * 8 + [2] * 2 + [1] * 4 + [2] * 4 + [1] * 4 + [2] * 2
    assert period_at("2025-01-18 12:00", ceuta_melilla=True) == 3  # Saturday
