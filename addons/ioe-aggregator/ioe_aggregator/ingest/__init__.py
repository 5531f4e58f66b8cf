"""Readings in: decode, check the sender, store, then acknowledge.

The same steps serve the broker (``ingest/mqtt.py``) and ``POST /api/v1/readings``. Batches
are decoded as they arrive and written by one writer task, which stores whatever has queued
up in one transaction (a group commit: one disk flush for many batches) and only then lets
each batch be acknowledged. Nothing here raises past a refused message: each refusal is
counted by kind and logged with its reason, and the caller goes on with the next message.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
import logging
from typing import Any

from ioe_aggregator.members.registry import Registry
from ioe_aggregator.protocol import (
    MessageKind,
    ProtocolError,
    ReadingsBatch,
    decode_readings,
    encode,
)
from ioe_aggregator.results import Live
from ioe_aggregator.store import BatchOutcome, Store, StoreError

_LOGGER = logging.getLogger(__name__)
# Refusals that are not protocol rules: the sender is not an active member, or the database
# could not take the batch (then the home sends it again later).
UNKNOWN_MEMBER = "unknown_member"
STORE_FAILED = "store_failed"
# At most this many readings in one transaction (a day of a dozen meters is ~7,000).
MAX_GROUP_READINGS = 20_000


class Refused(Exception):
    """A batch was not stored (and must not be acknowledged); ``kind`` says why."""

    def __init__(self, kind: str, message: str) -> None:
        """Keep the counter's kind with the readable reason."""
        super().__init__(message)
        self.kind = kind


@dataclass
class IngestCounters:
    """What the ingest has done since the service started (reported by /api/health)."""

    batches: int = 0
    readings_new: int = 0
    readings_changed: int = 0
    readings_unchanged: int = 0
    refused: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """Return the counters as JSON-ready data."""
        return {
            "batches": self.batches,
            "readings_new": self.readings_new,
            "readings_changed": self.readings_changed,
            "readings_unchanged": self.readings_unchanged,
            "refused": dict(sorted(self.refused.items())),
        }


@dataclass(frozen=True)
class _Pending:
    batch: ReadingsBatch
    via: str
    done: asyncio.Future[bytes]


def ack_message(batch: ReadingsBatch, outcome: BatchOutcome) -> dict[str, Any]:
    """Return the acknowledgement of a stored batch (``ack.v1.json``)."""
    return {"schema": "ioe.ack.v1", "batches": [batch.batch], "stored": outcome.stored}


class Ingest:
    """Stores readings batches for one community; ``run`` is its writer task."""

    def __init__(self, store: Store, registry: Registry) -> None:
        """Work on the service's store; the registry says who may send."""
        self._store = store
        self._registry = registry
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self.counters = IngestCounters()
        # Each member's latest live report (power now), for the community's state.
        self.live: dict[str, Live] = {}

    async def receive(self, member: str, payload: bytes, *, via: str) -> bytes:
        """Store a batch ``member`` sent; return the acknowledgement once it is committed.

        Raises Refused (already counted and logged) when the batch is not stored.
        """
        try:
            batch = decode_readings(payload, member)
        except ProtocolError as err:
            raise self._refuse(err.rejection.value, member, via, str(err)) from err
        done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(batch, via, done))
        return await done

    async def run(self) -> None:
        """Write queued batches, a group per transaction, until cancelled."""
        while True:
            group = [await self._queue.get()]
            readings = len(group[0].batch.readings)
            while not self._queue.empty() and readings < MAX_GROUP_READINGS:
                group.append(self._queue.get_nowait())
                readings += len(group[-1].batch.readings)
            await self._write(group)

    async def _write(self, group: list[_Pending]) -> None:
        try:
            active = await self._registry.active_members()
            accepted = [p for p in group if p.batch.member in active]
            outcomes = await self._store.store_batches([p.batch for p in accepted])
        except StoreError as err:
            if len(group) > 1:
                # One bad batch must not keep the others out: try each on its own.
                for pending in group:
                    await self._write([pending])
                return
            pending = group[0]
            pending.done.set_exception(
                self._refuse(STORE_FAILED, pending.batch.member, pending.via, str(err))
            )
            return
        for pending in group:
            if pending.batch.member not in active:
                pending.done.set_exception(
                    self._refuse(
                        UNKNOWN_MEMBER, pending.batch.member, pending.via, "not an active member"
                    )
                )
        for pending, outcome in zip(accepted, outcomes, strict=True):
            self._count(pending.batch, outcome)
            if pending.batch.live is not None:
                live = Live.of(pending.batch.live)
                known = self.live.get(pending.batch.member)
                if known is None or known.ts <= live.ts:
                    self.live[pending.batch.member] = live
            pending.done.set_result(encode(ack_message(pending.batch, outcome), MessageKind.ACK))

    def _count(self, batch: ReadingsBatch, outcome: BatchOutcome) -> None:
        counters = self.counters
        counters.batches += 1
        counters.readings_new += outcome.new
        counters.readings_changed += outcome.changed
        counters.readings_unchanged += outcome.unchanged
        if outcome.changed:
            _LOGGER.info(
                "Batch %s of %s replaced %s stored readings with new values",
                batch.batch,
                batch.member,
                outcome.changed,
            )

    def _refuse(self, kind: str, member: str, via: str, reason: str) -> Refused:
        self.counters.refused[kind] += 1
        _LOGGER.warning("Refused a readings batch from %s (%s, %s): %s", member, via, kind, reason)
        return Refused(kind, reason)
