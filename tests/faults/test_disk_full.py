"""The SQLite database's disk full while homes send: nothing acknowledged, then everything stored.

A real full file system (a small tmpfs, filled with a file): SQLite fails its writes with
"database or disk is full". The batches are not acknowledged (their homes keep them and send
them again), the health says so (503, ``ingest``), nothing ends the service; once space is
freed, every reading is stored once.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import os
from pathlib import Path
import shutil
import subprocess

import pytest
import yaml

from custom_components.ioe_community.link.client import LinkClient
from custom_components.ioe_community.link.outbox import Outbox
from tests.community import (
    Community,
    StartAggregator,
    home_settings,
    put_quarters,
    start_service,
    stored_rows,
)

from .platform import DAY, health, wait

DISK_MB = 24


@contextlib.contextmanager
def small_disk(where: Path) -> Iterator[Path]:
    """Mount a tmpfs of ``DISK_MB`` at ``where`` (root only); unmount it after."""
    where.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if mount is None or umount is None:
        pytest.skip("no mount command here")
    mounted = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run([umount, "--lazy", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Fill the file system with one file, to the last block; return the file."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while os.write(descriptor, b"\0" * size) == size:
                    pass
    finally:
        os.close(descriptor)
    return filler


def test_a_full_disk_holds_the_acks_until_space_returns(
    community: Community, start_aggregator: StartAggregator, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        community.options["database_url"] = f"sqlite:///{disk / 'ioe.db'}"
        community.config_file.write_text(yaml.safe_dump(community.options))
        code = community.add_member("m-0001")
        service, port = start_service(community, start_aggregator)
        outbox = Outbox(tmp_path / "m-0001.outbox.db")
        put_quarters(outbox, "m-0001", 0, 8, DAY)
        link = LinkClient(home_settings(code), outbox, window=4, resend_after_s=3)
        link.start()
        try:
            wait(lambda: outbox.state().batches == 0, 30, "the first batches stored")
            filler = fill(disk)
            put_quarters(outbox, "m-0001", 8, 88, DAY)
            failing = wait(
                lambda: health(port)["status"] == "error" and health(port), 30, "a failed write"
            )
            assert failing["problems"] == ["ingest"]
            assert "full" in failing["ingest"]["last_write"]["error"]
            held = outbox.state().batches
            assert held > 0
            filler.unlink()
            wait(lambda: outbox.state().batches == 0, 120, "every batch once space returned")
        finally:
            link.stop()

        wait(lambda: health(port)["status"] == "ok", 30, "healthy again")
        service.stop()  # before its file system goes away
        rows = stored_rows(community)
        assert [row[3] for row in rows] == sorted({row[3] for row in rows})  # each quarter once
        assert len(rows) == 96
        assert sum(row[4] for row in rows) == pytest.approx(24.0)
