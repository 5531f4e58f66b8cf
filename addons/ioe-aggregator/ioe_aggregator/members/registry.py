"""The member registry: add, list, show, rotate and revoke members, as the CLI and API do.

Adding a member gives it a broker password and an API token, returned once inside its join
code and stored only hashed. Every change is audited in its own transaction, and the broker's
logins are rewritten at once (``broker_accounts.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
import logging
import math
import re
import time
from typing import Any

from stdnum.es import cups as stdnum_cups
from stdnum.exceptions import ValidationError

from ioe_aggregator import audit
from ioe_aggregator.auth import secrets, tokens
from ioe_aggregator.config import MembersConfig
from ioe_aggregator.members.broker_accounts import BrokerAccounts
from ioe_aggregator.members.join_code import JoinCode, encode
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.store import Store, StoreError, Transaction
from ioe_aggregator.webhooks.events import EventType, emit

_LOGGER = logging.getLogger(__name__)
# The protocol's member id (common.v1.json), which is also the member's broker login.
MEMBER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
# Ids the API's paths take for themselves (GET /api/v1/members/status is every member's).
RESERVED_IDS = frozenset({"status"})
MAX_NAME = 100
MAX_CONTRACTED_KW = 1000.0
# A collective self-consumption plant is at most a few MW; ours are ≤ 100 kW (RD 244/2019).
MAX_PLANT_KW = 10_000.0

_COLUMNS = (
    "id, name, cups, contracted_kw, investment_share, vulnerable, created_s, revoked_s, plant_kw"
)
INSERT = """INSERT INTO members (id, name, cups, contracted_kw, investment_share, vulnerable,
    mqtt_hash, created_s, plant_kw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"""
SELECT_ONE = f"SELECT {_COLUMNS} FROM members WHERE id = ?"  # noqa: S608 - constant
SELECT_ALL = f"SELECT {_COLUMNS} FROM members ORDER BY id"  # noqa: S608 - constant
SELECT_BY_CUPS = "SELECT id FROM members WHERE cups = ?"
SELECT_ACTIVE = """SELECT id, created_s, contracted_kw, plant_kw FROM members
    WHERE revoked_s IS NULL"""
SET_MQTT_HASH = "UPDATE members SET mqtt_hash = ? WHERE id = ?"
REVOKE = "UPDATE members SET revoked_s = ?, mqtt_hash = NULL WHERE id = ?"
SET_PLANT = "UPDATE members SET plant_kw = ? WHERE id = ?"
# What ``Registry.change`` may change, in ``UPDATE``'s order.
CHANGEABLE = ("name", "cups", "contracted_kw", "investment_share", "vulnerable", "plant_kw")
UPDATE = """UPDATE members SET name = ?, cups = ?, contracted_kw = ?, investment_share = ?,
    vulnerable = ?, plant_kw = ? WHERE id = ?"""


@dataclass(frozen=True, kw_only=True)
class NewMember:
    """What the manager gives to register a member."""

    id: str
    name: str
    cups: str
    contracted_kw: float
    investment_share: float
    vulnerable: bool = False
    # The peak power of a community plant measured at the member's site (0: none).
    plant_kw: float = 0.0

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> NewMember:
        """Return the member a JSON object describes (the API's ``NewMember``; defaults)."""
        return cls(
            id=body["id"],
            name=body["name"],
            cups=body["cups"],
            contracted_kw=float(body["contracted_kw"]),
            investment_share=float(body.get("investment_share", 0.0)),
            vulnerable=bool(body.get("vulnerable", False)),
            plant_kw=float(body.get("plant_kw", 0.0)),
        )

    def validated(self) -> NewMember:
        """Return the member with its CUPS in compact form; raise Refused (invalid)."""
        problems = []
        if not MEMBER_ID.fullmatch(self.id):
            problems.append(
                f"member id {self.id!r}: expected 1-32 of a-z, 0-9, - and _, "
                "starting with a letter or digit"
            )
        if self.id in RESERVED_IDS:
            problems.append(f"member id {self.id!r}: taken by the API, choose another")
        if not self.name.strip() or len(self.name) > MAX_NAME:
            problems.append(f"name: expected 1 to {MAX_NAME} characters")
        try:
            cups = stdnum_cups.validate(self.cups)
        except ValidationError as err:
            problems.append(f"CUPS {self.cups!r}: {err}")
            cups = self.cups
        if not (math.isfinite(self.contracted_kw) and 0 < self.contracted_kw <= MAX_CONTRACTED_KW):
            problems.append(
                f"contracted power: expected more than 0 and at most {MAX_CONTRACTED_KW:g} kW"
            )
        if not (math.isfinite(self.investment_share) and 0 <= self.investment_share <= 1):
            problems.append("investment share: expected a fraction from 0 to 1")
        if (problem := plant_problem(self.plant_kw)) is not None:
            problems.append(problem)
        if problems:
            raise Refused(Kind.INVALID, "; ".join(problems))
        return NewMember(
            id=self.id,
            name=self.name.strip(),
            cups=cups,
            contracted_kw=float(self.contracted_kw),
            investment_share=float(self.investment_share),
            vulnerable=bool(self.vulnerable),
            plant_kw=float(self.plant_kw),
        )


def plant_problem(plant_kw: float) -> str | None:
    """Return what is wrong with a plant's peak power, or None."""
    if math.isfinite(plant_kw) and 0 <= plant_kw <= MAX_PLANT_KW:
        return None
    return f"plant power: expected 0 (no plant) to {MAX_PLANT_KW:g} kW"


@dataclass(frozen=True, kw_only=True)
class MemberLimits:
    """What bounds an active member's data: when it joined, its contract and its plant."""

    joined: datetime
    contracted_kw: float
    plant_kw: float


@dataclass(frozen=True, kw_only=True)
class Member:
    """A registered member (revoked ones stay, so that their id and history are kept)."""

    id: str
    name: str
    cups: str
    contracted_kw: float
    investment_share: float
    vulnerable: bool
    created: datetime
    revoked: datetime | None
    plant_kw: float

    @property
    def active(self) -> bool:
        """Whether the member may log in and send data."""
        return self.revoked is None

    def as_dict(self) -> dict[str, Any]:
        """Return the member as the API and ``members show --json`` give it."""
        return {
            "id": self.id,
            "name": self.name,
            "cups": self.cups,
            "contracted_kw": self.contracted_kw,
            "investment_share": self.investment_share,
            "vulnerable": self.vulnerable,
            "plant_kw": self.plant_kw,
            "created": utc_text(self.created),
            "revoked": None if self.revoked is None else utc_text(self.revoked),
        }


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """A member's new credentials, in clear once, with the join code that carries them."""

    member: Member
    mqtt_password: str
    api_token: str
    join_code: str

    def as_dict(self) -> dict[str, Any]:
        """Return the member and its join code (the secrets travel only inside the code)."""
        return {"member": self.member.as_dict(), "join_code": self.join_code}


def _member(row: Sequence[Any]) -> Member:
    return Member(
        id=row[0],
        name=row[1],
        cups=row[2],
        contracted_kw=float(row[3]),
        investment_share=float(row[4]),
        vulnerable=bool(row[5]),
        created=datetime.fromtimestamp(int(row[6]), UTC),
        revoked=None if row[7] is None else datetime.fromtimestamp(int(row[7]), UTC),
        plant_kw=float(row[8]),
    )


class Registry:
    """The members of one community, in its store."""

    def __init__(self, store: Store, config: MembersConfig) -> None:
        """Work on a store with what join codes hold and where the broker's logins go."""
        self._store = store
        self._config = config
        self._accounts = BrokerAccounts(store, config.accounts)

    async def check_new(self, new: NewMember, *, check_cups: bool = True) -> NewMember:
        """Return the member ``add`` would register; raise Refused where it would refuse.

        ``check_cups=False``: its supply point is checked by the caller (who may be freeing it).
        """
        member = new.validated()
        if self._accounts.reserved(member.id):
            raise Refused(
                Kind.INVALID, f"member id {member.id!r} is one of the broker's own logins"
            )
        await self._join_settings()
        async with self._store.transaction() as tx:
            await _unregistered(tx, member, check_cups=check_cups)
        return member

    async def add(self, new: NewMember, *, actor: str) -> Credentials:
        """Register a member; return its credentials and join code (shown once)."""
        member = new.validated()
        if self._accounts.reserved(member.id):
            raise Refused(
                Kind.INVALID, f"member id {member.id!r} is one of the broker's own logins"
            )
        join = await self._join_settings()
        password = secrets.new_password()
        async with self._store.transaction() as tx:
            await _unregistered(tx, member)
            await tx.execute(
                INSERT,
                (
                    member.id,
                    member.name,
                    member.cups,
                    member.contracted_kw,
                    member.investment_share,
                    int(member.vulnerable),
                    secrets.mosquitto_hash(password),
                    int(time.time()),
                    member.plant_kw,
                ),
            )
            _token, api_token = await tokens.issue(
                tx, scope=tokens.Scope.MEMBER, member=member.id, label="join code", actor=actor
            )
            await audit.record(
                tx,
                actor,
                audit.Action.MEMBER_ADDED,
                member.id,
                {"cups": member.cups, "plant_kw": member.plant_kw},
            )
            await emit(tx, EventType.MEMBER_JOINED, {"member": member.id, "cups": member.cups})
            stored = await _get(tx, member.id)
        await self._accounts.publish()
        return self._credentials(stored, password, api_token, join)

    async def rotate(self, member_id: str, *, actor: str) -> Credentials:
        """Give a member a new broker password and API token; the old ones stop working."""
        join = await self._join_settings()
        password = secrets.new_password()
        async with self._store.transaction() as tx:
            member = await _get(tx, member_id)
            if not member.active:
                raise Refused(Kind.CONFLICT, f"member {member_id} was revoked", code="revoked")
            await tx.execute(SET_MQTT_HASH, (secrets.mosquitto_hash(password), member_id))
            await tokens.revoke_member_tokens(tx, member_id, actor=actor)
            _token, api_token = await tokens.issue(
                tx, scope=tokens.Scope.MEMBER, member=member_id, label="join code", actor=actor
            )
            await audit.record(tx, actor, audit.Action.MEMBER_ROTATED, member_id)
        await self._accounts.publish()
        return self._credentials(member, password, api_token, join)

    async def revoke(self, member_id: str, *, actor: str) -> Member:
        """Revoke a member: its login and tokens stop working; its data is kept."""
        async with self._store.transaction() as tx:
            member = await _get(tx, member_id)
            if not member.active:
                raise Refused(
                    Kind.CONFLICT, f"member {member_id} was already revoked", code="revoked"
                )
            await tx.execute(REVOKE, (int(time.time()), member_id))
            await tokens.revoke_member_tokens(tx, member_id, actor=actor)
            await audit.record(tx, actor, audit.Action.MEMBER_REVOKED, member_id)
            await emit(tx, EventType.MEMBER_LEFT, {"member": member_id, "cups": member.cups})
            revoked = await _get(tx, member_id)
        await self._accounts.publish()
        return revoked

    async def change(
        self,
        member_id: str,
        fields: Mapping[str, Any],
        *,
        actor: str,
        dry_run: bool = False,
        check_cups: bool = True,
    ) -> dict[str, list[Any]]:
        """Change an active member's record; return each field changed as ``[old, new]``.

        ``fields``: any of ``CHANGEABLE``, checked as ``add`` checks a new member's (a supply
        point another member holds is refused, unless ``check_cups`` is False: the caller
        checks it). Nothing to change is no change, and not audited. ``dry_run``: check only.
        """
        async with self._store.transaction() as tx:
            member = await _get(tx, member_id)
            if not member.active:
                raise Refused(Kind.CONFLICT, f"member {member_id} was revoked", code="revoked")
            held = {name: getattr(member, name) for name in CHANGEABLE}
            wanted = NewMember(id=member.id, **(held | dict(fields))).validated()
            changed = {
                name: [held[name], getattr(wanted, name)]
                for name in CHANGEABLE
                if getattr(wanted, name) != held[name]
            }
            if (
                check_cups
                and "cups" in changed
                and (taken := await tx.execute(SELECT_BY_CUPS, (wanted.cups,)))
            ):
                raise Refused(
                    Kind.CONFLICT,
                    f"CUPS {wanted.cups} is already registered to member {taken[0][0]}",
                    code="exists",
                )
            if dry_run or not changed:
                return changed
            await tx.execute(
                UPDATE,
                (*(getattr(wanted, name) for name in CHANGEABLE), member_id),
            )
            await audit.record(tx, actor, audit.Action.MEMBER_CHANGED, member_id, changed)
        return changed

    async def set_plant(self, member_id: str, plant_kw: float, *, actor: str) -> Member:
        """Register (or, with 0, remove) the community plant measured at a member's site.

        Only registered plants count towards the community's generation, live and stored.
        """
        if (problem := plant_problem(plant_kw)) is not None:
            raise Refused(Kind.INVALID, problem)
        async with self._store.transaction() as tx:
            member = await _get(tx, member_id)
            if not member.active:
                raise Refused(Kind.CONFLICT, f"member {member_id} was revoked", code="revoked")
            await tx.execute(SET_PLANT, (float(plant_kw), member_id))
            await audit.record(
                tx, actor, audit.Action.MEMBER_PLANT, member_id, {"plant_kw": float(plant_kw)}
            )
            return await _get(tx, member_id)

    async def get(self, member_id: str) -> Member:
        """Return a member; raise Refused (not_found) when there is none."""
        async with self._store.transaction() as tx:
            return await _get(tx, member_id)

    async def members(self) -> Sequence[Member]:
        """Return every member, revoked ones too, by id."""
        async with self._store.transaction() as tx:
            return [_member(row) for row in await tx.execute(SELECT_ALL)]

    async def active_members(self) -> dict[str, MemberLimits]:
        """Return the members that may send data, with what bounds their data.

        Asked of the database every time, so that a revocation counts at once.
        """
        async with self._store.transaction() as tx:
            rows = await tx.execute(SELECT_ACTIVE)
        return {
            str(row[0]): MemberLimits(
                joined=datetime.fromtimestamp(int(row[1]), UTC),
                contracted_kw=float(row[2]),
                plant_kw=float(row[3]),
            )
            for row in rows
        }

    async def _join_settings(self) -> tuple[str, str | None]:
        """Return the broker host and CA certificate of join codes (checking they can be made)."""
        host = self._config.public_broker_host
        if host is None:
            raise Refused(
                Kind.INVALID,
                "no broker address for join codes: set public_broker_host (or mqtt_host)",
            )
        ca_file = self._config.broker_ca_file
        if ca_file is None:
            return host, None
        try:
            return host, await asyncio.to_thread(ca_file.read_text, encoding="ascii")
        except (OSError, UnicodeDecodeError) as err:
            raise StoreError(f"cannot read the broker's CA certificate {ca_file}: {err}") from err

    def _credentials(
        self, member: Member, password: str, api_token: str, join: tuple[str, str | None]
    ) -> Credentials:
        settings = self._config
        broker_host, ca_certificate = join
        login = settings.accounts.logins.login_of(member.id)
        code = JoinCode(
            community=settings.community_id,
            member=member.id,
            topic_prefix=settings.topic_prefix,
            broker_host=broker_host,
            broker_port=settings.public_broker_port,
            ca_certificate=ca_certificate,
            mqtt_password=password,
            api_token=api_token,
            api_url=settings.public_api_url,
            cups=member.cups,
            community_name=settings.community_name,
            mqtt_username=None if login == member.id else login,
        )
        return Credentials(
            member=member, mqtt_password=password, api_token=api_token, join_code=encode(code)
        )


async def _unregistered(tx: Transaction, member: NewMember, *, check_cups: bool = True) -> None:
    """Refuse a new member whose id or (``check_cups``) supply point is already registered."""
    if await tx.execute(SELECT_ONE, (member.id,)):
        raise Refused(Kind.CONFLICT, f"member {member.id} is already registered", code="exists")
    if check_cups and (taken := await tx.execute(SELECT_BY_CUPS, (member.cups,))):
        raise Refused(
            Kind.CONFLICT,
            f"CUPS {member.cups} is already registered to member {taken[0][0]}",
            code="exists",
        )


async def _get(tx: Transaction, member_id: str) -> Member:
    rows = await tx.execute(SELECT_ONE, (member_id,))
    if not rows:
        raise Refused(Kind.NOT_FOUND, f"no member {member_id!r}")
    return _member(rows[0])
