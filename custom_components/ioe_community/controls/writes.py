"""When a setpoint is written: only on a real change, within a budget, and before it lapses.

A device's registers (and often its flash) are not written at every decision: a new value is
written when it differs from the last by more than ``step``, or when the device would otherwise
revert on its own (at half its revert time), and at most ``per_hour`` times an hour. A write
that makes the home safer (less power into the battery or the car) is written at once, whatever
the budget.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class WriteGate:
    """The writes of one setpoint."""

    step: float
    per_hour: int
    revert_s: float | None = None
    last_value: float | None = None
    last_at: datetime | None = None
    _recent: deque[datetime] = field(default_factory=deque)

    def due(self, value: float | None, now: datetime) -> bool:
        """Return whether ``value`` (None: the device's own mode) should be written now."""
        while self._recent and now - self._recent[0] >= timedelta(hours=1):
            self._recent.popleft()
        if value is None or self.last_value is None or self.last_at is None:
            return value != self.last_value or self.last_at is None
        if value < self.last_value and self.last_value - value > self.step / 2:
            return True  # safer: at once, whatever the budget
        if self.revert_s is not None and (now - self.last_at).total_seconds() >= self.revert_s / 2:
            return True  # refreshed before the device reverts
        return abs(value - self.last_value) > self.step and len(self._recent) < self.per_hour

    def wrote(self, value: float | None, now: datetime) -> None:
        """Record that ``value`` was written (and read back) at ``now``."""
        self.last_value, self.last_at = value, now
        self._recent.append(now)

    @property
    def recent(self) -> tuple[datetime, ...]:
        """Return when it was written within the last hour (as of the last ``due``)."""
        return tuple(self._recent)

    def forget(self) -> None:
        """Forget what the device was told: it was lost, or released to its own mode."""
        self.last_value = self.last_at = None
