"""Readings in: decode, check the sender, store, then acknowledge.

The same steps serve the broker (``mqtt.py``) and ``POST /api/v1/readings``. Batches are
decoded as they arrive and written by one writer task, which stores whatever has queued up in
one transaction (a group commit: one disk flush for many batches) and only then lets each
batch be acknowledged; what a member's meters cannot have measured is left out first
(``plausibility.py``). Nothing here raises past a refused message: each refusal is counted by
kind and logged with its reason, and the caller goes on with the next message.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import logging
import time
from typing import Any

from ioe_aggregator.ingest.plausibility import believable, live_problem, window_problem
from ioe_aggregator.members.registry import MemberLimits, Registry
from ioe_aggregator.protocol.codec import (
    Live,
    ProtocolError,
    ReadingsBatch,
    decode_readings,
    encode,
)
from ioe_aggregator.protocol.messages import Ack, as_json, utc_text
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.replicas import Replicas
from ioe_aggregator.store import BatchOutcome, Store, StoreError

_LOGGER = logging.getLogger(__name__)
# The replicas' message with a live report one of them took.
LIVE = "live"
# Refusals that are not protocol rules: the sender is not an active member, its readings lie
# outside the times it can have measured, its data would pass its quota, or the database could
# not take the batch (then the home sends it again later).
UNKNOWN_MEMBER = "unknown_member"
TIME_WINDOW = "time_window"
QUOTA = "quota"
STORE_FAILED = "store_failed"
RATE_LIMITED = "rate_limited"
# A member may send a minute's allowance of batches at once (a backlog after an outage),
# then at its rate.
BURST_S = 60.0
# At most this many readings in one transaction (a day of a dozen meters is ~7,000).
MAX_GROUP_READINGS = 20_000
# Refusals logged per member and minute; the rest are counted only (a member sending garbage
# at the broker's speed must not flood the log).
REFUSAL_LOGS_PER_MINUTE = 10
MAX_REASON_CHARS = 300
# The refusals that are not the sender's mistake in the message itself; the rest are invalid.
_REFUSAL_KINDS = {
    UNKNOWN_MEMBER: Kind.FORBIDDEN,
    QUOTA: Kind.QUOTA,
    STORE_FAILED: Kind.UNAVAILABLE,
    RATE_LIMITED: Kind.TOO_MANY,
}


class BatchRates:
    """Each member's allowance of batches: ``per_s`` on average, ``BURST_S`` of it at once.

    A token bucket per member, checked before a message is even decoded: one member sending as
    fast as the broker lets it costs the others nothing but the broker's own work. What it
    sends beyond is refused unacknowledged: a home sends it again, later.
    """

    def __init__(self, per_s: float) -> None:
        """Allow ``per_s`` batches a second to each member."""
        self.per_s = per_s
        self._burst = per_s * BURST_S
        self._levels: dict[str, tuple[float, float]] = {}

    def take(self, member: str, now: float) -> bool:
        """Take one batch of ``member``'s allowance at ``now`` (monotonic s); False if none."""
        level, at = self._levels.get(member, (self._burst, now))
        level = min(self._burst, level + (now - at) * self.per_s)
        if level < 1:
            self._levels[member] = (level, now)
            return False
        self._levels[member] = (level - 1, now)
        return True


