"""The Datadis sync: every linked member's supply, month by month, into the store.

For each member read through Datadis the sync finds its supply point (once a month), its
contract (once a month), and then asks for months of its curve:

* the first time, every month of the last ``history_months`` (Datadis keeps two years), from
  the contract's start at the earliest;
* then, each day, the current and the previous month (data arrives days late and is corrected);
* an older month that failed (the contract's first month always does) or came back incomplete
  is asked again, at most daily, until it is complete or has been tried ``MAX_ATTEMPTS`` times.

No query is sent twice within 24 hours (``ledger``), whatever its answer was. A refused login
stops the sync (the manager must enter the password again); any other refusal concerns one
member (not authorised, no supplies, already asked, a bad request) or one month: it is recorded
on that member with its reason and the sync goes on with the next. Members whose supplies one
NIF authorised share that NIF's supply list: one answer places them all, in the same run.
Values become readings with the distributor's source (``distributor.importer``); after each
member whose data changed, ``on_stored`` is called (the service publishes the results then).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
import logging
import re
from typing import Any
from zoneinfo import ZoneInfo

from ioe_aggregator.datadis.client import (
    AlreadyAskedError,
    AuthenticationError,
    ConsumptionRow,
    DatadisClient,
    DatadisError,
    DistributorError,
    NoSuppliesError,
    NotAuthorizedError,
    Supply,
    TemporaryError,
    month_text,
)
from ioe_aggregator.datadis.ledger import LOGIN_KEY, Ledger, Link, MonthState
from ioe_aggregator.distributor.importer import store_rows
from ioe_aggregator.distributor.model import (
    ESTIMATED,
    EXPORT,
    GENERATION,
    IMPORT,
    MEASURED,
    SELF_CONSUMPTION,
)
from ioe_aggregator.distributor.rows import LabelledRow, label_of, place, supply_point
from ioe_aggregator.distributor.timeline import local_midnight
from ioe_aggregator.members.registry import Member
from ioe_aggregator.sharing.calendar import add_months
from ioe_aggregator.store import Store

_LOGGER = logging.getLogger(__name__)
# A CUPS in a message (20 characters, or 22 with its boundary suffix).
_CUPS = re.compile(r"\bES[0-9]{16}[A-Z]{2}(?:[0-9][A-Z])?\b")

DEFAULT_HISTORY_MONTHS = 24
# An older month that keeps failing or coming back incomplete is left after this many tries
# (``datadis sync --from … --to …`` asks for it again).
MAX_ATTEMPTS = 7
# The supply point and contract are looked up again after this long.
RECHECK = timedelta(days=30)
# A pause between two queries, so that a sync is no burst.
DEFAULT_PAUSE_S = 1.0

# Outcomes of a month, as the status shows them.
OK = "ok"
TEMPORARY = "temporary"
REFUSED = "refused"
ALREADY_ASKED = "already_asked"


@dataclass(slots=True)
class MemberSync:
    """What one member's sync did: queries sent, months stored, intervals, and problems.

    ``stored``: readings written, new or changed (0 when Datadis answered what was stored).
    """

    member: str
    status: str = OK
    queries: int = 0
    months: list[str] = field(default_factory=list)
    intervals: int = 0
    stored: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the outcome as ``--json`` gives it."""
        return {
            "member": self.member,
            "status": self.status,
            "queries": self.queries,
            "months": self.months,
            "intervals": self.intervals,
            "stored": self.stored,
            "problems": self.problems,
        }


@dataclass(slots=True)
class SyncReport:
    """What a sync did, member by member; ``login_refused`` when it could not start."""

    members: list[MemberSync] = field(default_factory=list)
    login_refused: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the report as ``--json`` gives it."""
        return {
            "login_refused": self.login_refused,
            "members": [member.as_dict() for member in self.members],
        }


def first_of_month(day: date) -> date:
    """Return the first day of ``day``'s month."""
    return day.replace(day=1)


def history_window(
    now: datetime, zone: ZoneInfo, history_months: int, supply_from: date | None
) -> tuple[date, date]:
    """Return the first and last months a member's history covers (the last is the current).

    ``history_months`` back at most, and not before the supply's contract started.
    """
    current = first_of_month(now.astimezone(zone).date())
    oldest = add_months(current, 1 - history_months)
    if supply_from is not None:
        oldest = max(oldest, first_of_month(supply_from))
    return oldest, current


def month_key(month: date) -> str:
    """Return a month as the ledger names it: ``YYYY-MM``."""
    return f"{month:%Y-%m}"


def utc_now() -> datetime:
    """Return the time now, in UTC (the ledger's clock)."""
    return datetime.now(UTC)


