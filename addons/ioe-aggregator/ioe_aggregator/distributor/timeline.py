"""Distributor time labels → UTC intervals.

Distributors label each interval by the local clock time at its **end**: "01:00" is the hour
from midnight to one, "24:00" the last hour of the day (it ends at the next midnight). The two
days a year the clock changes are written two ways, depending on the source:

* as **elapsed** intervals: the n-th hour of the day is labelled n, so the October day runs to
  hour 25 and the March day stops at 23;
* as **clock** times: the October day repeats one hour's label, and the March day has no label
  for the hour the clock skips. The hour that ends as the clock changes is named by either
  clock: by the new one ("02:00" in October, "03:00" in March, as REE's profiles write it) or
  by the old one ("03:00" in October, as Datadis writes it, "02:00" in March). So October's
  repeated label is "02:00" (summer, then winter time) in some sources and "03:00" (the old
  clock's, then the new clock's) in others; the March hour is read either way.

A label both clocks could have written is read by the source's season flag when it has one;
else, when the day repeats it, the first time on the old clock and the second on the new; else
as the clock on the wall reads it. `place_day` finds which of the two ways a day's labels follow
and returns their UTC intervals. No label is dropped or moved onto another: a label that fits
neither is an error.

Some sources label each interval by its **start** ("00:00" … "23:00"): `place_day` is then
given the labels moved on by one interval, which are the hour-ending labels
of the same intervals, clock changes included.

One source gives the October day as **24 hours**, every clock label once (i-DE's Datadis
answers of 2023: "02:00" then holds about twice a neighbour's energy): the hour the clock
repeats has no row, and the row before the gap holds both hours. `place_day` gives that row
both hours' interval (two steps long); the caller shares its value between them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
import functools
import re
from zoneinfo import ZoneInfo

from ioe_aggregator.distributor.reasons import LineProblem

HOUR = timedelta(hours=1)
QUARTER_HOUR = timedelta(minutes=15)
DAY_MINUTES = 24 * 60
_ONE_DAY = timedelta(days=1)
_INSTANT = timedelta(microseconds=1)
_LABEL = re.compile(r"([0-9]{1,2})(?::([0-9]{2}))?")


class TimelineError(LineProblem):
    """A time label cannot be an interval of its day (its ``code`` and ``params`` say why)."""


# Asked for every line: a file has a hundred labels at most.
@functools.lru_cache(maxsize=256)
def parse_label(text: str) -> int:
    """Return the minutes since midnight that a label names: "01:00", "24:00", "1", "25", "00:00".

    "00:00" (or "0") can only start an interval: sources that write it label intervals by their
    start.
    """
    match = _LABEL.fullmatch(text.strip())
    if match is None:
        raise TimelineError("not_an_hour", text=text)
    hours, minutes = match.groups()
    if minutes and int(minutes) >= 60:
        raise TimelineError("not_a_time_of_day", text=text)
    return int(hours) * 60 + int(minutes or 0)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """Return (UTC) the moment a local calendar day begins."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


# Asked for every line of a distributor's file: a few years of days fit.
@functools.lru_cache(maxsize=4096)
def day_length(day: date, zone: ZoneInfo) -> timedelta:
    """Return how long a local calendar day lasts: 23, 24 or 25 hours."""
    return local_midnight(day + timedelta(days=1), zone) - local_midnight(day, zone)


def _clock_end(
    day: date, minutes: int, zone: ZoneInfo, *, summer: bool | None, occurrence: int | None
) -> datetime:
    """Return (UTC) the moment a clock label of ``day`` names (``minutes`` after midnight).

    The day's old clock (in force at its start) and new clock (at its end) may both have
    read the label at an end of an interval: then the season flag (``summer``) decides, or
    the label's ``occurrence`` when the day repeats it (the old clock first), or else the wall
    clock as it reads (the earlier of a repeated time). A time the clock skipped is read on the
    clock before the jump.
    """
    wall = datetime.combine(day, time()) + timedelta(minutes=minutes)
    old, new = (_offset(local_midnight(start, zone), zone) for start in (day, day + _ONE_DAY))
    readings = {
        offset: moment
        for offset in (old, new)
        if offset in _offsets_at(moment := (wall - offset).replace(tzinfo=UTC), zone)
    }
    if len(readings) == 2:
        if summer is not None:
            return readings[max(old, new) if summer else min(old, new)]
        if occurrence is not None:
            return readings[old if occurrence == 0 else new]
    if len(readings) == 1:
        return next(iter(readings.values()))
    return wall.replace(tzinfo=zone).astimezone(UTC)


