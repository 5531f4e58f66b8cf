"""An import of emoncms feeds: each mapped to a member and a measure, stored month by month.

The request names a source (``source``), and for each feed the member, the measure and how to
read it (``feeds.Kind``); everything wrong with it is said at once and nothing starts. The
import runs in the background, one at a time: each feed's history (bounded by ``from``/``to``,
local days) is read a local month at a time, turned into quarter-hour kWh (``energy``) and
stored as the member's own-meter readings in one transaction, giving way to the ingest after
each. A month's batch id is the feed's, the month's and a digest of its readings, so the same
data again changes nothing (``unchanged``) and a corrected feed replaces what changed. Progress
is kept in the database after each month; an import a restart interrupted is failed when the
service starts again (running it again stores only what it had not).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
import json
import logging
from pathlib import Path
import secrets
import time
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

import aiohttp

from ioe_aggregator import audit
from ioe_aggregator.distributor.importer import GIVE_WAY, batch_digest
from ioe_aggregator.distributor.timeline import HOUR, QUARTER_HOUR as QUARTER, local_midnight
from ioe_aggregator.emoncms.energy import energies
from ioe_aggregator.emoncms.feeds import MEASURES, Feed, Kind
from ioe_aggregator.emoncms.files import EmoncmsFiles
from ioe_aggregator.emoncms.server import EmoncmsServer, checked_url
from ioe_aggregator.ingest.plausibility import believable
from ioe_aggregator.members.registry import Member, MemberLimits, Registry
from ioe_aggregator.protocol.codec import COMMUNITY_PLANT, Reading, ReadingsBatch
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.refusals import Kind as Refusal, Refused
from ioe_aggregator.replicas import Replicas
from ioe_aggregator.sharing.calendar import add_months
from ioe_aggregator.store import Store, StoreError
from ioe_aggregator.store.readings import SOURCE_MEMBER

_LOGGER = logging.getLogger(__name__)
MAX_FEEDS: Final = 500
RUNNING, DONE, FAILED = "running", "done", "failed"
WAITING, IMPORTING = "waiting", "importing"
INTERRUPTED: Final = "the service stopped during the import: run it again (what it stored stays)"
_COLUMNS = "id, state, source, actor, feeds, progress, started_s, finished_s, error"
INSERT = f"""INSERT INTO emoncms_imports ({_COLUMNS}, replica, seen_s)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""  # noqa: S608 - constant
# A running import says it is alive this often; one silent for STALE_S on a replica that is gone
# (among several) was interrupted.
BEAT_S, STALE_S = 10.0, 60
SET_SEEN = "UPDATE emoncms_imports SET seen_s = ? WHERE id = ?"
SET_PROGRESS = "UPDATE emoncms_imports SET feeds = ?, progress = ? WHERE id = ?"
SET_FINISHED = """UPDATE emoncms_imports SET state = ?, feeds = ?, progress = ?, finished_s = ?,
    error = ? WHERE id = ?"""
SELECT_RUNNING = "SELECT id, replica, seen_s FROM emoncms_imports WHERE state = ?"
SET_INTERRUPTED = """UPDATE emoncms_imports SET state = ?, finished_s = ?, error = ?
    WHERE id = ? AND state = ?"""
SELECT_ALL = f"SELECT {_COLUMNS} FROM emoncms_imports ORDER BY started_s DESC, id DESC LIMIT 100"  # noqa: S608
SELECT_ONE = f"SELECT {_COLUMNS} FROM emoncms_imports WHERE id = ?"  # noqa: S608 - constant


class Source(Protocol):
    """Where feeds are read: an emoncms server (``server``) or its files (``files``)."""

    def described(self) -> dict[str, Any]:
        """Return the source as the API and the audit log name it (never a key)."""
        ...

    async def feeds(self) -> list[Feed]:
        """Return the source's feeds."""
        ...

    async def figures(
        self, feed: Feed, start: datetime, end: datetime, *, step: timedelta, average: bool
    ) -> list[float | None]:
        """Return the feed's figure for each ``step`` from ``start`` to ``end``."""
        ...


