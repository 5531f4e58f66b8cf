"""SQLite backend: one file, write-ahead logging, every call on one worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import sqlite3

from ioe_aggregator.store import StoreError


class SqliteStore:
    """A store in one SQLite file.

    sqlite3 blocks, so every statement runs on a single dedicated thread: the event loop never
    waits on the disk, and the connection is never shared between threads.
    """

    backend = "sqlite"

    def __init__(self, connection: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        """Wrap an open connection; use ``open`` to make one."""
        self._connection = connection
        self._executor = executor

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Open (creating if needed) the database file at path."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")

        def connect() -> sqlite3.Connection:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
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

    async def close(self) -> None:
        """Close the connection and stop the worker thread."""
        await self._run(self._connection.close)
        self._executor.shutdown()
