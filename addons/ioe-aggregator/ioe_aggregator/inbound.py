"""The community as a billing platform holds it: members, supply points, distribution table.

A billing platform (Som Comunitats' Odoo, a cooperative's ERP) keeps who the members are, their
supply points and the distribution table the assembly agreed. It posts them as one document
(``POST /api/v1/community/sync``); this module checks all of it, works out what it changes
here, and applies that:

- **members**, each found by its id here, or without one by its supply point (CUPS, 20 or 22
  characters): a new one is registered (it needs an id, a name and its contracted power; its
  join code comes back, once), a known one has the fields given that differ changed (name,
  CUPS, contracted power, share of the investment, vulnerable, plant);
- members the document leaves out are kept, or revoked with ``"absent": "revoke"`` (not when
  it lists nobody: an empty list is more likely a fault than a community that dissolved);
  a supply point may pass from one member to another, never be held by two;
- **the distribution table**, as their platform writes it: ``type`` ``fixed`` with a
  coefficient per CUPS (each 0 to 1, summing to 1 at six decimals, as their platform checks;
  rounded here to millionths that sum to exactly 1), or ``hourly`` with the
  distributor's coefficient file; from ``date_start`` (to ``date_end``): an agreement, which
  ends the open-ended one before it, under the community's rules (agreements never overlap,
  coefficients change every ``agreement_min_months`` at most).

Every problem is found before anything is applied, and all are named at once. A document that
changes nothing changes nothing (and is not audited): the platform may send it on every run.
What is applied is audited entry by entry (member added, changed, revoked, agreement added), and
as one ``community_synced`` entry with the document's digest and reference. ``dry_run`` says
what would change and applies nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
import hashlib
import json
import math
from typing import Any, Final

from stdnum.es import cups as stdnum_cups
from stdnum.exceptions import ValidationError

from ioe_aggregator import audit
from ioe_aggregator.agreements import Agreement, Agreements, Shares, file_content, shares_from_file
from ioe_aggregator.agreements.shares import rounded_shares
from ioe_aggregator.distributor.rows import supply_point
from ioe_aggregator.members.registry import Credentials, Member, NewMember, Registry
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.store import Store

# Their platform's check of a fixed table's sum (energy_selfconsumption: Float.compare at a
# precision of 1e-6, which rounds the difference): it must round to 1 at six decimals.
SUM_TOLERANCE: Final = 0.5e-6
MAX_MEMBERS: Final = 2000
MAX_SHOWN: Final = 20
FIELDS: Final = ("name", "cups", "contracted_kw", "investment_share", "vulnerable", "plant_kw")


@dataclass(kw_only=True)
class Plan:
    """What a document changes: members to add, change and revoke, and the agreement."""

    add: list[NewMember] = field(default_factory=list)
    change: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The fields each change changes, as [old, new].
    changed: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    revoke: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    agreement: tuple[str, Shares, date, date | None] | None = None
    # The agreements the new one ends.
    ends: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether the document changes nothing."""
        return not (self.add or self.changed or self.revoke or self.agreement)


