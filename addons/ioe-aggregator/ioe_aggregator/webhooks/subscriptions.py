"""The webhooks a manager registers, and what was delivered to each.

A webhook is a URL, the event types it wants and a signing secret (``whsec_`` and 24 random
bytes in base64, as Standard Webhooks write it), shown once when it is made and kept to sign
(an HMAC needs it in clear; no list or page shows it). Removing a webhook removes its
deliveries. A delivery may be replayed: sent once more, at once, whatever happened to it.
Every change is audited.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
import json
import secrets
import time
from typing import Any, Final
from urllib.parse import urlsplit
import uuid

from ioe_aggregator import audit
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.store import Store, Transaction
from ioe_aggregator.webhooks.events import SUBSCRIBABLE, EventType, emit

MAX_URL: Final = 2000
MAX_DESCRIPTION: Final = 200
MAX_WEBHOOKS: Final = 20
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SELECT_ALL = "SELECT id, url, events, description, created_s, created_by FROM webhooks ORDER BY id"
SELECT_ONE = "SELECT id, url, events, description, created_s, created_by FROM webhooks WHERE id = ?"
INSERT = """INSERT INTO webhooks (id, url, events, secret, description, created_s, created_by)
    VALUES (?, ?, ?, ?, ?, ?, ?)"""
DELETE = "DELETE FROM webhooks WHERE id = ?"
DELETE_DELIVERIES = "DELETE FROM webhook_deliveries WHERE webhook = ?"
COUNTS = "SELECT state, COUNT(*) FROM webhook_deliveries WHERE webhook = ? GROUP BY state"
SELECT_DELIVERIES = """SELECT d.event, e.type, d.at_us, d.state, d.attempts, d.next_s, d.last_s,
    d.last_status, d.last_error, d.delivered_s FROM webhook_deliveries d
    JOIN webhook_events e ON e.id = d.event WHERE d.webhook = ?
    ORDER BY d.at_us DESC, d.event DESC LIMIT ?"""
SELECT_DELIVERY = "SELECT state FROM webhook_deliveries WHERE webhook = ? AND event = ?"
REPLAY = """UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_s = ?,
    last_error = NULL WHERE webhook = ? AND event = ?"""


@dataclass(frozen=True, kw_only=True)
class Webhook:
    """A webhook as stored (never its secret)."""

    id: str
    url: str
    events: tuple[str, ...]
    description: str
    created: datetime
    created_by: str

    def as_dict(self) -> dict[str, Any]:
        """Return the webhook as the API gives it."""
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "description": self.description,
            "created": utc_text(self.created),
            "created_by": self.created_by,
        }


def _webhook(row: Sequence[Any]) -> Webhook:
    hook_id, url, events, description, created_s, created_by = row
    return Webhook(
        id=hook_id,
        url=url,
        events=tuple(json.loads(events)),
        description=description,
        created=datetime.fromtimestamp(int(created_s), UTC),
        created_by=created_by,
    )


def _checked(url: str, events: Sequence[str], description: str) -> list[str]:
    """Return what is wrong with a new webhook (nothing: an empty list)."""
    problems = []
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL:
        problems.append(f"url: expected an http:// or https:// address of at most {MAX_URL}")
    if parts.username or parts.password:
        problems.append("url: no user or password in the address; the signature authenticates")
    if not events:
        problems.append("events: choose at least one")
    if unknown := sorted(set(events) - set(SUBSCRIBABLE)):
        problems.append(
            f"events: {', '.join(unknown)} unknown; choose from {', '.join(SUBSCRIBABLE)}"
        )
    if len(description) > MAX_DESCRIPTION:
        problems.append(f"description: at most {MAX_DESCRIPTION} characters")
    return problems


def _moment(seconds: int | None) -> str | None:
    return None if seconds is None else utc_text(datetime.fromtimestamp(int(seconds), UTC))


class Webhooks:
    """The webhooks of one community, in its store."""

    def __init__(self, store: Store) -> None:
        """Work on the service's store."""
        self._store = store

    async def add(
        self, url: str, events: Sequence[str], description: str, *, actor: str
    ) -> tuple[Webhook, str]:
        """Register a webhook; return it and its signing secret (shown this once)."""
        if problems := _checked(url, events, description):
            raise Refused(Kind.INVALID, "; ".join(problems), code="bad_webhook")
        secret = SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()
        hook = Webhook(
            id=f"wh-{uuid.uuid4().hex[:10]}",
            url=url,
            events=tuple(sorted(set(events))),
            description=description.strip(),
            created=datetime.fromtimestamp(int(time.time()), UTC),
            created_by=actor,
        )
        async with self._store.transaction() as tx:
            if len(await tx.execute(SELECT_ALL)) >= MAX_WEBHOOKS:
                raise Refused(Kind.CONFLICT, f"at most {MAX_WEBHOOKS} webhooks", code="too_many")
            await tx.execute(
                INSERT,
                (
                    hook.id,
                    hook.url,
                    json.dumps(list(hook.events)),
                    secret,
                    hook.description,
                    int(hook.created.timestamp()),
                    actor,
                ),
            )
            await audit.record(
                tx,
                actor,
                audit.Action.WEBHOOK_ADDED,
                hook.id,
                {"url": _host(hook.url), "events": list(hook.events)},
            )
        return hook, secret

    async def all(self) -> list[dict[str, Any]]:
        """Return every webhook with how many of its deliveries are in each state."""
        async with self._store.transaction() as tx:
            hooks = [_webhook(row) for row in await tx.execute(SELECT_ALL)]
            found = []
            for hook in hooks:
                counts: dict[str, int] = {
                    state: int(count) for state, count in await tx.execute(COUNTS, (hook.id,))
                }
                found.append(
                    hook.as_dict()
                    | {
                        state: int(counts.get(state, 0))
                        for state in ("pending", "delivered", "failed")
                    }
                )
        return found

    async def remove(self, hook_id: str, *, actor: str) -> Webhook:
        """Remove a webhook and its deliveries."""
        async with self._store.transaction() as tx:
            hook = await _get(tx, hook_id)
            await tx.execute(DELETE_DELIVERIES, (hook_id,))
            await tx.execute(DELETE, (hook_id,))
            await audit.record(tx, actor, audit.Action.WEBHOOK_REMOVED, hook_id)
        return hook

    async def deliveries(self, hook_id: str, *, limit: int) -> list[dict[str, Any]]:
        """Return a webhook's latest deliveries, newest first."""
        async with self._store.transaction() as tx:
            await _get(tx, hook_id)
            rows = await tx.execute(SELECT_DELIVERIES, (hook_id, limit))
        return [
            {
                "event": event,
                "type": kind,
                "created": utc_text(datetime.fromtimestamp(at_us / 1_000_000, UTC)),
                "state": state,
                "attempts": attempts,
                "next_attempt": _moment(next_s) if state == "pending" else None,
                "last_attempt": _moment(last_s),
                "last_status": last_status,
                "last_error": last_error,
                "delivered": _moment(delivered_s),
            }
            for (
                event,
                kind,
                at_us,
                state,
                attempts,
                next_s,
                last_s,
                last_status,
                last_error,
                delivered_s,
            ) in rows
        ]

    async def replay(self, hook_id: str, event: str, *, actor: str) -> None:
        """Send a delivery once more, at once (after the webhook's earlier pending ones)."""
        async with self._store.transaction() as tx:
            await _get(tx, hook_id)
            if not await tx.execute(SELECT_DELIVERY, (hook_id, event)):
                raise Refused(Kind.NOT_FOUND, f"no delivery of {event} to webhook {hook_id}")
            await tx.execute(REPLAY, (int(time.time()), hook_id, event))
            await audit.record(tx, actor, audit.Action.WEBHOOK_REPLAYED, hook_id, {"event": event})

    async def ping(self, hook_id: str) -> str:
        """Send the webhook a ``webhook.ping`` event; return the event's id."""
        async with self._store.transaction() as tx:
            hook = await _get(tx, hook_id)
            return await emit(tx, EventType.PING, {"webhook": hook.id}, only=hook.id)


def _host(url: str) -> str:
    """Return an address without its path and query (where secrets of a receiver may be)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def _get(tx: Transaction, hook_id: str) -> Webhook:
    rows = await tx.execute(SELECT_ONE, (hook_id,))
    if not rows:
        raise Refused(Kind.NOT_FOUND, f"no webhook {hook_id!r}")
    return _webhook(rows[0])
