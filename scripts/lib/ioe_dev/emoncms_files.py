"""emoncms' feed files for the tests, written from the documented format, not from its code.

PHPFina (emoncms docs/developer/timeseries/Fixed-interval.md): ``<id>.meta`` is 16 bytes, four
unsigned 32-bit integers: id and npoints (legacy, written as 0), interval (s) and start_time
(unix s, 0 for a feed never written) — PHP's ``pack("I")``, little-endian on the x86 and ARM
machines emoncms runs on, as the ``od -i`` dumps ``0 0 120 1466826960`` and ``0 0 10
1436400810`` in emoncms issue #878 show. ``<id>.dat`` holds one float32 per slot, the slot of
time t being floor((t − start_time)/interval); NaN is a missing slot; npoints is the file's
size // 4, so a crash can leave a few stray bytes at its end.

PHPTimeSeries (docs/developer/timeseries/Variable-interval.md): ``feed_<id>.MYD`` of 9-byte
records, no header: a flag byte (unused, written as 249), the time (uint32, s) and the value
(float32), in ascending time; npoints is the size // 9, a partial record possible at the end.
"""

from __future__ import annotations

import math
from pathlib import Path
import struct

from ioe_dev.fake_emoncms import PHPFINA, PHPTIMESERIES, FakeFeed

FLAG = 249


def write_phpfina(folder: Path, feed: FakeFeed, *, truncated_tail: bool = False) -> Path:
    """Write ``<id>.meta`` and ``<id>.dat`` of ``feed`` in ``folder``; return the .dat's path.

    ``truncated_tail`` adds the first 2 bytes of one more value, as a write cut by a crash.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{feed.id}.meta").write_bytes(
        struct.pack("<4I", 0, 0, feed.interval, feed.start_time)
    )
    data = struct.pack(f"<{len(feed.values)}f", *feed.values)
    if truncated_tail:
        data += struct.pack("<f", 123.25)[:2]
    path = folder / f"{feed.id}.dat"
    path.write_bytes(data)
    return path


def write_phptimeseries(folder: Path, feed: FakeFeed, *, truncated_tail: bool = False) -> Path:
    """Write ``feed_<id>.MYD`` of ``feed`` in ``folder``; return its path.

    ``truncated_tail`` adds the first 5 bytes (flag and time) of one more record, as a crash.
    """
    folder.mkdir(parents=True, exist_ok=True)
    data = b"".join(struct.pack("<BIf", FLAG, t, v) for t, v in feed.points)
    if truncated_tail:
        after = feed.points[-1][0] + 10 if feed.points else 1_700_000_000
        data += struct.pack("<BIf", FLAG, after, math.pi)[:5]
    path = folder / f"feed_{feed.id}.MYD"
    path.write_bytes(data)
    return path


def write_datadir(folder: Path, feeds: list[FakeFeed], *, subfolders: bool = True) -> None:
    """Write every PHPFina and PHPTimeSeries feed of ``feeds`` as an emoncms data folder.

    With ``subfolders``, in ``phpfina/`` and ``phptimeseries/`` (as /var/opt/emoncms/ holds
    them); without, all in ``folder`` itself. Other engines have no files and are left out.
    """
    for feed in feeds:
        if feed.engine == PHPFINA:
            write_phpfina(folder / "phpfina" if subfolders else folder, feed)
        elif feed.engine == PHPTIMESERIES:
            write_phptimeseries(folder / "phptimeseries" if subfolders else folder, feed)
