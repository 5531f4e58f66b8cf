"""The agreements on record: added, ended, removed and read, each change audited.

Agreements never overlap: a new one ends the open-ended one before it the day before it starts,
and may start only ``agreement_min_months`` after that one started (today's rule: every 4
months at most). Every change is audited in its own transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
import time
from typing import Any
import uuid
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ioe_aggregator import audit
from ioe_aggregator.agreements.model import FOREVER, Agreement
from ioe_aggregator.agreements.shares import Shares
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.sharing import coefficient_file
from ioe_aggregator.sharing.calendar import add_months, hours_of_year
from ioe_aggregator.sharing.coefficient_file import UNITS
from ioe_aggregator.store import Store, Transaction
from ioe_aggregator.webhooks.events import EventType, emit

MAX_NAME = 100
_COLUMNS = "id, name, scheme, hourly, year, valid_from, valid_to, created_s, created_by, comparison"
SELECT_ALL = f"SELECT {_COLUMNS} FROM agreements ORDER BY valid_from"  # noqa: S608 - constant
SELECT_ONE = f"SELECT {_COLUMNS} FROM agreements WHERE id = ?"  # noqa: S608 - constant
SELECT_STARTING = f"SELECT {_COLUMNS} FROM agreements WHERE valid_from = ?"  # noqa: S608 - constant
SELECT_OVERLAPPING = f"""SELECT {_COLUMNS} FROM agreements
    WHERE valid_from <= ? AND (valid_to IS NULL OR valid_to >= ?)
    ORDER BY valid_from"""  # noqa: S608 - constant
INSERT = """INSERT INTO agreements (id, name, scheme, hourly, year, valid_from, valid_to,
    created_s, created_by, comparison) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
INSERT_SHARE = "INSERT INTO agreement_shares (agreement, member, hour, units) VALUES (?, ?, ?, ?)"
SET_END = "UPDATE agreements SET valid_to = ? WHERE id = ?"
DELETE_SHARES = "DELETE FROM agreement_shares WHERE agreement = ?"
DELETE = "DELETE FROM agreements WHERE id = ?"
SELECT_SHARES = """SELECT member, hour, units FROM agreement_shares
    WHERE agreement = ? AND hour >= ? AND hour <= ?"""


def _agreement(row: Sequence[Any]) -> Agreement:
    return Agreement(
        id=row[0],
        name=row[1],
        scheme=row[2],
        hourly=bool(row[3]),
        year=None if row[4] is None else int(row[4]),
        valid_from=date.fromisoformat(row[5]),
        valid_to=None if row[6] is None else date.fromisoformat(row[6]),
        created=datetime.fromtimestamp(int(row[7]), UTC),
        created_by=row[8],
        comparison=row[9],
    )


