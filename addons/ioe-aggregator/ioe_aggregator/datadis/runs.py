"""The service's Datadis syncs: the one running, the last one finished, and one asked for now.

The daily schedule (``schedule.run_daily``) runs every sync, its own and those the manager asks
for (``POST /api/v1/datadis/sync``), one at a time: a sync asked for while one runs is refused,
and one asked for between runs wakes the schedule at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from ioe_aggregator.datadis.sync import SyncReport, utc_now
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.refusals import Kind, Refused


def _now() -> datetime:
    """Return the time now in whole seconds, as the API gives times."""
    return utc_now().replace(microsecond=0)


class Trigger(StrEnum):
    """What started a sync."""

    SCHEDULE = "schedule"
    MANUAL = "manual"


@dataclass(frozen=True, kw_only=True)
class SyncRun:
    """One sync: what started it and when, and (once it finished) how it went."""

    trigger: Trigger
    started: datetime
    finished: datetime | None = None
    members: int = 0
    stored: int = 0
    login_refused: bool = False
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the run as the API gives it (no secret: a refused login is only a flag)."""
        return {
            "trigger": self.trigger.value,
            "running": self.finished is None,
            "started_at": utc_text(self.started),
            "finished_at": None if self.finished is None else utc_text(self.finished),
            "members": self.members,
            "readings_stored": self.stored,
            "login_refused": self.login_refused,
            "error": self.error,
        }


class SyncRuns:
    """The syncs of one service (see the module's docstring)."""

    def __init__(self) -> None:
        """No sync yet."""
        self.current: SyncRun | None = None
        self.last: SyncRun | None = None
        self._asked = asyncio.Event()

    def ask(self) -> SyncRun:
        """Have a sync start now; return it. Raise Refused (conflict) while one runs."""
        if self.current is not None:
            raise Refused(Kind.CONFLICT, "a Datadis sync is running", code="sync_running")
        self.current = SyncRun(trigger=Trigger.MANUAL, started=_now())
        self._asked.set()
        return self.current

    async def wait(self, seconds: float) -> SyncRun:
        """Return the next sync to run: one asked for, or the schedule's after ``seconds``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._asked.wait(), max(seconds, 0.0))
        self._asked.clear()
        if self.current is None:
            self.current = SyncRun(trigger=Trigger.SCHEDULE, started=_now())
        return self.current

    def begin(self) -> SyncRun:
        """Start the schedule's sync now (the first one, as the service starts)."""
        if self.current is None:
            self.current = SyncRun(trigger=Trigger.SCHEDULE, started=_now())
        return self.current

    def finished(self, report: SyncReport | None, error: str | None = None) -> None:
        """Record how the running sync went (``error`` when it could not finish)."""
        if self.current is None:
            return
        self.last = replace(
            self.current,
            finished=_now(),
            members=0 if report is None else len(report.members),
            stored=0 if report is None else sum(member.stored for member in report.members),
            login_refused=report is not None and report.login_refused is not None,
            error=error,
        )
        self.current = None
