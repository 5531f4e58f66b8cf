"""Sharing comparisons on the community's stored history, run as jobs one at a time.

A job is recorded as soon as it is asked for (queued), runs when the one before it has finished
(running, with its progress from the engine's steps), and ends done (its summary, report.json
and report.html kept) or failed (with why). The engine's work (pandas, scipy) runs in a thread,
off the event loop. The history is the one the members' results count
(``history.hourly.best_consumption``: each member's own meter, the distributor's data where
the meter did not measure an hour whole) and the registered plants' generation.

The queue is the database's: any replica records a job, the leader (``replicas.py``) claims the
oldest queued one and runs it. A job that was running when its leader stopped is failed when
the next leader starts (nothing is resumed half-way); the queued ones run then.

A static scheme's β, as the job computed them, can be adopted as the agreement from a day.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
import contextlib
from dataclasses import dataclass, field, replace
from datetime import date, datetime
import json
import logging
import secrets
import threading
import time
from typing import Any, Final
from zoneinfo import ZoneInfo

import pandas as pd

from ioe_aggregator import audit
from ioe_aggregator.agreements.book import Agreements
from ioe_aggregator.agreements.model import Agreement
from ioe_aggregator.agreements.shares import shares_from_comparison, sharing_members
from ioe_aggregator.distributor.model import IMPORT, METER, SOURCE as DISTRIBUTOR
from ioe_aggregator.distributor.timeline import local_midnight
from ioe_aggregator.forecast.model import Site
from ioe_aggregator.history.hourly import best_consumption, generation
from ioe_aggregator.members.registry import Registry
from ioe_aggregator.protocol.codec import COMMUNITY_PLANT, Measure
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.replicas import Replicas
from ioe_aggregator.sharing import scenarios, schemes as sch
from ioe_aggregator.sharing.calendar import add_months
from ioe_aggregator.sharing.compare import Comparison, compare
from ioe_aggregator.sharing.economics import Prices
from ioe_aggregator.sharing.fairness import Objective
from ioe_aggregator.sharing.files import align_hours
from ioe_aggregator.sharing.model import Member
from ioe_aggregator.sharing.report_html import documents
from ioe_aggregator.sharing.rules import Rules
from ioe_aggregator.sharing.scenarios import Scenario
from ioe_aggregator.store import Store, StoreError
from ioe_aggregator.store.sql import moment, moment_or_none

_LOGGER = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
# A member's investment as the registry keeps it (and the comparison's members carry it).
INVESTMENT_SHARE: Final = "investment_share"
# The longest period compared at once, and the years a period may fall in.
MAX_MONTHS: Final = 36
FIRST_YEAR, LAST_YEAR = 2000, 2100
# Where the job's progress stands once the history is read, and before the reports are written.
READ_SHARE, ENGINE_SHARE = 0.05, 0.9
INTERRUPTED: Final = "the service stopped before the comparison finished; start it again"
_COLUMNS = "id, state, progress, actor, request, created_s, started_s, finished_s, error, summary"
SELECT_ALL = f"SELECT {_COLUMNS} FROM comparisons ORDER BY created_s DESC, id DESC"  # noqa: S608
SELECT_ONE = f"SELECT {_COLUMNS} FROM comparisons WHERE id = ?"  # noqa: S608 - constant
SELECT_REPORT = "SELECT state, report_json, report_html FROM comparisons WHERE id = ?"
INSERT = """INSERT INTO comparisons (id, state, progress, actor, request, created_s)
    VALUES (?, ?, 0, ?, ?, ?)"""
SET_RUNNING = "UPDATE comparisons SET state = ?, started_s = ? WHERE id = ?"
# Progress only moves forward: the engine's thread reports it in order, but a late write
# must not undo a later one.
SET_PROGRESS = "UPDATE comparisons SET progress = ? WHERE id = ? AND progress < ?"
SET_DONE = """UPDATE comparisons SET state = ?, progress = 1, finished_s = ?, summary = ?,
    report_json = ?, report_html = ? WHERE id = ?"""
# Only a job still running: a late failure never undoes a job done (or failed by another).
SET_FAILED = """UPDATE comparisons SET state = ?, finished_s = ?, error = ?
    WHERE id = ? AND state = 'running'"""
FAIL_UNFINISHED = "UPDATE comparisons SET state = ?, finished_s = ?, error = ? WHERE state = ?"
SELECT_NEXT = "SELECT id FROM comparisons WHERE state = ? ORDER BY created_s, id LIMIT 1"
# Checked by the leader now and then even when nobody said a job was queued.
POLL_S = 30.0
# The replicas' message saying a job was queued.
QUEUED_JOB = "comparison_queued"


class Stopped(Exception):
    """The service is stopping: the engine's thread ends at its next step."""


