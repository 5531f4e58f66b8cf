"""The SQL both backends run, and the backend-neutral steps around it.

Statements use ``?`` placeholders (SQLite's); the PostgreSQL backend turns them into ``%s``.
Times are whole seconds since the epoch (UTC), so that no dialect's date type is needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from ioe_aggregator.protocol import Reading, ReadingsBatch
from ioe_aggregator.store import BatchOutcome, StoredReading

# Each migration is a list of statements applied in one transaction, in order; the schema's
# version is the number of migrations applied. Never edit one that has shipped: add another.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE readings (
            source TEXT NOT NULL,
            member TEXT NOT NULL,
            meter TEXT NOT NULL,
            quantity TEXT NOT NULL,
            start_s BIGINT NOT NULL,
            end_s BIGINT NOT NULL,
            value DOUBLE PRECISION NOT NULL,
            quality TEXT NOT NULL,
            received_s BIGINT NOT NULL,
            changes INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (source, member, meter, quantity, start_s, end_s)
        )""",
        "CREATE INDEX readings_by_time ON readings (start_s)",
        """CREATE TABLE batches (
            member TEXT NOT NULL,
            batch TEXT NOT NULL,
            first_s BIGINT NOT NULL,
            last_s BIGINT NOT NULL,
            received INTEGER NOT NULL,
            readings INTEGER NOT NULL,
            PRIMARY KEY (member, batch)
        )""",
    ),
)

CREATE_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_s BIGINT NOT NULL
)"""
SELECT_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
RECORD_VERSION = "INSERT INTO schema_migrations (version, applied_s) VALUES (?, ?)"

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
SELECT_READINGS = """SELECT member, meter, quantity, start_s, end_s, value, quality, source, changes
    FROM readings WHERE source = ? AND member = ? AND start_s >= ? AND start_s < ?
    ORDER BY start_s, meter, quantity"""


def seconds(moment: datetime) -> int:
    """Return a UTC time as whole seconds since the epoch."""
    return int(moment.timestamp())


def moment(value: int) -> datetime:
    """Return seconds since the epoch as a UTC time."""
    return datetime.fromtimestamp(value, UTC)


def existing_range(batch: ReadingsBatch) -> tuple[int, int]:
    """Return the start times (first, last) that SELECT_EXISTING needs for this batch."""
    starts = [seconds(reading.start) for reading in batch.readings]
    return min(starts), max(starts)


type Row = tuple[Any, ...]


def plan_batch(
    batch: ReadingsBatch, existing: Iterable[Row], source: str, now_s: int
) -> tuple[list[Row], BatchOutcome]:
    """Return the UPSERT_READING rows of a batch (new or changed readings) and the outcome.

    ``existing`` are the SELECT_EXISTING rows of the batch's range.
    """
    known = {(r[0], r[1], r[2], r[3]): (r[4], r[5]) for r in existing}
    rows: list[Row] = []
    new = changed = 0
    for reading in batch.readings:
        identity = (reading.meter, reading.quantity, seconds(reading.start), seconds(reading.end))
        before = known.get(identity)
        if before == (reading.value, reading.quality):
            continue
        if before is None:
            new += 1
        else:
            changed += 1
        rows.append((source, batch.member, *identity, reading.value, reading.quality, now_s))
    return rows, BatchOutcome(new=new, changed=changed, unchanged=len(batch.readings) - len(rows))


def batch_row(batch: ReadingsBatch, now_s: int) -> Row:
    """Return the RECORD_BATCH row of a batch."""
    return (batch.member, batch.batch, now_s, now_s, len(batch.readings))


def stored_readings(rows: Sequence[Row]) -> list[StoredReading]:
    """Return SELECT_READINGS rows as readings."""
    return [
        StoredReading(
            member=row[0],
            reading=Reading(
                meter=row[1],
                quantity=row[2],
                start=moment(row[3]),
                end=moment(row[4]),
                value=row[5],
                quality=row[6],
            ),
            source=row[7],
            changes=row[8],
        )
        for row in rows
    ]
