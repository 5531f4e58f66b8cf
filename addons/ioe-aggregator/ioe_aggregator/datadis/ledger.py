"""The sync's memory, in the store: who is read through which NIF, what was asked, each month.

The query ledger is what keeps the aggregator within Datadis's rule: an identical query is
answered once per 24 hours (a second one gets HTTP 429, and Datadis writes to users who insist).
Every query is recorded before its answer is used, whatever the answer, and none is sent again
within 24 hours of the last.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
import json
from typing import Any

from ioe_aggregator.datadis.client import Contract, Supply
from ioe_aggregator.store import Store
from ioe_aggregator.store.sql import moment, moment_or_none, seconds

# Datadis answers an identical query once in this long.
QUERY_INTERVAL = timedelta(hours=24)

_LINK_COLUMNS = (
    "member, nif, distributor_code, point_type, supply_from, contract, checked_s, status, detail, "
    "cups"
)
SELECT_LINKS = f"SELECT {_LINK_COLUMNS} FROM datadis_members ORDER BY member"  # noqa: S608
UPSERT_LINK = """INSERT INTO datadis_members (member, nif, status, detail, updated_s)
    VALUES (?, ?, 'new', '', ?)
    ON CONFLICT (member) DO UPDATE SET nif = excluded.nif, cups = NULL, distributor_code = NULL,
        point_type = NULL, supply_from = NULL, contract = NULL, checked_s = NULL,
        status = 'new', detail = '', updated_s = excluded.updated_s"""
DELETE_LINK = "DELETE FROM datadis_members WHERE member = ?"
SAVE_SUPPLY = """UPDATE datadis_members SET cups = ?, distributor_code = ?, point_type = ?,
    supply_from = ?, checked_s = ?, updated_s = ? WHERE member = ?"""
SAVE_CONTRACT = "UPDATE datadis_members SET contract = ?, updated_s = ? WHERE member = ?"
SET_STATUS = "UPDATE datadis_members SET status = ?, detail = ?, updated_s = ? WHERE member = ?"
SELECT_QUERY = "SELECT asked_s FROM datadis_queries WHERE query = ?"
RECORD_QUERY = """INSERT INTO datadis_queries (query, asked_s, outcome) VALUES (?, ?, ?)
    ON CONFLICT (query) DO UPDATE SET asked_s = excluded.asked_s, outcome = excluded.outcome"""
SELECT_QUERY_OUTCOME = "SELECT asked_s, outcome FROM datadis_queries WHERE query = ?"
SELECT_MONTHS = """SELECT month, asked_s, outcome, attempts, intervals, complete, success_s, detail
    FROM datadis_months WHERE member = ? ORDER BY month"""
RECORD_MONTH = """INSERT INTO datadis_months
    (member, month, asked_s, outcome, attempts, intervals, complete, success_s, detail)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (member, month) DO UPDATE SET asked_s = excluded.asked_s,
        outcome = excluded.outcome, attempts = excluded.attempts, intervals = excluded.intervals,
        complete = excluded.complete, success_s = COALESCE(excluded.success_s,
        datadis_months.success_s), detail = excluded.detail"""
# The account's last login, kept with the queries (Datadis does not count logins).
LOGIN_KEY = "login"


@dataclass(frozen=True, kw_only=True)
class Link:
    """A member read through Datadis: the NIF that authorised the manager, and what is known."""

    member: str
    # None: the supply is the manager's own (no authorizedNif).
    nif: str | None
    supply: Supply | None
    contract: Mapping[str, Any] | None
    checked: datetime | None
    status: str
    detail: str


@dataclass(frozen=True, kw_only=True)
class MonthState:
    """How a member's month went the last time it was asked for."""

    month: str
    asked: datetime
    outcome: str
    attempts: int
    intervals: int
    complete: bool
    success: datetime | None
    detail: str


