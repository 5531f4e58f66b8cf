"""The service's long-running tasks, watched: one that ends on its own ends the service.

A task of the service (the ingest's writer, the broker connection, the results, the Datadis
schedule…) never ends while the service runs. If one does, by a bug or an error nobody
caught, the service cannot do its job any more, so it says so at once and stops with an
error: the add-on's supervisor (s6, then the Supervisor's watchdog) starts it again, which a
half-working service would never get. Only the scheduled work is stopped on purpose while the
service runs, when its replica stops leading (``cancel``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
import contextlib
from dataclasses import dataclass
import logging
from typing import Any

_LOGGER = logging.getLogger(__name__)


class TaskEnded(Exception):
    """A supervised task ended while the service was running."""


@dataclass(frozen=True, slots=True)
class TaskState:
    """A task's liveness, as ``/api/health`` reports it."""

    running: bool
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the state as JSON-ready data."""
        return {"running": self.running, "error": self.error}


class Supervisor:
    """Starts named tasks, watches them, and stops them in reverse order."""

    def __init__(self) -> None:
        """Watch nothing yet."""
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        self._ended: asyncio.Future[TaskEnded] | None = None

    def start(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` as the task ``name`` until the service stops."""
        if self._ended is None:
            self._ended = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(work, name=name)
        self._tasks[name] = task
        task.add_done_callback(self._watch)

    async def cancel(self, name: str) -> None:
        """Stop the task ``name`` and wait for it: not a failure, the service goes on."""
        task = self._tasks.pop(name, None)
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    def _watch(self, task: asyncio.Task[None]) -> None:
        if self._stopping or self._tasks.get(task.get_name()) is not task:
            return
        name, state = task.get_name(), _state(task)
        _LOGGER.critical(
            "Task %s ended (%s); stopping the service so that it is started again",
            name,
            state.error,
            exc_info=None if task.cancelled() else task.exception(),
        )
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(TaskEnded(f"task {name} ended: {state.error}"))

    async def wait_for_failure(self) -> TaskEnded:
        """Return when a task ended on its own, with what ended it."""
        if self._ended is None:
            self._ended = asyncio.get_running_loop().create_future()
        # Shielded: a waiter given up (cancelled) leaves the future to the next one.
        return await asyncio.shield(self._ended)

    def states(self) -> Mapping[str, TaskState]:
        """Return each task's liveness by name."""
        return {name: _state(task) for name, task in self._tasks.items()}

    async def stop(self) -> None:
        """Cancel every task, the last started first, and wait for each to end."""
        self._stopping = True
        for task in reversed(list(self._tasks.values())):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _state(task: asyncio.Task[None]) -> TaskState:
    if not task.done():
        return TaskState(running=True)
    if task.cancelled():
        return TaskState(running=False, error="cancelled")
    if (error := task.exception()) is not None:
        return TaskState(running=False, error=f"{type(error).__name__}: {error}")
    return TaskState(running=False, error="returned")