def digest(document: Mapping[str, Any]) -> str:
    """Return the document's SHA-256 over its canonical JSON (the audit entry names it)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Sync:
    """Applies billing platforms' documents to one community's registry and agreements."""

    def __init__(self, store: Store, registry: Registry, agreements: Agreements) -> None:
        """Work on the service's store, registry and agreements."""
        self._store = store
        self._registry = registry
        self._agreements = agreements

    async def plan(self, document: Mapping[str, Any]) -> Plan:
        """Return what ``document`` changes; raise Refused naming every problem in it."""
        members = list(await self._registry.members())
        problems: list[str] = []
        plan = Plan()
        entries = document.get("members", [])
        if len(entries) > MAX_MEMBERS:
            raise Refused(Kind.INVALID, f"members: at most {MAX_MEMBERS}", code="bad_document")
        listed: set[str] = set()
        points = {_supply_point(m.cups): m for m in members}
        for position, entry in enumerate(entries):
            problem = await self._member(entry, members, points=points, plan=plan, listed=listed)
            if problem:
                problems.append(f"members[{position}]: {problem}")
        left_out = [m.id for m in members if m.active and m.id not in listed]
        if document.get("absent", "keep") == "keep":
            plan.absent.extend(left_out)
        elif not listed:
            # A platform's empty list is more likely a fault than a community that dissolved.
            problems.append(
                'absent: "revoke" revokes every member the document does not list, '
                "and it lists none: list the members who stay"
            )
        else:
            plan.revoke.extend(left_out)
        staying = _roster(members, plan)
        # Revoked members (and those revoked now) keep their supply points, with their history.
        kept = [m for m in members if not m.active or m.id in plan.revoke]
        problems.extend(_shared_points(staying, kept))
        table = document.get("distribution_table")
        if table is not None:
            await self._table(table, staying, plan, problems, document.get("reference"))
        if problems:
            shown = "; ".join(problems[:MAX_SHOWN])
            more = len(problems) - MAX_SHOWN
            raise Refused(
                Kind.INVALID,
                shown + (f" (and {more} more problems)" if more > 0 else ""),
                code="bad_document",
            )
        return plan

    async def _member(
        self,
        entry: Mapping[str, Any],
        members: Sequence[Member],
        *,
        points: Mapping[str | None, Member],
        plan: Plan,
        listed: set[str],
    ) -> str | None:
        """Note what one member of the document adds or changes; return what is wrong with it."""
        # By its id when it gives one (a supply point may pass to another member), else by its
        # supply point.
        point = _supply_point(entry.get("cups"))
        if entry.get("id") is not None:
            found = next((m for m in members if m.id == entry["id"]), None)
        else:
            found = points.get(point) if point is not None else None
        if found is None:
            return await self._new_member(entry, plan=plan, listed=listed)
        if found.id in listed:
            return f"member {found.id} is listed twice"
        if not found.active:
            return (
                f"member {found.id} was revoked; its supply point stays with its history and "
                "cannot be registered again"
            )
        listed.add(found.id)
        wanted = {k: entry[k] for k in FIELDS if k in entry}
        if point == _supply_point(found.cups):
            wanted.pop("cups", None)  # the same supply point, perhaps with its 2 more characters
        try:
            changed = await self._registry.change(
                found.id, wanted, actor="", dry_run=True, check_cups=False
            )
        except Refused as err:
            return f"member {found.id}: {err}"
        if changed:
            plan.change[found.id] = wanted
            plan.changed[found.id] = changed
        return None

    async def _new_member(
        self, entry: Mapping[str, Any], *, plan: Plan, listed: set[str]
    ) -> str | None:
        """Note a member to register; return what is wrong with it."""
        missing = [k for k in ("id", "name", "cups", "contracted_kw") if entry.get(k) is None]
        if missing:
            return f"a new member needs {', '.join(missing)}"
        new = NewMember.from_json(entry)
        if new.id in listed or any(other.id == new.id for other in plan.add):
            return f"member {new.id} is listed twice"
        try:
            plan.add.append(await self._registry.check_new(new, check_cups=False))
        except Refused as err:
            return str(err)
        listed.add(new.id)
        return None

    async def _table(
        self,
        table: Mapping[str, Any],
        staying: Sequence[Member],
        plan: Plan,
        problems: list[str],
        reference: str | None,
    ) -> None:
        """Note the agreement the distribution table makes (or what is wrong with it)."""
        by_point = {_supply_point(m.cups): m.id for m in staying}
        kind = table.get("type", "fixed")
        try:
            if kind == "fixed":
                shares = _fixed(table.get("coefficients") or [], by_point, problems)
            elif "file" not in table:
                problems.append("distribution_table: an hourly table needs its file")
                return
            else:
                name, content = await asyncio.to_thread(file_content, table["file"])
                shares = await asyncio.to_thread(shares_from_file, content, name, staying)
        except Refused as err:
            problems.append(f"distribution_table: {err}")
            return
        if shares is None:
            return
        if shares.hourly != (kind == "hourly"):
            problems.append("distribution_table: the table is hourly, but its file is a fixed one")
            return
        first = date.fromisoformat(table["date_start"])
        last = None if table.get("date_end") is None else date.fromisoformat(table["date_end"])
        if await self._agreements.recorded(shares, valid_from=first, valid_to=last):
            return
        name = table.get("name") or reference or "Distribution table"
        try:
            ends = await self._agreements.check(name, shares, valid_from=first, valid_to=last)
        except Refused as err:
            problems.append(f"distribution_table: {err}")
            return
        plan.ends.extend(a.id for a in ends)
        plan.agreement = (name, shares, first, last)

    async def apply(
        self, document: Mapping[str, Any], plan: Plan, *, actor: str
    ) -> tuple[list[Credentials], Agreement | None]:
        """Apply a plan of ``document`` (see the module).

        Return the new members' credentials and the agreement recorded, if any.
        """
        # Those who leave first, then the changes, then the newcomers: a supply point may pass
        # from one member to another within one document.
        for member_id in plan.revoke:
            await self._registry.revoke(member_id, actor=actor)
        for member_id, wanted in plan.change.items():
            await self._registry.change(member_id, wanted, actor=actor)
        credentials = [await self._registry.add(new, actor=actor) for new in plan.add]
        agreement = None
        if plan.agreement is not None:
            name, shares, first, last = plan.agreement
            agreement = await self._agreements.add(
                name, shares, valid_from=first, valid_to=last, actor=actor
            )
        async with self._store.transaction() as tx:
            await audit.record(
                tx,
                actor,
                audit.Action.COMMUNITY_SYNCED,
                str(document.get("reference") or ""),
                {
                    "digest": digest(document),
                    "added": [new.id for new in plan.add],
                    "changed": sorted(plan.changed),
                    "revoked": plan.revoke,
                    "agreement": None if agreement is None else agreement.id,
                },
            )
        return credentials, agreement


