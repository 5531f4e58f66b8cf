"""Delivering events: signed as Standard Webhooks are, retried with backoff, in order.

Each delivery is an HTTP POST of the event as JSON (``{"type", "timestamp", "community",
"data"}``) with the Standard Webhooks headers: ``webhook-id`` (the event's id: the same on
every attempt, so that a receiver can tell a retry from a new event), ``webhook-timestamp``
(Unix seconds of the attempt) and ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256,
keyed by the webhook's secret (the base64 after ``whsec_``), of ``{id}.{timestamp}.{body}``.

A 2xx answer delivers it. Anything else (another status, no answer in ``TIMEOUT``, no
connection) is tried again after ``first_retry_s``, then twice as long each time up to
``RETRY_CAP``; after ``GIVE_UP`` it is failed (the manager may replay it). A webhook's
deliveries go one at a time in the order of their events: a receiver that was down gets
what it missed, in order, once it answers again (within ``RETRY_CAP``). Every attempt is
logged with the receiver's address (never its path or query) and kept on the delivery.

The same task says when a local month has ended (``month.closed``, once per month).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import hashlib
import hmac
import json
import logging
import time
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import aiohttp

from ioe_aggregator import __version__
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.replicas import NotLeading, Replicas
from ioe_aggregator.store import Store, StoreError
from ioe_aggregator.webhooks.events import EventType, emit_once
from ioe_aggregator.webhooks.subscriptions import SECRET_PREFIX

_LOGGER = logging.getLogger(__name__)

TIMEOUT: Final = aiohttp.ClientTimeout(total=15, sock_connect=5)
RETRY_CAP: Final = timedelta(minutes=10)
GIVE_UP: Final = timedelta(days=3)
# How often pending deliveries and the month's end are looked at, at least.
POLL_S: Final = 2.0
MAX_ERROR: Final = 200

SELECT_PENDING = """SELECT d.webhook, d.event, d.attempts, d.next_s, d.at_us, e.type, e.data,
    w.url, w.secret FROM webhook_deliveries d
    JOIN webhook_events e ON e.id = d.event JOIN webhooks w ON w.id = d.webhook
    WHERE d.state = 'pending' ORDER BY d.webhook, d.at_us, d.event"""
DELIVERED = """UPDATE webhook_deliveries SET state = 'delivered', attempts = ?, last_s = ?,
    last_status = ?, last_error = NULL, next_s = NULL, delivered_s = ?
    WHERE webhook = ? AND event = ?"""
RETRY = """UPDATE webhook_deliveries SET attempts = ?, last_s = ?, last_status = ?,
    last_error = ?, next_s = ? WHERE webhook = ? AND event = ?"""
FAILED = """UPDATE webhook_deliveries SET state = 'failed', attempts = ?, last_s = ?,
    last_status = ?, last_error = ?, next_s = NULL WHERE webhook = ? AND event = ?"""


def signature(secret: str, event: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` of a body sent as ``event`` at ``timestamp``."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{event}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def retry_delay(attempts: int, first_retry_s: float) -> float:
    """Return how long to wait after the ``attempts``-th failed attempt (seconds)."""
    return min(first_retry_s * 2 ** (attempts - 1), RETRY_CAP.total_seconds())


@dataclass(frozen=True, kw_only=True)
class _Pending:
    webhook: str
    event: str
    attempts: int
    next_s: int
    at_us: int
    kind: str
    data: str
    url: str
    secret: str


def _address(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Dispatcher:
    """Delivers one community's events to its webhooks (see the module)."""

    def __init__(
        self,
        store: Store,
        *,
        community: str,
        zone: ZoneInfo,
        replicas: Replicas,
        first_retry_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Work on the service's store; ``clock`` gives the time (Unix seconds).

        Deliveries are sent in the leader's term only (``Replicas.fence``): a replica that lost
        its lead while it waited sends nothing the next leader sends too.
        """
        self._store = store
        self._replicas = replicas
        self._community = community
        self._zone = zone
        self._first_retry_s = first_retry_s
        self._clock = clock

    async def run(self) -> None:
        """Deliver and close months until cancelled; the database away only delays them."""
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            while True:
                try:
                    await self.close_month()
                    wait = await self.deliver_due(session)
                except StoreError as err:
                    _LOGGER.warning("Webhooks: waiting for the database: %s", err)
                    wait = POLL_S
                await asyncio.sleep(min(wait, POLL_S))

    async def close_month(self) -> bool:
        """Tell of the local month before this one, once; return whether it was told now."""
        today = datetime.fromtimestamp(self._clock(), self._zone).date()
        ended = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        async with self._store.transaction() as tx:
            told = await emit_once(
                tx,
                EventType.MONTH_CLOSED,
                {"month": f"{ended:%Y-%m}", "billing": f"/api/v1/billing/{ended:%Y-%m}"},
                event_id=f"evt_month_closed_{ended:%Y_%m}",
            )
        if told:
            _LOGGER.info("Month %s closed: told the webhooks that want it", f"{ended:%Y-%m}")
        return told

    async def deliver_due(self, session: aiohttp.ClientSession) -> float:
        """Send each webhook's first pending delivery if it is due; return seconds to the next.

        Deliveries to different webhooks go at once; to one webhook, one at a time in order.
        """
        try:
            async with self._store.transaction() as tx:
                await self._replicas.fence(tx)
                rows = await tx.execute(SELECT_PENDING)
        except NotLeading as err:
            _LOGGER.warning("Webhooks: nothing delivered: %s", err)
            return POLL_S
        heads: dict[str, _Pending] = {}
        for row in rows:
            heads.setdefault(
                row[0], _Pending(**dict(zip(_Pending.__annotations__, row, strict=True)))
            )
        now = self._clock()
        due = [head for head in heads.values() if head.next_s <= now]
        await asyncio.gather(*(self._deliver(session, head) for head in due))
        later = [head.next_s for head in heads.values() if head.next_s > now]
        return max(min(later) - now, 0.0) if later and not due else (0.0 if due else POLL_S)

    def _body(self, pending: _Pending) -> bytes:
        created = datetime.fromtimestamp(pending.at_us / 1_000_000, UTC)
        envelope: dict[str, Any] = {
            "type": pending.kind,
            "timestamp": utc_text(created),
            "community": self._community,
            "data": json.loads(pending.data),
        }
        return json.dumps(envelope, ensure_ascii=False).encode()

    async def _deliver(self, session: aiohttp.ClientSession, pending: _Pending) -> None:
        body = self._body(pending)
        sent = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"ioe-aggregator/{__version__}",
            "webhook-id": pending.event,
            "webhook-timestamp": str(sent),
            "webhook-signature": signature(pending.secret, pending.event, sent, body),
        }
        status: int | None = None
        error: str | None = None
        try:
            async with session.post(pending.url, data=body, headers=headers) as answer:
                status = answer.status
                if not 200 <= status < 300:
                    error = f"answered {status} {answer.reason or ''}".strip()
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            error = (str(err) or type(err).__name__)[:MAX_ERROR]
        attempts = pending.attempts + 1
        where = (
            f"webhook {pending.webhook}: {pending.event} ({pending.kind}) "
            f"to {_address(pending.url)}"
        )
        async with self._store.transaction() as tx:
            if error is None:
                await tx.execute(
                    DELIVERED, (attempts, sent, status, sent, pending.webhook, pending.event)
                )
                _LOGGER.info("%s delivered (%s) at attempt %d", where, status, attempts)
                return
            age = sent - pending.at_us / 1_000_000
            if age >= GIVE_UP.total_seconds():
                await tx.execute(
                    FAILED, (attempts, sent, status, error, pending.webhook, pending.event)
                )
                _LOGGER.error(
                    "%s failed for good after %d attempts (%s); replay it from the control "
                    "centre once the receiver answers",
                    where,
                    attempts,
                    error,
                )
                return
            delay = retry_delay(attempts, self._first_retry_s)
            await tx.execute(
                RETRY,
                (attempts, sent, status, error, int(sent + delay), pending.webhook, pending.event),
            )
        _LOGGER.warning(
            "%s not delivered (%s); attempt %d, again in %.0f s", where, error, attempts, delay
        )
