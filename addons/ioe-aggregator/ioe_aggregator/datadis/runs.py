"""The service's Datadis syncs: the one running, the last one finished, and one asked for now.

The daily schedule (``schedule.run_daily``) runs every sync, its own and those the manager asks
for (``POST /api/v1/datadis/sync``), one at a time: a sync asked for while one runs is refused,
and one asked for between runs wakes the schedule at once.

Among several replicas (``replicas.py``) the schedule runs on the leader: a sync asked of another
replica is told to the leader, and the leader tells the others each change of its syncs, so
that every replica's API shows the same.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from ioe_aggregator.datadis.sync import SyncReport, utc_now
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.replicas import HELLO, Replicas

# The replicas' messages: a sync asked for (to the leader); the leader's syncs (to the others).
SYNC_ASKED = "datadis_sync_asked"
SYNC_RUNS = "datadis_syncs"


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

    def as_record(self) -> dict[str, Any]:
        """Return the run as another replica rebuilds it (``from_record``)."""
        return asdict(self) | {
            "started": self.started.isoformat(),
            "finished": None if self.finished is None else self.finished.isoformat(),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SyncRun:
        """Rebuild a run ``as_record`` gave."""
        return cls(
            **record
            | {
                "trigger": Trigger(record["trigger"]),
                "started": datetime.fromisoformat(record["started"]),
                "finished": None
                if record["finished"] is None
                else datetime.fromisoformat(record["finished"]),
            }
        )


class SyncRuns:
    """The syncs of one service (see the module's docstring)."""

    def __init__(self, replicas: Replicas) -> None:
        """No sync yet."""
        self.current: SyncRun | None = None
        self.last: SyncRun | None = None
        self._asked = asyncio.Event()
        self._replicas = replicas
        replicas.on(SYNC_ASKED, self._asked_elsewhere)
        replicas.on(SYNC_RUNS, self._mirror)
        replicas.on(HELLO, lambda _data: self._tell())

    def ask(self) -> SyncRun:
        """Have a sync start now; return it. Raise Refused (conflict) while one runs."""
        if self.current is not None:
            raise Refused(Kind.CONFLICT, "a Datadis sync is running", code="sync_running")
        self.current = SyncRun(trigger=Trigger.MANUAL, started=_now())
        if self._replicas.leading:
            self._asked.set()
            self._tell()
        else:
            self._replicas.tell(SYNC_ASKED)
        return self.current

    def lead(self) -> None:
        """Start leading: a sync the last leader left unfinished is over."""
        self.current = None
        self._asked.clear()
        self._tell()

    def follow(self) -> None:
        """Stop leading: the sync this replica ran is over (the leader's are shown now)."""
        self.current = None
        self._asked.clear()

    def _asked_elsewhere(self, _data: object) -> None:
        if self._replicas.leading and self.current is None:
            self.current = SyncRun(trigger=Trigger.MANUAL, started=_now())
            self._asked.set()
        self._tell()

    def _tell(self) -> None:
        """Tell the other replicas this one's syncs (the leader's are the community's)."""
        if self._replicas.leading:
            self._replicas.tell(
                SYNC_RUNS,
                {
                    "current": None if self.current is None else self.current.as_record(),
                    "last": None if self.last is None else self.last.as_record(),
                },
            )

    def _mirror(self, told: dict[str, Any]) -> None:
        if not self._replicas.leading:
            current, last = told["current"], told["last"]
            self.current = None if current is None else SyncRun.from_record(current)
            self.last = None if last is None else SyncRun.from_record(last)

    async def wait(self, seconds: float) -> SyncRun:
        """Return the next sync to run: one asked for, or the schedule's after ``seconds``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._asked.wait(), max(seconds, 0.0))
        self._asked.clear()
        return self.begin()

    def begin(self) -> SyncRun:
        """Start the schedule's sync now (the first one, as the service starts)."""
        if self.current is None:
            self.current = SyncRun(trigger=Trigger.SCHEDULE, started=_now())
            self._tell()
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
        self._tell()
