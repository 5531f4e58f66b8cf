"""What a storage backend provides: transactions of SQL statements, nothing more.

The queries themselves are written once (``sql.py`` and the modules that own the data); a
backend only runs them. SQLite and PostgreSQL both implement this.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

type Row = tuple[Any, ...]


class StoreError(Exception):
    """The database could not do what was asked; the message says why (never a password)."""


class Transaction(Protocol):
    """Statements run inside one transaction (``?`` placeholders, whatever the backend)."""

    async def execute(self, statement: str, parameters: Sequence[Any] = ()) -> list[Row]:
        """Run one statement; return its rows (none for statements that return none)."""

    async def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters."""


class Database(Protocol):
    """A connection to one database, used by one transaction at a time."""

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""

    @property
    def migration_lock(self) -> str | None:
        """Return what makes concurrent migrations take turns, or None.

        A statement run first in each migration's transaction; None when a write transaction
        already excludes the others.
        """

    @property
    def key_lock(self) -> str | None:
        """Return what makes transactions on the same key (one text parameter) take turns.

        None when a write transaction already excludes the others.
        """

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Begin a transaction; it commits when the block ends, rolls back when it raises.

        Any database error inside is raised as StoreError.
        """

    async def close(self) -> None:
        """Release the connection."""
