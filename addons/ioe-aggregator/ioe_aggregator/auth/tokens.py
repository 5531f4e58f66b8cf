"""API tokens: each has a scope and, for a member's token, the member it speaks for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
import time
from typing import Any

from ioe_aggregator import audit
from ioe_aggregator.auth import secrets
from ioe_aggregator.protocol import utc_text
from ioe_aggregator.store import Store, Transaction

_COLUMNS = "id, scope, member, label, created_s, revoked_s"
INSERT = """INSERT INTO tokens (id, scope, member, label, secret_hash, created_s)
    VALUES (?, ?, ?, ?, ?, ?)"""
SELECT_ALL = f"SELECT {_COLUMNS} FROM tokens ORDER BY created_s, id"  # noqa: S608 - constant
SELECT_FOR_CHECK = f"SELECT {_COLUMNS}, secret_hash FROM tokens WHERE id = ?"  # noqa: S608
REVOKE = "UPDATE tokens SET revoked_s = ? WHERE id = ? AND revoked_s IS NULL"
REVOKE_MEMBER = "UPDATE tokens SET revoked_s = ? WHERE member = ? AND revoked_s IS NULL"
SELECT_MEMBER_ACTIVE = "SELECT id FROM tokens WHERE member = ? AND revoked_s IS NULL"
# Compared against when the presented id is unknown, so that both paths do the same work.
_NO_HASH = "0" * 64


class Scope(StrEnum):
    """What a token may reach.

    member: its own member's data, and sending its readings. public: community aggregates.
    admin: everything, including members, tokens and agreements.
    """

    MEMBER = "member"
    PUBLIC = "public"
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

    def as_dict(self) -> dict[str, Any]:
        """Return the token as the API and ``tokens list --json`` give it (never its secret)."""
        return {
            "id": self.id,
            "scope": self.scope.value,
            "member": self.member,
            "label": self.label,
            "created": utc_text(self.created),
            "revoked": None if self.revoked is None else utc_text(self.revoked),
        }

    @property
    def actor(self) -> str:
        """How the audit log names what this token does."""
        return f"token:{self.id}"


def _token(row: Sequence[object]) -> Token:
    return Token(
        id=str(row[0]),
        scope=Scope(row[1]),
        member=None if row[2] is None else str(row[2]),
        label=str(row[3]),
        created=datetime.fromtimestamp(int(row[4]), UTC),  # type: ignore[call-overload]
        revoked=None if row[5] is None else datetime.fromtimestamp(int(row[5]), UTC),  # type: ignore[call-overload]
    )


async def issue(
    tx: Transaction, *, scope: Scope, label: str, actor: str, member: str | None = None
) -> tuple[Token, str]:
    """Create a token within a transaction; return it and its secret form (shown once)."""
    if (scope is Scope.MEMBER) != (member is not None):
        raise ValueError("a member token names its member, and only a member token does")
    token_id, presented, digest = secrets.new_token()
    now_s = int(time.time())
    await tx.execute(INSERT, (token_id, scope.value, member, label, digest, now_s))
    await audit.record(
        tx, actor, audit.Action.TOKEN_CREATED, token_id, {"scope": scope.value, "member": member}
    )
    token = Token(
        id=token_id,
        scope=scope,
        member=member,
        label=label,
        created=datetime.fromtimestamp(now_s, UTC),
        revoked=None,
    )
    return token, presented


async def revoke(tx: Transaction, token_id: str, *, actor: str) -> bool:
    """Revoke a token; return False when there is no such active token."""
    rows = await tx.execute(SELECT_FOR_CHECK, (token_id,))
    if not rows or rows[0][5] is not None:
        return False
    await tx.execute(REVOKE, (int(time.time()), token_id))
    await audit.record(tx, actor, audit.Action.TOKEN_REVOKED, token_id)
    return True


async def revoke_member_tokens(tx: Transaction, member: str, *, actor: str) -> None:
    """Revoke every active token of a member."""
    for (token_id,) in await tx.execute(SELECT_MEMBER_ACTIVE, (member,)):
        await tx.execute(REVOKE, (int(time.time()), token_id))
        await audit.record(tx, actor, audit.Action.TOKEN_REVOKED, str(token_id))


async def all_tokens(store: Store) -> Sequence[Token]:
    """Return every token, revoked ones too, oldest first."""
    async with store.transaction() as tx:
        return [_token(row) for row in await tx.execute(SELECT_ALL)]


async def authenticate(store: Store, presented: str) -> Token | None:
    """Return the active token a presented string proves, or None.

    Looked up at every call, so a revoked token fails at once.
    """
    parts = secrets.split_token(presented)
    token_id, secret = parts if parts is not None else ("", "")
    async with store.transaction() as tx:
        rows = await tx.execute(SELECT_FOR_CHECK, (token_id,)) if parts else []
    stored_hash = str(rows[0][6]) if rows else _NO_HASH
    if not secrets.token_matches(secret, stored_hash) or not rows:
        return None
    token = _token(rows[0])
    return None if token.revoked is not None else token