def _offset(moment: datetime, zone: ZoneInfo) -> timedelta:
    # A ZoneInfo always gives one.
    return moment.astimezone(zone).utcoffset() or timedelta(0)


def _offsets_at(moment: datetime, zone: ZoneInfo) -> set[timedelta]:
    """Return the offsets a clock may show at the end of an interval ending at ``moment``.

    The offset in force just before it and the one at it: both, at the moment the clock changes.
    """
    return {_offset(moment - _INSTANT, zone), _offset(moment, zone)}


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
    whole: bool = True,
) -> list[tuple[datetime, datetime]]:
    """Return the UTC (start, end) of each hour-ending label of one local day, in order.

    ``labels`` are minutes after midnight (`parse_label`) in the order the source gives them;
    ``step`` is the length of an interval (an hour or a quarter hour). ``summer`` may say, per
    label, whether it is summer time, as some sources do: it settles the October day's repeated
    labels; without it the first of a repeated label is summer time and the second winter time.
    A clock-change day whose labels prove neither way is read as clock times. An October day of
    24 hourly clock labels, none repeated, has the interval before the unlabelled hour stretched
    over it (two hours), unless ``whole`` is false (the source had rows of the day it could not
    read: the unlabelled hour may be one of those). Raises TimelineError for a label that is no
    interval of this day, or two labels of one interval.
    """
    step_minutes = int(step.total_seconds()) // 60
    length = int(day_length(day, zone).total_seconds()) // 60
    midnight = local_midnight(day, zone)
    for label in labels:
        if label % step_minutes:
            raise TimelineError(
                "not_an_interval_end", label=_text(label), day=str(day), minutes=step_minutes
            )
    if length == DAY_MINUTES:
        elapsed = True  # both ways agree
    elif length > DAY_MINUTES:
        elapsed = max(labels, default=0) > DAY_MINUTES  # October: hour 25
    else:
        # March: elapsed labels run through the hour the clock skips, and stop at 23:00.
        elapsed = max(labels, default=0) <= length and any(
            _is_skipped(day, label, step, zone) for label in labels
        )
    places: list[tuple[datetime, datetime]] = []
    ends: set[datetime] = set()
    seen: Counter[int] = Counter()
    repeated = {label for label, count in Counter(labels).items() if count > 1}
    for index, label in enumerate(labels):
        if elapsed:
            if label > length:
                raise TimelineError(
                    "past_day_length", label=_text(label), day=str(day), hours=length // 60
                )
            end = midnight + timedelta(minutes=label)
        else:
            if label > DAY_MINUTES:
                raise TimelineError("not_on_the_clock", label=_text(label), day=str(day))
            end = _clock_end(
                day,
                label,
                zone,
                summer=summer[index] if summer is not None else None,
                occurrence=seen[label] if label in repeated else None,
            )
            seen[label] += 1
        if end in ends:
            raise TimelineError("appears_twice", label=_text(label), day=str(day))
        ends.add(end)
        places.append((end - step, end))
    if whole and not elapsed and length > DAY_MINUTES and _every_clock_label_once(labels, step):
        return _fold_repeated_hour(places, midnight + timedelta(minutes=length))
    return places


def _every_clock_label_once(labels: Sequence[int], step: timedelta) -> bool:
    """Whether hourly labels name each clock hour of a day once ("01:00" … "24:00")."""
    hourly = range(60, DAY_MINUTES + 1, 60)
    return step == HOUR and len(labels) == len(hourly) and set(labels) == set(hourly)


def _fold_repeated_hour(
    places: list[tuple[datetime, datetime]], day_end: datetime
) -> list[tuple[datetime, datetime]]:
    """Stretch the interval before the one hour no label reached (October's repeat) over it."""
    starts = {start for start, _ in places}
    return [
        (start, end + HOUR) if end not in starts and end != day_end else (start, end)
        for start, end in places
    ]


def _text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
