"""Storage of the community's data: one interface, SQLite or PostgreSQL underneath.

Both backends (``sqlite.py``, ``postgres.py``, behind ``database.py``) run the same SQL: times
are whole seconds since the epoch, upserts are ``INSERT … ON CONFLICT``, and the schema is
built by the same numbered migrations (``migrations.py``). ``connection.py`` opens and migrates
the database; ``readings.py`` stores and reads the readings (``sql.py``); the other data is
kept by the modules that own it, through transactions.
"""

from ioe_aggregator.store.database import StoreError, Transaction
from ioe_aggregator.store.readings import (
    SOURCE_MEMBER,
    BatchOutcome,
    Store,
    StoredReading,
    Totals,
    open_store,
)

__all__ = [
    "SOURCE_MEMBER",
    "BatchOutcome",
    "Store",
    "StoreError",
    "StoredReading",
    "Totals",
    "Transaction",
    "open_store",
]
