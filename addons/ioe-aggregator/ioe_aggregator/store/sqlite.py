"""SQLite backend: one file, write-ahead logging, every call on one worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
import contextlib
from pathlib import Path
import sqlite3
from typing import Any

from ioe_aggregator.store.database import Row, StoreError


class SqliteDatabase:
    """A database in one SQLite file.

    sqlite3 blocks, so every statement runs on a single dedicated thread: the event loop never
    waits on the disk, and the connection is never shared between threads. Transactions are
    ``BEGIN IMMEDIATE`` … ``COMMIT`` with synchronous=FULL, so that a batch that was
    acknowledged survives a power cut; other processes (the command line) wait their turn.
    """

    backend = "sqlite"
    migration_lock = None
    key_lock = None

    def __init__(self, connection: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        """Wrap an open connection; use ``open`` to make one."""
        self._connection = connection
        self._executor = executor
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> SqliteDatabase:
        """Open (creating if needed) the database file at path."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")

        def connect() -> sqlite3.Connection:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, check_same_thread=False, autocommit=True)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA busy_timeout=10000")
            return connection

        try:
            connection = await asyncio.get_running_loop().run_in_executor(executor, connect)
        except (OSError, sqlite3.Error) as err:
            executor.shutdown()
            raise StoreError(f"cannot open SQLite database {path}: {err}") from err
        return cls(connection, executor)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SqliteTransaction]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK when the block raises."""
        connection, executor = self._connection, self._executor
        async with self._lock:
            await _on_thread(executor, lambda: connection.execute("BEGIN IMMEDIATE"))
            try:
                yield _SqliteTransaction(connection, executor)
            except BaseException:
                # SQLite has already rolled back after some errors (a full disk, for one).
                await _on_thread(
                    executor, lambda: connection.in_transaction and connection.execute("ROLLBACK")
                )
                raise
            await _on_thread(executor, lambda: connection.execute("COMMIT"))

    async def close(self) -> None:
        """Close the connection and stop the worker thread."""
        await _on_thread(self._executor, self._connection.close)
        self._executor.shutdown()


async def _on_thread[T](executor: ThreadPoolExecutor, call: Callable[[], T]) -> T:
    """Run ``call`` on the connection's thread; raise its SQLite errors as StoreError."""
    try:
        return await asyncio.get_running_loop().run_in_executor(executor, call)
    except sqlite3.Error as err:
        raise StoreError(f"SQLite: {err}") from err


class _SqliteTransaction:
    def __init__(self, connection: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self._connection = connection
        self._executor = executor

    async def execute(self, statement: str, parameters: Sequence[Any] = ()) -> list[Row]:
        return await _on_thread(
            self._executor, lambda: self._connection.execute(statement, parameters).fetchall()
        )

    async def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        await _on_thread(self._executor, lambda: self._connection.executemany(statement, rows))
