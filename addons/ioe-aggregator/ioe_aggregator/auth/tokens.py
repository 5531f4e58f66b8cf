"""API tokens: each has a scope, for a member's token the member it speaks for, and may expire.

An expired token is refused like a revoked one. Members' tokens (from their join codes) never
expire: a home would stop sending without anyone noticing. The API never revokes the last
active admin token, since nobody could then manage the community through the API; the command
line, which the manager runs on the database itself, may (and warns), because it can always
issue a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import time
from typing import Any

from ioe_aggregator import audit
from ioe_aggregator.auth import secrets
from ioe_aggregator.auth.roles import Caller, Role, Via
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.store import Store, Transaction
from ioe_aggregator.store.sql import moment, moment_or_none

_COLUMNS = "id, scope, member, label, created_s, revoked_s, expires_s"
INSERT = """INSERT INTO tokens (id, scope, member, label, secret_hash, created_s, expires_s)
    VALUES (?, ?, ?, ?, ?, ?, ?)"""
SELECT_ALL = f"SELECT {_COLUMNS} FROM tokens ORDER BY created_s, id"  # noqa: S608 - constant
SELECT_FOR_CHECK = f"SELECT {_COLUMNS}, secret_hash FROM tokens WHERE id = ?"  # noqa: S608
REVOKE = "UPDATE tokens SET revoked_s = ? WHERE id = ? AND revoked_s IS NULL"
REVOKE_MEMBER = "UPDATE tokens SET revoked_s = ? WHERE member = ? AND revoked_s IS NULL"
SELECT_MEMBER_ACTIVE = "SELECT id FROM tokens WHERE member = ? AND revoked_s IS NULL"
# An update that changes nothing but takes the row locks of the admin tokens not revoked
# (PostgreSQL), so that two transactions revoking the last two admin tokens at once check one
# after the other. SQLite's transactions (BEGIN IMMEDIATE) already run one at a time.
LOCK_ADMINS = "UPDATE tokens SET revoked_s = revoked_s WHERE scope = 'admin' AND revoked_s IS NULL"
SELECT_ACTIVE_ADMINS = """SELECT id FROM tokens
    WHERE scope = 'admin' AND revoked_s IS NULL AND (expires_s IS NULL OR expires_s > ?)"""
# Compared against when the presented id is unknown, so that both paths do the same work.
_NO_HASH = "0" * 64
# Ten years: enough for any system, and a date every database and datetime can hold.
MAX_EXPIRY_DAYS = 3650


class Scope(StrEnum):
    """What a token may reach.

    member: its own member's data, and sending its readings. public: community aggregates.
    provider: the monitoring-provider contract's daily energies (``api.provider``), nothing
    else. broker: a cluster broker's questions about logins and topics (``api.broker_hook``),
    nothing else. viewer, operator, admin: what that role may (``auth.roles``), for another system.
    """

    MEMBER = "member"
    PUBLIC = "public"
    PROVIDER = "provider"
    BROKER = "broker"
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


@dataclass(frozen=True, kw_only=True)
class Token:
    """A token as stored (never its secret)."""

    id: str
    scope: Scope
    member: str | None
    label: str
    created: datetime
    revoked: datetime | None
    expires: datetime | None

    def expired(self, now: datetime | None = None) -> bool:
        """Whether the token has expired (at ``now``, by default the present)."""
        return self.expires is not None and self.expires <= (now or datetime.now(UTC))

    def as_dict(self) -> dict[str, Any]:
        """Return the token as the API and ``tokens list --json`` give it (never its secret)."""
        return {
            "id": self.id,
            "scope": self.scope.value,
            "member": self.member,
            "label": self.label,
            "created": utc_text(self.created),
            "revoked": None if self.revoked is None else utc_text(self.revoked),
            "expires": None if self.expires is None else utc_text(self.expires),
            "expired": self.expired(),
        }

    @property
    def actor(self) -> str:
        """How the audit log names what this token does."""
        return f"token:{self.id}"

    @property
    def caller(self) -> Caller:
        """Return the caller a request with this token is."""
        role = next((role for role in Role if role.value == self.scope.value), None)
        return Caller(
            actor=self.actor,
            name=self.label,
            via=Via.TOKEN,
            role=role,
            member=self.member,
            public=self.scope is Scope.PUBLIC,
            broker=self.scope is Scope.BROKER,
        )


def _token(row: Sequence[Any]) -> Token:
    return Token(
        id=str(row[0]),
        scope=Scope(str(row[1])),
        member=None if row[2] is None else str(row[2]),
        label=str(row[3]),
        created=moment(int(row[4])),
        revoked=moment_or_none(row[5]),
        expires=moment_or_none(row[6]),
    )


def expiry_in_days(days: int) -> datetime:
    """Return the moment ``days`` whole days from now (1 to MAX_EXPIRY_DAYS)."""
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise ValueError(f"expected 1 to {MAX_EXPIRY_DAYS} days, got {days}")
    return datetime.now(UTC) + timedelta(days=days)


async def issue(
    tx: Transaction,
    *,
    scope: Scope,
    label: str,
    actor: str,
    member: str | None = None,
    expires: datetime | None = None,
) -> tuple[Token, str]:
    """Create a token within a transaction; return it and its secret form (shown once).

    ``expires`` (None: never) must lie in the future; a member's token never expires.
    """
    if (scope is Scope.MEMBER) != (member is not None):
        raise Refused(Kind.INVALID, "a member token names its member, and only a member token does")
    now_s = int(time.time())
    detail: dict[str, Any] = {"scope": scope.value, "member": member}
    expires_s: int | None = None
    expires_at: datetime | None = None
    if expires is not None:
        if scope is Scope.MEMBER:
            raise Refused(
                Kind.INVALID, "a member's token never expires (its home would stop sending)"
            )
        expires_s = int(expires.timestamp())
        expires_at = moment(expires_s)
        if expires_s <= now_s:
            raise Refused(Kind.INVALID, f"expires: {utc_text(expires_at)} is not in the future")
        detail["expires"] = utc_text(expires_at)
    token_id, presented, digest = secrets.new_token()
    await tx.execute(INSERT, (token_id, scope.value, member, label, digest, now_s, expires_s))
    await audit.record(tx, actor, audit.Action.TOKEN_CREATED, token_id, detail)
    token = Token(
        id=token_id,
        scope=scope,
        member=member,
        label=label,
        created=moment(now_s),
        revoked=None,
        expires=expires_at,
    )
    return token, presented


async def active_admins(tx: Transaction) -> set[str]:
    """Return the ids of the admin tokens neither revoked nor expired."""
    rows = await tx.execute(SELECT_ACTIVE_ADMINS, (int(time.time()),))
    return {str(row[0]) for row in rows}


async def revoke(tx: Transaction, token_id: str, *, actor: str, keep_an_admin: bool = True) -> bool:
    """Revoke a token; return False when there is no such token not yet revoked.

    Refuses (conflict, ``last_admin_token``), with ``keep_an_admin``, to revoke the last
    active admin token.
    """
    rows = await tx.execute(SELECT_FOR_CHECK, (token_id,))
    if not rows or rows[0][5] is not None:
        return False
    if keep_an_admin and rows[0][1] == Scope.ADMIN:
        await tx.execute(LOCK_ADMINS)
        if await active_admins(tx) == {token_id}:
            raise Refused(
                Kind.CONFLICT,
                f"token {token_id} is the last active admin token: create another admin "
                "token first (or revoke it with the command line, which can always issue one)",
                code="last_admin_token",
            )
    await tx.execute(REVOKE, (int(time.time()), token_id))
    await audit.record(tx, actor, audit.Action.TOKEN_REVOKED, token_id)
    return True


async def revoke_member_tokens(tx: Transaction, member: str, *, actor: str) -> None:
    """Revoke every active token of a member."""
    for (token_id,) in await tx.execute(SELECT_MEMBER_ACTIVE, (member,)):
        await tx.execute(REVOKE, (int(time.time()), token_id))
        await audit.record(tx, actor, audit.Action.TOKEN_REVOKED, str(token_id))


async def all_tokens(store: Store) -> Sequence[Token]:
    """Return every token, revoked and expired ones too, oldest first."""
    async with store.transaction() as tx:
        return [_token(row) for row in await tx.execute(SELECT_ALL)]


async def authenticate(store: Store, presented: str) -> Token | None:
    """Return the token a presented string proves, or None (also when revoked or expired).

    Looked up at every call, so a revoked token fails at once.
    """
    parts = secrets.split_token(presented)
    token_id, secret = parts if parts is not None else ("", "")
    async with store.transaction() as tx:
        rows = await tx.execute(SELECT_FOR_CHECK, (token_id,)) if parts else []
    stored_hash = str(rows[0][7]) if rows else _NO_HASH
    if not secrets.token_matches(secret, stored_hash) or not rows:
        return None
    token = _token(rows[0])
    return None if token.revoked is not None or token.expired() else token
