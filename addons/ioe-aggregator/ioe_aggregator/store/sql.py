"""The statements of the readings, the same for both backends.

Statements use ``?`` placeholders (SQLite's); the PostgreSQL backend turns them into ``%s``.
Times are whole seconds since the epoch (UTC), so that no dialect's date type is needed.
"""

from __future__ import annotations

from datetime import UTC, datetime
import functools

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
# Forgetting raw readings (``Store.forget_readings``): the sources (from the days' sums, far
# fewer rows), a day of one source's readings, and the batch records received before; each
# says whose rows went (for the members' quotas).
SELECT_SOURCES = "SELECT DISTINCT source FROM daily_energy"
SELECT_OLDEST_READING = "SELECT MIN(start_s) FROM readings WHERE source = ?"
# The hours of a member's measure that hold a sum (before the horizon: whether a reading that
# starts there is history arriving late or one already counted).
SELECT_SUMMED_HOURS = """SELECT hour_s FROM hourly_energy
    WHERE source = ? AND member = ? AND meter = ? AND quantity = ?
        AND hour_s >= ? AND hour_s <= ?"""
DELETE_READINGS = """DELETE FROM readings WHERE source = ? AND start_s >= ? AND start_s < ?
    RETURNING member"""
DELETE_OLD_BATCHES = "DELETE FROM batches WHERE last_s < ? RETURNING member, batch"
FREE_USAGE = """UPDATE member_usage
    SET stored_rows = CASE WHEN stored_rows > ? THEN stored_rows - ? ELSE 0 END WHERE member = ?"""
# TimescaleDB: the readings' chunks entirely before a time (seconds: the hypertable's own unit).
DROP_CHUNKS = "SELECT drop_chunks('readings', older_than => CAST(? AS BIGINT))"
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


# A year's hours come back from every period asked for: each made once (a few MB at most).
@functools.lru_cache(maxsize=1 << 16)
def moment(value: int) -> datetime:
    """Return seconds since the epoch as a UTC time."""
    return datetime.fromtimestamp(value, UTC)


def moment_or_none(value: object) -> datetime | None:
    """Return a column of seconds since the epoch as a UTC time, NULL as None."""
    return None if value is None else moment(int(value))  # type: ignore[call-overload]


# The members with a registered plant: the only ones whose community plant meter counts.
SELECT_PLANT_MEMBERS = "SELECT id FROM members WHERE plant_kw > 0"
# Per measure, how many intervals fewer than ? members sent (a total of them is theirs): from
# the members counted per interval, but for the community plant's meter, which counts only the
# members with a registered plant (who they are changes; they are a few, and their readings
# are read).
SELECT_SPARSE = """SELECT meter, quantity, COUNT(*) FROM interval_members
    WHERE source = ? AND start_s >= ? AND start_s < ? AND meter <> ? AND members < ?
    GROUP BY meter, quantity"""
SELECT_SPARSE_PLANT = """SELECT meter, quantity, COUNT(*) FROM (
        SELECT meter, quantity, start_s FROM readings
        WHERE source = ? AND start_s >= ? AND start_s < ? AND meter = ?
            AND member IN (SELECT id FROM members WHERE plant_kw > 0)
        GROUP BY meter, quantity, start_s HAVING COUNT(DISTINCT member) < ?
    ) AS sparse GROUP BY meter, quantity"""

# Each member's latest reading of a source (its end), found through readings_by_member.
# A member silent since before the raw readings kept: the end of its last hour summed.
SELECT_LAST_READINGS = """SELECT id, COALESCE(
        (SELECT end_s FROM readings
            WHERE source = ? AND member = members.id ORDER BY start_s DESC LIMIT 1),
        (SELECT MAX(hour_s) + 3600 FROM hourly_energy WHERE source = ? AND member = members.id))
    FROM members"""
# One member's.
SELECT_LAST_READING = """SELECT COALESCE(
    (SELECT end_s FROM readings WHERE source = ? AND member = ? ORDER BY start_s DESC LIMIT 1),
    (SELECT MAX(hour_s) + 3600 FROM hourly_energy WHERE source = ? AND member = ?))"""
