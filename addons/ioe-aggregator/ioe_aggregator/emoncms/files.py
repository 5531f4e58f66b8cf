"""An emoncms installation read from its engines' files, copied to the add-on's folder.

The formats, as emoncms documents them (``docs/developer/timeseries``):

- PHPFina (fixed interval): ``<id>.meta``, 16 bytes of little-endian uint32 (two unused, then
  the interval in seconds and the first sample's Unix time), and ``<id>.dat``, one
  little-endian float32 per interval from that time, NaN where nothing was logged. A crash may
  leave a partial last value: only whole ones are read.
- PHPTimeSeries (variable interval): ``feed_<id>.MYD``, 9-byte records (a flag byte, uint32
  time, float32 value), times ascending; a partial last record is left out likewise.

Feeds are found in the folder and its ``phpfina``/``phptimeseries`` subfolders, as emoncms
lays them out (``/var/opt/emoncms/phpfina`` …). Names and units live in emoncms' database, not
in these files: a feed is named by its id. Each step's figure is computed as emoncms'
``feed/data.json`` computes it (``server.py``): the mean of its samples, or the value as it
begins (PHPFina: the sample of the interval it falls in; PHPTimeSeries: the first sample
within the step).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import logging
from pathlib import Path
import re
import struct
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ioe_aggregator.emoncms.feeds import Feed
from ioe_aggregator.refusals import Kind, Refused

_LOGGER = logging.getLogger(__name__)
_META = struct.Struct("<4I")
_RECORD: Final = np.dtype([("flag", "u1"), ("time", "<u4"), ("value", "<f4")])
_PHPFINA = re.compile(r"^(\d+)\.meta$")
_PHPTIMESERIES = re.compile(r"^feed_(\d+)\.MYD$")


@dataclass(frozen=True)
class _Samples:
    """A feed's samples: Unix times and values (float64; NaN missing)."""

    times: NDArray[np.int64]
    values: NDArray[np.float64]


def _phpfina(meta: Path, data: Path) -> tuple[int, int, _Samples]:
    """Return a PHPFina feed's interval, start time and samples."""
    _, _, interval, start = _META.unpack(meta.read_bytes()[: _META.size])
    raw = data.read_bytes() if data.exists() else b""
    values = np.frombuffer(raw[: len(raw) // 4 * 4], dtype="<f4").astype(np.float64)
    times = start + interval * np.arange(len(values), dtype=np.int64)
    return interval, start, _Samples(times, values)


def _phptimeseries(path: Path) -> _Samples:
    raw = path.read_bytes()
    records = np.frombuffer(raw[: len(raw) // _RECORD.itemsize * _RECORD.itemsize], _RECORD)
    return _Samples(records["time"].astype(np.int64), records["value"].astype(np.float64))


class EmoncmsFiles:
    """The feeds of a folder of emoncms files (see the module)."""

    def __init__(self, folder: Path) -> None:
        """Read the files under ``folder`` (the add-on's ``emoncms_dir``)."""
        self.folder = folder
        self._paths: dict[str, tuple[str, Path]] = {}
        self._loaded: tuple[str, int | None, _Samples] | None = None

    def described(self) -> dict[str, Any]:
        """Return the source as the API and the audit log name it."""
        return {"kind": "files", "directory": str(self.folder)}

    def _find(self) -> dict[str, tuple[str, Path]]:
        found: dict[str, tuple[str, Path]] = {}
        for folder in (self.folder, self.folder / "phpfina", self.folder / "phptimeseries"):
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if match := _PHPFINA.match(path.name):
                    found.setdefault(match[1], ("phpfina", path))
                elif match := _PHPTIMESERIES.match(path.name):
                    found.setdefault(match[1], ("phptimeseries", path))
        return found

    def _samples(self, feed_id: str) -> tuple[int | None, _Samples]:
        """Return a feed's interval (None: variable) and samples, the last feed's kept."""
        if self._loaded is not None and self._loaded[0] == feed_id:
            return self._loaded[1], self._loaded[2]
        engine, path = self._paths[feed_id]
        interval: int | None = None
        if engine == "phpfina":
            interval, _start, samples = _phpfina(path, path.with_suffix(".dat"))
        else:
            samples = _phptimeseries(path)
        self._loaded = (feed_id, interval, samples)
        return interval, samples

    async def feeds(self) -> list[Feed]:
        """Return the folder's feeds; raise Refused (no_emoncms_files) when it has none."""
        return await asyncio.to_thread(self._feeds)

    def _feeds(self) -> list[Feed]:
        self._paths = self._find()
        if not self._paths:
            raise Refused(
                Kind.NOT_FOUND,
                f"no emoncms feed files (<id>.meta and .dat, feed_<id>.MYD) in {self.folder}",
                code="no_emoncms_files",
            )
        feeds = []
        for feed_id, (engine, _path) in sorted(self._paths.items(), key=lambda i: int(i[0])):
            try:
                interval, samples = self._samples(feed_id)
            except (OSError, struct.error) as err:
                _LOGGER.warning("emoncms files: feed %s cannot be read: %s", feed_id, err)
                continue
            # Samples without a time (a feed created but never written) are none.
            known = ~np.isnan(samples.values) & (samples.times > 0)
            times, values = samples.times[known], samples.values[known]
            feeds.append(
                Feed(
                    id=feed_id,
                    name=f"feed {feed_id}",
                    engine=engine,
                    interval_s=interval,
                    first=_moment(times[0]) if len(times) else None,
                    last=_moment(times[-1]) if len(times) else None,
                    points=len(samples.values),
                    last_value=float(values[-1]) if len(values) else None,
                )
            )
        return feeds

    async def figures(
        self, feed: Feed, start: datetime, end: datetime, *, step: timedelta, average: bool
    ) -> list[float | None]:
        """Return the feed's figure for each ``step`` from ``start`` to ``end`` (as ``server``)."""
        return await asyncio.to_thread(self._figures, feed.id, (start, end), step, average)

    def _figures(
        self, feed_id: str, span: tuple[datetime, datetime], step: timedelta, average: bool
    ) -> list[float | None]:
        if not self._paths:
            self._paths = self._find()
        if feed_id not in self._paths:
            raise Refused(Kind.NOT_FOUND, f"no files of feed {feed_id}", code="no_emoncms_files")
        interval, samples = self._samples(feed_id)
        first = int(span[0].timestamp())
        count = int((span[1] - span[0]) / step)
        size = int(step.total_seconds())
        found: list[float | None] = [None] * count
        if interval is not None and not average:
            # PHPFina: the sample of the interval each step begins in.
            if len(samples.times):
                begins = first + size * np.arange(count, dtype=np.int64)
                position = (begins - int(samples.times[0])) // interval
                for n in np.flatnonzero((position >= 0) & (position < len(samples.values))):
                    value = samples.values[position[n]]
                    found[n] = None if np.isnan(value) else float(value)
            return found
        low, high = np.searchsorted(samples.times, [first, first + size * count])
        values = samples.values[low:high]
        known = ~np.isnan(values)
        slot = (samples.times[low:high][known] - first) // size
        values = values[known]
        if average:
            sums = np.bincount(slot, weights=values, minlength=count)
            counts = np.bincount(slot, minlength=count)
            return [float(s / c) if c else None for s, c in zip(sums, counts, strict=True)]
        # PHPTimeSeries: the first sample within each step.
        steps, firsts = np.unique(slot, return_index=True)
        for position, index in zip(steps, firsts, strict=True):
            found[position] = float(values[index])
        return found


def _moment(seconds: np.int64) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)
