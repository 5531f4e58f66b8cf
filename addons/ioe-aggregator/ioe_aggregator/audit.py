"""The append-only audit log: logins, token and member changes, agreement changes, exports.

Entries are only ever inserted, in the same transaction as the change they record, so that a
change and its entry commit together or not at all. Nothing in the service updates or
deletes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
import json
import time
from typing import Any
import uuid

from ioe_aggregator.protocol import utc_text
from ioe_aggregator.store import Store, Transaction

INSERT = "INSERT INTO audit (id, at_us, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?, ?)"
SELECT = """SELECT at_us, actor, action, subject, detail FROM audit
    WHERE at_us >= ? ORDER BY at_us, id LIMIT ?"""


class Action(StrEnum):
    """What an audit entry records."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    TOKEN_CREATED = "token_created"  # noqa: S105 - a name, not a secret
    TOKEN_REVOKED = "token_revoked"  # noqa: S105 - a name, not a secret
    MEMBER_ADDED = "member_added"
    MEMBER_ROTATED = "member_rotated"
    MEMBER_REVOKED = "member_revoked"
    AGREEMENT_ADDED = "agreement_added"
    AGREEMENT_ENDED = "agreement_ended"
    AGREEMENT_REMOVED = "agreement_removed"
    EXPORT = "export"


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One audit entry: when, who (``cli:USER`` or ``token:ID``), what, on what, details."""

    at: datetime
    actor: str
    action: Action
    subject: str
    detail: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """Return the entry as the API and ``audit --json`` give it."""
        return {
            "at": utc_text(self.at),
            "actor": self.actor,
            "action": self.action.value,
            "subject": self.subject,
            "detail": dict(self.detail),
        }


async def record(
    tx: Transaction,
    actor: str,
    action: Action,
    subject: str,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append an entry within the transaction of the change it records."""
    await tx.execute(
        INSERT,
        (
            uuid.uuid4().hex,
            time.time_ns() // 1000,
            actor,
            action.value,
            subject,
            json.dumps(dict(detail or {}), sort_keys=True),
        ),
    )


async def entries(
    store: Store, *, since: datetime | None = None, limit: int = 1000
) -> Sequence[Entry]:
    """Return entries from ``since`` (all when None), oldest first, at most ``limit``."""
    since_us = 0 if since is None else int(since.timestamp() * 1_000_000)
    async with store.transaction() as tx:
        rows = await tx.execute(SELECT, (since_us, limit))
    return [
        Entry(
            at=datetime.fromtimestamp(row[0] / 1_000_000, UTC),
            actor=row[1],
            action=Action(row[2]),
            subject=row[3],
            detail=json.loads(row[4]),
        )
        for row in rows
    ]
