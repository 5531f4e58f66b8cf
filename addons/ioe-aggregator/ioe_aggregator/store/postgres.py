"""PostgreSQL backend: the same schema and statements as SQLite, through psycopg's asyncio API."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
import logging
import time

import psycopg

from ioe_aggregator.protocol import ReadingsBatch
from ioe_aggregator.store import SOURCE_MEMBER, BatchOutcome, StoredReading, StoreError, sql

_LOGGER = logging.getLogger(__name__)
# The advisory lock that serialises migrations ("IoE" in ASCII).
MIGRATION_LOCK = 0x496F45


def _pg(statement: str) -> str:
    """Return a statement with psycopg's placeholders."""
    return statement.replace("?", "%s")


class PostgresStore:
    """A store in a PostgreSQL database (a URL names it; credentials may be in it).

    One connection, used by one call at a time; when the server drops it, the call fails with
    StoreError and the next call connects again.
    """

    backend = "postgresql"

    def __init__(self, url: str) -> None:
        """Remember where the database is; use ``open`` to connect."""
        self._url = url
        self._connection: psycopg.AsyncConnection | None = None
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        """Connect and bring the schema up to date."""
        store = cls(url)
        try:
            connection = await store._connected()
            await _migrate(connection)
        except psycopg.Error as err:
            await store.close()
            raise StoreError(f"PostgreSQL: {_reason(err)}") from err
        return store

    async def _connected(self) -> psycopg.AsyncConnection:
        if self._connection is None or self._connection.broken or self._connection.closed:
            # Autocommit: the only transactions are the explicit ``transaction()`` blocks.
            self._connection = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=10
            )
        return self._connection

    async def ping(self) -> None:
        """Run a trivial query."""
        async with self._lock:
            try:
                connection = await self._connected()
                async with connection.transaction():
                    await connection.execute("SELECT 1")
            except psycopg.Error as err:
                raise StoreError(f"PostgreSQL: {_reason(err)}") from err

    async def schema_version(self) -> int:
        """Return the number of the last migration applied."""
        async with self._lock:
            try:
                connection = await self._connected()
                async with connection.transaction():
                    return await _version(connection)
            except psycopg.Error as err:
                raise StoreError(f"PostgreSQL: {_reason(err)}") from err

    async def store_batch(
        self, batch: ReadingsBatch, *, source: str = SOURCE_MEMBER
    ) -> BatchOutcome:
        """Upsert a batch's readings in one committed transaction."""
        now_s = int(time.time())
        async with self._lock:
            try:
                connection = await self._connected()
                async with connection.transaction(), connection.cursor() as cursor:
                    existing: list[sql.Row] = []
                    if batch.readings:
                        first, last = sql.existing_range(batch)
                        await cursor.execute(
                            _pg(sql.SELECT_EXISTING), (source, batch.member, first, last)
                        )
                        existing = await cursor.fetchall()
                    rows, outcome = sql.plan_batch(batch, existing, source, now_s)
                    if rows:
                        await cursor.executemany(_pg(sql.UPSERT_READING), rows)
                    await cursor.execute(_pg(sql.RECORD_BATCH), sql.batch_row(batch, now_s))
            except psycopg.Error as err:
                raise StoreError(f"PostgreSQL: {_reason(err)}") from err
        return outcome

    async def readings(
        self, member: str, start: datetime, end: datetime, *, source: str = SOURCE_MEMBER
    ) -> Sequence[StoredReading]:
        """Return a member's readings starting in [start, end), oldest first."""
        parameters = (source, member, sql.seconds(start), sql.seconds(end))
        async with self._lock:
            try:
                connection = await self._connected()
                async with connection.transaction(), connection.cursor() as cursor:
                    await cursor.execute(_pg(sql.SELECT_READINGS), parameters)
                    rows = await cursor.fetchall()
            except psycopg.Error as err:
                raise StoreError(f"PostgreSQL: {_reason(err)}") from err
        return sql.stored_readings(rows)

    async def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


def _reason(err: psycopg.Error) -> str:
    """Return the server's message, without the URL (it may hold a password)."""
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


async def _version(connection: psycopg.AsyncConnection) -> int:
    cursor = await connection.execute(sql.SELECT_VERSION)
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _migrate(connection: psycopg.AsyncConnection) -> None:
    """Apply the migrations this database lacks, each in its own transaction.

    Replicas starting together take turns: the first migrates, the others find it done.
    """
    await connection.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        async with connection.transaction():
            await connection.execute(sql.CREATE_VERSION_TABLE)
            current = await _version(connection)
        for number, statements in enumerate(sql.MIGRATIONS[current:], start=current + 1):
            async with connection.transaction():
                for statement in statements:
                    await connection.execute(statement)
                await connection.execute(_pg(sql.RECORD_VERSION), (number, int(time.time())))
            _LOGGER.info("Database schema migrated to version %s", number)
    finally:
        await connection.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
