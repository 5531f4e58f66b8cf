"""The statements of the readings, the same for both backends.

Statements use ``?`` placeholders (SQLite's); the PostgreSQL backend turns them into ``%s``.
Times are whole seconds since the epoch (UTC), so that no dialect's date type is needed.
"""

from __future__ import annotations

from datetime import UTC, datetime

SELECT_EXISTING = """SELECT meter, quantity, start_s, end_s, value, quality FROM readings
    WHERE source = ? AND member = ? AND start_s >= ? AND start_s <= ?"""
UPSERT_READING = """INSERT INTO readings
    (source, member, meter, quantity, start_s, end_s, value, quality, received_s)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (source, member, meter, quantity, start_s, end_s) DO UPDATE SET
        value = excluded.value,
        quality = excluded.quality,
        received_s = excluded.received_s,
        changes = readings.changes + 1"""
RECORD_BATCH = """INSERT INTO batches (member, batch, first_s, last_s, received, readings)
    VALUES (?, ?, ?, ?, 1, ?)
    ON CONFLICT (member, batch) DO UPDATE SET
        last_s = excluded.last_s,
        received = batches.received + 1"""
SELECT_USAGE = "SELECT stored_rows FROM member_usage WHERE member = ?"
ADD_USAGE = """INSERT INTO member_usage (member, stored_rows) VALUES (?, ?)
    ON CONFLICT (member) DO UPDATE
        SET stored_rows = member_usage.stored_rows + excluded.stored_rows"""


def select_recorded_batches(count: int) -> str:
    """Return the query of which of ``count`` batch ids a member's batches already hold."""
    marks = ", ".join("?" * count)
    return f"SELECT batch FROM batches WHERE member = ? AND batch IN ({marks})"  # noqa: S608


SELECT_READINGS = """SELECT member, meter, quantity, start_s, end_s, value, quality, source, changes
    FROM readings WHERE source = ? AND member = ? AND start_s >= ? AND start_s < ?
    ORDER BY start_s, meter, quantity"""


def seconds(moment: datetime) -> int:
    """Return a UTC time as whole seconds since the epoch."""
    return int(moment.timestamp())


def moment(value: int) -> datetime:
    """Return seconds since the epoch as a UTC time."""
    return datetime.fromtimestamp(value, UTC)


# Per measure (meter, quantity): how many members sent it, and its sum. The meter given last
# (the community plant's) counts only from members with a registered plant.
SELECT_TOTALS = """SELECT meter, quantity, COUNT(DISTINCT member), SUM(value) FROM readings
    WHERE source = ? AND start_s >= ? AND start_s < ?
        AND (meter <> ? OR member IN (SELECT id FROM members WHERE plant_kw > 0))
    GROUP BY meter, quantity ORDER BY meter, quantity"""
SELECT_CONTRIBUTORS = """SELECT COUNT(DISTINCT member) FROM readings
    WHERE source = ? AND start_s >= ? AND start_s < ?"""
# Per measure, how many intervals fewer than ? members sent (a total of them is theirs).
SELECT_SPARSE = """SELECT meter, quantity, COUNT(*) FROM (
        SELECT meter, quantity, start_s FROM readings
        WHERE source = ? AND start_s >= ? AND start_s < ?
            AND (meter <> ? OR member IN (SELECT id FROM members WHERE plant_kw > 0))
        GROUP BY meter, quantity, start_s HAVING COUNT(DISTINCT member) < ?
    ) AS sparse GROUP BY meter, quantity"""

# Interval energies summed per member and UTC hour, for the results (integer division in both
# dialects; no % operator, which the PostgreSQL driver reads as a placeholder).
_HOURLY = """SELECT member, start_s / 3600 * 3600 AS hour_s, SUM(value){coverage} FROM readings
    WHERE source = ? AND meter = ? AND quantity = ? AND start_s >= ? AND start_s < ?{member}
    GROUP BY member, start_s / 3600 * 3600"""
_COVERAGE = ", SUM(end_s - start_s)"
# One member's: a last parameter, the member.
_ONE_MEMBER = " AND member = ?"

SELECT_HOURLY = _HOURLY.format(coverage="", member="")
SELECT_MEMBER_HOURLY = _HOURLY.format(coverage="", member=_ONE_MEMBER)
# The same with the seconds the readings cover: an hour is complete when they cover 3600.
SELECT_HOURLY_COVERAGE = _HOURLY.format(coverage=_COVERAGE, member="")
SELECT_MEMBER_HOURLY_COVERAGE = _HOURLY.format(coverage=_COVERAGE, member=_ONE_MEMBER)

# New grid import readings add the seconds they cover to their UTC hour (see migration 7).
ADD_COVERAGE = """INSERT INTO import_coverage (source, hour_s, member, covered_s)
    VALUES (?, ?, ?, ?)
    ON CONFLICT (source, hour_s, member) DO UPDATE
        SET covered_s = import_coverage.covered_s + excluded.covered_s"""


def select_daily_coverage(changes: int) -> str:
    """Return the query of the seconds each member's hours cover, summed per local day.

    The local day of an hour is (hour + UTC offset) // 86400 days since the epoch, the offset
    changing ``changes`` times in the range. Parameters: for each change, its moment and the
    offset before it; the last offset; then the source and the range's first and last hour.
    An hour counts at most 3600 s (hourly and quarter-hour values of the same hour together).
    Grouped by position: PostgreSQL takes two uses of the parameters for two expressions.
    """
    whens = " ".join("WHEN hour_s < ? THEN ?" for _ in range(changes))
    offset = f"CASE {whens} ELSE ? END" if changes else "?"
    return f"""SELECT member, (hour_s + {offset}) / 86400 AS day,
        SUM(CASE WHEN covered_s > 3600 THEN 3600 ELSE covered_s END) FROM import_coverage
        WHERE source = ? AND hour_s >= ? AND hour_s < ?
        GROUP BY 1, 2"""  # noqa: S608 - placeholders only


# Each member's latest reading of a source (its end), found through readings_by_member.
SELECT_LAST_READINGS = """SELECT id, (SELECT end_s FROM readings
        WHERE source = ? AND member = members.id ORDER BY start_s DESC LIMIT 1)
    FROM members"""
