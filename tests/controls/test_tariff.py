"""2.0TD periods one moment at a time, against the CNMC's calendar and the clock changes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from custom_components.ioe_community.controls.tariff import (
    Period,
    next_change,
    period,
    valley_seconds,
)

MADRID = ZoneInfo("Europe/Madrid")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=MADRID)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-12-03 07:59", Period.P3),  # a Thursday
        ("2026-12-03 08:00", Period.P2),
        ("2026-12-03 10:00", Period.P1),
        ("2026-12-03 14:00", Period.P2),
        ("2026-12-03 21:59", Period.P1),
        ("2026-12-03 22:00", Period.P2),
        ("2026-12-05 19:00", Period.P3),  # Saturday
        ("2026-12-08 11:00", Period.P3),  # Inmaculada, a national holiday on a Tuesday
        ("2026-04-03 11:00", Period.P1),  # Good Friday is not a P3 day
    ],
)
def test_the_period_of_a_moment(moment: str, expected: Period) -> None:
    assert period(at(moment)) is expected


def test_ceuta_and_melilla_shift_the_peak_an_hour() -> None:
    assert period(at("2026-12-03 10:30"), ceuta_melilla=True) is Period.P2
    assert period(at("2026-12-03 14:30"), ceuta_melilla=True) is Period.P1
    assert period(at("2026-12-03 07:30"), ceuta_melilla=True) is Period.P3


def test_the_next_change_skips_a_weekend_of_valley() -> None:
    # Friday 22-24 is P2; Saturday and Sunday are P3; Monday 7 December is working.
    assert next_change(at("2026-12-04 22:30")) == at("2026-12-05 00:00")
    assert next_change(at("2026-12-05 00:00")) == at("2026-12-07 08:00")


def test_valley_seconds_count_real_time_across_the_spring_clock_change() -> None:
    # Sunday 29 March 2026 has 23 hours, all P3; Monday's P3 ends at 08:00.
    seconds = valley_seconds(at("2026-03-29 00:00"), at("2026-03-30 12:00"))
    assert seconds == (23 + 8) * 3600
