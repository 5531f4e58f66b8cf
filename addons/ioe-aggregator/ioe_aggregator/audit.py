"""The audit log: logins, token, user and member changes, agreement changes, exports.

Entries are inserted in the same transaction as the change they record, so that a change and
its entry commit together or not at all, and nothing in the service deletes them. The one
exception to "insert only" is a counted entry (failed logins of one address in one minute):
it stands for several occurrences, and later ones add to its count and its detail's counts
instead of flooding the log. The log is read newest first, a page at a time.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
import hashlib
import json
import time
from typing import Any
import uuid

from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.store import Store, Transaction

INSERT = "INSERT INTO audit (id, at_us, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?, ?)"
SELECT_DETAIL = "SELECT detail FROM audit WHERE id = ?"
UPSERT_COUNTED = """INSERT INTO audit (id, at_us, actor, action, subject, detail, occurrences)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET
        occurrences = audit.occurrences + excluded.occurrences,
        detail = excluded.detail"""
_PAGE = "SELECT id, at_us, actor, action, subject, detail, occurrences FROM audit"
SELECT_NEWEST = f"{_PAGE} ORDER BY at_us DESC, id DESC LIMIT ?"
SELECT_BEFORE = f"""{_PAGE} WHERE at_us < ? OR (at_us = ? AND id < ?)
    ORDER BY at_us DESC, id DESC LIMIT ?"""
DEFAULT_PAGE = 100
MAX_PAGE = 1000


class Action(StrEnum):
    """What an audit entry records."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    TOKEN_CREATED = "token_created"  # noqa: S105 - a name, not a secret
    TOKEN_REVOKED = "token_revoked"  # noqa: S105 - a name, not a secret
    MEMBER_ADDED = "member_added"
    MEMBER_ROTATED = "member_rotated"
    MEMBER_REVOKED = "member_revoked"
    MEMBER_PLANT = "member_plant"
    MEMBER_CHANGED = "member_changed"
    AGREEMENT_ADDED = "agreement_added"
    AGREEMENT_ENDED = "agreement_ended"
    AGREEMENT_REMOVED = "agreement_removed"
    COMPARISON_STARTED = "comparison_started"
    EXPORT = "export"
    USER_ADDED = "user_added"
    USER_CHANGED = "user_changed"
    DATADIS_SYNC = "datadis_sync"
    PORTAL_LINK_ISSUED = "portal_link_issued"
    PORTAL_LINK_REVOKED = "portal_link_revoked"
    DISPLAY_CHANGED = "display_changed"
    PRICES_POSTED = "prices_posted"
    PRICES_REMOVED = "prices_removed"
    COMMUNITY_SYNCED = "community_synced"
    WEBHOOK_ADDED = "webhook_added"
    WEBHOOK_REMOVED = "webhook_removed"
    WEBHOOK_REPLAYED = "webhook_replayed"
    EMONCMS_IMPORT = "emoncms_import"


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One audit entry: when, who, what, on what.

    Who: ``cli:USER``, ``token:ID``, ``user:ID`` or ``address:IP``.

    ``occurrences`` is how many events a counted entry stands for (1 for any other).
    """

    at: datetime
    actor: str
    action: Action
    subject: str
    detail: Mapping[str, Any]
    occurrences: int = 1

    def as_dict(self) -> dict[str, Any]:
        """Return the entry as the API and ``audit --json`` give it."""
        return {
            "at": utc_text(self.at),
            "actor": self.actor,
            "action": self.action.value,
            "subject": self.subject,
            "detail": dict(self.detail),
            "occurrences": self.occurrences,
        }


@dataclass(frozen=True, kw_only=True)
class Page:
    """Entries newest first, and the cursor of the older ones (None: there are none)."""

    entries: Sequence[Entry]
    next: str | None

    def as_dict(self) -> dict[str, Any]:
        """Return the page as the API and ``audit --json`` give it."""
        return {"entries": [entry.as_dict() for entry in self.entries], "next": self.next}


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


async def record_counted(
    tx: Transaction,
    key: str,
    *,
    at_us: int,
    actor: str,
    action: Action,
    subject: str,
    counts: Mapping[str, Any],
    occurrences: int,
) -> None:
    """Add ``occurrences`` to the counted entry ``key`` stands for, making it the first time.

    ``counts`` (numbers, or mappings of numbers) are added to those of the entry's detail.
    The entry keeps the time it was made with (``at_us``, microseconds since the epoch). Two
    replicas adding to one entry at once keep its count right; its detail may miss one's.
    """
    entry_id = hashlib.sha256(key.encode()).hexdigest()[:32]
    rows = await tx.execute(SELECT_DETAIL, (entry_id,))
    detail = _add_counts(json.loads(rows[0][0]), counts) if rows else dict(counts)
    await tx.execute(
        UPSERT_COUNTED,
        (
            entry_id,
            at_us,
            actor,
            action.value,
            subject,
            json.dumps(detail, sort_keys=True),
            occurrences,
        ),
    )


def _add_counts(stored: Mapping[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    added = dict(stored)
    for key, value in more.items():
        if isinstance(value, Mapping):
            added[key] = _add_counts(added.get(key) or {}, value)
        else:
            added[key] = added.get(key, 0) + value
    return added


def _cursor(at_us: int, entry_id: str) -> str:
    return base64.urlsafe_b64encode(f"{at_us}:{entry_id}".encode()).decode().rstrip("=")


def _position(cursor: str) -> tuple[int, str]:
    with contextlib.suppress(binascii.Error, UnicodeDecodeError, ValueError):
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_text, entry_id = text.split(":", 1)
        # Bounded, so that no database is asked to compare a number bigger than its integers.
        if 0 <= (at_us := int(at_text)) < 2**63:
            return at_us, entry_id
    raise Refused(Kind.INVALID, f"before: {cursor!r} is not a cursor this audit log gave")


async def page(store: Store, *, limit: int = DEFAULT_PAGE, before: str | None = None) -> Page:
    """Return up to ``limit`` entries, newest first, older than the cursor ``before``.

    Refuses (invalid) a ``before`` that is not a page's ``next``.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit: expected 1 to {MAX_PAGE}, got {limit}")
    query: tuple[Any, ...] = (limit + 1,)
    statement = SELECT_NEWEST
    if before is not None:
        at_us, entry_id = _position(before)
        statement, query = SELECT_BEFORE, (at_us, at_us, entry_id, limit + 1)
    async with store.transaction() as tx:
        rows = await tx.execute(statement, query)
    entries = [
        Entry(
            at=datetime.fromtimestamp(row[1] / 1_000_000, UTC),
            actor=row[2],
            action=Action(row[3]),
            subject=row[4],
            detail=json.loads(row[5]),
            occurrences=int(row[6]),
        )
        for row in rows[:limit]
    ]
    if len(rows) <= limit:
        return Page(entries=entries, next=None)
    last = rows[limit - 1]
    return Page(entries=entries, next=_cursor(last[1], last[0]))