def _roster(members: Sequence[Member], plan: Plan) -> list[Member]:
    """Return the active members as the plan leaves them: kept (changed), and added."""
    now = datetime.now(UTC)
    staying = [
        replace(m, **plan.change.get(m.id, {}))
        for m in members
        if m.active and m.id not in plan.revoke
    ]
    return staying + [Member(**asdict(new), created=now, revoked=None) for new in plan.add]


def _shared_points(staying: Sequence[Member], revoked: Sequence[Member]) -> list[str]:
    """Return a problem for each supply point two members would hold (revoked ones too)."""
    holders: dict[str | None, list[str]] = {}
    for member in staying:
        holders.setdefault(_supply_point(member.cups), []).append(member.id)
    for member in revoked:
        holders.setdefault(_supply_point(member.cups), []).append(f"{member.id} (revoked)")
    return [
        f"members: {', '.join(ids)} would share the supply point {point}"
        for point, ids in holders.items()
        if point is not None and len(ids) > 1
    ]


def _supply_point(value: Any) -> str | None:
    """Return a CUPS' 20-character supply point; None when it is none."""
    if not isinstance(value, str):
        return None
    try:
        return supply_point(stdnum_cups.validate(value))
    except ValidationError:
        return None


def _fixed(
    coefficients: Sequence[Mapping[str, Any]],
    by_point: Mapping[str | None, str],
    problems: list[str],
) -> Shares | None:
    """Return the shares of a fixed table (their platform's rules); None, noting why, if none."""
    beta: dict[str, float] = {}
    before = len(problems)
    for position, line in enumerate(coefficients):
        where = f"distribution_table.coefficients[{position}]"
        point = _supply_point(line.get("cups"))
        value = line.get("coefficient")
        if point is None or point not in by_point:
            problems.append(f"{where}: CUPS {line.get('cups')!r} is no member's")
        elif by_point[point] in beta:
            problems.append(f"{where}: CUPS {line['cups']} appears twice")
        elif not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 1):
            problems.append(f"{where}: the coefficient must be from 0 to 1")
        else:
            beta[by_point[point]] = float(value)
    if len(problems) > before:
        return None
    if not beta:
        problems.append("distribution_table: give at least one supply point's coefficient")
        return None
    total = sum(beta.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        problems.append(
            f"distribution_table: the coefficients sum to {total:.9f}, not 1 at six decimals"
        )
        return None
    # By member id: the rounding's ties go the same way whatever order the lines came in.
    return rounded_shares("static", {member: beta[member] / total for member in sorted(beta)})