@dataclass(frozen=True, kw_only=True)
class WriteOutcome:
    """How the writer's last transaction went, as /api/health reports it."""

    at: datetime
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the outcome as JSON-ready data."""
        return {"at": utc_text(self.at), "ok": self.error is None, "error": self.error}


@dataclass
class IngestCounters:
    """What the ingest has done since the service started (reported by /api/health)."""

    batches: int = 0
    readings_new: int = 0
    readings_changed: int = 0
    readings_unchanged: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    # Readings left out of a stored batch, and live reports left out of the community's
    # figures (the batch itself was stored), by reason.
    readings_refused: Counter[str] = field(default_factory=Counter)
    live_refused: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """Return the counters as JSON-ready data."""
        return {
            "batches": self.batches,
            "readings_new": self.readings_new,
            "readings_changed": self.readings_changed,
            "readings_unchanged": self.readings_unchanged,
            "refused": dict(sorted(self.refused.items())),
            "readings_refused": dict(sorted(self.readings_refused.items())),
            "live_refused": dict(sorted(self.live_refused.items())),
        }


@dataclass(frozen=True)
class _Pending:
    batch: ReadingsBatch
    via: str
    done: asyncio.Future[bytes]


def ack_message(batch: ReadingsBatch, outcome: BatchOutcome) -> Ack:
    """Return the acknowledgement of a stored batch."""
    return Ack(batches=(batch.batch,), stored=outcome.stored)


class Ingest:
    """Stores readings batches for one community; ``run`` is its writer task."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        quota_rows: int | None,
        batches_per_s: float,
        replicas: Replicas,
    ) -> None:
        """Work on the service's store; the registry says who may send, and within what.

        The live reports this replica takes are told to the others (each stores only the
        batches the broker hands it), and theirs taken here (``LIVE``).
        """
        self._store = store
        self._registry = registry
        self._quota_rows = quota_rows
        self._rates = BatchRates(batches_per_s)
        self._replicas = replicas
        replicas.on(LIVE, self._peer_live)
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self.counters = IngestCounters()
        # Each active member's latest believable live report (power now), for the community.
        self.live: dict[str, Live] = {}
        self.last_write: WriteOutcome | None = None
        # Refusals logged this minute, by member (see REFUSAL_LOGS_PER_MINUTE).
        self._logged: dict[tuple[str, int], int] = {}

    async def receive(self, member: str, payload: bytes, *, via: str) -> bytes:
        """Store a batch ``member`` sent; return the acknowledgement once it is committed.

        Raises Refused (already counted and logged) when the batch is not stored.
        """
        if not self._rates.take(member, time.monotonic()):
            raise self._refuse(
                RATE_LIMITED,
                member,
                via,
                f"more than {self._rates.per_s:g} batches a second: send it again later",
            )
        try:
            batch = decode_readings(payload, member)
        except ProtocolError as err:
            raise self._refuse(err.rejection.value, member, via, str(err)) from err
        done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(batch, via, done))
        return await done

    async def run(self) -> None:
        """Write queued batches, a group per transaction, until cancelled.

        Whatever goes wrong with a group costs that group (its homes send it again), never
        the writer: every other member's batches go on being stored.
        """
        while True:
            group = [await self._queue.get()]
            readings = len(group[0].batch.readings)
            while not self._queue.empty() and readings < MAX_GROUP_READINGS:
                group.append(self._queue.get_nowait())
                readings += len(group[-1].batch.readings)
            try:
                await self._write(group)
            except Exception as err:
                _LOGGER.exception("Storing a group of %s batches failed", len(group))
                self._wrote(f"{type(err).__name__}: {err}")
                for pending in group:
                    self._reject(pending, STORE_FAILED, "internal error")

    async def _write(self, group: list[_Pending]) -> None:
        now = datetime.now(UTC)
        try:
            members = await self._registry.active_members()
        except StoreError as err:
            self._failed(group, str(err))
            return
        accepted = self._admit(group, members, now)
        batches = [batch for _pending, batch in accepted]
        try:
            outcomes = await self._store.store_batches(batches, quota_rows=self._quota_rows)
        except StoreError as err:
            if len(accepted) > 1:
                # One bad batch must not keep the others out: try each on its own.
                for pending, _batch in accepted:
                    await self._write([pending])
                return
            self._failed([pending for pending, _batch in accepted], str(err))
            return
        if any(batch.readings for batch in batches):
            self._wrote(None)  # a write that tells: live reports alone write nothing
        for stale in set(self.live) - set(members):
            del self.live[stale]  # revoked: its last report counts no more
        for (pending, batch), outcome in zip(accepted, outcomes, strict=True):
            if outcome.over_quota:
                self._reject(
                    pending, QUOTA, f"its data would take more than {self._quota_rows} rows"
                )
                continue
            self._count(batch, outcome)
            if (live := batch.live) is not None:
                self._take_live(batch, live, members[batch.member], now)
            if not pending.done.done():  # its sender may have given up (a shutdown)
                ack = ack_message(batch, outcome)
                pending.done.set_result(encode(as_json(ack), ack.KIND))

    def _admit(
        self, group: list[_Pending], members: dict[str, MemberLimits], now: datetime
    ) -> list[tuple[_Pending, ReadingsBatch]]:
        """Return each active member's batch within its time window, believable readings only.

        The others are refused.
        """
        accepted = []
        for pending in group:
            member = pending.batch.member
            if (limits := members.get(member)) is None:
                self._reject(pending, UNKNOWN_MEMBER, "not an active member")
            elif (problem := window_problem(pending.batch, limits, now)) is not None:
                self._reject(pending, TIME_WINDOW, problem)
            else:
                batch, left_out = believable(pending.batch, limits)
                if left_out:
                    self.counters.readings_refused["implausible"] += len(left_out)
                    self._log_refusal(
                        member,
                        "Left %s readings out of batch %s of %s: %s",
                        len(left_out),
                        batch.batch,
                        member,
                        "; ".join(left_out),
                    )
                accepted.append((pending, batch))
        return accepted

    def _take_live(
        self, batch: ReadingsBatch, live: Live, limits: MemberLimits, now: datetime
    ) -> None:
        if limits.plant_kw == 0 and "plant_w" in live.powers:
            # A plant the manager has not registered: its generation is not the community's.
            live = Live(ts=live.ts, powers={k: v for k, v in live.powers.items() if k != "plant_w"})
        if (problem := live_problem(live, limits, now)) is not None:
            self.counters.live_refused["implausible"] += 1
            self._log_refusal(
                batch.member,
                "Left out the live report of %s (batch %s): %s",
                batch.member,
                batch.batch,
                problem,
            )
            return
        if self._newest(batch.member, live):
            self._replicas.tell(
                LIVE, {"member": batch.member, "ts": live.ts.isoformat(), "powers": live.powers}
            )

    def _newest(self, member: str, live: Live) -> bool:
        """Keep ``live`` unless a later report of the member is known; return whether kept."""
        known = self.live.get(member)
        if known is not None and known.ts > live.ts:
            return False
        self.live[member] = live
        return True

    def _peer_live(self, told: dict[str, Any]) -> None:
        """Take a live report another replica took (it checked it as this one would)."""
        self._newest(
            told["member"],
            Live(ts=datetime.fromisoformat(told["ts"]), powers=dict(told["powers"])),
        )

    def _wrote(self, error: str | None) -> None:
        self.last_write = WriteOutcome(at=datetime.now(UTC), error=error)

    def _failed(self, group: Sequence[_Pending], reason: str) -> None:
        self._wrote(reason)
        for pending in group:
            self._reject(pending, STORE_FAILED, reason)

    def _reject(self, pending: _Pending, kind: str, reason: str) -> None:
        refused = self._refuse(kind, pending.batch.member, pending.via, reason)
        if not pending.done.done():  # its sender may have given up (a shutdown)
            pending.done.set_exception(refused)

    def _count(self, batch: ReadingsBatch, outcome: BatchOutcome) -> None:
        counters = self.counters
        counters.batches += 1
        counters.readings_new += outcome.new
        counters.readings_changed += outcome.changed
        counters.readings_unchanged += outcome.unchanged
        if outcome.expired:
            counters.readings_refused["expired"] += outcome.expired
            self._log_refusal(
                batch.member,
                "Left %s readings out of batch %s of %s: older than the raw readings kept",
                outcome.expired,
                batch.batch,
                batch.member,
            )
        if outcome.changed:
            _LOGGER.info(
                "Batch %s of %s replaced %s stored readings with new values",
                batch.batch,
                batch.member,
                outcome.changed,
            )

    def _refuse(self, kind: str, member: str, via: str, reason: str) -> Refused:
        self.counters.refused[kind] += 1
        self._log_refusal(
            member, "Refused a readings batch from %s (%s, %s): %s", member, via, kind, reason
        )
        return Refused(_REFUSAL_KINDS.get(kind, Kind.INVALID), reason, code=kind)

    def _log_refusal(self, member: str, message: str, *args: object) -> None:
        """Log a refusal, at most REFUSAL_LOGS_PER_MINUTE a member, each reason shortened."""
        minute = int(time.monotonic() // 60)
        if len(self._logged) > 1000 or any(m < minute for _member, m in self._logged):
            self._logged = {key: n for key, n in self._logged.items() if key[1] == minute}
        count = self._logged[member, minute] = self._logged.get((member, minute), 0) + 1
        if count <= REFUSAL_LOGS_PER_MINUTE:
            shown = [_shortened(str(a)) for a in args]
            _LOGGER.warning(message, *shown)
        elif count == REFUSAL_LOGS_PER_MINUTE + 1:
            _LOGGER.warning(
                "More refusals of %s's batches this minute: counted in /api/health, not logged",
                member,
            )


def _shortened(text: str) -> str:
    return text if len(text) <= MAX_REASON_CHARS else f"{text[:MAX_REASON_CHARS]}…"
