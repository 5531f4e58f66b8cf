"""What the link does with finished readings: into the outbox, whole or held until there is room.

Finished readings go into the outbox in batches of at most ``MAX_READINGS_PER_BATCH``; the
counters' checkpoint (the state that finished them) goes in the same transaction as the last
batch, so that a reading is made exactly once even across a crash. When the outbox is full,
what did not go in is held in memory and goes first at the next call; the checkpoint does not
advance meanwhile (held readings are made again from the older one after a restart).

The calls are blocking (SQLite, and encoding checks every reading against the schema): the
integration runs each in its executor, one call for a quarter's readings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
import logging
import threading

from .outbox import Outbox, OutboxError, OutboxFull
from .protocol import MAX_READINGS_PER_BATCH, Reading, reading_batches

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Kept:
    """What went into the outbox: ``readings`` of them in ``batches``, or ``full`` stopped it."""

    readings: int
    batches: int
    full: OutboxFull | None = None


def put_readings(
    outbox: Outbox,
    member: str,
    readings: Sequence[Reading],
    now: datetime,
    *,
    checkpoint: str | None = None,
) -> Kept:
    """Put readings in the outbox in bounded batches, ``checkpoint`` with the last one.

    Stops at the first batch the full outbox refuses. A batch the file fails to take otherwise
    is logged and passed over (it is made again from the recorder's history on request).
    """
    batches = reading_batches(member, readings, now)
    for number, (batch, payload) in enumerate(batches):
        last = number == len(batches) - 1
        try:
            outbox.put(batch, payload, now, checkpoint=checkpoint if last else None)
        except OutboxFull as full:
            return Kept(readings=number * MAX_READINGS_PER_BATCH, batches=number, full=full)
        except OutboxError as err:
            _LOGGER.error("The community link's outbox failed: %s", err)  # noqa: TRY400
    return Kept(readings=len(readings), batches=len(batches))


class OutboxKeeper:
    """Keeps a home's finished readings in its outbox, holding what a full one cannot take."""

    def __init__(self, outbox: Outbox, member: str) -> None:
        """Keep ``member``'s readings in ``outbox``."""
        self._outbox = outbox
        self._member = member
        self._held: list[Reading] = []  # finished, not yet in the outbox (it was full)
        self._lock = threading.Lock()

    @property
    def holding(self) -> int:
        """Return how many finished readings wait in memory for room in the outbox."""
        return len(self._held)

    def keep(self, readings: Sequence[Reading], checkpoint: str, now: datetime) -> Kept:
        """Put the held readings, then ``readings``, in the outbox with the checkpoint.

        What does not fit is held for the next call; ``Kept`` counts what went in of both.
        """
        with self._lock:
            waiting = [*self._held, *readings]
            kept = put_readings(self._outbox, self._member, waiting, now, checkpoint=checkpoint)
            self._held = waiting[kept.readings :]
            return kept

    def save_checkpoint(self, checkpoint: str) -> None:
        """Save the counters' state, unless readings are held (made again from the older one).

        A file that fails is logged.
        """
        with self._lock:
            if self._held:
                return
            try:
                self._outbox.save_checkpoint(checkpoint)
            except OutboxError as err:
                _LOGGER.error("The community link's outbox failed: %s", err)  # noqa: TRY400
