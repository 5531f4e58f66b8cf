"""Members' access to their portal: personal access links, the codes that go with them, sessions.

The manager issues a member a link (``/portal#k=SECRET``: the secret rides in the fragment,
which no server log, proxy or ``Referer`` sees) and an equivalent code to type or read aloud.
Both stop at the link's expiry (``DEFAULT_DAYS`` unless the manager chooses, at most
``MAX_DAYS``), when the manager issues the member another link (the old one is *replaced*), and
when the manager revokes it or the member. Only hashes are kept: the link's secret is 256
random bits (a plain SHA-256 is enough), the code's 60 bits are salted and hashed, and a code
is typed into a form whose failures are counted by address and by the link id it names.

A link signs a browser in to a portal session: a random 256-bit cookie, kept as its SHA-256,
that ends after ``IDLE_S`` unused, ``LIFETIME_S`` after it began, when its link ends, and
when the member signs out. A session reads its own member's data and nothing else: no
control centre, no readings sent (``api.auth`` holds the routes it may reach).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
import hashlib
import hmac
import secrets
import time
from typing import Any

from ioe_aggregator import audit
from ioe_aggregator.auth.roles import Caller, Via
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.store import Store, Transaction
from ioe_aggregator.store.sql import moment, moment_or_none

COOKIE = "ioe_portal"
# Sent by the portal's page with every call: its calls are the portal session's, even in a
# browser also signed in to the control centre.
HEADER = "X-IoE-Portal"
DEFAULT_DAYS = 90
MAX_DAYS = 365
IDLE_S = 7 * 86400
LIFETIME_S = 30 * 86400
SEEN_EVERY_S = 60
# Crockford's base32: no I, L, O or U to misread; a code is 4 groups of 4 (the link's id, then
# 60 bits of secret).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
ID_LENGTH = 4
CODE_SECRET_LENGTH = 12
# What a code of an unknown link is compared with: no SHA-256 is this.
_NO_CODE_HASH = "0" * 64

_LINK_COLUMNS = """l.id, l.member, l.created_us, l.created_by, l.expires_s, l.ended_s,
    l.ended_how, l.used_s, m.name, m.revoked_s"""
INSERT_LINK = """INSERT INTO portal_links (id, member, secret_hash, code_salt, code_hash,
    created_us, created_by, expires_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
SELECT_ID_TAKEN = "SELECT 1 FROM portal_links WHERE id = ?"
SELECT_BY_SECRET = f"""SELECT {_LINK_COLUMNS} FROM portal_links l
    JOIN members m ON m.id = l.member WHERE l.secret_hash = ?"""  # noqa: S608 - constant
SELECT_BY_ID = f"""SELECT {_LINK_COLUMNS}, l.code_salt, l.code_hash FROM portal_links l
    JOIN members m ON m.id = l.member WHERE l.id = ?"""  # noqa: S608 - constant
SELECT_OF_MEMBER = f"""SELECT {_LINK_COLUMNS} FROM portal_links l
    JOIN members m ON m.id = l.member WHERE l.member = ?
    ORDER BY l.created_us, l.id"""  # noqa: S608 - constant
SELECT_OPEN = "SELECT id FROM portal_links WHERE member = ? AND ended_s IS NULL"
END_LINK = "UPDATE portal_links SET ended_s = ?, ended_how = ? WHERE id = ?"
USED = "UPDATE portal_links SET used_s = ? WHERE id = ?"
INSERT_SESSION = """INSERT INTO portal_sessions (id_hash, link, created_s, seen_s, expires_s)
    VALUES (?, ?, ?, ?, ?)"""
SELECT_SESSION = f"""SELECT {_LINK_COLUMNS}, s.seen_s, s.expires_s FROM portal_sessions s
    JOIN portal_links l ON l.id = s.link JOIN members m ON m.id = l.member
    WHERE s.id_hash = ?"""  # noqa: S608 - constant
SESSION_SEEN = "UPDATE portal_sessions SET seen_s = ? WHERE id_hash = ?"
DELETE_SESSION = "DELETE FROM portal_sessions WHERE id_hash = ?"
DELETE_LINK_SESSIONS = "DELETE FROM portal_sessions WHERE link = ?"
DELETE_OLD_SESSIONS = "DELETE FROM portal_sessions WHERE expires_s <= ? OR seen_s <= ?"


class State(StrEnum):
    """Where a link stands: it signs in only while active."""

    ACTIVE = "active"
    EXPIRED = "expired"
    REPLACED = "replaced"
    REVOKED = "revoked"


@dataclass(frozen=True, kw_only=True)
class Link:
    """A member's access link as stored (never its secret nor its code)."""

    id: str
    member: str
    member_name: str
    member_revoked: bool
    created: datetime
    created_by: str
    expires: datetime
    ended: datetime | None
    ended_how: str | None
    used: datetime | None

    def state(self, now_s: float | None = None) -> State:
        """Return whether the link signs in now (or why not)."""
        if self.member_revoked:
            return State.REVOKED
        if self.ended is not None:
            return State(self.ended_how or State.REVOKED)
        now = moment(int(time.time() if now_s is None else now_s))
        return State.ACTIVE if self.expires > now else State.EXPIRED

    def as_dict(self) -> dict[str, Any]:
        """Return the link as the API, the CLI and the member's data give it."""
        return {
            "id": self.id,
            "member": self.member,
            "created": utc_text(self.created),
            "created_by": self.created_by,
            "expires": utc_text(self.expires),
            "ended": None if self.ended is None else utc_text(self.ended),
            "state": self.state().value,
            "last_used": None if self.used is None else utc_text(self.used),
        }


@dataclass(frozen=True, kw_only=True)
class Issued:
    """A new link with its secret and its code, in clear this once."""

    link: Link
    secret: str
    code: str
    replaced: list[str]

    @property
    def path(self) -> str:
        """The link's path and fragment, relative to the aggregator's address."""
        return f"portal#k={self.secret}"

    def url(self, base: str | None) -> str | None:
        """Return the whole link under ``base`` (the address members reach), or None."""
        return None if base is None else f"{base.rstrip('/')}/{self.path}"


@dataclass(frozen=True, slots=True)
class PortalSession:
    """A live portal session: its link and what its CSRF token is bound to."""

    link: Link
    binding: str

    @property
    def caller(self) -> Caller:
        """Return the caller its requests are: the member, reading only."""
        return Caller(
            actor=f"member:{self.link.member}",
            name=self.link.member_name,
            via=Via.PORTAL,
            member=self.link.member,
        )


def _link(row: Sequence[Any]) -> Link:
    return Link(
        id=str(row[0]),
        member=str(row[1]),
        created=moment(int(row[2]) // 1_000_000),
        created_by=str(row[3]),
        expires=moment(int(row[4])),
        ended=moment_or_none(row[5]),
        ended_how=None if row[6] is None else str(row[6]),
        used=moment_or_none(row[7]),
        member_name=str(row[8]),
        member_revoked=row[9] is not None,
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _random_text(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalised_code(typed: str) -> str | None:
    """Return a typed code as issued (upper case, without spaces or dashes), or None."""
    compact = "".join(typed.split()).replace("-", "").upper().translate(_READ_AS)
    if len(compact) != ID_LENGTH + CODE_SECRET_LENGTH or any(c not in ALPHABET for c in compact):
        return None
    return compact


def _grouped(compact: str) -> str:
    return "-".join(compact[start : start + 4] for start in range(0, len(compact), 4))


def validity_days(days: int) -> int:
    """Return ``days`` when a link may last that long; refuse it otherwise."""
    if not 1 <= days <= MAX_DAYS:
        raise Refused(
            Kind.INVALID, f"days: expected 1 to {MAX_DAYS}, got {days}", code="bad_link_days"
        )
    return days


async def _end_open(tx: Transaction, member: str, how: State, now_s: int) -> list[str]:
    ended = [str(row[0]) for row in await tx.execute(SELECT_OPEN, (member,))]
    for link_id in ended:
        await tx.execute(END_LINK, (now_s, how.value, link_id))
        await tx.execute(DELETE_LINK_SESSIONS, (link_id,))
    return ended


async def issue(tx: Transaction, member: str, *, days: int, actor: str) -> Issued:
    """Issue a member a new link (ending the one they had); return it with its secrets.

    The member must exist and be active (not found, or conflict ``member_revoked``).
    """
    rows = await tx.execute("SELECT name, revoked_s FROM members WHERE id = ?", (member,))
    if not rows:
        raise Refused(Kind.NOT_FOUND, f"no member {member!r}")
    if rows[0][1] is not None:
        raise Refused(Kind.CONFLICT, f"member {member} is revoked", code="revoked")
    now_us = time.time_ns() // 1000
    now_s = now_us // 1_000_000
    expires_s = now_s + validity_days(days) * 86400
    replaced = await _end_open(tx, member, State.REPLACED, now_s)
    link_id = _random_text(ID_LENGTH)
    while await tx.execute(SELECT_ID_TAKEN, (link_id,)):
        link_id = _random_text(ID_LENGTH)
    secret = secrets.token_urlsafe(32)
    code_secret = _random_text(CODE_SECRET_LENGTH)
    salt = secrets.token_hex(16)
    await tx.execute(
        INSERT_LINK,
        (
            link_id,
            member,
            _sha256(secret),
            salt,
            _sha256(salt + code_secret),
            now_us,
            actor,
            expires_s,
        ),
    )
    await audit.record(
        tx,
        actor,
        audit.Action.PORTAL_LINK_ISSUED,
        member,
        {"link": link_id, "expires": utc_text(moment(expires_s)), "replaced": replaced},
    )
    link = Link(
        id=link_id,
        member=member,
        member_name=str(rows[0][0]),
        member_revoked=False,
        created=moment(now_s),
        created_by=actor,
        expires=moment(expires_s),
        ended=None,
        ended_how=None,
        used=None,
    )
    code = _grouped(link_id + code_secret)
    return Issued(link=link, secret=secret, code=code, replaced=replaced)


async def revoke(tx: Transaction, member: str, *, actor: str) -> list[str]:
    """End a member's open link and its sessions; return the links ended (none: none open)."""
    if not await tx.execute("SELECT 1 FROM members WHERE id = ?", (member,)):
        raise Refused(Kind.NOT_FOUND, f"no member {member!r}")
    ended = await _end_open(tx, member, State.REVOKED, int(time.time()))
    if ended:
        await audit.record(tx, actor, audit.Action.PORTAL_LINK_REVOKED, member, {"links": ended})
    return ended


async def history(store: Store, member: str) -> list[Link]:
    """Return a member's links, oldest first (never their secrets)."""
    async with store.transaction() as tx:
        return [_link(row) for row in await tx.execute(SELECT_OF_MEMBER, (member,))]


async def by_secret(store: Store, secret: str) -> Link | None:
    """Return the link a presented secret belongs to (whatever its state), or None."""
    async with store.transaction() as tx:
        rows = await tx.execute(SELECT_BY_SECRET, (_sha256(secret),))
    return _link(rows[0]) if rows else None


async def by_code(store: Store, compact: str) -> tuple[Link | None, bool]:
    """Return the link a normalised code names (None: no such id) and whether it matches."""
    async with store.transaction() as tx:
        rows = await tx.execute(SELECT_BY_ID, (code_link_id(compact),))
    # An unknown id is hashed and compared too: it takes as long as a wrong code.
    salt, stored = (str(rows[0][10]), str(rows[0][11])) if rows else ("", _NO_CODE_HASH)
    matches = hmac.compare_digest(_sha256(salt + compact[ID_LENGTH:]), stored)
    return (_link(rows[0]), matches) if rows else (None, False)


def code_link_id(compact: str) -> str:
    """Return the id of the link a normalised code names (whether or not it exists)."""
    return compact[:ID_LENGTH]


def binding(presented: str) -> str:
    """Return what the CSRF token of a portal cookie's session is bound to."""
    return f"portal:{_sha256(presented)}"


async def start(tx: Transaction, link: Link) -> tuple[str, int]:
    """Begin a session with an active link; return the cookie's value and its lifetime (s)."""
    presented = secrets.token_urlsafe(32)
    now_s = int(time.time())
    expires_s = min(now_s + LIFETIME_S, int(link.expires.timestamp()))
    await tx.execute(DELETE_OLD_SESSIONS, (now_s, now_s - IDLE_S))
    await tx.execute(INSERT_SESSION, (_sha256(presented), link.id, now_s, now_s, expires_s))
    await tx.execute(USED, (now_s, link.id))
    return presented, expires_s - now_s


async def find(store: Store, presented: str) -> PortalSession | None:
    """Return the live session of a cookie's value, or None (unknown, expired, link ended)."""
    id_hash = _sha256(presented)
    now_s = int(time.time())
    async with store.transaction() as tx:
        rows = await tx.execute(SELECT_SESSION, (id_hash,))
        if not rows:
            return None
        link = _link(rows[0])
        seen_s, expires_s = int(rows[0][10]), int(rows[0][11])
        if expires_s <= now_s or seen_s <= now_s - IDLE_S or link.state(now_s) != State.ACTIVE:
            await tx.execute(DELETE_SESSION, (id_hash,))
            return None
        if now_s - seen_s >= SEEN_EVERY_S:
            await tx.execute(SESSION_SEEN, (now_s, id_hash))
    return PortalSession(link=link, binding=binding(presented))


async def end(tx: Transaction, presented: str) -> None:
    """End the session of a cookie's value (nothing when there is none)."""
    await tx.execute(DELETE_SESSION, (_sha256(presented),))
