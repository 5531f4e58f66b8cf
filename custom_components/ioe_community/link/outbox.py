"""The link's persistent outbox: every batch is written here before it is sent.

A batch leaves the outbox only when the aggregator's acknowledgement names it; until then it
is sent again. The backlog drains oldest first. The outbox has a cap: when it is full, ``put``
raises OutboxFull (the integration raises a repair issue) and nothing already in it is dropped.
A checkpoint (the state that produced the batches) is saved in the same transaction as a batch.

One SQLite file in Home Assistant's configuration directory, in WAL mode with
``synchronous=FULL``: a batch that ``put`` returned for survives a power cut. The calls are
blocking; Home Assistant runs them in its executor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
import sqlite3
import threading
from typing import Final

# A week of batches for a home that sends one per quarter hour, and then some.
DEFAULT_MAX_BATCHES: Final = 2000
DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        batch TEXT NOT NULL UNIQUE,
        payload BLOB NOT NULL,
        created_us INTEGER NOT NULL,
        sent_us INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE TABLE IF NOT EXISTS acked (id INTEGER PRIMARY KEY CHECK (id = 1), at_us INTEGER)",
    # What produced the batches (the counters' state): saved with each batch, in one
    # transaction, so that a batch is made exactly once even across a crash.
    "CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT)",
)
_SAVE_CHECKPOINT = (
    "INSERT INTO checkpoint (id, state) VALUES (1, ?) "
    "ON CONFLICT (id) DO UPDATE SET state = excluded.state"
)


class OutboxError(Exception):
    """The outbox file cannot be used; the message says why."""


class OutboxFull(OutboxError):
    """The outbox holds as much as it may; the batch was not added (nothing was dropped)."""


@dataclass(frozen=True, slots=True)
class Pending:
    """A batch waiting for its acknowledgement."""

    batch: str
    payload: bytes
    created: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxState:
    """How much waits, since when, and when the last acknowledgement came."""

    batches: int
    bytes: int
    oldest: datetime | None
    last_ack: datetime | None


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _at(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, UTC)


def _moment(value: int | None) -> datetime | None:
    return None if value is None else _at(value)


def _in_transaction[T](db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``work`` in one write transaction: all of it is kept, or none."""
    db.execute("BEGIN IMMEDIATE")
    try:
        done = work(db)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return done


class Outbox:
    """Batches waiting for the community's acknowledgement, oldest first."""

    def __init__(
        self,
        path: Path,
        *,
        max_batches: int = DEFAULT_MAX_BATCHES,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        """Open (creating if needed) the outbox file at ``path``; raise OutboxError."""
        self.path = path
        self.max_batches = max_batches
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, autocommit=True)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            for statement in _SCHEMA:
                self._db.execute(statement)
        except (OSError, sqlite3.Error) as err:
            raise OutboxError(f"cannot open the outbox {path}: {err}") from err

    def _run[T](self, work: str, call: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return call(self._db)
            except sqlite3.Error as err:
                raise OutboxError(f"outbox {self.path}: {work}: {err}") from err

    def put(
        self, batch: str, payload: bytes, now: datetime, *, checkpoint: str | None = None
    ) -> None:
        """Keep a batch until it is acknowledged (a batch already kept is left as it is).

        ``checkpoint`` is saved with it, all or nothing.
        """

        def put(db: sqlite3.Connection) -> None:
            count, size = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox"
            ).fetchone()
            if count + 1 > self.max_batches or size + len(payload) > self.max_bytes:
                raise OutboxFull(
                    f"the outbox holds {count} batches ({size} bytes), its limit: "
                    f"{self.max_batches} batches, {self.max_bytes} bytes"
                )
            db.execute(
                "INSERT INTO outbox (batch, payload, created_us) VALUES (?, ?, ?) "
                "ON CONFLICT (batch) DO NOTHING",
                (batch, payload, _us(now)),
            )
            if checkpoint is not None:
                db.execute(_SAVE_CHECKPOINT, (checkpoint,))

        self._run("adding a batch", lambda db: _in_transaction(db, put))

    def save_checkpoint(self, checkpoint: str) -> None:
        """Save the state that produced the batches, when no batch goes with it."""
        self._run("saving the checkpoint", lambda db: db.execute(_SAVE_CHECKPOINT, (checkpoint,)))

    def checkpoint(self) -> str | None:
        """Return the last checkpoint saved, or None."""
        row = self._run(
            "reading the checkpoint",
            lambda db: db.execute("SELECT state FROM checkpoint WHERE id = 1").fetchone(),
        )
        return None if row is None else str(row[0])

    def pending(self, limit: int) -> list[Pending]:
        """Return up to ``limit`` waiting batches, oldest first."""
        rows = self._run(
            "reading the backlog",
            lambda db: db.execute(
                "SELECT batch, payload, created_us, attempts FROM outbox ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall(),
        )
        return [
            Pending(batch=row[0], payload=bytes(row[1]), created=_at(row[2]), attempts=row[3])
            for row in rows
        ]

    def mark_sent(self, batches: Iterable[str], now: datetime) -> None:
        """Count one more attempt for each batch."""
        rows = [(_us(now), batch) for batch in batches]
        self._run(
            "recording a send",
            lambda db: db.executemany(
                "UPDATE outbox SET sent_us = ?, attempts = attempts + 1 WHERE batch = ?", rows
            ),
        )

    def acknowledge(self, batches: Iterable[str], now: datetime) -> int:
        """Drop the acknowledged batches; return how many were waiting."""
        names = [(batch,) for batch in batches]

        def acknowledge(db: sqlite3.Connection) -> int:
            before = db.total_changes
            db.executemany("DELETE FROM outbox WHERE batch = ?", names)
            dropped = db.total_changes - before
            db.execute(
                "INSERT INTO acked (id, at_us) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET at_us = excluded.at_us",
                (_us(now),),
            )
            return dropped

        return self._run(
            "recording an acknowledgement", lambda db: _in_transaction(db, acknowledge)
        )

    def state(self) -> OutboxState:
        """Return how much waits, since when, and the last acknowledgement's time."""

        def state(db: sqlite3.Connection) -> OutboxState:
            count, size, oldest = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0), MIN(created_us) FROM outbox"
            ).fetchone()
            acked = db.execute("SELECT at_us FROM acked WHERE id = 1").fetchone()
            return OutboxState(
                batches=count,
                bytes=size,
                oldest=_moment(oldest),
                last_ack=_moment(acked[0]) if acked else None,
            )

        return self._run("reading its state", state)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
