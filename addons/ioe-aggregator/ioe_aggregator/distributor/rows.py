"""What every distributor source becomes: intervals of one supply point, placed in UTC.

A source (a CSV export, a Datadis answer) gives each value a local day and a label, which names
the end of its interval (most sources) or its start (a day labelled from "00:00"); `place` puts
each supply point's day together on the time line (``timeline``), so that the October day's
repeated or 25th hour keeps its own interval (and a row that holds both repeated hours is
shared between them, estimated). Rows that cannot be placed are named with their line (or row)
number and the reason, never dropped in silence.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
import logging
from zoneinfo import ZoneInfo

from ioe_aggregator.distributor.model import ESTIMATED
from ioe_aggregator.distributor.reasons import LineProblem, Params, shown_lines
from ioe_aggregator.distributor.timeline import (
    DAY_MINUTES,
    HOUR,
    QUARTER_HOUR,
    TimelineError,
    day_length,
    parse_label,
    place_day,
)

DAY = timedelta(days=1)
_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LineError:
    """A line (or row of an answer) that was not read, and why.

    ``message`` is the reason in English; ``code`` and ``params`` are the same reason for a
    client to say in its reader's language (``reasons``).
    """

    line: int
    message: str
    code: str
    params: Params = field(hash=False)

    @classmethod
    def of(cls, line: int, problem: ValueError) -> LineError:
        """Return the error of a line that ``problem`` kept from being read.

        A reason without a code of its own (no reader raises one, but a line that does is
        reported, not a reason to stop) is ``unreadable``, its text its ``detail``.
        """
        if isinstance(problem, LineProblem):
            return cls(line, str(problem), problem.code, problem.params)
        return cls(line, str(problem), "unreadable", {"detail": str(problem)})

    def __str__(self) -> str:
        """Return ``line N: reason``."""
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class DistributorRow:
    """One interval of one supply point, as its distributor measured it (kWh by quantity)."""

    line: int
    cups: str
    start: datetime
    end: datetime
    kwh: Mapping[str, float]
    quality: str


@dataclass(frozen=True, slots=True)
class LabelledRow:
    """A row as the source gives it: a local day and a label (minutes), not yet placed."""

    line: int
    cups: str
    day: date
    label: int
    # Whether the source says the label is summer time (settles the October day's repeat).
    summer: bool | None
    kwh: Mapping[str, float]
    quality: str


def label_of(text: str, day: date, zone: ZoneInfo) -> int:
    """Return the minutes a label names; raise LineProblem for one past the end of its day."""
    try:
        label = parse_label(text)
    except TimelineError as err:
        raise LineProblem(err.code, **err.params) from None
    if timedelta(minutes=label) > max(day_length(day, zone), DAY):
        raise LineProblem("past_end_of_day", text=text, day=str(day))
    return label


def place(
    labelled: Iterable[LabelledRow],
    zone: ZoneInfo,
    *,
    step: timedelta | None = None,
    incomplete: Collection[tuple[str, date]] = (),
) -> tuple[list[DistributorRow], list[LineError]]:
    """Place each supply point's days in UTC; return the rows and the rows that did not fit.

    Intervals are ``step`` long; without it, quarter hours when any label ends a quarter, else
    hours (`step_of`). A day whose labels fit no reading of the clock (a label twice, say) is
    refused whole, its first row naming why. ``incomplete`` names the (supply point, day) pairs
    the source had rows of that were not read: a missing hour there is a missing hour, never
    October's repeated hour folded into its neighbour (`timeline.place_day`).
    """
    days: dict[tuple[str, date], list[LabelledRow]] = {}
    for row in labelled:
        days.setdefault((row.cups, row.day), []).append(row)
    if step is None:
        step = step_of(row.label for group in days.values() for row in group)
    starting = _starting_days(days)
    rows: list[DistributorRow] = []
    errors: list[LineError] = []
    for (cups, day), group in days.items():
        summer = [row.summer for row in group]
        shift = int(step.total_seconds()) // 60 if starting[cups, day] else 0
        try:
            places = place_day(
                day,
                [row.label + shift for row in group],
                step,
                zone,
                summer=summer if any(flag is not None for flag in summer) else None,
                # Only i-DE's hour-ending answers fold the repeat into "02:00" (the evidence).
                whole=not shift and (supply_point(cups), day) not in incomplete,
            )
        except TimelineError as err:
            lines = shown_lines([row.line for row in group])
            errors.append(LineError.of(group[0].line, err.of_day(cups, str(day), lines)))
            errors.extend(not_placed(row.line, day) for row in group[1:])
            continue
        for row, (start, end) in zip(group, places, strict=True):
            rows.extend(_intervals(row, start, end, step))
    return rows, errors


def _intervals(
    row: LabelledRow, start: datetime, end: datetime, step: timedelta
) -> list[DistributorRow]:
    """Return a placed row as rows of one interval each.

    A row that covers more than one interval (October's repeated hour folded into the row
    before it) is shared evenly between them, each estimated: the day's total is kept.
    """
    count = (end - start) // step
    if count == 1:
        return [DistributorRow(row.line, row.cups, start, end, row.kwh, row.quality)]
    _LOGGER.info(
        "Line %d (%s, %d intervals in one row): its energy is shared evenly between them and "
        "marked estimated",
        row.line,
        row.day,
        count,
    )
    share = {quantity: kwh / count for quantity, kwh in row.kwh.items()}
    return [
        DistributorRow(
            row.line, row.cups, start + n * step, start + (n + 1) * step, share, ESTIMATED
        )
        for n in range(count)
    ]


type _Days = Mapping[tuple[str, date], list[LabelledRow]]


def _starting_days(days: _Days) -> dict[tuple[str, date], bool]:
    """Return, for each supply point's day, whether its labels name the starts of its intervals.

    A day labelled "00:00" is labelled by starts (i-DE's Datadis answers since 2026: "00:00" …
    "23:00"), one labelled "24:00" or later by ends; a day with neither (a day in part) is read
    as the supply point's other days in the same source are, by ends when they disagree.
    """
    told: dict[tuple[str, date], bool | None] = {}
    ways: dict[str, set[bool]] = {}
    for (cups, day), group in days.items():
        labels = {row.label for row in group}
        way = True if 0 in labels else False if max(labels) >= DAY_MINUTES else None
        told[cups, day] = way
        if way is not None:
            ways.setdefault(cups, set()).add(way)
    return {
        key: way if way is not None else ways.get(key[0]) == {True} for key, way in told.items()
    }


def not_placed(line: int, day: date) -> LineError:
    """Return the error of a row left out with the rest of its day, which could not be placed."""
    return LineError.of(line, LineProblem("day_not_placed", day=str(day)))


def step_of(labels: Iterable[int]) -> timedelta:
    """Return the intervals' length for these labels: a quarter hour when any ends a quarter."""
    return QUARTER_HOUR if any(label % 60 for label in labels) else HOUR


def supply_point(cups: str) -> str:
    """Return what names a supply point in a CUPS: its first 20 characters, in capitals.

    The optional 2-character boundary suffix does not change the supply point.
    """
    return cups[:20].upper()
