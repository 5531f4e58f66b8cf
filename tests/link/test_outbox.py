"""The link's outbox: a batch stays until acknowledged, survives restarts, is never dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
import subprocess
import sys

import pytest

from custom_components.ioe_community.link.outbox import Outbox, OutboxError, OutboxFull
from tests.conftest import REPO

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_batches_leave_only_when_acknowledged_oldest_first(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    for n in range(5):
        outbox.put(f"b-{n}", f"payload {n}".encode(), T0 + timedelta(minutes=15 * n))
    outbox.put("b-1", b"sent again by mistake", T0)  # kept once, as first written

    first = outbox.pending(3)
    outbox.mark_sent([p.batch for p in first], T0)
    dropped = outbox.acknowledge(["b-0", "b-2", "not-ours"], T0 + timedelta(hours=2))
    outbox.close()
    reopened = Outbox(tmp_path / "outbox.db")

    assert [p.batch for p in first] == ["b-0", "b-1", "b-2"]
    assert first[1].payload == b"payload 1"
    assert dropped == 2
    waiting = reopened.pending(10)
    assert [p.batch for p in waiting] == ["b-1", "b-3", "b-4"]
    assert [p.attempts for p in waiting] == [1, 0, 0]
    state = reopened.state()
    assert (state.batches, state.oldest, state.last_ack) == (
        3,
        T0 + timedelta(minutes=15),
        T0 + timedelta(hours=2),
    )


def test_a_full_outbox_refuses_the_new_batch_and_keeps_the_old(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db", max_batches=3, max_bytes=1000)
    for n in range(3):
        outbox.put(f"b-{n}", b"x" * 100, T0)

    with pytest.raises(OutboxFull, match="holds 3 batches"):
        outbox.put("b-3", b"x", T0)
    outbox.acknowledge(["b-0"], T0)
    with pytest.raises(OutboxFull, match="1000 bytes"):
        outbox.put("b-big", b"x" * 900, T0)
    outbox.put("b-3", b"x", T0)

    assert [p.batch for p in outbox.pending(10)] == ["b-1", "b-2", "b-3"]


def test_a_batch_put_survives_the_process_being_killed(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    script = (
        "import os, sys; from datetime import UTC, datetime; "
        "from custom_components.ioe_community.link.outbox import Outbox; "
        f"o = Outbox(__import__('pathlib').Path({str(path)!r})); "
        "o.put('b-1', b'kept', datetime.now(UTC)); os.kill(os.getpid(), 9)"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, check=False, timeout=60)

    assert result.returncode == -9
    assert [p.payload for p in Outbox(path).pending(10)] == [b"kept"]


def test_a_broken_outbox_file_is_refused_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    path.write_bytes(b"this is not a database, just bytes " * 100)

    with pytest.raises(
        OutboxError, match=r"cannot open the outbox .*outbox\.db: file is not a database"
    ):
        Outbox(path)


def test_the_checkpoint_is_saved_with_its_batch_or_not_at_all(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db", max_batches=1)
    assert outbox.checkpoint() is None
    outbox.save_checkpoint('{"at": 0}')
    outbox.put("b-1", b"{}", T0, checkpoint='{"at": 1}')
    assert outbox.checkpoint() == '{"at": 1}'
    with pytest.raises(OutboxFull):
        outbox.put("b-2", b"{}", T0, checkpoint='{"at": 2}')
    assert outbox.checkpoint() == '{"at": 1}'  # the refused batch's state was not kept
    outbox.close()
    assert Outbox(tmp_path / "outbox.db").checkpoint() == '{"at": 1}'
