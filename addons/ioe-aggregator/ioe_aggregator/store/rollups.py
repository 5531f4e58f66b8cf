"""The readings summed as they are written: per member, measure and UTC hour, and per local day.

A year of 200 members' quarter hours is tens of millions of readings; the control centre and the
results ask for a month's totals or a year's completeness in well under a second. So every write
adds to two summaries in the same transaction (``hourly_energy``, ``daily_energy``): the energy
of the readings that start in the hour or day, and the seconds they cover. A new reading adds its
value and duration; a corrected one the difference of its values (it covers what it covered), so
the sums stay exact with late and corrected data. A day's covered seconds count each hour at most
once (3600 s: the distributor's hourly value and the member's quarter hours of the same hour
cover it once), what completeness asks.

A third summary, ``interval_members``, counts per measure how many members sent a reading
starting at each moment: a member's first reading there adds one, a corrected one nothing. A
public total is given only when every interval of its period rests on enough households, and
this is what tells it without reading a month's or a year's readings.

Hours are UTC and need nothing else; days are the community's local calendar days, numbered from
the epoch, so the store is told its zone. When the zone changes (or the days were never summed),
the days are summed again from the hours. Local midnights must fall on whole UTC hours, as they
do in every Spanish zone (the configuration refuses a zone where they do not).

Any period is read as whole local days from the days, whole hours from the hours, and what is
left at its ends (less than an hour each) from the readings themselves (``split``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ioe_aggregator.store.database import Row, Transaction

HOUR_S = 3600
DAY_S = 86400
_EPOCH = date(1970, 1, 1)
# Setting: the zone whose days ``daily_energy`` holds (absent: not summed yet).
DAYS_ZONE_SETTING = "rollup_days_zone"

# The key of a member's measure in an hour or a day: (member, meter, quantity, hour or day).
type Key = tuple[str, str, str, int]


class LocalDays:
    """The local calendar days of a zone, numbered from the epoch, and the UTC hours in them."""

    def __init__(self, zone: ZoneInfo) -> None:
        """Count days in ``zone``."""
        self.zone = zone
        self._days: dict[int, int] = {}

    def of_hour(self, hour_s: int) -> int:
        """Return the local day a UTC hour (seconds since the epoch) belongs to."""
        day = self._days.get(hour_s)
        if day is None:
            local = datetime.fromtimestamp(hour_s, self.zone)
            day = self._days[hour_s] = (local.date() - _EPOCH).days
        return day

    def midnight_s(self, day: int) -> int:
        """Return the UTC second a local day starts."""
        return int(datetime.combine(_EPOCH + timedelta(days=day), time(), self.zone).timestamp())

    def first_midnight_s(self, moment_s: int) -> int:
        """Return the first local midnight at or after a UTC second."""
        day = (datetime.fromtimestamp(moment_s, self.zone).date() - _EPOCH).days
        midnight = self.midnight_s(day)
        return midnight if midnight >= moment_s else self.midnight_s(day + 1)


def offsets_within(zone: ZoneInfo, first: date, last: date) -> list[tuple[int, int]]:
    """Return (UTC second it starts, UTC offset s) of the local time from ``first`` to ``last``.

    The first holds at ``first``'s local midnight; one more follows each clock change.
    """

    def offset_s(moment: datetime) -> int:
        offset = moment.utcoffset()
        return 0 if offset is None else int(offset.total_seconds())

    start = datetime.combine(first, time(), zone)
    offsets = [(int(start.timestamp()), offset_s(start))]
    day = first
    while day <= last:
        end = datetime.combine(day + timedelta(days=1), time(), zone)
        if offset_s(end) != offsets[-1][1]:
            # The clocks changed within the day: find the hour they did.
            moment_s = int(datetime.combine(day, time(), zone).timestamp())
            while offset_s(datetime.fromtimestamp(moment_s, zone)) == offsets[-1][1]:
                moment_s += HOUR_S
            offsets.append((moment_s, offset_s(datetime.fromtimestamp(moment_s, zone))))
        day += timedelta(days=1)
    return offsets


@dataclass(frozen=True, slots=True)
class Pieces:
    """A period as the summaries and the readings hold it.

    ``readings``: [start, end) seconds read from the readings (under an hour each, at the
    period's ends); ``hours``: [start, end) whole UTC hours from ``hourly_energy``; ``days``:
    [first, last) local days from ``daily_energy``, or None.
    """

    readings: list[tuple[int, int]] = field(default_factory=list)
    hours: list[tuple[int, int]] = field(default_factory=list)
    days: tuple[int, int] | None = None


def split(start_s: int, end_s: int, days: LocalDays | None) -> Pieces:
    """Return the pieces of [start, end): whole days (unless ``days`` is None), hours, the rest."""
    first_hour = -(-start_s // HOUR_S) * HOUR_S
    last_hour = end_s // HOUR_S * HOUR_S
    if first_hour >= last_hour:
        return Pieces(readings=[(start_s, end_s)] if start_s < end_s else [])
    readings = [(a, b) for a, b in ((start_s, first_hour), (last_hour, end_s)) if a < b]
    if days is not None:
        first_midnight = days.first_midnight_s(first_hour)
        first_day = last_day = days.of_hour(first_midnight)
        while days.midnight_s(last_day + 1) <= last_hour:
            last_day += 1
        if last_day > first_day:
            hours = ((first_hour, first_midnight), (days.midnight_s(last_day), last_hour))
            return Pieces(
                readings=readings,
                hours=[(a, b) for a, b in hours if a < b],
                days=(first_day, last_day),
            )
    return Pieces(readings=readings, hours=[(first_hour, last_hour)])


@dataclass(slots=True)
class Changes:
    """What a transaction's readings add to the summaries.

    kWh and covered seconds per key of ``hours`` and ``days``; members more per (meter,
    quantity, start) of ``intervals``.
    """

    hours: dict[Key, list[float]] = field(default_factory=dict)
    days: dict[Key, list[float]] = field(default_factory=dict)
    intervals: dict[tuple[str, str, int], int] = field(default_factory=dict)

    def add(
        self, member: str, planned: Sequence[Row], known: dict[Row, Row], days: LocalDays
    ) -> None:
        """Add a batch's readings to write (``planned``) over what is stored (``known``).

        ``planned`` rows are (meter, quantity, start, end, value, quality); ``known`` maps the
        member's stored (meter, quantity, start, end) to (value, quality), every reading of the
        hours ``planned`` starts in included (what earlier batches of the transaction wrote too).
        """
        covered: dict[Key, list[int]] = {}
        written: dict[Row, float] = {}  # a reading given twice in the batch: its last value
        # The moments the member already sent each measure at (an hourly value and a quarter
        # hour may start together: the member counts once there).
        starts = {(meter, quantity, start) for meter, quantity, start, _end in known}
        for meter, quantity, start, end, value, _quality in planned:
            identity = (meter, quantity, start, end)
            hour = start // HOUR_S * HOUR_S
            stored = known.get(identity)
            before = written.get(identity, None if stored is None else stored[0])
            written[identity] = value
            added = value - (before or 0.0)
            sums = self.hours.setdefault((member, meter, quantity, hour), [0.0, 0])
            sums[0] += added
            self.days.setdefault((member, meter, quantity, days.of_hour(hour)), [0.0, 0])[0] += (
                added
            )
            if before is None:
                sums[1] += end - start
                covered.setdefault((member, meter, quantity, hour), [0, 0])[1] += end - start
                moment = (meter, quantity, start)
                if moment not in starts:
                    starts.add(moment)
                    self.intervals[moment] = self.intervals.get(moment, 0) + 1
        if not covered:
            return
        # A day counts each hour's seconds up to 3600: what the hour covered before matters.
        for meter, quantity, start, end in known:
            key = (member, meter, quantity, start // HOUR_S * HOUR_S)
            if key in covered:
                covered[key][0] += end - start
        for key, (before_s, added_s) in covered.items():
            capped = min(before_s + added_s, HOUR_S) - min(before_s, HOUR_S)
            member_, meter, quantity, hour = key
            self.days[member_, meter, quantity, days.of_hour(hour)][1] += capped

    async def write(self, tx: Transaction, source: str) -> None:
        """Add the changes to the summaries, in the transaction that writes their readings."""
        hours = [(source, *key, kwh, int(seconds)) for key, (kwh, seconds) in self.hours.items()]
        days = [(source, *key, kwh, int(seconds)) for key, (kwh, seconds) in self.days.items()]
        # Rows every member's writers share: each transaction takes them in one order (by time),
        # so that two storing different members at once never wait for each other in a circle.
        intervals = [
            (source, start, meter, quantity, members)
            for (meter, quantity, start), members in sorted(
                self.intervals.items(), key=lambda item: (item[0][2], item[0][0], item[0][1])
            )
        ]
        for statement, rows in ((ADD_HOURS, hours), (ADD_DAYS, days), (ADD_INTERVALS, intervals)):
            if rows:
                await tx.executemany(statement, rows)


ADD_HOURS = """INSERT INTO hourly_energy
    (source, member, meter, quantity, hour_s, kwh, covered_s) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (source, hour_s, member, meter, quantity) DO UPDATE SET
        kwh = hourly_energy.kwh + excluded.kwh,
        covered_s = hourly_energy.covered_s + excluded.covered_s"""
ADD_DAYS = """INSERT INTO daily_energy
    (source, member, meter, quantity, day, kwh, covered_s) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (source, day, member, meter, quantity) DO UPDATE SET
        kwh = daily_energy.kwh + excluded.kwh,
        covered_s = daily_energy.covered_s + excluded.covered_s"""
ADD_INTERVALS = """INSERT INTO interval_members (source, start_s, meter, quantity, members)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (source, start_s, meter, quantity) DO UPDATE SET
        members = interval_members.members + excluded.members"""

# Per member and measure, the energy of a period's piece: from the readings, hours or days.
SUMS_OF_READINGS = """SELECT member, meter, quantity, SUM(value) FROM readings
    WHERE source = ? AND start_s >= ? AND start_s < ? GROUP BY member, meter, quantity"""
SUMS_OF_HOURS = """SELECT member, meter, quantity, SUM(kwh) FROM hourly_energy
    WHERE source = ? AND hour_s >= ? AND hour_s < ? GROUP BY member, meter, quantity"""
SUMS_OF_DAYS = """SELECT member, meter, quantity, SUM(kwh) FROM daily_energy
    WHERE source = ? AND day >= ? AND day < ? GROUP BY member, meter, quantity"""

# One measure per member and UTC hour, with the seconds covered: from the readings or hours.
# (Integer division in both dialects; no % operator, which the PostgreSQL driver reads as a
# placeholder.)
_HOURS_OF_READINGS = """SELECT member, start_s / 3600 * 3600, SUM(value), SUM(end_s - start_s)
    FROM readings
    WHERE source = ? AND meter = ? AND quantity = ? AND start_s >= ? AND start_s < ?"""
_HOURS_OF_HOURS = """SELECT member, hour_s, kwh, covered_s FROM hourly_energy
    WHERE source = ? AND meter = ? AND quantity = ? AND hour_s >= ? AND hour_s < ?"""


def hours_of_readings(*, one_member: bool) -> str:
    """Return the query of a measure per member and hour from the readings (of one member)."""
    where = " AND member = ?" if one_member else ""
    return f"{_HOURS_OF_READINGS}{where} GROUP BY member, start_s / 3600 * 3600"


def hours_of_hours(*, one_member: bool) -> str:
    """Return the query of a measure per member and hour from the hours (of one member)."""
    return _HOURS_OF_HOURS + (" AND member = ?" if one_member else "")


# A measure's covered seconds per member and local day (each hour counted up to 3600 s).
DAYS_COVERED = """SELECT member, day, covered_s FROM daily_energy
    WHERE source = ? AND meter = ? AND quantity = ? AND day >= ? AND day < ?"""

SPAN_OF_HOURS = "SELECT MIN(hour_s), MAX(hour_s) FROM hourly_energy"
FORGET_DAYS = "DELETE FROM daily_energy"


def sum_days(offsets: Sequence[tuple[int, int]]) -> tuple[str, list[int]]:
    """Return the statement summing ``hourly_energy`` into ``daily_energy``, and its parameters.

    ``offsets``: (UTC second it starts, UTC offset s) of the local time over the hours, oldest
    first: an hour's day is (hour + its offset) // 86400. Grouped by position: PostgreSQL
    takes two uses of the parameters for two expressions.
    """
    parameters: list[int] = []
    for (moment_s, _offset), (_start, before) in zip(offsets[1:], offsets, strict=False):
        parameters += [moment_s, before]
    parameters.append(offsets[-1][1])
    whens = " ".join("WHEN hour_s < ? THEN ?" for _ in offsets[1:])
    offset = f"CASE {whens} ELSE ? END" if whens else "?"
    statement = f"""INSERT INTO daily_energy
        (source, member, meter, quantity, day, kwh, covered_s)
        SELECT source, member, meter, quantity, (hour_s + {offset}) / 86400, SUM(kwh),
            SUM(CASE WHEN covered_s > 3600 THEN 3600 ELSE covered_s END)
        FROM hourly_energy GROUP BY 1, 2, 3, 4, 5"""  # noqa: S608 - placeholders only
    return statement, parameters


def merge_hours(
    parts: Iterable[Sequence[Row]],
) -> dict[tuple[str, int], tuple[float, int]]:
    """Return (member, hour) → (kWh, covered s) summed over query results of several pieces."""
    pieces = sorted(
        (
            {(str(m), int(hour)): (float(kwh), int(covered)) for m, hour, kwh, covered in rows}
            for rows in parts
        ),
        key=len,
        reverse=True,
    )
    if not pieces:
        return {}
    # The largest piece as it is (a year's hours), the others' few added to it.
    merged = pieces[0]
    for piece in pieces[1:]:
        for key, (kwh, covered) in piece.items():
            before = merged.get(key, (0.0, 0))
            merged[key] = (before[0] + kwh, before[1] + covered)
    return merged
