"""The community signal's history: when its kind changed, kept compact in the store.

The publisher computes the signal every minute; only a change of its kind is written (and the
first signal after a start, as the service may have been away), so a year is a few thousand
rows. A kind holds from its row's start until the next row. Rows older than ``KEEP`` go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ioe_aggregator.protocol.messages import SignalKind
from ioe_aggregator.store import Store
from ioe_aggregator.store.sql import moment, seconds

# More than the longest range the API gives (366 days), so that a year ago has its signal.
KEEP = timedelta(days=400)
# Times are whole seconds: of two changes within one, the later stands (the other lasted
# less than a second).
INSERT_CHANGE = """INSERT INTO signal_changes (start_s, kind, balance_w) VALUES (?, ?, ?)
    ON CONFLICT (start_s) DO UPDATE SET kind = excluded.kind, balance_w = excluded.balance_w"""
DELETE_BEFORE = "DELETE FROM signal_changes WHERE start_s < ?"
# The change in force at the range's start, then those within it.
SELECT_CHANGES = """SELECT start_s, kind, balance_w FROM signal_changes
    WHERE start_s >= COALESCE((SELECT MAX(start_s) FROM signal_changes WHERE start_s <= ?), ?)
        AND start_s < ?
    ORDER BY start_s"""


@dataclass(frozen=True, kw_only=True, slots=True)
class SignalChange:
    """The signal took ``kind`` at ``start``; ``balance_w``: generation - consumption then (W)."""

    start: datetime
    kind: SignalKind
    balance_w: float


class SignalHistory:
    """Records the signal's changes of kind, and reads them back."""

    def __init__(self, store: Store) -> None:
        """Keep the history in the service's store."""
        self._store = store
        self._kind: SignalKind | None = None

    async def record(self, at: datetime, kind: SignalKind, balance_w: float) -> bool:
        """Write the signal computed ``at`` if its kind changed (or is the first); say if so."""
        if kind is self._kind:
            return False
        async with self._store.transaction() as tx:
            await tx.execute(INSERT_CHANGE, (seconds(at), kind.value, round(balance_w, 1)))
            await tx.execute(DELETE_BEFORE, (seconds(at - KEEP),))
        # Only once written: a failed write is tried again with the next signal.
        self._kind = kind
        return True

    async def changes(self, start: datetime, end: datetime) -> list[SignalChange]:
        """Return the change in force at ``start`` and every one until ``end`` (excluded)."""
        async with self._store.transaction() as tx:
            rows = await tx.execute(SELECT_CHANGES, (seconds(start), seconds(start), seconds(end)))
        return [
            SignalChange(start=moment(start_s), kind=SignalKind(kind), balance_w=float(balance))
            for start_s, kind, balance in rows
        ]