@dataclass(frozen=True, kw_only=True)
class ComparisonRequest:
    """What a comparison is asked for: months (local, inclusive), schemes, prices and rules."""

    first_month: date
    last_month: date
    schemes: tuple[str, ...] = sch.ALL_SCHEMES
    # EUR/kWh; None: the configured ones (and without those, no savings).
    import_eur_kwh: float | None = None
    surplus_eur_kwh: float | None = None
    rules: Mapping[str, float] = field(default_factory=dict)
    # What the recommendation weighs: the agreement in force (one of the schemes), the
    # objective, the largest loss a member may take (savings-no-loss).
    in_force: str | None = None
    objective: str = str(Objective.SELF_CONSUMPTION)
    max_loss_share: float | None = None
    # What-if scenarios, as `sharing.scenarios.parse` reads them (a joining member by its
    # annual kWh: the API takes no files).
    scenarios: tuple[Mapping[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Return the request as the API gives it back."""
        return {
            "period": {"first": f"{self.first_month:%Y-%m}", "last": f"{self.last_month:%Y-%m}"},
            "schemes": list(self.schemes),
            "prices": None
            if self.import_eur_kwh is None or self.surplus_eur_kwh is None
            else {"import_eur_kwh": self.import_eur_kwh, "surplus_eur_kwh": self.surplus_eur_kwh},
            "rules": dict(self.rules),
            "decision": {
                "in_force": self.in_force,
                "objective": self.objective,
                "max_loss_share": self.max_loss_share,
            },
            "scenarios": [dict(item) for item in self.scenarios],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComparisonRequest:
        """Return the request ``as_dict`` gave."""
        prices = data["prices"] or {}
        return cls(
            first_month=date.fromisoformat(data["period"]["first"] + "-01"),
            last_month=date.fromisoformat(data["period"]["last"] + "-01"),
            schemes=tuple(data["schemes"]),
            import_eur_kwh=prices.get("import_eur_kwh"),
            surplus_eur_kwh=prices.get("surplus_eur_kwh"),
            rules=data["rules"],
            # Jobs recorded before scenarios or decisions were asked for: the default.
            scenarios=tuple(data.get("scenarios") or ()),
            **{
                key: value
                for key, value in (data.get("decision") or {}).items()
                if value is not None
            },
        )

    def check(self) -> None:
        """Refuse a request no job could run: months out of order, unknown schemes, rules."""
        months = (self.last_month.year - self.first_month.year) * 12
        months += self.last_month.month - self.first_month.month
        if not FIRST_YEAR <= self.first_month.year <= self.last_month.year <= LAST_YEAR:
            raise Refused(
                Kind.INVALID,
                f"period: months of {FIRST_YEAR} to {LAST_YEAR}",
                code="bad_period",
            )
        if not 0 <= months < MAX_MONTHS:
            raise Refused(
                Kind.INVALID,
                f"period: the last month comes before the first, or more than {MAX_MONTHS} "
                "months after it",
                code="bad_period",
            )
        if unknown := sorted(set(self.schemes) - set(sch.ALL_SCHEMES)):
            raise Refused(
                Kind.INVALID,
                f"unknown schemes {', '.join(unknown)}: choose from {', '.join(sch.ALL_SCHEMES)}",
                code="unknown_scheme",
            )
        try:
            Rules.from_mapping(self.rules)
        except ValueError as err:
            raise Refused(Kind.INVALID, f"rules: {err}", code="bad_rules") from err
        if self.in_force is not None and self.in_force not in self.schemes:
            raise Refused(
                Kind.INVALID,
                f"decision.in_force: {self.in_force} must be one of the schemes compared",
                code="bad_decision",
            )
        needs = Objective(self.objective) is Objective.SAVINGS_NO_LOSS
        if needs and (self.in_force is None or self.max_loss_share is None):
            raise Refused(
                Kind.INVALID,
                "decision: savings-no-loss needs in_force and max_loss_share",
                code="bad_decision",
            )
        self.what_if(site=None)

    def what_if(self, *, site: Site | None) -> list[Scenario]:
        """Return the scenarios asked for; refuse those that mean nothing (``bad_scenarios``).

        A joining member's investment is a share, as the registry keeps it.
        """
        try:
            return scenarios.parse(list(self.scenarios), site=site, investment=INVESTMENT_SHARE)
        except ValueError as err:
            raise Refused(Kind.INVALID, f"scenarios: {err}", code="bad_scenarios") from err


@dataclass(frozen=True, kw_only=True)
class Job:
    """A comparison job as recorded."""

    id: str
    state: str
    progress: float
    actor: str
    request: ComparisonRequest
    created: datetime
    started: datetime | None
    finished: datetime | None
    error: str | None
    summary: Mapping[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        """Return the job as the API gives it (the summary once done)."""
        return {
            "id": self.id,
            "state": self.state,
            "progress": self.progress,
            "caller": self.actor,
            "request": self.request.as_dict(),
            "created": utc_text(self.created),
            "started": None if self.started is None else utc_text(self.started),
            "finished": None if self.finished is None else utc_text(self.finished),
            "error": self.error,
            "summary": self.summary,
        }


def _new_id() -> str:
    """Return a new job's id: its creation in microseconds, then randomness.

    Ids sort as the jobs were created, so that two created in the same second (the
    ``created_s`` they share) are still listed newest first.
    """
    return f"c-{time.time_ns() // 1000:013x}{secrets.token_hex(2)[:3]}"


def _job(row: Sequence[Any]) -> Job:
    return Job(
        id=row[0],
        state=row[1],
        progress=float(row[2]),
        actor=row[3],
        request=ComparisonRequest.from_dict(json.loads(row[4])),
        created=moment(int(row[5])),
        started=moment_or_none(row[6]),
        finished=moment_or_none(row[7]),
        error=row[8],
        summary=None if row[9] is None else json.loads(row[9]),
    )


# What a job's summary says of each scheme's fairness, across members (report.json has each
# member's); who gains and who loses, counted.
FAIRNESS_SUMMARY: Final = (
    "gini_per_eur_invested",
    "vulnerable_share_of_savings",
    "in_force",
    "worst_loss_share",
)


def _fairness(found: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if found is None:
        return None
    counts = {"gainers": len(found["gainers"]), "losers": len(found["losers"])}
    return {key: found[key] for key in FAIRNESS_SUMMARY} | counts


def summary(comparison: Comparison, report: Mapping[str, Any]) -> dict[str, Any]:
    """Return a done job's summary: the winner, and per scheme its community figures.

    A static agreement scheme also gives its β by member: what adopting it records.
    """
    schemes = {}
    for name, result in comparison.results.items():
        figures = report["schemes"][name]
        agreement = bool(figures["agreement"])
        schemes[name] = {
            "kind": figures["kind"],
            "agreement": agreement,
            "community": {k: v for k, v in figures["community"].items() if k != "monthly"},
            "coefficients": {str(k): float(v) for k, v in result.agreement.values.items()}
            if agreement and result.agreement is not None
            else None,
            "keeps_rules": None if figures["rules_broken"] is None else not figures["rules_broken"],
            "fairness": _fairness(figures["fairness"]),
        }
    what_if = report["scenarios"]
    return {
        "winner": comparison.winner,
        "ranking": comparison.ranking(),
        # Without each member's figures: report.json has them.
        "scenarios": None
        if what_if is None
        else what_if
        | {
            "items": [
                {k: v for k, v in item.items() if k != "members"} for item in what_if["items"]
            ]
        },
        "period": report["evaluated_on"],
        "trained_on": report["trained_on"],
        "schemes": schemes,
    }


def _engine(
    members: list[Member],
    known: Mapping[tuple[str, datetime], float],
    generation_kwh: pd.Series,
    *,
    request: ComparisonRequest,
    tz: str,
    site: Site | None,
    progress: Callable[[float], None],
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Run the comparison (in a thread); return the summary, report.json's document, the page.

    ``known`` is each member's consumption by (member, UTC hour), ``generation_kwh`` the
    plants' on the period's hours; ``site`` the plant's, for the scenarios that add panels.
    """
    ids = [member.member_id for member in members]
    consumption_kwh = pd.DataFrame(index=generation_kwh.index, columns=ids, dtype=float)
    if known:
        measured = pd.Series(known, dtype=float)
        measured.index = measured.index.set_levels(
            pd.DatetimeIndex(measured.index.levels[1]), level=1
        )
        consumption_kwh = measured.unstack(level=0).reindex(index=generation_kwh.index, columns=ids)
    hours = align_hours(consumption_kwh, generation_kwh, tz)
    if hours.consumption.empty:
        raise ValueError("no hour of the period has both generation and a member's consumption")
    prices = None
    if request.import_eur_kwh is not None and request.surplus_eur_kwh is not None:
        prices = Prices.flat(
            hours.consumption.index, request.import_eur_kwh, request.surplus_eur_kwh
        )
    asked = request.what_if(site=site)
    inputs = scenarios.Inputs(
        members=tuple(members),
        consumption_kwh=hours.consumption,
        generation_kwh=hours.generation,
        prices=prices,
    )
    # A scenario that cannot apply to the community as it is fails the job before the work.
    scenarios.check(asked, inputs)
    comparison = compare(
        members,
        hours.consumption,
        hours.generation,
        schemes=request.schemes,
        prices=prices,
        tz=tz,
        rules=Rules.from_mapping(request.rules),
        in_force=request.in_force,
        objective=Objective(request.objective),
        max_loss_share=request.max_loss_share,
        progress=lambda done: progress(READ_SHARE + (ENGINE_SHARE - READ_SHARE) * done),
    )
    outcomes = scenarios.what_if(comparison, inputs, asked, tz=tz) if asked else []
    report, html = documents(comparison, hours, [], tz, outcomes)
    return summary(comparison, report), report, html


class Comparisons:
    """The community's comparison jobs: asked for, run one at a time, read, adopted."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        agreements: Agreements,
        *,
        prices: tuple[float, float] | None,
        replicas: Replicas,
        site: tuple[float, float, float] | None = None,
    ) -> None:
        """Work on a store, with the registry, the agreements, the configured prices and site.

        The leader among ``replicas`` runs the jobs; the others tell it of those they queue.
        """
        self._store = store
        self._registry = registry
        self._agreements = agreements
        self._zone = ZoneInfo(agreements.tz)
        self._prices = prices
        self._site = None if site is None else Site(*site)
        self._replicas = replicas
        self._queued = asyncio.Event()
        replicas.on(QUEUED_JOB, lambda _data: self._queued.set())

    async def fail_unfinished(self) -> int:
        """Mark every job a previous leader left running failed; return how many."""
        async with self._store.transaction() as tx:
            before = await tx.execute(
                "SELECT COUNT(*) FROM comparisons WHERE state = ?", (RUNNING,)
            )
            await tx.execute(FAIL_UNFINISHED, (FAILED, int(time.time()), INTERRUPTED, RUNNING))
        return int(before[0][0])

    def _period(self, request: ComparisonRequest) -> tuple[datetime, datetime]:
        return (
            local_midnight(request.first_month, self._zone),
            local_midnight(add_months(request.last_month, 1), self._zone),
        )

    async def start(self, request: ComparisonRequest, *, actor: str) -> Job:
        """Record a job and queue it; refuse a request without history to compare."""
        request.check()
        for scenario in request.what_if(site=self._site):
            if isinstance(scenario, scenarios.PlantGrows) and not scenario.placed:
                raise Refused(
                    Kind.INVALID,
                    "scenarios: new panels facing otherwise than the plant's need its site: set "
                    "plant_latitude and plant_longitude in the add-on's options",
                    code="no_site",
                )
        if request.import_eur_kwh is None and self._prices is not None:
            import_eur_kwh, surplus_eur_kwh = self._prices
            request = replace(
                request, import_eur_kwh=import_eur_kwh, surplus_eur_kwh=surplus_eur_kwh
            )
        start, end = self._period(request)
        await self._check_history(start, end)
        job_id = _new_id()
        asked = request.as_dict()
        async with self._store.transaction() as tx:
            await tx.execute(INSERT, (job_id, QUEUED, actor, json.dumps(asked), int(time.time())))
            await audit.record(tx, actor, audit.Action.COMPARISON_STARTED, job_id, asked)
        self._queued.set()
        self._replicas.tell(QUEUED_JOB)
        return await self.get(job_id)

    async def _check_history(self, start: datetime, end: datetime) -> None:
        plant = await self._store.totals(start, end, min_contributors=1)
        billed = await self._store.totals(start, end, min_contributors=1, source=DISTRIBUTOR)
        consumed = Measure(METER, IMPORT)
        if COMMUNITY_PLANT not in plant.kwh or not (
            consumed in plant.kwh or consumed in billed.kwh
        ):
            raise Refused(
                Kind.CONFLICT,
                f"no history to compare from {start:%Y-%m-%d} to {end:%Y-%m-%d} (UTC): the "
                "period needs the members' consumption and a registered plant's generation",
                code="no_history",
            )

    async def run(self) -> None:
        """Run the queued jobs one after another, the oldest first, until cancelled.

        A job's engine thread stops at its next step once the run is cancelled (each run has its
        own signal: a later run never revives an earlier one's thread). A job that cannot be
        claimed (the database away, the lead lost) is tried again at the next wake.
        """
        stopping = threading.Event()
        try:
            while True:
                self._queued.clear()
                try:
                    job_id = await self._claim()
                except StoreError as err:  # NotLeading among them
                    _LOGGER.warning("Comparisons: no job claimed: %s", err)
                    job_id = None
                if job_id is not None:
                    try:
                        await self._run(job_id, stopping)
                    except StoreError as err:
                        # Failed by the next leader, or here when the database is back.
                        _LOGGER.warning("Comparison %s: the database failed: %s", job_id, err)
                        with contextlib.suppress(StoreError):
                            await self._fail(job_id, f"the database failed: {err}")
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._queued.wait(), POLL_S)
        finally:
            stopping.set()

    async def _claim(self) -> str | None:
        """Mark the oldest queued job running and return it; None when none is queued.

        Only in the leader's term: a leader that lost its lead claims nothing.
        """
        async with self._store.transaction() as tx:
            await self._replicas.fence(tx)
            rows = await tx.execute(SELECT_NEXT, (QUEUED,))
            if not rows:
                return None
            await tx.execute(SET_RUNNING, (RUNNING, int(time.time()), rows[0][0]))
        return str(rows[0][0])

    async def _run(self, job_id: str, stopping: threading.Event) -> None:
        job = await self.get(job_id)
        try:
            outcome = await self._compute(job, stopping)
        except (ValueError, Refused) as err:
            await self._fail(job_id, str(err))
            return
        except Exception as err:
            _LOGGER.exception("Comparison %s failed", job_id)
            await self._fail(job_id, f"the comparison failed: {type(err).__name__}: {err}")
            return
        found, report, html = outcome
        async with self._store.transaction() as tx:
            await tx.execute(
                SET_DONE,
                (DONE, int(time.time()), json.dumps(found), json.dumps(report), html, job_id),
            )

    async def _fail(self, job_id: str, reason: str) -> None:
        async with self._store.transaction() as tx:
            await tx.execute(SET_FAILED, (FAILED, int(time.time()), reason, job_id))

    async def _compute(
        self, job: Job, stopping: threading.Event
    ) -> tuple[dict[str, Any], dict[str, Any], str]:
        start, end = self._period(job.request)
        registered = await self._registry.members()
        members = sharing_members(registered)
        if not members:
            raise ValueError("the community has no active members")
        known = await best_consumption(self._store, start, end)
        plants = {m.id for m in registered if m.plant_kw > 0}
        plant = await generation(self._store, plants, start, end)
        loop = asyncio.get_running_loop()

        def progress(done: float) -> None:
            if stopping.is_set():
                raise Stopped
            asyncio.run_coroutine_threadsafe(self._progress(job.id, done), loop)

        await self._progress(job.id, READ_SHARE)
        return await asyncio.to_thread(
            _engine,
            members,
            known,
            plant,
            request=job.request,
            tz=self._agreements.tz,
            site=self._site,
            progress=progress,
        )

    async def _progress(self, job_id: str, done: float) -> None:
        async with self._store.transaction() as tx:
            await tx.execute(SET_PROGRESS, (round(done, 4), job_id, round(done, 4)))

    async def all(self) -> list[Job]:
        """Return every job, the newest first."""
        async with self._store.transaction() as tx:
            return [_job(row) for row in await tx.execute(SELECT_ALL)]

    async def get(self, job_id: str) -> Job:
        """Return a job; refuse (not_found) one there is not."""
        async with self._store.transaction() as tx:
            rows = await tx.execute(SELECT_ONE, (job_id,))
        if not rows:
            raise Refused(Kind.NOT_FOUND, f"no comparison {job_id!r}")
        return _job(rows[0])

    async def report(self, job_id: str) -> tuple[str, str]:
        """Return a done job's report.json (as text) and report.html."""
        async with self._store.transaction() as tx:
            rows = await tx.execute(SELECT_REPORT, (job_id,))
        if not rows:
            raise Refused(Kind.NOT_FOUND, f"no comparison {job_id!r}")
        state, document, page = rows[0]
        if state != DONE:
            raise Refused(
                Kind.CONFLICT, f"comparison {job_id} is {state}: no report", code="not_done"
            )
        return str(document), str(page)

    async def adopt(
        self, job_id: str, scheme: str, name: str, *, valid_from: date, actor: str
    ) -> Agreement:
        """Record a static scheme's β, as the job computed them, as the agreement from a day."""
        job = await self.get(job_id)
        if job.state != DONE or job.summary is None:
            raise Refused(
                Kind.CONFLICT,
                f"comparison {job_id} is {job.state}: only a done one can be adopted",
                code="not_done",
            )
        found = job.summary["schemes"].get(scheme)
        if found is None:
            raise Refused(
                Kind.INVALID,
                f"comparison {job_id} did not compare {scheme!r}: "
                f"choose from {', '.join(job.summary['schemes'])}",
                code="unknown_scheme",
            )
        if found["coefficients"] is None:
            raise Refused(
                Kind.INVALID,
                f"{scheme} is {'an hourly scheme' if found['agreement'] else 'a reference'}: "
                "only a static scheme's β can be adopted from a comparison",
                code="not_adoptable",
            )
        shares = shares_from_comparison(
            scheme, found["coefficients"], await self._registry.members()
        )
        return await self._agreements.add(
            name, shares, valid_from=valid_from, actor=actor, comparison=job_id
        )
