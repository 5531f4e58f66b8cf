"""SQLite backend: one file, write-ahead logging, every call on one worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
import contextlib
from datetime import datetime
from pathlib import Path
import sqlite3
import time

from ioe_aggregator.protocol import ReadingsBatch
from ioe_aggregator.store import SOURCE_MEMBER, BatchOutcome, StoredReading, StoreError, sql


class SqliteStore:
    """A store in one SQLite file.

    sqlite3 blocks, so every statement runs on a single dedicated thread: the event loop never
    waits on the disk, and the connection is never shared between threads. Transactions are
    explicit (``BEGIN IMMEDIATE`` … ``COMMIT``) and synchronous=FULL, so that a batch that was
    acknowledged survives a power cut.
    """

    backend = "sqlite"

    def __init__(self, connection: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        """Wrap an open, migrated connection; use ``open`` to make one."""
        self._connection = connection
        self._executor = executor

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Open (creating if needed) the database file at path and bring its schema up to date."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")

        def connect() -> sqlite3.Connection:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, check_same_thread=False, autocommit=True)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA busy_timeout=10000")
            _migrate(connection)
            return connection

        try:
            connection = await asyncio.get_running_loop().run_in_executor(executor, connect)
        except (OSError, sqlite3.Error) as err:
            executor.shutdown()
            raise StoreError(f"cannot open SQLite database {path}: {err}") from err
        return cls(connection, executor)

    async def _run[T](self, call: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except sqlite3.Error as err:
            raise StoreError(f"SQLite: {err}") from err

    async def ping(self) -> None:
        """Run a trivial query."""
        await self._run(lambda: self._connection.execute("SELECT 1").fetchone())

    async def schema_version(self) -> int:
        """Return the number of the last migration applied."""
        return await self._run(lambda: _version(self._connection))

    async def store_batch(
        self, batch: ReadingsBatch, *, source: str = SOURCE_MEMBER
    ) -> BatchOutcome:
        """Upsert a batch's readings in one committed transaction."""

        def store() -> BatchOutcome:
            connection = self._connection
            now_s = int(time.time())
            with _transaction(connection):
                existing: list[sql.Row] = []
                if batch.readings:
                    first, last = sql.existing_range(batch)
                    existing = connection.execute(
                        sql.SELECT_EXISTING, (source, batch.member, first, last)
                    ).fetchall()
                rows, outcome = sql.plan_batch(batch, existing, source, now_s)
                connection.executemany(sql.UPSERT_READING, rows)
                connection.execute(sql.RECORD_BATCH, sql.batch_row(batch, now_s))
            return outcome

        return await self._run(store)

    async def readings(
        self, member: str, start: datetime, end: datetime, *, source: str = SOURCE_MEMBER
    ) -> Sequence[StoredReading]:
        """Return a member's readings starting in [start, end), oldest first."""
        parameters = (source, member, sql.seconds(start), sql.seconds(end))
        rows = await self._run(
            lambda: self._connection.execute(sql.SELECT_READINGS, parameters).fetchall()
        )
        return sql.stored_readings(rows)

    async def close(self) -> None:
        """Close the connection and stop the worker thread."""
        await self._run(self._connection.close)
        self._executor.shutdown()


@contextlib.contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK when the block raises."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _version(connection: sqlite3.Connection) -> int:
    return int(connection.execute(sql.SELECT_VERSION).fetchone()[0])


def _migrate(connection: sqlite3.Connection) -> None:
    """Apply the migrations this database lacks, each in its own transaction."""
    connection.execute(sql.CREATE_VERSION_TABLE)
    current = _version(connection)
    for number, statements in enumerate(sql.MIGRATIONS[current:], start=current + 1):
        with _transaction(connection):
            for statement in statements:
                connection.execute(statement)
            connection.execute(sql.RECORD_VERSION, (number, int(time.time())))