class Agreements:
    """The agreements of one community, in its store."""

    def __init__(self, store: Store, *, tz: str, min_months: int) -> None:
        """Work on a store, with the community's time zone and minimum change interval."""
        self._store = store
        self._zone = ZoneInfo(tz)
        self.tz = tz
        self._min_months = min_months

    def today(self) -> date:
        """Return today's date where the community is."""
        return datetime.now(self._zone).date()

    def _new(
        self,
        name: str,
        shares: Shares,
        *,
        valid_from: date,
        valid_to: date | None,
        actor: str,
        comparison: str | None,
    ) -> Agreement:
        """Return the agreement ``add`` would record; raise Refused saying why it cannot be."""
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise Refused(Kind.INVALID, f"name: expected 1 to {MAX_NAME} characters")
        if valid_to is not None and valid_to < valid_from:
            raise Refused(Kind.INVALID, "the last day comes before the first")
        if shares.year is not None and not (
            valid_from.year == shares.year and (valid_to is None or valid_to.year == shares.year)
        ):
            raise Refused(
                Kind.INVALID,
                f"an hourly agreement for {shares.year} can only hold within {shares.year}",
            )
        if shares.year is not None and valid_to is None:
            valid_to = date(shares.year, 12, 31)
        return Agreement(
            id=f"a-{uuid.uuid4().hex[:10]}",
            name=name,
            scheme=shares.scheme,
            hourly=shares.hourly,
            year=shares.year,
            valid_from=valid_from,
            valid_to=valid_to,
            created=datetime.fromtimestamp(int(time.time()), UTC),
            created_by=actor,
            comparison=comparison,
        )

    async def check(
        self, name: str, shares: Shares, *, valid_from: date, valid_to: date | None = None
    ) -> list[Agreement]:
        """Raise Refused where ``add`` would refuse; return the agreements it would end."""
        new = self._new(
            name, shares, valid_from=valid_from, valid_to=valid_to, actor="", comparison=None
        )
        async with self._store.transaction() as tx:
            return await self._room(tx, new)

    async def recorded(
        self, shares: Shares, *, valid_from: date, valid_to: date | None = None
    ) -> Agreement | None:
        """Return the agreement holding these very shares over these days, if one is recorded."""
        if shares.year is not None and valid_to is None:
            valid_to = date(shares.year, 12, 31)
        async with self._store.transaction() as tx:
            for row in await tx.execute(SELECT_STARTING, (valid_from.isoformat(),)):
                agreement = _agreement(row)
                if agreement.valid_to != valid_to or agreement.year != shares.year:
                    continue
                held = await tx.execute(SELECT_SHARES, (agreement.id, 0, 8784))
                if {(member, hour): units for member, hour, units in held} == dict(shares.units):
                    return agreement
        return None

    async def add(
        self,
        name: str,
        shares: Shares,
        *,
        valid_from: date,
        valid_to: date | None = None,
        actor: str,
        comparison: str | None = None,
    ) -> Agreement:
        """Record an agreement; end the open-ended one before it the day before it starts.

        ``comparison`` names the comparison job its shares come from, if any.
        """
        agreement = self._new(
            name,
            shares,
            valid_from=valid_from,
            valid_to=valid_to,
            actor=actor,
            comparison=comparison,
        )
        valid_to = agreement.valid_to
        async with self._store.transaction() as tx:
            for old in await self._room(tx, agreement):
                last_day = agreement.valid_from - timedelta(days=1)
                await tx.execute(SET_END, (last_day.isoformat(), old.id))
                await audit.record(
                    tx,
                    actor,
                    audit.Action.AGREEMENT_ENDED,
                    old.id,
                    {"valid_to": last_day.isoformat(), "followed_by": agreement.id},
                )
            await tx.execute(
                INSERT,
                (
                    agreement.id,
                    agreement.name,
                    agreement.scheme,
                    int(agreement.hourly),
                    agreement.year,
                    agreement.valid_from.isoformat(),
                    None if valid_to is None else valid_to.isoformat(),
                    int(agreement.created.timestamp()),
                    actor,
                    comparison,
                ),
            )
            await tx.executemany(
                INSERT_SHARE,
                [(agreement.id, m, hour, units) for (m, hour), units in shares.units.items()],
            )
            await audit.record(
                tx,
                actor,
                audit.Action.AGREEMENT_ADDED,
                agreement.id,
                {
                    "name": agreement.name,
                    "scheme": agreement.scheme,
                    "valid_from": agreement.valid_from.isoformat(),
                    "valid_to": None if valid_to is None else valid_to.isoformat(),
                    "comparison": comparison,
                },
            )
            await emit(tx, EventType.AGREEMENT_ADOPTED, {"agreement": agreement.as_dict()})
        return agreement

    async def _room(self, tx: Transaction, new: Agreement) -> list[Agreement]:
        """Return the open-ended agreement ``new`` follows, to end; refuse any other overlap."""
        overlapping = [
            _agreement(row)
            for row in await tx.execute(
                SELECT_OVERLAPPING, (new.last_day.isoformat(), new.valid_from.isoformat())
            )
        ]
        for old in overlapping:
            if old.valid_to is not None or old.valid_from >= new.valid_from:
                raise Refused(
                    Kind.CONFLICT,
                    f"agreement {old.id} ({old.name}) holds from {old.valid_from} "
                    f"to {old.valid_to or 'open end'}: periods must not overlap",
                )
            earliest = add_months(old.valid_from, self._min_months)
            if new.valid_from < earliest:
                raise Refused(
                    Kind.CONFLICT,
                    f"agreement {old.id} started on {old.valid_from}: coefficients may change "
                    f"every {self._min_months} months at most, so from {earliest} "
                    "(option agreement_min_months)",
                )
        return overlapping

    async def end(self, agreement_id: str, last_day: date | None, *, actor: str) -> Agreement:
        """Set an agreement's last day (None: open-ended again), if no other is in the way."""
        async with self._store.transaction() as tx:
            agreement = await _get(tx, agreement_id)
            if last_day is not None and last_day < agreement.valid_from:
                raise Refused(
                    Kind.INVALID,
                    f"agreement {agreement_id} starts on {agreement.valid_from}: to drop an "
                    "agreement that never held, remove it",
                )
            if agreement.year is not None and (last_day is None or last_day.year != agreement.year):
                raise Refused(
                    Kind.INVALID, f"an hourly agreement for {agreement.year} ends within that year"
                )
            until = (last_day or FOREVER).isoformat()
            for row in await tx.execute(
                SELECT_OVERLAPPING, (until, agreement.valid_from.isoformat())
            ):
                if row[0] != agreement_id:
                    other = _agreement(row)
                    raise Refused(
                        Kind.CONFLICT,
                        f"agreement {other.id} ({other.name}) starts on {other.valid_from}",
                    )
            await tx.execute(
                SET_END, (None if last_day is None else last_day.isoformat(), agreement_id)
            )
            await audit.record(
                tx,
                actor,
                audit.Action.AGREEMENT_ENDED,
                agreement_id,
                {"valid_to": None if last_day is None else last_day.isoformat()},
            )
            return await _get(tx, agreement_id)

    async def remove(self, agreement_id: str, *, actor: str) -> Agreement:
        """Delete an agreement that has not started yet (one that held is history: end it)."""
        async with self._store.transaction() as tx:
            agreement = await _get(tx, agreement_id)
            if agreement.valid_from <= self.today():
                raise Refused(
                    Kind.CONFLICT,
                    f"agreement {agreement_id} has been in force since {agreement.valid_from}: "
                    "end it instead",
                )
            await tx.execute(DELETE_SHARES, (agreement_id,))
            await tx.execute(DELETE, (agreement_id,))
            await audit.record(
                tx, actor, audit.Action.AGREEMENT_REMOVED, agreement_id, {"name": agreement.name}
            )
        return agreement

    async def get(self, agreement_id: str) -> Agreement:
        """Return an agreement; raise Refused (not_found) when there is none."""
        async with self._store.transaction() as tx:
            return await _get(tx, agreement_id)

    async def all(self) -> Sequence[Agreement]:
        """Return every agreement, by first day."""
        async with self._store.transaction() as tx:
            return [_agreement(row) for row in await tx.execute(SELECT_ALL)]

    async def coefficients(self, agreement_id: str) -> dict[str, Any]:
        """Return an agreement with its β: by member (static) or member → 8760/8784 values."""
        async with self._store.transaction() as tx:
            agreement = await _get(tx, agreement_id)
            rows = await tx.execute(SELECT_SHARES, (agreement_id, 0, 8784))
        beta: dict[str, Any] = {}
        if agreement.hourly:
            for member, _hour, units in sorted(rows, key=lambda row: (row[0], row[1])):
                beta.setdefault(member, []).append(units / UNITS)
        else:
            beta = {member: units / UNITS for member, _hour, units in rows}
        return {**agreement.as_dict(), "coefficients": dict(sorted(beta.items()))}

    async def coefficient_file(
        self, agreement_id: str, cups: Mapping[str, str], *, cau: str, year: int | None
    ) -> tuple[str, bytes]:
        """Return the distributor's coefficient file of an agreement: its name and content.

        ``cups`` gives each member's CUPS; ``year`` is an hourly agreement's own, and for a
        static one by default the year it starts.
        """
        async with self._store.transaction() as tx:
            agreement = await _get(tx, agreement_id)
            rows = await tx.execute(SELECT_SHARES, (agreement_id, 0, 8784))
        if agreement.year is not None and year not in (None, agreement.year):
            raise Refused(
                Kind.INVALID,
                f"agreement {agreement_id} holds the hours of {agreement.year}, not {year}",
                code="bad_year",
            )
        year = year or agreement.year or agreement.valid_from.year
        try:
            name = coefficient_file.file_name(cau, year)
        except coefficient_file.CoefficientFileError as err:
            raise Refused(Kind.INVALID, f"cau: {err}", code="bad_cau") from err
        shares = {(cups[member], hour): units for member, hour, units in sorted(rows)}
        return name, coefficient_file.content(shares)

    async def beta(self, hours: pd.DatetimeIndex) -> tuple[pd.DataFrame, list[Agreement | None]]:
        """Return β for each UTC hour (members as columns; 0 where none holds) and its agreement."""
        if hours.empty:
            return pd.DataFrame(index=hours), []
        local = hours.tz_convert(self._zone).tz_localize(None)
        local_days = local.to_numpy().astype("datetime64[D]")
        async with self._store.transaction() as tx:
            rows = await tx.execute(SELECT_OVERLAPPING, (str(local_days[-1]), str(local_days[0])))
            found = [_agreement(row) for row in rows]
            frames = []
            in_force: list[Agreement | None] = [None] * len(hours)
            for agreement in found:
                mask = agreement.covers(local_days)
                for position in np.flatnonzero(mask):
                    in_force[position] = agreement
                frames.append(await self._beta_of(tx, agreement, hours[mask]))
        beta = pd.concat(frames).reindex(hours) if frames else pd.DataFrame(index=hours)
        return beta.fillna(0.0), in_force

    async def in_force(self, now: datetime) -> tuple[Agreement | None, dict[str, float]]:
        """Return the agreement in force at ``now`` and each member's β for that hour."""
        hour = pd.DatetimeIndex([pd.Timestamp(now).floor("h")])
        table, agreements = await self.beta(hour)
        return agreements[0], {str(m): float(b) for m, b in table.iloc[0].items()}

    async def _beta_of(
        self, tx: Transaction, agreement: Agreement, hours: pd.DatetimeIndex
    ) -> pd.DataFrame:
        if agreement.year is None:
            rows = await tx.execute(SELECT_SHARES, (agreement.id, 0, 0))
            static = {member: units / UNITS for member, _hour, units in rows}
            # The same β every hour: one row repeated (a year is 8,760 of them).
            every_hour = np.tile(np.array(list(static.values()), dtype=float), (len(hours), 1))
            return pd.DataFrame(every_hour, index=hours, columns=list(static))
        numbers = hours_of_year(agreement.year, self.tz).get_indexer(hours) + 1
        rows = await tx.execute(
            SELECT_SHARES, (agreement.id, int(numbers.min(initial=1)), int(numbers.max(initial=0)))
        )
        table = pd.DataFrame(rows, columns=["member", "hour", "units"]).pivot(
            index="hour", columns="member", values="units"
        )
        return pd.DataFrame(
            table.reindex(numbers).to_numpy() / UNITS, index=hours, columns=table.columns
        )


async def _get(tx: Transaction, agreement_id: str) -> Agreement:
    rows = await tx.execute(SELECT_ONE, (agreement_id,))
    if not rows:
        raise Refused(Kind.NOT_FOUND, f"no agreement {agreement_id!r}")
    return _agreement(rows[0])
