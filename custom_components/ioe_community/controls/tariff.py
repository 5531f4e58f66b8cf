"""The 2.0TD energy period of a moment in Spain: P1 (peak), P2 (flat) or P3 (valley).

CNMC Circular 3/2020: on working days P3 is 0-8 h, P1 10-14 h and 18-22 h, P2 the rest; on
Saturdays, Sundays and the national fixed-date holidays the whole day is P3. Ceuta and Melilla
shift P1 and P2 an hour later (P3 is still 0-8 h). Regional holidays and Good Friday do not
change the period.

The community's aggregator has the same rules over arrays of hours (sharing.calendar); the home
needs them one moment at a time, without numpy.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import IntEnum
from typing import Final

NATIONAL_HOLIDAYS: Final = frozenset(
    {(1, 1), (1, 6), (5, 1), (8, 15), (10, 12), (11, 1), (12, 6), (12, 8), (12, 25)}
)
VALLEY_END_HOUR: Final = 8


class Period(IntEnum):
    """A 2.0TD energy period."""

    P1 = 1
    P2 = 2
    P3 = 3


def is_valley_day(day: date) -> bool:
    """Return whether ``day`` is P3 all day: a Saturday, Sunday or national holiday."""
    return day.weekday() >= 5 or (day.month, day.day) in NATIONAL_HOLIDAYS


def period(local: datetime, *, ceuta_melilla: bool = False) -> Period:
    """Return the period of ``local``, a moment in the supply's local time."""
    if is_valley_day(local.date()) or local.hour < VALLEY_END_HOUR:
        return Period.P3
    peak_hour = local.hour - (1 if ceuta_melilla else 0)
    return Period.P1 if 10 <= peak_hour < 14 or 18 <= peak_hour < 22 else Period.P2


def next_change(local: datetime, *, ceuta_melilla: bool = False) -> datetime:
    """Return the next moment after ``local`` at which the period changes (on the hour)."""
    now = period(local, ceuta_melilla=ceuta_melilla)
    moment = local.replace(minute=0, second=0, microsecond=0)
    for _ in range(24 * 4):  # a long weekend with a holiday is P3 for at most 4 days
        moment += timedelta(hours=1)  # wall-clock hours: periods follow the local clock
        if period(moment, ceuta_melilla=ceuta_melilla) is not now:
            return moment
    raise AssertionError("the period changes at least every four days")  # pragma: no cover


def valley_seconds(start: datetime, end: datetime, *, ceuta_melilla: bool = False) -> float:
    """Return how many seconds between ``start`` and ``end`` (local) are P3."""
    total = 0.0
    moment = start
    while moment < end:
        boundary = min(next_change(moment, ceuta_melilla=ceuta_melilla), end)
        if period(moment, ceuta_melilla=ceuta_melilla) is Period.P3:
            total += (boundary.astimezone(UTC) - moment.astimezone(UTC)).total_seconds()
        moment = boundary
    return total
