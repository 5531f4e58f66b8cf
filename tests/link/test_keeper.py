"""The outbox policy: bounded batches, the checkpoint with the last, what a full outbox holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from pathlib import Path

from custom_components.ioe_community.link.keeper import OutboxKeeper, put_readings
from custom_components.ioe_community.link.messages import MessageKind, Meter, Quality, Quantity
from custom_components.ioe_community.link.outbox import Outbox
from custom_components.ioe_community.link.protocol import MAX_READINGS_PER_BATCH, Reading, decode

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
QUARTER = timedelta(minutes=15)


def quarters(count: int, first: int = 0) -> list[Reading]:
    """Return ``count`` quarters of grid import from quarter ``first`` on."""
    return [
        Reading(
            Meter.GRID,
            Quantity.IMPORT,
            T0 + n * QUARTER,
            T0 + (n + 1) * QUARTER,
            0.25,
            Quality.MEASURED,
        )
        for n in range(first, first + count)
    ]


def starts(outbox: Outbox) -> list[str]:
    """Return the start of every reading waiting in the outbox, oldest batch first."""
    return [
        reading["start"]
        for pending in outbox.pending(100)
        for reading in decode(pending.payload, MessageKind.READINGS)["readings"]
    ]


def test_readings_go_in_bounded_batches_the_checkpoint_with_the_last(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")

    kept = put_readings(
        outbox, "m-0001", quarters(MAX_READINGS_PER_BATCH + 1), T0, checkpoint="after"
    )

    assert (kept.readings, kept.batches, kept.full) == (MAX_READINGS_PER_BATCH + 1, 2, None)
    assert [len(starts(outbox))] == [MAX_READINGS_PER_BATCH + 1]
    assert outbox.checkpoint() == "after"


def test_a_full_outbox_holds_the_rest_and_the_checkpoint_waits(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db", max_batches=1)
    keeper = OutboxKeeper(outbox, "m-0001")

    first = keeper.keep(quarters(1), json.dumps({"n": 1}), T0)
    second = keeper.keep(quarters(1, first=1), json.dumps({"n": 2}), T0)
    keeper.save_checkpoint(json.dumps({"n": 3}))  # not while readings are held

    assert (first.readings, first.full) == (1, None)
    assert (second.readings, second.batches) == (0, 0)
    assert second.full is not None
    assert keeper.holding == 1
    assert outbox.checkpoint() == json.dumps({"n": 1})
    # Room again: the held quarter goes first, with the quarter finished since.
    outbox.acknowledge([pending.batch for pending in outbox.pending(10)], T0)
    outbox.max_batches = 10
    third = keeper.keep(quarters(1, first=2), json.dumps({"n": 4}), T0)
    assert (third.readings, third.full, keeper.holding) == (2, None, 0)
    assert starts(outbox) == ["2026-11-24T10:15:00Z", "2026-11-24T10:30:00Z"]
    assert outbox.checkpoint() == json.dumps({"n": 4})
    keeper.save_checkpoint(json.dumps({"n": 5}))
    assert outbox.checkpoint() == json.dumps({"n": 5})


def test_a_backlog_partly_kept_counts_whole_batches(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db", max_batches=1)

    kept = put_readings(outbox, "m-0001", quarters(MAX_READINGS_PER_BATCH + 5), T0)

    assert (kept.readings, kept.batches) == (MAX_READINGS_PER_BATCH, 1)
    assert kept.full is not None
    assert outbox.checkpoint() is None
