"""The events a webhook may want, recorded in the transaction of the change they tell of.

An event is written with the change (``emit`` takes the change's transaction), and with it a
pending delivery for each webhook that wants its type: a change that is rolled back tells
nothing, and a change that is committed is told, even if the service stops right after.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
import json
import time
from typing import Any
import uuid

from ioe_aggregator.store import Transaction


class EventType(StrEnum):
    """What a webhook may be told of."""

    MONTH_CLOSED = "month.closed"
    AGREEMENT_ADOPTED = "agreement.adopted"
    MEMBER_JOINED = "member.joined"
    MEMBER_LEFT = "member.left"
    DATADIS_SYNC_FAILED = "datadis.sync_failed"
    # Sent to one webhook when the manager asks (``Webhooks.ping``): never subscribed to.
    PING = "webhook.ping"


SUBSCRIBABLE = tuple(kind for kind in EventType if kind is not EventType.PING)
INSERT_EVENT = "INSERT INTO webhook_events (id, at_us, type, data) VALUES (?, ?, ?, ?)"
SELECT_EVENT = "SELECT id FROM webhook_events WHERE id = ?"
SELECT_HOOKS = "SELECT id, events FROM webhooks"
INSERT_DELIVERY = """INSERT INTO webhook_deliveries
    (webhook, event, at_us, state, attempts, next_s) VALUES (?, ?, ?, 'pending', 0, ?)"""


def new_id() -> str:
    """Return a new event id (the ``webhook-id`` its deliveries carry)."""
    return f"evt_{uuid.uuid4().hex}"


async def emit(
    tx: Transaction, kind: EventType, data: Mapping[str, Any], *, only: str | None = None
) -> str:
    """Record an event within ``tx`` and a delivery for each webhook that wants it.

    ``only``: that webhook alone, whatever it subscribed to. Return the event's id.
    """
    return await _record(tx, new_id(), kind, data, only=only)


async def emit_once(
    tx: Transaction, kind: EventType, data: Mapping[str, Any], *, event_id: str
) -> bool:
    """Record an event under ``event_id`` unless one is (return whether it was recorded now).

    For an event that must be told once whatever runs it again: a month closing.
    """
    if await tx.execute(SELECT_EVENT, (event_id,)):
        return False
    await _record(tx, event_id, kind, data, only=None)
    return True


async def _record(
    tx: Transaction, event: str, kind: EventType, data: Mapping[str, Any], *, only: str | None
) -> str:
    at_us = time.time_ns() // 1000
    await tx.execute(INSERT_EVENT, (event, at_us, kind.value, json.dumps(dict(data))))
    hooks = [
        hook
        for hook, wanted in await tx.execute(SELECT_HOOKS)
        if hook == only or (only is None and kind.value in json.loads(wanted))
    ]
    await tx.executemany(
        INSERT_DELIVERY, [(hook, event, at_us, at_us // 1_000_000) for hook in hooks]
    )
    return event
