"""Aggregator replicas on one database: which one leads the scheduled work, what they tell.

A community's aggregator may run as several processes (replicas) on one PostgreSQL database.
Each stores the readings batches the broker's shared subscription hands it and serves the API;
the scheduled work (publishing the results, the Datadis sync, the comparison jobs, the
webhooks' deliveries) runs on one of them: the leader.

The leader is the replica holding a PostgreSQL advisory lock, taken on a connection of its own.
The server releases a session's lock when the session ends, so the work moves within about a
second when its leader dies, is killed or is stopped; every replica that does not lead asks for
the lock every ``TICK_S``. A leader that cannot reach the database for ``HEARTBEAT_TIMEOUT_S``
stops its work at once, and the server ends that session only later (its TCP keepalives give
up after about ``SERVER_GIVES_UP_S``): the old leader has stopped before the next one starts.
Each lead has a term, one more than the last, kept in the database: work whose effect must not
come twice (a webhook delivered, a comparison claimed) checks in its own transaction that its
term is still the last one (``fence``), which a leader that was paused and woke up late fails.

What one replica learns and the others need (a member's live report, that results are wanted
now, that a comparison is queued, a Datadis sync asked for and how it went) goes through the
database's LISTEN/NOTIFY: nothing is kept, and no other service is needed.

SQLite serves one replica: a second process serving the same database file is refused, through
a lock on a file beside it, which the system releases when the process ends, however it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from datetime import UTC, datetime
import errno
import fcntl
import json
import logging
import os
from pathlib import Path
import secrets
import socket
from typing import Any, Protocol

from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.store import Store, StoreError, Transaction

_LOGGER = logging.getLogger(__name__)

# Advisory locks: the leader's, and each running replica's own ("IoEL", "IoER" in ASCII).
LEADER_LOCK = 0x496F454C
REPLICA_LOCKS = 0x496F4552
CHANNEL = "ioe_replicas"
TICK_S = 0.5
HEARTBEAT_TIMEOUT_S = 3.0
RETRY_S = 2.0
# The server's TCP keepalives on the leader's session: idle, interval, probes (about 15 s).
SERVER_KEEPALIVES = (5, 2, 5)
SERVER_GIVES_UP_S = SERVER_KEEPALIVES[0] + SERVER_KEEPALIVES[1] * SERVER_KEEPALIVES[2]
# A notification's payload must stay under PostgreSQL's 8000 bytes.
MAX_NOTIFY_BYTES = 7500
TERM_SETTING = "leader_term"
LEADER_SETTING = "leader"
# The message a replica tells as it (re)connects: the leader answers with what it keeps in
# memory for the others (NOTIFY keeps nothing for a replica that was away).
HELLO = "hello"

type Handler = Callable[[Any], None]


class ReplicaRefused(Exception):
    """Another process serves the database, and it is SQLite: this one may not."""


class NotLeading(StoreError):
    """The work's term is no longer the last one: another replica leads now."""


class Leader(Protocol):
    """What a replica does when it starts and stops leading."""

    async def lead(self) -> None:
        """Start the scheduled work (may raise StoreError: the lead is then given up)."""

    async def follow(self) -> None:
        """Stop the scheduled work (it is cancelled, not ended by a fault)."""


class Replicas:
    """One replica among the others: its name, whether it leads, and messages between them."""

    def __init__(self, store: Store, name: str | None = None) -> None:
        """Give this replica a random number (new at each start) and a name (by default the host's).

        The name stays the same across the replica's restarts: its MQTT session is kept under it.
        """
        self._store = store
        self.number = secrets.randbelow(2**31 - 1) + 1
        self.replica = f"{self.number:08x}"
        self.name = name or socket.gethostname()
        self.leading = False
        self.term: int | None = None
        self.since: datetime | None = None
        # Set once this replica has tried to lead the first time (led or not).
        self.settled = asyncio.Event()
        self._handlers: dict[str, list[Handler]] = {}

    @property
    def alone(self) -> bool:
        """Whether no other replica can serve the database (SQLite)."""
        return False

    def on(self, kind: str, handler: Handler) -> None:
        """Call ``handler`` with the data of each ``kind`` message another replica tells."""
        self._handlers.setdefault(kind, []).append(handler)

    def tell(self, kind: str, data: Any = None) -> None:
        """Have the other replicas' handlers of ``kind`` called with ``data`` (JSON-ready)."""

    async def fence(self, tx: Transaction) -> None:
        """Raise NotLeading unless this replica leads in the latest term (inside ``tx``)."""
        if not self.leading:
            raise NotLeading("this replica does not lead the scheduled work")

    async def alive(self) -> set[str]:
        """Return the replicas (their numbers) serving the database now, this one included."""
        return {self.replica}

    async def leader(self) -> dict[str, Any] | None:
        """Return the leader as the database knows it (replica, name, term, since), or None."""
        async with self._store.transaction() as tx:
            rows = await tx.execute("SELECT value FROM settings WHERE key = ?", (LEADER_SETTING,))
        return json.loads(rows[0][0]) if rows else None

    async def run(self, leader: Leader) -> None:
        """Lead whenever this replica may, following otherwise, until cancelled."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the replica holds outside the database."""

    async def _start_leading(self, leader: Leader, term: int) -> None:
        self.leading, self.term, self.since = True, term, datetime.now(UTC)
        async with self._store.transaction() as tx:
            await tx.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (
                    LEADER_SETTING,
                    json.dumps(
                        {
                            "replica": self.replica,
                            "name": self.name,
                            "term": term,
                            "since": utc_text(self.since.replace(microsecond=0)),
                        }
                    ),
                ),
            )
        await leader.lead()

    async def _stop_leading(self, leader: Leader) -> None:
        if self.leading:
            self.leading = False
            await leader.follow()

    def _received(self, payload: str) -> None:
        """Call the handlers of the messages another replica sent (one notification's)."""
        try:
            sender, messages = json.loads(payload)
        except ValueError, TypeError:
            _LOGGER.warning("Ignored a notification that is not a replica's message")
            return
        if sender == self.replica:
            return
        for kind, data in messages:
            for handler in self._handlers.get(kind, ()):
                try:
                    handler(data)
                except Exception:
                    _LOGGER.exception(
                        "A %s message from replica %s could not be handled", kind, sender
                    )


