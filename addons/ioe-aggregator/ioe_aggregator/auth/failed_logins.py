"""Failed logins: how many are answered, and how they reach the audit log.

Bad credentials are limited, never valid ones: a request with a valid token always passes,
whatever its address did (all Home Assistant ingress users share the proxy's address, so one
person's typos must not lock the others out). After ``MAX_FAILURES`` failures within
``WINDOW_S`` an address's further failures are answered 429 for ``LOCKOUT_S``; after
``GLOBAL_MAX_FAILURES`` failures of all addresses together within ``GLOBAL_WINDOW_S``
everyone's are, for ``GLOBAL_LOCKOUT_S``, which slows an attacker spread over many addresses
as much as one on a single address.

A flood of failures must not become a flood of log lines or database writes. Failures are
counted in memory, one audit entry per address and minute (at most ``MAX_AUDITED_ADDRESSES``
addresses a minute; the rest share one entry), and written every ``FLUSH_INTERVAL_S``, when the
audit log is read and when the service stops. Only the failures answered 401 (a few a minute)
are logged one by one.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
import logging
import time

from ioe_aggregator import audit
from ioe_aggregator.store import Store, StoreError

_LOGGER = logging.getLogger(__name__)

MAX_FAILURES = 5
WINDOW_S = 60.0
LOCKOUT_S = 300.0
GLOBAL_MAX_FAILURES = 60
GLOBAL_WINDOW_S = 60.0
GLOBAL_LOCKOUT_S = 60.0
FLUSH_INTERVAL_S = 10.0
MAX_AUDITED_ADDRESSES = 50
OTHER_ADDRESSES = "(other addresses)"


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed login: from where, to what, and whether any credentials came with it.

    ``route`` is the method and the route's pattern (``GET /api/v1/members/{member}``), never
    the path as sent: a token pasted into a URL must end up in no log.
    """

    address: str
    route: str
    token_given: bool


@dataclass(slots=True)
class _Count:
    """The failures of one address in one minute, not yet written."""

    at_us: int
    occurrences: int = 0
    routes: Counter[str] = field(default_factory=Counter)
    with_token: int = 0

    def add(self, other: _Count) -> None:
        self.at_us = min(self.at_us, other.at_us)
        self.occurrences += other.occurrences
        self.routes.update(other.routes)
        self.with_token += other.with_token


class FailedLogins:
    """Failures by address and for all addresses, the lockouts, and their audit counts."""

    def __init__(self) -> None:
        """Start with no failures."""
        self._recent: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._all_recent: deque[float] = deque()
        self._all_locked_until = 0.0
        self._pending: dict[tuple[str, int], _Count] = {}
        self._audited: dict[int, set[str]] = {}

    def failed(self, failure: Failure, *, now: float, at_us: int) -> float:
        """Count a failure; return for how many seconds it is refused (0: answer 401).

        ``now`` is monotonic seconds, ``at_us`` microseconds since the epoch.
        """
        self._count(failure, at_us)
        address = failure.address
        wait = max(self._locked_until.get(address, 0.0), self._all_locked_until) - now
        if wait > 0:
            return wait
        if _over(self._recent.setdefault(address, deque()), now, WINDOW_S, MAX_FAILURES):
            self._locked_until[address] = now + LOCKOUT_S
            _LOGGER.warning(
                "Too many failed logins from %s: its failures are refused for %.0f s "
                "(valid tokens still pass)",
                address,
                LOCKOUT_S,
            )
        if _over(self._all_recent, now, GLOBAL_WINDOW_S, GLOBAL_MAX_FAILURES):
            self._all_locked_until = now + GLOBAL_LOCKOUT_S
            _LOGGER.warning(
                "%d failed logins within %.0f s from all addresses together: every "
                "failure is refused for %.0f s (valid tokens still pass)",
                GLOBAL_MAX_FAILURES,
                GLOBAL_WINDOW_S,
                GLOBAL_LOCKOUT_S,
            )
        return 0.0

    def locked(self, address: str, *, now: float) -> float:
        """Return for how many more seconds ``address`` is locked out (0: it is not).

        A password login checks it first: during its address's lockout even the right
        password waits, or the lockout would not slow down a guess. The lockout of all
        addresses together is left out: anyone could keep it on, and so keep every password
        user out; it still answers their wrong passwords 429.
        """
        return max(0.0, self._locked_until.get(address, 0.0) - now)

    def _count(self, failure: Failure, at_us: int) -> None:
        minute = at_us // 60_000_000
        audited = self._audited.setdefault(minute, set())
        address = failure.address
        if address not in audited and len(audited) >= MAX_AUDITED_ADDRESSES:
            address = OTHER_ADDRESSES
        audited.add(address)
        count = self._pending.setdefault((address, minute), _Count(at_us=at_us))
        count.occurrences += 1
        count.routes[failure.route] += 1
        count.with_token += failure.token_given

    def forget(self, now: float, at_us: int) -> None:
        """Drop what no limit or audit entry needs any more (the memory an attack took)."""
        for address in [a for a, until in self._locked_until.items() if until <= now]:
            del self._locked_until[address]
        for address in [a for a, r in self._recent.items() if not r or r[-1] < now - WINDOW_S]:
            del self._recent[address]
        minute = at_us // 60_000_000
        for old in [m for m in self._audited if m < minute]:
            del self._audited[old]

    async def write(self, store: Store) -> None:
        """Write the failures counted so far to the audit log (kept for later if it fails)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            async with store.transaction() as tx:
                for (address, minute), count in pending.items():
                    await audit.record_counted(
                        tx,
                        f"{audit.Action.LOGIN_FAILED} {address} {minute}",
                        at_us=count.at_us,
                        actor=f"address:{address}",
                        action=audit.Action.LOGIN_FAILED,
                        subject=datetime.fromtimestamp(minute * 60, UTC).strftime(
                            "%Y-%m-%dT%H:%MZ"
                        ),
                        counts={"routes": dict(count.routes), "with_token": count.with_token},
                        occurrences=count.occurrences,
                    )
        except BaseException:
            for key, count in pending.items():
                if key in self._pending:
                    count.add(self._pending[key])
                self._pending[key] = count
            raise

    async def write_periodically(self, store: Store) -> None:
        """Write the counted failures every FLUSH_INTERVAL_S, and once more when cancelled.

        The service's supervised task ``failed-logins``; a database that fails now and then
        does not end it (the counts wait for the next write).
        """
        try:
            while True:
                await asyncio.sleep(FLUSH_INTERVAL_S)
                self.forget(time.monotonic(), time.time_ns() // 1000)
                try:
                    await self.write(store)
                except StoreError as err:
                    _LOGGER.warning("Cannot write failed logins to the audit log yet: %s", err)
        finally:
            try:
                await self.write(store)
            except StoreError as err:
                _LOGGER.warning("Failed logins not written to the audit log: %s", err)


def _over(recent: deque[float], now: float, window_s: float, limit: int) -> bool:
    """Add a failure at ``now``; return True (and start afresh) when ``limit`` is reached."""
    recent.append(now)
    while recent and recent[0] <= now - window_s:
        recent.popleft()
    if len(recent) < limit:
        return False
    recent.clear()
    return True
