"""Readings in: decode, check the sender, store in one transaction, then acknowledge.

The same steps serve the broker (``ingest/mqtt.py``) and ``POST /api/v1/readings``. Nothing
here raises past a refused message: each refusal is counted by kind and logged with its
reason, and the caller goes on with the next message.
"""

from __future__ import annotations

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
from ioe_aggregator.store import BatchOutcome, Store, StoreError

_LOGGER = logging.getLogger(__name__)
# Refusals that are not protocol rules: the sender is not an active member, or the database
# could not take the batch (then the home sends it again later).
UNKNOWN_MEMBER = "unknown_member"
STORE_FAILED = "store_failed"


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


def ack_message(batch: ReadingsBatch, outcome: BatchOutcome) -> dict[str, Any]:
    """Return the acknowledgement of a stored batch (``ack.v1.json``)."""
    return {"schema": "ioe.ack.v1", "batches": [batch.batch], "stored": outcome.stored}


class Ingest:
    """Stores readings batches for one community."""

    def __init__(self, store: Store, registry: Registry) -> None:
        """Work on the service's store; the registry says who may send."""
        self._store = store
        self._registry = registry
        self.counters = IngestCounters()

    async def receive(self, member: str, payload: bytes, *, via: str) -> bytes:
        """Store a batch ``member`` sent; return the acknowledgement to send back.

        Raises Refused (already counted and logged) when the batch is not stored.
        """
        try:
            batch = decode_readings(payload, member)
        except ProtocolError as err:
            raise self._refuse(err.rejection.value, member, via, str(err)) from err
        try:
            if not await self._registry.is_active(member):
                raise self._refuse(UNKNOWN_MEMBER, member, via, "not an active member")
            outcome = await self._store.store_batch(batch)
        except StoreError as err:
            raise self._refuse(STORE_FAILED, member, via, str(err)) from err
        counters = self.counters
        counters.batches += 1
        counters.readings_new += outcome.new
        counters.readings_changed += outcome.changed
        counters.readings_unchanged += outcome.unchanged
        if outcome.changed:
            _LOGGER.info(
                "Batch %s of %s replaced %s stored readings with new values",
                batch.batch,
                member,
                outcome.changed,
            )
        return encode(ack_message(batch, outcome), MessageKind.ACK)

    def _refuse(self, kind: str, member: str, via: str, reason: str) -> Refused:
        self.counters.refused[kind] += 1
        _LOGGER.warning("Refused a readings batch from %s (%s, %s): %s", member, via, kind, reason)
        return Refused(kind, reason)
