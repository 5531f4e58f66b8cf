"""PostgreSQL backend: the same statements as SQLite, through psycopg's asyncio API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
import contextlib
from typing import Any

import psycopg

from ioe_aggregator.store.database import Row, StoreError

# The advisory lock that serialises migrations between replicas ("IoE" in ASCII).
MIGRATION_LOCK = 0x496F45


def _pg(statement: str) -> str:
    """Return a statement with psycopg's placeholders."""
    return statement.replace("?", "%s")


def reason(err: Exception) -> str:
    """Return the server's message, without the URL (it may hold a password)."""
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


class PostgresDatabase:
    """A PostgreSQL database (a URL names it; credentials may be in it).

    One connection, used by one transaction at a time; when the server drops it, the
    transaction fails with StoreError and the next one connects again.
    """

    backend = "postgresql"
    migration_lock = f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"
    # Held until the transaction ends; keyed by a text's 64-bit hash.
    key_lock = "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))"

    def __init__(self, url: str) -> None:
        """Remember where the database is; use ``open`` to connect."""
        self._url = url
        self._connection: psycopg.AsyncConnection | None = None
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, url: str) -> PostgresDatabase:
        """Connect, so that a wrong URL is reported at once."""
        database = cls(url)
        try:
            await database._connected()
        except psycopg.Error as err:
            raise StoreError(f"PostgreSQL: {reason(err)}") from err
        return database

    async def _connected(self) -> psycopg.AsyncConnection:
        if self._connection is None or self._connection.broken or self._connection.closed:
            # Autocommit: the only transactions are the explicit ``transaction()`` blocks.
            self._connection = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=10
            )
        return self._connection

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PostgresTransaction]:
        """BEGIN … COMMIT on the connection, or ROLLBACK when the block raises."""
        async with self._lock:
            try:
                connection = await self._connected()
                async with connection.transaction(), connection.cursor() as cursor:
                    yield _PostgresTransaction(cursor)
            except psycopg.Error as err:
                raise StoreError(f"PostgreSQL: {reason(err)}") from err

    async def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


class _PostgresTransaction:
    def __init__(self, cursor: psycopg.AsyncCursor[Row]) -> None:
        self._cursor = cursor

    async def execute(self, statement: str, parameters: Sequence[Any] = ()) -> list[Row]:
        await self._cursor.execute(_pg(statement), parameters)
        return await self._cursor.fetchall() if self._cursor.description else []

    async def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            await self._cursor.executemany(_pg(statement), rows)