class DatadisSync:
    """Bring the linked members' distributor data into the store."""

    def __init__(
        self,
        store: Store,
        client: DatadisClient,
        zone: ZoneInfo,
        *,
        history_months: int = DEFAULT_HISTORY_MONTHS,
        pause_s: float = DEFAULT_PAUSE_S,
        wait_s: float = 0.0,
        clock: Callable[[], datetime] = utc_now,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        """Sync into ``store`` through ``client``; months are local to ``zone``.

        ``pause_s`` separates two queries; ``wait_s`` is how long a query that is not yet 24
        hours old may be waited for; ``clock`` gives the time the ledger counts from;
        ``on_stored`` is called after each member whose readings changed.
        """
        self._store = store
        self._client = client
        self._zone = zone
        self._ledger = Ledger(store)
        self._history_months = history_months
        self._pause_s = pause_s
        self._wait_s = wait_s
        self._clock = clock
        self._on_stored = on_stored
        self._sent = 0
        # The supply lists answered in this run, by NIF ("-": the manager's own).
        self._supply_lists: dict[str, tuple[list[Supply], list[DistributorError]]] = {}

    async def run(
        self,
        members: Sequence[Member],
        *,
        only: str | None = None,
        months: tuple[date, date] | None = None,
        spread_s: float = 0.0,
    ) -> SyncReport:
        """Sync every linked member (or ``only`` one); ``months`` asks again for that range.

        With ``spread_s`` the members' turns are spread over that many seconds.
        """
        report = SyncReport()
        self._supply_lists = {}
        by_id = {member.id: member for member in members}
        links = [link for link in await self._ledger.links() if only in (None, link.member)]
        try:
            await self._client.login()
        except AuthenticationError as err:
            await self._ledger.asked(LOGIN_KEY, self._clock(), REFUSED)
            _LOGGER.error("Datadis sync stopped: %s", err)  # noqa: TRY400 - the reason is all
            report.login_refused = str(err)
            return report
        except DatadisError as err:
            await self._ledger.asked(LOGIN_KEY, self._clock(), TEMPORARY)
            _LOGGER.warning("Datadis sync stopped: %s", err)
            report.members = [
                MemberSync(link.member, TEMPORARY, problems=[str(err)]) for link in links
            ]
            return report
        await self._ledger.asked(LOGIN_KEY, self._clock(), OK)
        for index, link in enumerate(links):
            member = by_id.get(link.member)
            if member is None or not member.active:
                continue
            if index and spread_s:
                await asyncio.sleep(spread_s / len(links))
            try:
                outcome = await self._member(link, member, self._clock(), months)
            except AuthenticationError as err:
                await self._ledger.asked(LOGIN_KEY, self._clock(), REFUSED)
                report.login_refused = str(err)
                _LOGGER.error("Datadis sync stopped: %s", err)  # noqa: TRY400 - as above
                break
            report.members.append(outcome)
            if outcome.stored and self._on_stored is not None:
                self._on_stored()
        return report

    async def _member(
        self, link: Link, member: Member, now: datetime, forced: tuple[date, date] | None
    ) -> MemberSync:
        outcome = MemberSync(member.id)
        try:
            supply = await self._supply(link, member, now, outcome)
            if supply is None:
                return outcome
            await self._contract(link, supply, now, outcome)
            states = await self._ledger.months(member.id)
            for month in self._due_months(supply, states, now, forced):
                await self._month(
                    link=link,
                    member=member,
                    supply=supply,
                    month=month,
                    previous=states.get(month_key(month)),
                    now=now,
                    outcome=outcome,
                )
        except AuthenticationError:
            raise
        except DatadisError as err:
            outcome.status = _member_status(err)
            outcome.problems.append(str(err))
            _LOGGER.warning("Datadis: member %s: %s", member.id, err)
        await self._ledger.set_status(
            member.id, outcome.status, "; ".join(outcome.problems[-3:]), now
        )
        return outcome

    async def _ask(self, query: str, outcome: MemberSync) -> bool:
        """Whether ``query`` may be sent now; if so, record it as sent (before the answer).

        A query sent less than 24 hours ago waits for its turn when that comes within
        ``wait_s``; otherwise it is left for another run.
        """
        wait = await self._ledger.wait_before(query, self._clock())
        if wait.total_seconds() > self._wait_s:
            return False
        if wait:
            await asyncio.sleep(wait.total_seconds())
        elif self._sent and self._pause_s:
            await asyncio.sleep(self._pause_s)
        await self._ledger.asked(query, self._clock(), "sent")
        self._sent += 1
        outcome.queries += 1
        return True

    async def _supply(
        self, link: Link, member: Member, now: datetime, outcome: MemberSync
    ) -> Supply | None:
        """Return the member's supply point, as known or as Datadis lists it now."""
        if link.supply is not None and link.checked and now - link.checked < RECHECK:
            return link.supply
        owner = link.nif or "-"
        if owner not in self._supply_lists:
            if not await self._ask(f"{owner}|get-supplies-v2", outcome):
                if link.supply is None:
                    outcome.status = "waiting"
                    outcome.problems.append("the supply list was asked for less than 24 hours ago")
                return link.supply
            try:
                self._supply_lists[owner] = await self._client.supplies(link.nif)
            except TemporaryError as err:
                outcome.status = TEMPORARY
                outcome.problems.append(str(err))
                return link.supply
        supplies, distributor_errors = self._supply_lists[owner]
        found = next(
            (s for s in supplies if supply_point(s.cups) == supply_point(member.cups)), None
        )
        if found is None:
            outcome.status = "not_found"
            why = f"CUPS {member.cups} is not among the supplies Datadis lists for this NIF"
            if distributor_errors:
                why += (
                    " (distributor errors: "
                    + ", ".join(f"{e.name}: {e.description}" for e in distributor_errors)
                    + ")"
                )
            outcome.problems.append(why)
            return None
        await self._ledger.save_supply(member.id, found, now)
        return found

    async def _contract(
        self, link: Link, supply: Supply, now: datetime, outcome: MemberSync
    ) -> None:
        if link.contract is not None and link.checked and now - link.checked < RECHECK:
            return
        query = f"{link.nif or '-'}|get-contract-detail-v2|{supply.cups}"
        if not await self._ask(query, outcome):
            return
        try:
            contract = await self._client.contract(supply.cups, supply.distributor_code, link.nif)
        except AuthenticationError, NotAuthorizedError:
            raise
        except DatadisError as err:
            # The contract is looked up again next time; the curve does not need it.
            outcome.problems.append(str(err))
            return
        if contract is not None:
            await self._ledger.save_contract(link.member, contract, now)

    def _due_months(
        self,
        supply: Supply,
        states: dict[str, MonthState],
        now: datetime,
        forced: tuple[date, date] | None,
    ) -> list[date]:
        """Return the months to ask for now, newest first."""
        oldest, current = history_window(now, self._zone, self._history_months, supply.valid_from)
        if forced is not None:
            first, last = (max(first_of_month(forced[0]), oldest), min(forced[1], current))
            return _months_between(first, last)
        return [
            month
            for month in _months_between(oldest, current)
            if _is_due(month, states.get(month_key(month)), current)
        ]

    async def _month(
        self,
        *,
        link: Link,
        member: Member,
        supply: Supply,
        month: date,
        previous: MonthState | None,
        now: datetime,
        outcome: MemberSync,
    ) -> None:
        quarter_hours = supply.quarter_hours
        query = (
            f"{link.nif or '-'}|get-consumption-data-v2|{supply.cups}|{month_text(month)}"
            f"|{int(quarter_hours)}"
        )
        if not await self._ask(query, outcome):
            return
        attempts = (previous.attempts if previous else 0) + 1
        state = MonthState(
            month=month_key(month),
            asked=now,
            outcome=OK,
            attempts=attempts,
            intervals=previous.intervals if previous else 0,
            complete=previous.complete if previous else False,
            success=None,
            detail="",
        )
        try:
            rows = await self._client.consumption(
                supply, month, quarter_hours=quarter_hours, authorized_nif=link.nif
            )
        except AlreadyAskedError as err:
            state = _failed(state, ALREADY_ASKED, str(err))
        except TemporaryError as err:
            state = _failed(state, TEMPORARY, str(err))
            _LOGGER.info("Datadis: member %s, %s: %s", member.id, state.month, err)
        except NotAuthorizedError:
            raise
        except DatadisError as err:
            state = _failed(state, REFUSED, str(err))
            _LOGGER.warning("Datadis: member %s, %s: %s", member.id, state.month, err)
        else:
            state = await self._store_month(
                member=member,
                supply=supply,
                month=month,
                rows=rows,
                state=state,
                now=now,
                outcome=outcome,
            )
            outcome.months.append(state.month)
            outcome.intervals += state.intervals
        if state.outcome != OK:
            outcome.problems.append(f"{state.month}: {state.detail}")
        await self._ledger.record_month(member.id, state)

    async def _store_month(
        self,
        *,
        member: Member,
        supply: Supply,
        month: date,
        rows: Sequence[ConsumptionRow],
        state: MonthState,
        now: datetime,
        outcome: MemberSync,
    ) -> MonthState:
        labelled, problems = self._labelled(rows)
        read = {row.line for row in labelled}
        unread = {
            (supply_point(row.cups), row.day)
            for number, row in enumerate(rows, start=1)
            if number not in read
        }
        placed, unplaced = place(labelled, self._zone, incomplete=unread)
        problems.extend(str(error) for error in unplaced)
        summary = await store_rows(self._store, placed, [member], self._zone, origin="datadis")
        outcome.stored += summary.stored
        expected = self._expected_intervals(month, supply.quarter_hours)
        complete = (
            now >= local_midnight(add_months(month, 1), self._zone) and len(placed) >= expected
        )
        detail = f"{len(placed)} of {expected} intervals"
        if problems:
            detail += f"; {len(problems)} rows not read (first: {problems[0]})"
            # The member names the supply point in the log; its CUPS stays out of it.
            shown = _CUPS.sub(lambda found: found[0][:6] + "…", detail)
            _LOGGER.warning("Datadis: member %s, %s: %s", member.id, state.month, shown)
            outcome.problems.append(f"{state.month}: {detail}")
        return MonthState(
            month=state.month,
            asked=state.asked,
            outcome=OK,
            attempts=0 if complete else state.attempts,
            intervals=len(placed),
            complete=complete,
            success=now,
            detail=detail,
        )

    def _labelled(self, rows: Sequence[ConsumptionRow]) -> tuple[list[LabelledRow], list[str]]:
        """Return the answer's rows ready to be placed, and the rows that could not be read.

        The self-consumption quantities are kept only when the month has any of them: a
        supply without self-consumption answers zeros there.
        """
        present = {
            EXPORT: any(row.surplus_kwh for row in rows),
            GENERATION: any(row.generation_kwh for row in rows),
            SELF_CONSUMPTION: any(row.self_consumption_kwh for row in rows),
        }
        labelled: list[LabelledRow] = []
        problems: list[str] = []
        for number, row in enumerate(rows, start=1):
            if row.consumption_kwh is None:
                problems.append(f"row {number}: no consumption for {row.day} {row.time} (missing)")
                continue
            if row.consumption_kwh < 0:
                problems.append(f"row {number}: a negative consumption ({row.consumption_kwh})")
                continue
            try:
                label = label_of(row.time, row.day, self._zone)
            except ValueError as err:
                problems.append(f"row {number}: {err}")
                continue
            others = (
                (EXPORT, row.surplus_kwh),
                (GENERATION, row.generation_kwh),
                (SELF_CONSUMPTION, row.self_consumption_kwh),
            )
            kwh = {IMPORT: row.consumption_kwh} | {
                quantity: value
                for quantity, value in others
                if present[quantity] and value is not None
            }
            quality = ESTIMATED if row.estimated else MEASURED
            labelled.append(LabelledRow(number, row.cups, row.day, label, None, kwh, quality))
        return labelled, problems

    def _expected_intervals(self, month: date, quarter_hours: bool) -> int:
        """Return how many intervals a local month has (its clock-change day included)."""
        length = local_midnight(add_months(month, 1), self._zone) - local_midnight(
            month, self._zone
        )
        return int(length / timedelta(minutes=15 if quarter_hours else 60))


def _member_status(err: DatadisError) -> str:
    """Return the status a refusal of a member's query gives the member."""
    if isinstance(err, NotAuthorizedError):
        return "not_authorized"
    if isinstance(err, NoSuppliesError):
        return "not_found"
    if isinstance(err, AlreadyAskedError):
        return ALREADY_ASKED
    if isinstance(err, TemporaryError):
        return TEMPORARY
    return REFUSED


def _is_due(month: date, state: MonthState | None, current: date) -> bool:
    """Whether a month is asked for in a daily sync (see the module's docstring)."""
    if month >= add_months(current, -1) or state is None:
        return True
    return not (state.outcome == OK and state.complete) and state.attempts < MAX_ATTEMPTS


def _failed(state: MonthState, outcome: str, detail: str) -> MonthState:
    return MonthState(
        month=state.month,
        asked=state.asked,
        outcome=outcome,
        attempts=state.attempts,
        intervals=state.intervals,
        complete=state.complete,
        success=None,
        detail=detail,
    )


def _months_between(first: date, last: date) -> list[date]:
    """Return the first days of the months from ``last`` back to ``first`` (newest first)."""
    months = []
    month = first_of_month(last)
    while month >= first_of_month(first):
        months.append(month)
        month = add_months(month, -1)
    return months