class SoleReplica(Replicas):
    """The only replica of its database (SQLite's): it always leads.

    ``claim`` makes the one that serves a SQLite database, refusing a second.
    """

    def __init__(self, store: Store, lock: int | None = None, name: str | None = None) -> None:
        """Lead alone; hold ``lock`` (a locked file's descriptor) until ``close``."""
        super().__init__(store, name)
        self._lock = lock
        self.leading, self.term = True, 1

    @property
    def alone(self) -> bool:
        """Always: SQLite serves one replica."""
        return True

    @classmethod
    def claim(cls, store: Store, database: Path, name: str | None = None) -> SoleReplica:
        """Lock the database for this process; raise ReplicaRefused when another serves it."""
        try:
            descriptor = serving_lock(database)
        except ReplicaRefused as err:
            raise ReplicaRefused(
                f"{err}: SQLite serves one aggregator at a time. Stop the other one, or give "
                "every replica the same PostgreSQL database (database_url) to run several"
            ) from err
        return cls(store, descriptor, name)

    async def run(self, leader: Leader) -> None:
        """Lead until cancelled (nobody else can)."""
        try:
            await self._start_leading(leader, 1)
            self.settled.set()
            await asyncio.Event().wait()
        finally:
            await self._stop_leading(leader)

    def close(self) -> None:
        """Let another process serve the database."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def serving_lock(database: Path) -> int | None:
    """Lock a SQLite database for this process (until the descriptor returned is closed).

    None for a database in memory (nobody else can serve it). Raises ReplicaRefused, naming
    the process, when another one holds it, and StoreError when the lock cannot be taken.
    """
    if str(database) == ":memory:":
        return None
    path = database.with_name(f"{database.name}.serving")
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as err:
        raise StoreError(f"cannot lock the SQLite database {database}: {err}") from err
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "?"
        os.close(descriptor)
        if err.errno not in {errno.EWOULDBLOCK, errno.EACCES}:
            raise
        raise ReplicaRefused(
            f"another aggregator (process {holder}) already serves the SQLite database {database}"
        ) from err
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    return descriptor


class PostgresReplicas(Replicas):
    """A replica of a PostgreSQL database, leading when it holds the leader's lock."""

    def __init__(self, store: Store, url: str, name: str | None = None) -> None:
        """Use ``url`` for the connection that holds the locks and hears the others."""
        super().__init__(store, name)
        self._url = url
        self._outbox: list[tuple[str, Any]] = []

    def tell(self, kind: str, data: Any = None) -> None:
        """Send at the next tick (within ``TICK_S``), with whatever else was told meanwhile."""
        self._outbox.append((kind, data))

    async def fence(self, tx: Transaction) -> None:
        """Raise NotLeading unless this replica leads and its term is still the last one.

        The term is read FOR SHARE: a next leader's new term waits for ``tx`` to end, so what
        ``tx`` does is done in this term or not at all.
        """
        await super().fence(tx)
        rows = await tx.execute(
            "SELECT value FROM settings WHERE key = ? FOR SHARE", (TERM_SETTING,)
        )
        if not rows or int(rows[0][0]) != self.term:
            raise NotLeading(f"term {self.term} is over: another replica leads now")

    async def alive(self) -> set[str]:
        """Return the replicas holding their own lock on this database."""
        async with self._store.transaction() as tx:
            rows = await tx.execute(
                "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = ? AND objsubid = 2 AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())",
                (REPLICA_LOCKS,),
            )
        return {f"{int(row[0]):08x}" for row in rows}

    async def run(self, leader: Leader) -> None:
        """Hold this replica's lock, lead when the leader's lock is free, hear the others."""
        import psycopg  # noqa: PLC0415 - only with PostgreSQL

        from ioe_aggregator.store import postgres  # noqa: PLC0415 - as above

        try:
            while True:
                try:
                    async with await psycopg.AsyncConnection.connect(
                        self._url, autocommit=True, connect_timeout=10
                    ) as connection:
                        await self._serve(connection, leader)
                except (psycopg.Error, OSError, TimeoutError, StoreError) as err:
                    reason = postgres.reason(err)
                    if self.leading:
                        _LOGGER.warning(
                            "Stopped leading the scheduled work (term %s): %s", self.term, reason
                        )
                    else:
                        _LOGGER.warning("Replicas: %s; trying again in %.0f s", reason, RETRY_S)
                    await self._stop_leading(leader)
                self.settled.set()
                await asyncio.sleep(RETRY_S)
        finally:
            await self._stop_leading(leader)

    async def _serve(self, connection: Any, leader: Leader) -> None:
        idle, interval, count = SERVER_KEEPALIVES
        for name, value in (("idle", idle), ("interval", interval), ("count", count)):
            await connection.execute(f"SET tcp_keepalives_{name} = {int(value)}")
        # Unacknowledged data (notifications to a leader cut off) holds a session longer than
        # keepalives: the server gives up on it after as long.
        await connection.execute(f"SET tcp_user_timeout = {SERVER_GIVES_UP_S * 1000}")
        await connection.execute("SELECT pg_advisory_lock(%s, %s)", (REPLICA_LOCKS, self.number))
        await connection.execute(f"LISTEN {CHANNEL}")
        self.tell(HELLO)
        while True:
            term = await self._tick(connection, leader)
            if term is not None:
                _LOGGER.info(
                    "Replica %s (%s) leads the scheduled work (term %s)",
                    self.replica,
                    self.name,
                    term,
                )
                await self._start_leading(leader, term)
            self.settled.set()
            async for notification in connection.notifies(timeout=TICK_S):
                self._received(notification.payload)

    async def _tick(self, connection: Any, leader: Leader) -> int | None:
        """Send what was told, then hold the lead or ask for it; return a new term, or None.

        When the database does not answer within ``HEARTBEAT_TIMEOUT_S``, the lead is given up
        at once and the connection dropped (not cancelled politely: that waits on it too).
        """
        work = asyncio.create_task(self._heartbeat(connection))
        done, _pending = await asyncio.wait({work}, timeout=HEARTBEAT_TIMEOUT_S)
        if not done:
            if self.leading:
                _LOGGER.warning(
                    "Stopped leading the scheduled work (term %s): the database did not answer",
                    self.term,
                )
            await self._stop_leading(leader)
            connection.pgconn.finish()
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
            raise TimeoutError(f"the database did not answer within {HEARTBEAT_TIMEOUT_S:.0f} s")
        return work.result()

    async def _heartbeat(self, connection: Any) -> int | None:
        await self._send(connection)
        if self.leading:
            await connection.execute("SELECT 1")
            return None
        cursor = await connection.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,))
        row = await cursor.fetchone()
        return await self._next_term(connection) if row is not None and row[0] else None

    async def _next_term(self, connection: Any) -> int:
        await connection.execute(
            "INSERT INTO settings (key, value) VALUES (%s, '0') ON CONFLICT (key) DO NOTHING",
            (TERM_SETTING,),
        )
        cursor = await connection.execute(
            "UPDATE settings SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) "
            "WHERE key = %s RETURNING value",
            (TERM_SETTING,),
        )
        row = await cursor.fetchone()
        if row is None:  # made just before: only a bug could get here
            raise StoreError("the leader's term is missing")
        return int(row[0])

    async def _send(self, connection: Any) -> None:
        """Notify what was told since the last tick, in as few notifications as fit.

        What could not be sent (the connection lost) is sent on the next one.
        """
        told, self._outbox = self._outbox, []
        chunks: list[list[tuple[str, Any]]] = [[]]
        for message in told:
            chunk = chunks[-1]
            if chunk and len(json.dumps([self.replica, [*chunk, message]])) > MAX_NOTIFY_BYTES:
                chunks.append(chunk := [])
            chunk.append(message)
        for number, chunk in enumerate(chunks):
            try:
                if chunk:
                    await self._notify(connection, chunk)
            except BaseException:
                self._outbox[:0] = [m for unsent in chunks[number:] for m in unsent]
                raise

    async def _notify(self, connection: Any, messages: list[tuple[str, Any]]) -> None:
        payload = json.dumps([self.replica, messages])
        if len(payload) > MAX_NOTIFY_BYTES:
            _LOGGER.error("A %s message is too large to tell the other replicas", messages[0][0])
            return
        await connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))


async def replicas_for(store: Store, url: str, name: str | None = None) -> Replicas:
    """Return this process's place among the replicas of the database ``url`` names.

    Raises ReplicaRefused when the database is SQLite and another process serves it.
    """
    if store.backend == "postgresql":
        return PostgresReplicas(store, url, name)
    database = Path(url.removeprefix("sqlite:///"))
    return await asyncio.to_thread(SoleReplica.claim, store, database, name)
