"""Storage of the community's data, behind one small interface."""

from __future__ import annotations

from typing import Protocol


class Store(Protocol):
    """What the rest of the service needs from a storage backend."""

    backend: str

    async def ping(self) -> None:
        """Run a trivial query; raise StoreError when the database does not answer."""

    async def close(self) -> None:
        """Release the connection."""


class StoreError(Exception):
    """The database could not do what was asked; the message says why."""
