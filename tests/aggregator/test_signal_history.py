"""The signal's history in the store, on SQLite and PostgreSQL: changes of kind only, a year kept.

(The publisher writing it as the real service computes the signal: test_control_api.py.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ioe_aggregator.protocol.messages import SignalKind
from ioe_aggregator.results.signal_history import KEEP, SignalChange, SignalHistory
from ioe_aggregator.store import Store

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


async def test_only_a_change_of_kind_is_written(store: Store) -> None:
    history = SignalHistory(store)
    minutes = [SignalKind.NORMAL, SignalKind.NORMAL, SignalKind.SURPLUS, SignalKind.SURPLUS]
    minutes += [SignalKind.NORMAL, SignalKind.DEFICIT]

    written = [
        await history.record(T0 + i * MINUTE, kind, balance_w=100.0 * i)
        for i, kind in enumerate(minutes)
    ]

    assert written == [True, False, True, False, True, True]
    assert await history.changes(T0, T0 + timedelta(days=1)) == [
        SignalChange(start=T0, kind=SignalKind.NORMAL, balance_w=0.0),
        SignalChange(start=T0 + 2 * MINUTE, kind=SignalKind.SURPLUS, balance_w=200.0),
        SignalChange(start=T0 + 4 * MINUTE, kind=SignalKind.NORMAL, balance_w=400.0),
        SignalChange(start=T0 + 5 * MINUTE, kind=SignalKind.DEFICIT, balance_w=500.0),
    ]
    # A range starts with the kind in force then; a later start of the service writes again.
    assert [c.start for c in await history.changes(T0 + 3 * MINUTE, T0 + 5 * MINUTE)] == [
        T0 + 2 * MINUTE,
        T0 + 4 * MINUTE,
    ]
    # Of two changes within a second, the later stands.
    await history.record(T0 + 5 * MINUTE, SignalKind.SURPLUS, balance_w=700.0)
    assert (await history.changes(T0 + 5 * MINUTE, T0 + 6 * MINUTE))[-1] == SignalChange(
        start=T0 + 5 * MINUTE, kind=SignalKind.SURPLUS, balance_w=700.0
    )
    restarted = SignalHistory(store)
    assert await restarted.record(T0 + 9 * MINUTE, SignalKind.DEFICIT, balance_w=-800.0)
    assert len(await restarted.changes(T0, T0 + timedelta(days=1))) == 5


async def test_changes_older_than_kept_go(store: Store) -> None:
    history = SignalHistory(store)
    await history.record(T0, SignalKind.SURPLUS, balance_w=900.0)
    await history.record(T0 + timedelta(days=1), SignalKind.NORMAL, balance_w=0.0)

    await history.record(T0 + KEEP + timedelta(hours=1), SignalKind.DEFICIT, balance_w=-600.0)

    found = await history.changes(T0 - timedelta(days=1), T0 + 2 * KEEP)
    assert [(c.start, c.kind) for c in found] == [
        (T0 + timedelta(days=1), SignalKind.NORMAL),
        (T0 + KEEP + timedelta(hours=1), SignalKind.DEFICIT),
    ]
