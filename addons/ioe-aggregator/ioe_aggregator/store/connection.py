"""The connection to the database: transactions, settings, and the schema kept up to date."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
import logging
from pathlib import Path
import secrets
import time

from ioe_aggregator.store import migrations
from ioe_aggregator.store.database import Database, StoreError, Transaction

_LOGGER = logging.getLogger(__name__)
SELECT_SETTING = "SELECT value FROM settings WHERE key = ?"
# Replicas starting together may both make one: the first stored wins, the other reads it.
INSERT_SETTING = "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"


class Connection:
    """An open database, migrated: transactions of statements, and the service's settings."""

    def __init__(self, database: Database) -> None:
        """Wrap an open database; use ``open_store`` to get a migrated one."""
        self._database = database
        # Whether the readings are a TimescaleDB hypertable (PostgreSQL with the extension).
        self.timescaledb = False

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._database.backend

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Begin a transaction (commits at the end of the block, rolls back if it raises)."""
        return self._database.transaction()

    async def ping(self) -> None:
        """Run a trivial query; raise StoreError when the database does not answer."""
        async with self.transaction() as tx:
            await tx.execute("SELECT 1")

    async def secret_setting(self, key: str) -> str:
        """Return a random value kept under ``key``, made (128 random bits) the first time.

        Used for what must stay the same across restarts and replicas and be known to
        nobody else: it never leaves the service.
        """
        async with self.transaction() as tx:
            await tx.execute(INSERT_SETTING, (key, secrets.token_hex(16)))
            rows = await tx.execute(SELECT_SETTING, (key,))
        return str(rows[0][0])

    async def schema_version(self) -> int:
        """Return the number of the last migration applied."""
        async with self.transaction() as tx:
            return await _version(tx)

    async def migrate(self) -> None:
        """Apply the migrations this database lacks, each in its own transaction.

        Replicas starting together take turns: the first migrates, the others find it done.
        """
        while True:
            async with self.transaction() as tx:
                if self._database.migration_lock:
                    await tx.execute(self._database.migration_lock)
                await tx.execute(migrations.CREATE_VERSION_TABLE)
                current = await _version(tx)
                if current > len(migrations.MIGRATIONS):
                    raise StoreError(
                        f"the database's schema (v{current}) is newer than this aggregator's "
                        f"(v{len(migrations.MIGRATIONS)}): upgrade the aggregator"
                    )
                if current == len(migrations.MIGRATIONS):
                    return
                for statement in migrations.MIGRATIONS[current]:
                    await tx.execute(statement)
                await tx.execute(migrations.RECORD_VERSION, (current + 1, int(time.time())))
            _LOGGER.info("Database schema migrated to version %s", current + 1)

    async def use_timescaledb(self) -> None:
        """On PostgreSQL with TimescaleDB available, make the readings a hypertable (once).

        Without the extension, or when it cannot be enabled (it must be preloaded, and created
        by a user allowed to), the readings stay a plain table: the reason is logged.
        """
        if self.backend != "postgresql":
            return
        async with self.transaction() as tx:
            if not await tx.execute(migrations.TIMESCALEDB_AVAILABLE):
                return
        try:
            async with self.transaction() as tx:
                await tx.execute(migrations.ENABLE_TIMESCALEDB)
                await tx.execute(migrations.READINGS_HYPERTABLE)
        except StoreError as err:
            _LOGGER.warning(
                "TimescaleDB is installed but not used (%s): readings stay a table", err
            )
            return
        self.timescaledb = True

    async def close(self) -> None:
        """Release the connection."""
        await self._database.close()


async def _version(tx: Transaction) -> int:
    rows = await tx.execute(migrations.SELECT_VERSION)
    return int(rows[0][0])


async def open_database(url: str) -> Database:
    """Open the database a URL names (``sqlite:///PATH`` or ``postgresql://…``)."""
    if url.startswith(("postgresql://", "postgres://")):
        from ioe_aggregator.store.postgres import PostgresDatabase  # noqa: PLC0415 - needs libpq

        return await PostgresDatabase.open(url)
    from ioe_aggregator.store.sqlite import SqliteDatabase  # noqa: PLC0415 - as above

    return await SqliteDatabase.open(Path(url.removeprefix("sqlite:///")))
