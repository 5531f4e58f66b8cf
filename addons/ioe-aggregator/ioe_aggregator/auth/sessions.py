"""Signed-in browsers: sessions that expire, and the CSRF token of each caller.

A session is a random 256-bit secret in an HttpOnly, SameSite=Strict cookie; the database
keeps only its SHA-256, so a copy of the database signs nobody in. A session ends after
``IDLE_S`` without a request, ``LIFETIME_S`` after it began, when its user is disabled or
their password changes, and when they sign out.

A change made with a session or through ingress (where the browser sends credentials by
itself) must carry the caller's CSRF token in ``X-CSRF-Token``: an HMAC of the session (or the
Home Assistant user) under a key that never leaves the service. Another site can make the
browser send a request, but cannot read the token to put in it.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import hmac
import secrets
import time

from ioe_aggregator.auth.users import User, get
from ioe_aggregator.store import Store, Transaction

COOKIE = "ioe_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_KEY_SETTING = "csrf_key"
IDLE_S = 2 * 3600
LIFETIME_S = 12 * 3600
# How often a session's last use is written (not at every request).
SEEN_EVERY_S = 60
INSERT = """INSERT INTO sessions (id_hash, user_id, created_s, seen_s, expires_s)
    VALUES (?, ?, ?, ?, ?)"""
SELECT = "SELECT user_id, seen_s, expires_s FROM sessions WHERE id_hash = ?"
SEEN = "UPDATE sessions SET seen_s = ? WHERE id_hash = ?"
DELETE = "DELETE FROM sessions WHERE id_hash = ?"
DELETE_EXPIRED = "DELETE FROM sessions WHERE expires_s <= ? OR seen_s <= ?"


@dataclass(frozen=True, slots=True)
class Session:
    """A session found: whose, and what its CSRF token is bound to."""

    user: User
    binding: str


def _hash(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


def binding(presented: str) -> str:
    """Return what the CSRF token of the session of a cookie's value is bound to."""
    return f"session:{_hash(presented)}"


async def start(tx: Transaction, user: User) -> str:
    """Begin a session for a user; return the cookie's value (shown to nobody else)."""
    presented = secrets.token_urlsafe(32)
    now_s = int(time.time())
    await tx.execute(DELETE_EXPIRED, (now_s, now_s - IDLE_S))
    await tx.execute(INSERT, (_hash(presented), user.id, now_s, now_s, now_s + LIFETIME_S))
    return presented


async def find(store: Store, presented: str) -> Session | None:
    """Return the live session of a cookie's value, or None (unknown, expired, disabled)."""
    id_hash = _hash(presented)
    now_s = int(time.time())
    async with store.transaction() as tx:
        rows = await tx.execute(SELECT, (id_hash,))
        if not rows:
            return None
        user_id, seen_s, expires_s = str(rows[0][0]), int(rows[0][1]), int(rows[0][2])
        if expires_s <= now_s or seen_s <= now_s - IDLE_S:
            await tx.execute(DELETE, (id_hash,))
            return None
        user = await get(tx, user_id)
        if user.disabled is not None:
            return None
        if now_s - seen_s >= SEEN_EVERY_S:
            await tx.execute(SEEN, (now_s, id_hash))
    return Session(user=user, binding=binding(presented))


async def end(tx: Transaction, presented: str) -> None:
    """End the session of a cookie's value (nothing when there is none)."""
    await tx.execute(DELETE, (_hash(presented),))


def csrf_token(key: str, binding: str) -> str:
    """Return the CSRF token of a session or ingress user (``binding``) under ``key``."""
    return hmac.new(key.encode(), binding.encode(), hashlib.sha256).hexdigest()


def csrf_matches(key: str, binding: str, presented: str) -> bool:
    """Whether ``presented`` is the CSRF token of ``binding``."""
    return hmac.compare_digest(csrf_token(key, binding), presented)
