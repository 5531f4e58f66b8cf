"""Storage of the community's data, behind one small interface with two backends.

SQLite (one file, the default) and PostgreSQL (``postgresql://`` URL) run the same SQL: times
are whole seconds since the epoch, the upsert is ``INSERT … ON CONFLICT``, and the schema is
built by the same numbered migrations (``migrations.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from ioe_aggregator.protocol import Reading, ReadingsBatch

# Where readings come from: the member's own meters (the link), or its distributor.
SOURCE_MEMBER = "member"


class StoreError(Exception):
    """The database could not do what was asked; the message says why."""


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What storing a batch did: readings new, changed (another value) or already there."""

    new: int
    changed: int
    unchanged: int

    @property
    def stored(self) -> int:
        """Readings written: new or changed."""
        return self.new + self.changed


@dataclass(frozen=True, slots=True)
class StoredReading:
    """One reading as stored: whose, from where, and how often its value was replaced."""

    member: str
    reading: Reading
    source: str
    changes: int


class Store(Protocol):
    """What the rest of the service needs from a storage backend."""

    backend: str

    async def ping(self) -> None:
        """Run a trivial query; raise StoreError when the database does not answer."""

    async def schema_version(self) -> int:
        """Return the number of the last migration applied."""

    async def store_batch(
        self, batch: ReadingsBatch, *, source: str = SOURCE_MEMBER
    ) -> BatchOutcome:
        """Upsert a batch's readings in one transaction; return what changed.

        When this returns, the transaction has committed: the batch may be acknowledged.
        """

    async def readings(
        self, member: str, start: datetime, end: datetime, *, source: str = SOURCE_MEMBER
    ) -> Sequence[StoredReading]:
        """Return a member's readings starting in [start, end), oldest first."""

    async def close(self) -> None:
        """Release the connection."""


async def open_store(url: str) -> Store:
    """Open the store a database URL names (``sqlite:///PATH`` or ``postgresql://…``)."""
    if url.startswith(("postgresql://", "postgres://")):
        from ioe_aggregator.store.postgres import PostgresStore  # noqa: PLC0415 - needs libpq

        return await PostgresStore.open(url)
    from ioe_aggregator.store.sqlite import SqliteStore  # noqa: PLC0415 - symmetric with the above

    return await SqliteStore.open(Path(url.removeprefix("sqlite:///")))
