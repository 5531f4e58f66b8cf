"""Quarter-hour energies from an energy counter's samples, as the protocol sends them.

A counter (a ``total_increasing`` kWh sensor) is read whenever it changes. Its value at each
quarter-hour boundary is interpolated linearly between the samples around it, and a quarter's
energy is the difference of its two boundaries — never negative, never counted twice:

- A drop of more than ``RESET_FRACTION`` of the value is a counter reset (a meter replaced, a
  device restarted): counting goes on from the new value. A smaller drop is noise and ignored.
- A boundary between two samples at most ``MAX_SAMPLE_GAP`` apart is ``measured``; one that
  had to be bridged over a longer gap (the link or Home Assistant was down, the device did not
  answer) is ``interpolated``. A quarter is as good as its worse boundary.
- A quarter is finished only when a sample at or after its end exists: nothing is guessed
  ahead of the data.
- A quarter is never made twice, and the clock may jump. A sample up to ``CLOCK_STEP`` older
  than the newest is late and ignored; an older one means the clock was set back (it ran
  ahead, and the network's time corrected it): counting goes on from it, the quarters already
  made are not made again, and the energy counted until the clock is past them again is in
  none (spread over the first quarter after them, a few hours of it would pass any contract's
  power). A silence longer than ``MAX_BRIDGE`` is not bridged either: a computer without a
  battery-backed clock starts at its build date (or 1970) until the network sets it, and
  quarters spread over the years between could never be stored; counting goes on from the
  first sample after it.

The state survives Home Assistant restarts (``as_dict``/``from_dict``), so a restart in the
middle of a quarter neither loses nor doubles energy.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import math
from typing import Any, Final

from .messages import Quality

QUARTER: Final = timedelta(minutes=15)
MAX_SAMPLE_GAP: Final = timedelta(minutes=5)
CLOCK_STEP: Final = MAX_SAMPLE_GAP
MAX_BRIDGE: Final = timedelta(days=31)
RESET_FRACTION: Final = 0.1


@dataclass(frozen=True, slots=True)
class Interval:
    """The energy of one quarter hour."""

    start: datetime
    end: datetime
    kwh: float
    quality: Quality

    def as_list(self) -> list[Any]:
        """Return the interval as stored (JSON-ready)."""
        return [self.start.isoformat(), self.end.isoformat(), self.kwh, self.quality.value]

    @classmethod
    def from_list(cls, item: list[Any]) -> Interval:
        """Return an interval as ``as_list`` stored it."""
        start, end, kwh, quality = item
        return cls(
            start=datetime.fromisoformat(start),
            end=datetime.fromisoformat(end),
            kwh=float(kwh),
            quality=Quality(quality),
        )


def quarter_ceil(moment: datetime) -> datetime:
    """Return the first quarter-hour boundary at or after ``moment`` (UTC)."""
    seconds = QUARTER.total_seconds()
    return datetime.fromtimestamp(math.ceil(moment.timestamp() / seconds) * seconds, UTC)


def quarter_floor(moment: datetime) -> datetime:
    """Return the last quarter-hour boundary at or before ``moment`` (UTC)."""
    ceiling = quarter_ceil(moment)
    return ceiling if ceiling == moment else ceiling - QUARTER


class CounterIntervals:
    """Turns one counter's samples into finished quarter hours."""

    def __init__(self) -> None:
        """Start with no samples: the first one sets the counter's baseline."""
        self._raw: float | None = None
        self._total = 0.0  # energy counted since the baseline, across resets
        self._times: list[datetime] = []
        self._totals: list[float] = []
        self._next: datetime | None = None  # start of the next quarter to finish
        self._made: list[Interval] = []  # finished before the clock jumped, not yet returned

    def add(self, at: datetime, value: float | None) -> timedelta | None:
        """Take a sample (None, NaN or negative: the counter was unavailable).

        Return the clock's jump when the sample starts the counting again (the clock set back,
        or a silence not bridged), else None.
        """
        if value is None or not math.isfinite(value) or value < 0:
            return None
        jump = at - self._times[-1] if self._times else None
        if jump is not None and -CLOCK_STEP <= jump <= timedelta(0):
            return None  # late or repeated: the counter's history is already past it
        restart = jump is not None and not -CLOCK_STEP <= jump <= MAX_BRIDGE
        if self._raw is None:
            increase = 0.0
        elif value >= self._raw:
            increase = value - self._raw
        elif value < self._raw * (1 - RESET_FRACTION):
            increase = value  # the counter started again from zero
        elif restart:
            increase, value = 0.0, self._raw  # a small dip: the higher value stays the reference
        else:
            return None  # a small dip is noise: keep the higher value as the reference
        self._raw = value
        self._total += increase
        if jump is not None and restart:  # (a jump needs a sample before: ``_next`` is set)
            # What the samples so far finish is made now. Set back: the samples taken at the
            # times the clock ran past go, and the quarters go on from ``_next`` (those before
            # it were made, never again). After a long silence: from the quarter after it.
            self._made += self._finish()
            kept = bisect_right(self._times, at) if jump < timedelta(0) else 0
            self._times = [*self._times[:kept], at]
            self._totals = [*self._totals[:kept], self._total]
            if jump > timedelta(0):
                self._next = quarter_ceil(at)
            return jump
        self._times.append(at)
        self._totals.append(self._total)
        if self._next is None:
            self._next = quarter_ceil(at)
        return None

    @property
    def newest(self) -> datetime | None:
        """Return when the newest sample was taken (None before the first)."""
        return self._times[-1] if self._times else None

    def finished(self) -> list[Interval]:
        """Return the quarters finished since the last call, oldest first."""
        done, self._made = [*self._made, *self._finish()], []
        return done

    def _finish(self) -> list[Interval]:
        """Return the quarters the samples finish now (and forget the samples behind them)."""
        done: list[Interval] = []
        while self._next is not None:
            end = self._next + QUARTER
            start_value, end_value = self._value_at(self._next), self._value_at(end)
            if start_value is None or end_value is None:
                break
            quality = max(start_value[1], end_value[1], key=list(Quality).index)
            done.append(
                Interval(
                    start=self._next,
                    end=end,
                    kwh=max(end_value[0] - start_value[0], 0.0),
                    quality=quality,
                )
            )
            self._next = end
        self._prune()
        return done

    def _value_at(self, boundary: datetime) -> tuple[float, Quality] | None:
        after = bisect_left(self._times, boundary)
        if after == len(self._times):
            return None  # no sample at or after the boundary yet
        if self._times[after] == boundary:
            return self._totals[after], Quality.MEASURED
        before = after - 1
        if before < 0:
            return None
        span = self._times[after] - self._times[before]
        share = (boundary - self._times[before]) / span
        value = self._totals[before] + share * (self._totals[after] - self._totals[before])
        return value, Quality.MEASURED if span <= MAX_SAMPLE_GAP else Quality.INTERPOLATED

    def _prune(self) -> None:
        """Forget samples older than the last one at or before the next boundary."""
        if self._next is None:
            return
        keep = max(bisect_right(self._times, self._next) - 1, 0)
        del self._times[:keep]
        del self._totals[:keep]

    def as_dict(self) -> dict[str, Any]:
        """Return the state to store across Home Assistant restarts (JSON-ready)."""
        return {
            "raw": self._raw,
            "total": self._total,
            "next": None if self._next is None else self._next.isoformat(),
            "samples": [
                [moment.isoformat(), total]
                for moment, total in zip(self._times, self._totals, strict=True)
            ],
            "made": [interval.as_list() for interval in self._made],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CounterIntervals:
        """Return a counter's intervals as ``as_dict`` left them."""
        made = cls()
        made._raw = None if data["raw"] is None else float(data["raw"])
        made._total = float(data["total"])
        made._next = None if data["next"] is None else datetime.fromisoformat(data["next"])
        made._times = [datetime.fromisoformat(moment) for moment, _ in data["samples"]]
        made._totals = [float(total) for _, total in data["samples"]]
        made._made = [Interval.from_list(item) for item in data.get("made", ())]
        return made