class Ledger:
    """The Datadis tables of one store."""

    def __init__(self, store: Store) -> None:
        """Work on an open, migrated store."""
        self._store = store

    async def link(self, member: str, nif: str | None, now: datetime) -> None:
        """Read ``member`` through the NIF that authorised the manager (None: the manager's)."""
        async with self._store.transaction() as tx:
            await tx.execute(UPSERT_LINK, (member, nif, seconds(now)))

    async def unlink(self, member: str) -> bool:
        """Stop reading a member through Datadis; return whether it was read."""
        async with self._store.transaction() as tx:
            known = await tx.execute("SELECT 1 FROM datadis_members WHERE member = ?", (member,))
            await tx.execute(DELETE_LINK, (member,))
        return bool(known)

    async def links(self) -> list[Link]:
        """Return every member read through Datadis."""
        async with self._store.transaction() as tx:
            rows = await tx.execute(SELECT_LINKS)
        return [_link(row) for row in rows]

    async def save_supply(self, member: str, supply: Supply, now: datetime) -> None:
        """Keep what Datadis said of a member's supply point."""
        supply_from = supply.valid_from.isoformat() if supply.valid_from else None
        async with self._store.transaction() as tx:
            await tx.execute(
                SAVE_SUPPLY,
                (
                    supply.cups,
                    supply.distributor_code,
                    supply.point_type,
                    supply_from,
                    seconds(now),
                    seconds(now),
                    member,
                ),
            )

    async def save_contract(self, member: str, contract: Contract, now: datetime) -> None:
        """Keep a member's contract detail (CAU, partition coefficient, contracted power)."""
        detail = {
            "contracted_power_kw": list(contract.contracted_power_kw),
            "start": contract.start.isoformat() if contract.start else None,
            "end": contract.end.isoformat() if contract.end else None,
            "self_consumption_type": contract.self_consumption_type,
            "cau": contract.cau,
            "partition_coefficient": contract.partition_coefficient,
            "installed_capacity_kw": contract.installed_capacity_kw,
        }
        async with self._store.transaction() as tx:
            await tx.execute(SAVE_CONTRACT, (json.dumps(detail), seconds(now), member))

    async def set_status(self, member: str, status: str, detail: str, now: datetime) -> None:
        """Record how a member's last sync went (``ok``, ``not_authorized``, …) and why."""
        async with self._store.transaction() as tx:
            await tx.execute(SET_STATUS, (status, detail, seconds(now), member))

    async def wait_before(self, query: str, now: datetime) -> timedelta:
        """Return how long until ``query`` may be sent again (zero: now)."""
        async with self._store.transaction() as tx:
            rows = await tx.execute(SELECT_QUERY, (query,))
        if not rows:
            return timedelta(0)
        return max(timedelta(0), moment(int(rows[0][0])) + QUERY_INTERVAL - now)

    async def asked(self, query: str, now: datetime, outcome: str) -> None:
        """Record that ``query`` was sent at ``now`` and how it went."""
        async with self._store.transaction() as tx:
            await tx.execute(RECORD_QUERY, (query, seconds(now), outcome))

    async def login_state(self) -> tuple[datetime, str] | None:
        """Return when the account last logged in (or tried to) and how it went."""
        async with self._store.transaction() as tx:
            rows = await tx.execute(SELECT_QUERY_OUTCOME, (LOGIN_KEY,))
        return (moment(int(rows[0][0])), str(rows[0][1])) if rows else None

    async def months(self, member: str) -> dict[str, MonthState]:
        """Return each month of a member that was asked for, by ``YYYY-MM``."""
        async with self._store.transaction() as tx:
            rows = await tx.execute(SELECT_MONTHS, (member,))
        return {
            str(row[0]): MonthState(
                month=str(row[0]),
                asked=moment(int(row[1])),
                outcome=str(row[2]),
                attempts=int(row[3]),
                intervals=int(row[4]),
                complete=bool(row[5]),
                success=moment_or_none(row[6]),
                detail=str(row[7]),
            )
            for row in rows
        }

    async def record_month(self, member: str, state: MonthState) -> None:
        """Record how a month's query went."""
        async with self._store.transaction() as tx:
            await tx.execute(
                RECORD_MONTH,
                (
                    member,
                    state.month,
                    seconds(state.asked),
                    state.outcome,
                    state.attempts,
                    state.intervals,
                    int(state.complete),
                    None if state.success is None else seconds(state.success),
                    state.detail,
                ),
            )


def _link(row: Any) -> Link:
    supply = None
    if row[2] is not None:
        supply = Supply(
            cups=str(row[9]),
            distributor_code=str(row[2]),
            point_type=int(row[3]),
            valid_from=date.fromisoformat(row[4]) if row[4] else None,
            valid_to=None,
            address="",
        )
    return Link(
        member=str(row[0]),
        nif=row[1],
        supply=supply,
        contract=json.loads(row[5]) if row[5] else None,
        checked=moment_or_none(row[6]),
        status=str(row[7]),
        detail=str(row[8]),
    )
