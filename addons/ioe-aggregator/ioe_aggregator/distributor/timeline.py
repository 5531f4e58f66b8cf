"""Distributor time labels → UTC intervals.

Distributors label each interval by the local clock time at its **end**: "01:00" is the hour
from midnight to one, "24:00" the last hour of the day (it ends at the next midnight). The two
days a year the clock changes are written two ways, depending on the source:

* as **elapsed** intervals: the n-th hour of the day is labelled n, so the October day runs to
  hour 25 and the March day stops at 23;
* as **clock** times: the October day says "02:00" twice (summer time, then winter time), and
  the March day has no label for the hour the clock skips. Its hour from 01:00 to 02:00 ends
  when the clock jumps from 02:00 to 03:00, so sources call it "02:00" (the old time) or "03:00"
  (the new one, as REE's profiles do): both are read as that hour.

`place_day` finds which of the two a day's labels follow and returns their UTC intervals. No
label is dropped or moved onto another: a label that fits neither is an error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
import functools
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)
QUARTER_HOUR = timedelta(minutes=15)
_DAY_MINUTES = 24 * 60


class TimelineError(ValueError):
    """A time label cannot be an interval of its day."""


# Asked for every line: a file has a hundred labels at most.
@functools.lru_cache(maxsize=256)
def parse_label(text: str) -> int:
    """Return the minutes since midnight that a label names: "01:00", "24:00", "1", "25"."""
    hours, _, minutes = text.strip().partition(":")
    try:
        value = int(hours) * 60 + (int(minutes) if minutes else 0)
    except ValueError:
        raise TimelineError(f"{text!r} is not an hour (expected HH:MM or an hour number)") from None
    if value <= 0 or (minutes and int(minutes) >= 60):
        raise TimelineError(f"{text!r} is not an hour-ending time of a day")
    return value


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """Return (UTC) the moment a local calendar day begins."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


# Asked for every line of a distributor's file: a few years of days fit.
@functools.lru_cache(maxsize=4096)
def day_length(day: date, zone: ZoneInfo) -> timedelta:
    """Return how long a local calendar day lasts: 23, 24 or 25 hours."""
    return local_midnight(day + timedelta(days=1), zone) - local_midnight(day, zone)


def _clock_end(day: date, minutes: int, fold: int, zone: ZoneInfo) -> datetime:
    """Return (UTC) the moment a local clock reads ``minutes`` after midnight of ``day``."""
    wall = datetime.combine(day, time(), zone) + timedelta(minutes=minutes)
    return wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)


def _is_skipped(day: date, minutes: int, step: timedelta, zone: ZoneInfo) -> bool:
    """Whether a clock-time label ends an interval that never happened (spring forward).

    Such an interval starts at a clock time that does not exist: it does not come back from UTC.
    """
    start = datetime.combine(day, time()) + timedelta(minutes=minutes) - step
    back = start.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return back != start


def place_day(
    day: date,
    labels: Sequence[int],
    step: timedelta,
    zone: ZoneInfo,
    *,
    summer: Sequence[bool | None] | None = None,
) -> list[tuple[datetime, datetime]]:
    """Return the UTC (start, end) of each hour-ending label of one local day, in order.

    ``labels`` are minutes after midnight (`parse_label`) in the order the source gives them;
    ``step`` is the length of an interval (an hour or a quarter hour). ``summer`` may say, per
    label, whether it is summer time, as some sources do: it settles the October day's repeated
    labels; without it the first of a repeated label is summer time and the second winter time.
    A clock-change day whose labels prove neither way is read as clock times. Raises
    TimelineError for a label that is no interval of this day, or two labels of one interval.
    """
    step_minutes = int(step.total_seconds()) // 60
    length = int(day_length(day, zone).total_seconds()) // 60
    midnight = local_midnight(day, zone)
    for label in labels:
        if label % step_minutes:
            raise TimelineError(
                f"{_text(label)} on {day} does not end a {step_minutes}-minute interval"
            )
    if length == _DAY_MINUTES:
        elapsed = True  # both ways agree
    elif length > _DAY_MINUTES:
        elapsed = max(labels, default=0) > _DAY_MINUTES  # October: hour 25
    else:
        # March: elapsed labels run through the hour the clock skips, and stop at 23:00.
        elapsed = max(labels, default=0) <= length and any(
            _is_skipped(day, label, step, zone) for label in labels
        )
    places: list[tuple[datetime, datetime]] = []
    ends: set[datetime] = set()
    seen: Counter[int] = Counter()
    for index, label in enumerate(labels):
        if elapsed:
            if label > length:
                raise TimelineError(
                    f"{_text(label)} is past the end of {day} ({length // 60} hours)"
                )
            end = midnight + timedelta(minutes=label)
        else:
            if label > _DAY_MINUTES:
                raise TimelineError(f"{_text(label)} does not exist on the clock on {day}")
            # A time the clock skipped is read in the time before the jump (fold 0): "02:00"
            # and "03:00" on the March day are then the same moment.
            flag = summer[index] if summer is not None else None
            fold = min(seen[label], 1) if flag is None else int(not flag)
            seen[label] += 1
            end = _clock_end(day, label, fold, zone)
        if end in ends:
            raise TimelineError(f"{_text(label)} appears twice on {day}")
        ends.add(end)
        places.append((end - step, end))
    return places


def _text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