@contextlib.asynccontextmanager
async def open_source(body: Any, folder: Path) -> AsyncIterator[Source]:
    """Open the source a request names: ``{"url", "apikey"}`` or ``{"files": true}``."""
    if not isinstance(body, dict):
        raise Refused(Refusal.INVALID, "source: an object", code="bad_source")
    if body.get("files") is True and body.keys() == {"files"}:
        yield EmoncmsFiles(folder)
        return
    if body.keys() != {"url", "apikey"}:
        raise Refused(
            Refusal.INVALID,
            "source: {url, apikey} of an emoncms server, or {files: true}",
            code="bad_source",
        )
    url = checked_url(body["url"])
    key = body["apikey"]
    if not isinstance(key, str) or not key.strip() or len(key) > 128:
        raise Refused(Refusal.INVALID, "apikey: the server's read API key", code="bad_source")
    async with aiohttp.ClientSession() as session:
        yield EmoncmsServer(session, url, key.strip())


@dataclass(kw_only=True)
class FeedImport:
    """One feed of an import: where it goes, and how far it got."""

    feed: str
    member: str
    measure: str
    kind: Kind
    state: str = WAITING
    progress: float = 0.0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    missing: int = 0
    resets: int = 0
    kwh: float = 0.0
    first: str | None = None
    last: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the feed's part as the API gives it."""
        return {
            "feed": self.feed,
            "member": self.member,
            "measure": self.measure,
            "kind": self.kind.value,
            "state": self.state,
            "progress": round(self.progress, 4),
            "quarters": {
                "new": self.new,
                "changed": self.changed,
                "unchanged": self.unchanged,
                "missing": self.missing,
                "resets": self.resets,
            },
            "kwh": round(self.kwh, 3),
            "first": self.first,
            "last": self.last,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeedImport:
        """Return a feed's part as the database keeps it."""
        quarters = data["quarters"]
        return cls(
            feed=data["feed"],
            member=data["member"],
            measure=data["measure"],
            kind=Kind(data["kind"]),
            state=data["state"],
            progress=data["progress"],
            new=quarters["new"],
            changed=quarters["changed"],
            unchanged=quarters["unchanged"],
            missing=quarters["missing"],
            resets=quarters["resets"],
            kwh=data["kwh"],
            first=data["first"],
            last=data["last"],
            error=data["error"],
        )


@dataclass(kw_only=True)
class Import:
    """An import as recorded: its feeds' parts and how it stands."""

    id: str
    state: str
    source: dict[str, Any]
    actor: str
    feeds: list[FeedImport]
    progress: float
    started_s: int
    finished_s: int | None = None
    error: str | None = None
    # The span asked for (local days, ``to`` excluded); None: the feeds' whole history.
    first_day: date | None = field(default=None, repr=False)
    end_day: date | None = field(default=None, repr=False)
    # What bounds each member's quarter hours (``ingest.plausibility``): its contract, plant.
    limits: dict[str, MemberLimits] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """Return the import as the API gives it."""
        return {
            "id": self.id,
            "state": self.state,
            "source": self.source,
            "actor": self.actor,
            "started_at": utc_text(datetime.fromtimestamp(self.started_s, UTC)),
            "finished_at": None
            if self.finished_s is None
            else utc_text(datetime.fromtimestamp(self.finished_s, UTC)),
            "progress": round(self.progress, 4),
            "error": self.error,
            "feeds": [feed.as_dict() for feed in self.feeds],
        }


def _import(row: Sequence[Any]) -> Import:
    return Import(
        id=row[0],
        state=row[1],
        source=json.loads(row[2]),
        actor=row[3],
        feeds=[FeedImport.from_dict(feed) for feed in json.loads(row[4])],
        progress=float(row[5]),
        started_s=int(row[6]),
        finished_s=None if row[7] is None else int(row[7]),
        error=row[8],
    )


def _new_id(now: float) -> str:
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S")
    return f"imp_{stamp}_{secrets.token_hex(2)}"


def _day(value: Any, name: str, problems: list[str]) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        pass
    problems.append(f"{name}: a day as YYYY-MM-DD")
    return None


class Imports:
    """The service's emoncms imports (see the module)."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        zone: ZoneInfo,
        folder: Path,
        *,
        replicas: Replicas,
        on_stored: Callable[[], None],
    ) -> None:
        """Store readings in ``store``; read files from ``folder``; call ``on_stored`` after.

        An import runs on the replica that was asked for it, one at a time among ``replicas``.
        """
        self._store = store
        self._replicas = replicas
        self._registry = registry
        self._zone = zone
        self.folder = folder
        self._on_stored = on_stored
        self._task: asyncio.Task[None] | None = None
        # Held while a request is checked: a second one meanwhile is refused, not started.
        self._starting = asyncio.Lock()

    async def fail_unfinished(self) -> None:
        """Mark failed the imports left running by a replica that is gone (or restarted).

        Alone on the database (SQLite), any other replica's is; among several, one whose
        replica holds no lock and that has been silent for ``STALE_S`` (a replica's connection
        that blinked has not lost its import).
        """
        alive = await self._replicas.alive()
        now = int(time.time())
        async with self._store.transaction() as tx:
            for import_id, replica, seen_s in await tx.execute(SELECT_RUNNING, (RUNNING,)):
                if replica == self._replicas.replica:
                    continue
                silent = seen_s is None or seen_s < now - STALE_S
                if self._replicas.alone or (replica not in alive and silent):
                    await tx.execute(
                        SET_INTERRUPTED, (FAILED, now, INTERRUPTED, import_id, RUNNING)
                    )

    async def all(self) -> list[Import]:
        """Return the imports, the latest first (a hundred at most)."""
        async with self._store.transaction() as tx:
            rows = await tx.execute(SELECT_ALL)
        return [_import(row) for row in rows]

    async def get(self, import_id: str) -> Import:
        """Return an import; raise Refused (not found)."""
        async with self._store.transaction() as tx:
            rows = await tx.execute(SELECT_ONE, (import_id,))
        if not rows:
            raise Refused(Refusal.NOT_FOUND, f"no import {import_id}", code="no_import")
        return _import(rows[0])

    @property
    def running(self) -> bool:
        """Whether an import is under way."""
        return self._task is not None and not self._task.done()

    async def start(self, body: Any, *, actor: str) -> Import:
        """Check an import's request, record it and start it; return it as it starts.

        Raise Refused: ``bad_source``/``bad_import`` (400, every problem at once),
        ``import_running`` (409), or the source's own refusals (``emoncms_…``).
        """
        if self.running or self._starting.locked():
            raise Refused(Refusal.CONFLICT, "an import is running", code="import_running")
        async with self._starting:
            return await self._start(body, actor=actor)

    async def _start(self, body: Any, *, actor: str) -> Import:
        if not isinstance(body, dict):
            raise Refused(Refusal.INVALID, "the import: an object", code="bad_import")
        await self.fail_unfinished()
        async with self._store.transaction() as tx:
            if await tx.execute(SELECT_RUNNING, (RUNNING,)):
                raise Refused(Refusal.CONFLICT, "an import is running", code="import_running")
        async with open_source(body.get("source"), self.folder) as source:
            found = {feed.id: feed for feed in await source.feeds()}
        job = await self._checked(body, found)
        job.source = source.described()
        job.id = _new_id(time.time())
        job.actor = actor
        async with self._store.transaction() as tx:
            await tx.execute(
                INSERT,
                (
                    job.id,
                    RUNNING,
                    json.dumps(job.source),
                    actor,
                    json.dumps([feed.as_dict() for feed in job.feeds]),
                    0.0,
                    job.started_s,
                    None,
                    None,
                    self._replicas.replica,
                    job.started_s,
                ),
            )
            await audit.record(
                tx,
                actor,
                audit.Action.EMONCMS_IMPORT,
                job.id,
                {
                    "source": job.source,
                    "feeds": [
                        {"feed": f.feed, "member": f.member, "measure": f.measure}
                        for f in job.feeds
                    ],
                },
            )
        self._task = asyncio.create_task(self._run(job, body["source"], found))
        return job

    async def stop(self) -> None:
        """Stop a running import (the service stops): it is failed as interrupted."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._task

    async def _checked(self, body: Mapping[str, Any], found: Mapping[str, Feed]) -> Import:
        """Return the import a request asks for; raise Refused (bad_import) with every problem."""
        problems: list[str] = []
        unknown = set(body) - {"source", "feeds", "from", "to"}
        problems.extend(f"{name}: not a field of an import" for name in sorted(unknown))
        first_day = _day(body.get("from"), "from", problems)
        end_day = _day(body.get("to"), "to", problems)
        if first_day and end_day and end_day <= first_day:
            problems.append("to: a day after from")
        members = {member.id: member for member in await self._registry.members()}
        asked = body.get("feeds")
        feeds: list[FeedImport] = []
        if not isinstance(asked, list) or not 1 <= len(asked) <= MAX_FEEDS:
            problems.append(f"feeds: from 1 to {MAX_FEEDS} feeds")
            asked = []
        measured: set[tuple[Any, Any]] = set()
        for n, entry in enumerate(asked):
            dated = first_day is not None
            part = _part(f"feeds[{n}]", entry, found, members, problems, dated=dated)
            if isinstance(entry, dict):
                pair = (entry.get("member"), entry.get("measure"))
                if pair in measured:
                    problems.append(f"feeds[{n}]: one feed per member and measure")
                measured.add(pair)
            if part is not None:
                feeds.append(part)
        if problems:
            raise Refused(Refusal.INVALID, "; ".join(problems), code="bad_import")
        return Import(
            id="",
            state=RUNNING,
            source={},
            actor="",
            feeds=feeds,
            progress=0.0,
            started_s=int(time.time()),
            first_day=first_day,
            end_day=end_day,
            limits={
                part.member: MemberLimits(
                    joined=members[part.member].created,
                    contracted_kw=members[part.member].contracted_kw,
                    plant_kw=members[part.member].plant_kw,
                )
                for part in feeds
            },
        )

    def _span(self, job: Import, feed: Feed) -> tuple[datetime, datetime] | None:
        """Return the steps (UTC) of a feed's history the import covers, None if none."""
        asked = None if job.first_day is None else local_midnight(job.first_day, self._zone)
        # An old server's variable-interval feed does not say when it begins: ``from`` does.
        start = max((m for m in (feed.first, asked) if m is not None), default=None)
        if feed.last is None or start is None:
            return None
        end = feed.last + timedelta(seconds=feed.interval_s or 1)
        if job.end_day is not None:
            end = min(end, local_midnight(job.end_day, self._zone))
        step = step_of(feed)
        start = _floor(start, step)
        end = _floor(end - timedelta(microseconds=1), step) + step
        # Never the step under way: its samples are not all in yet.
        end = min(end, _floor(datetime.now(UTC), step))
        return (start, end) if start < end else None

    def _months(self, start: datetime, end: datetime) -> list[tuple[str, datetime, datetime]]:
        """Return the local months of a span: their name and their part of it (UTC)."""
        months = []
        local = start.astimezone(self._zone).date().replace(day=1)
        while (begins := local_midnight(local, self._zone)) < end:
            following = add_months(local, 1)
            ends = local_midnight(following, self._zone)
            months.append((f"{local:%Y-%m}", max(begins, start), min(ends, end)))
            local = following
        return months

    async def _run(self, job: Import, source_body: Any, found: Mapping[str, Feed]) -> None:
        # By part: one feed may be imported as two measures.
        spans = [self._span(job, found[part.feed]) for part in job.feeds]
        sizes = [(span[1] - span[0]) / HOUR if span else 0.0 for span in spans]
        weights = [size / (sum(sizes) or 1.0) for size in sizes]
        beat = asyncio.create_task(self._beat(job.id))
        try:
            async with open_source(source_body, self.folder) as source:
                for part, span in zip(job.feeds, spans, strict=True):
                    await self._feed(job, source, found[part.feed], part, span, weights=weights)
        except asyncio.CancelledError:
            await self._finish(job, FAILED, INTERRUPTED)
            raise
        except Exception as err:  # recorded as the import's failure, never lost
            _LOGGER.exception("emoncms import %s failed", job.id)
            await self._finish(job, FAILED, f"internal: {type(err).__name__}")
            return
        finally:
            beat.cancel()
        failed = [part.feed for part in job.feeds if part.state == FAILED]
        error = f"feeds not imported: {', '.join(failed)}" if failed else None
        await self._finish(job, FAILED if failed else DONE, error)
        self._on_stored()

    async def _beat(self, import_id: str) -> None:
        """Say the import is alive every ``BEAT_S`` (a store error only skips a beat)."""
        while True:
            await asyncio.sleep(BEAT_S)
            try:
                async with self._store.transaction() as tx:
                    await tx.execute(SET_SEEN, (int(time.time()), import_id))
            except StoreError as err:
                _LOGGER.warning("emoncms import %s: %s", import_id, err)

    async def _feed(
        self,
        job: Import,
        source: Source,
        feed: Feed,
        part: FeedImport,
        span: tuple[datetime, datetime] | None,
        *,
        weights: Sequence[float],
    ) -> None:
        """Import one feed's months; a refusal or an error fails this feed alone."""
        part.state = IMPORTING
        try:
            months = self._months(*span) if span else []
            for month, begins, ends in months:
                await self._month(
                    source, feed, part, month, (begins, ends), limits=job.limits[part.member]
                )
                part.progress = (ends - months[0][1]) / (months[-1][2] - months[0][1])
                await self._save(job, weights)
            part.state, part.progress = DONE, 1.0
        except Refused as err:
            part.state, part.error = FAILED, f"{err.code}: {err}"
        except Exception as err:  # a broken file, the store: this feed fails
            _LOGGER.exception("emoncms import %s: feed %s failed", job.id, part.feed)
            part.state, part.error = FAILED, f"internal: {type(err).__name__}"
        await self._save(job, weights)
        _LOGGER.info(
            "emoncms import %s: feed %s → %s %s: %s (quarters: %d new, %d changed, "
            "%d unchanged, %d missing, %d after a counter's reset)",
            job.id,
            part.feed,
            part.member,
            part.measure,
            part.state,
            part.new,
            part.changed,
            part.unchanged,
            part.missing,
            part.resets,
        )

    async def _month(
        self,
        source: Source,
        feed: Feed,
        part: FeedImport,
        month: str,
        span: tuple[datetime, datetime],
        *,
        limits: MemberLimits,
    ) -> None:
        """Read, convert and store one local month of a feed (one transaction)."""
        begins, ends = span
        step = step_of(feed)
        # A counter needs its value as the month's last step ends.
        until = ends + step if part.kind.cumulative else ends
        values = await source.figures(
            feed, begins, until, step=step, average=not part.kind.cumulative
        )
        found = energies(part.kind, begins, values, step=step)
        part.missing += found.missing
        part.resets += found.resets
        if not found.kwh:
            return
        meter, quantity = MEASURES[part.measure]
        # A step of several quarters was shared among them: what each got is an estimate.
        quality = "measured" if step == QUARTER else "estimated"
        readings = tuple(
            Reading(meter, quantity, start, start + QUARTER, round(kwh, 6), quality)
            for start, kwh in sorted(found.kwh.items())
        )
        batch = ReadingsBatch(
            member=part.member,
            batch=f"emoncms:{feed.id}:{part.measure}:{month}:{batch_digest(readings)}",
            sent_at=datetime.now(UTC),
            readings=readings,
            live=None,
        )
        # A counter's glitch (a dip to 0 and back) or a spike no meter of the member measures.
        batch, left_out = believable(batch, limits)
        if left_out:
            part.resets += len(left_out)
            _LOGGER.warning(
                "emoncms feed %s, %s: %d quarter hours beyond the member's contract or plant, "
                "left out (the first: %s)",
                feed.id,
                month,
                len(left_out),
                left_out[0],
            )
            readings = batch.readings
            if not readings:
                return
        began = time.monotonic()
        (outcome,) = await self._store.store_batches([batch], source=SOURCE_MEMBER)
        part.new += outcome.new
        part.changed += outcome.changed
        part.unchanged += outcome.unchanged
        part.kwh += sum(reading.value for reading in readings)
        first, last = utc_text(readings[0].start), utc_text(readings[-1].end)
        part.first = min(part.first or first, first)
        part.last = max(part.last or last, last)
        await asyncio.sleep((time.monotonic() - began) * GIVE_WAY)

    async def _save(self, job: Import, weights: Sequence[float]) -> None:
        """Record the feeds' progress, and the import's (each feed weighed by its hours)."""
        progress = sum(part.progress * w for part, w in zip(job.feeds, weights, strict=True))
        job.progress = min(progress, 1.0)
        async with self._store.transaction() as tx:
            await tx.execute(
                SET_PROGRESS, (json.dumps([f.as_dict() for f in job.feeds]), job.progress, job.id)
            )

    async def _finish(self, job: Import, state: str, error: str | None) -> None:
        job.state, job.error, job.finished_s = state, error, int(time.time())
        if state == DONE:
            job.progress = 1.0
        async with self._store.transaction() as tx:
            await tx.execute(
                SET_FINISHED,
                (
                    state,
                    json.dumps([f.as_dict() for f in job.feeds]),
                    job.progress,
                    job.finished_s,
                    error,
                    job.id,
                ),
            )


def _part(
    at: str,
    entry: Any,
    found: Mapping[str, Feed],
    members: Mapping[str, Member],
    problems: list[str],
    *,
    dated: bool,
) -> FeedImport | None:
    """Return one feed's part of an import, adding what is wrong with it to ``problems``."""
    if not isinstance(entry, dict) or entry.keys() != {"feed", "member", "measure", "kind"}:
        problems.append(f"{at}: an object of feed, member, measure and kind")
        return None
    feed, member, measure, kind = (
        str(entry["feed"]),
        entry["member"],
        entry["measure"],
        entry["kind"],
    )
    before = len(problems)
    if feed not in found:
        problems.append(f"{at}.feed: the source has no feed {feed}")
    elif found[feed].engine == "virtual":
        problems.append(f"{at}.feed: feed {feed} is virtual: it holds no data")
    elif (found[feed].interval_s or 0) > HOUR.total_seconds() or (
        (found[feed].interval_s or 0) > QUARTER.total_seconds() and step_of(found[feed]) == QUARTER
    ):
        problems.append(
            f"{at}.feed: feed {feed} is logged every {found[feed].interval_s} s: only feeds "
            "logged every quarter hour or more often, every half hour or every hour can be "
            "placed in quarter hours"
        )
    if member not in members:
        problems.append(f"{at}.member: no member {member}")
    if feed in found and found[feed].first is None and found[feed].last is not None and not dated:
        problems.append(f"{at}.feed: emoncms does not say when feed {feed} begins: give from")
    if measure not in MEASURES:
        problems.append(f"{at}.measure: one of {', '.join(MEASURES)}")
    elif (
        MEASURES[measure] == COMMUNITY_PLANT and member in members and members[member].plant_kw <= 0
    ):
        problems.append(f"{at}.measure: member {member} has no registered plant")
    if kind not in set(Kind):
        problems.append(f"{at}.kind: one of {', '.join(Kind)}")
    if len(problems) > before:
        return None
    return FeedImport(feed=feed, member=member, measure=measure, kind=Kind(kind))


def step_of(feed: Feed) -> timedelta:
    """Return the step a feed is read in: a quarter, or its interval of half an hour or an hour."""
    if feed.interval_s is not None and feed.interval_s in (1800, 3600):
        return timedelta(seconds=feed.interval_s)
    return QUARTER


def _floor(moment: datetime, step: timedelta) -> datetime:
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % int(step.total_seconds()), UTC)
