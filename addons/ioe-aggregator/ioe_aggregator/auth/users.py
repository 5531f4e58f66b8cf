"""The people of the control centre: Home Assistant users and the aggregator's own.

A Home Assistant user arrives through ingress (the Supervisor names them) and is recorded the
first time, without a role, until an admin gives one; the very first to arrive while the
community has no admin becomes its admin. People who do not come through Home Assistant sign
in with a user name and a password an admin created for them (``auth.passwords``). Nothing is
ever deleted: a user is disabled, which ends their sessions. Neither the API nor the control
centre leaves the community without an active admin (the command line may, and warns).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
import re
import time
from typing import Any
import uuid

from ioe_aggregator import audit
from ioe_aggregator.auth.roles import Caller, Role, Via
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.store import Store, Transaction
from ioe_aggregator.store.sql import moment, moment_or_none

_COLUMNS = "id, ha_user_id, username, name, role, created_s, disabled_s"
SELECT_ALL = f"SELECT {_COLUMNS} FROM users ORDER BY created_s, id"  # noqa: S608 - constant
SELECT_ONE = f"SELECT {_COLUMNS} FROM users WHERE id = ?"  # noqa: S608 - constant
SELECT_BY_HA = f"SELECT {_COLUMNS} FROM users WHERE ha_user_id = ?"  # noqa: S608 - constant
SELECT_BY_USERNAME = f"""SELECT {_COLUMNS}, password_hash FROM users
    WHERE username = ?"""  # noqa: S608 - constant
INSERT = """INSERT INTO users (id, ha_user_id, username, name, role, password_hash, created_s)
    VALUES (?, ?, ?, ?, ?, ?, ?)"""
SET_NAME = "UPDATE users SET name = ? WHERE id = ?"
SET_ROLE = "UPDATE users SET role = ? WHERE id = ?"
SET_PASSWORD = "UPDATE users SET password_hash = ? WHERE id = ?"  # noqa: S105 - a statement
DISABLE = "UPDATE users SET disabled_s = ? WHERE id = ?"
ENABLE = "UPDATE users SET disabled_s = NULL WHERE id = ?"
END_SESSIONS = "DELETE FROM sessions WHERE user_id = ?"
SELECT_NAMES = "SELECT id, name FROM users"
SELECT_ACTIVE_ADMINS = "SELECT id FROM users WHERE role = 'admin' AND disabled_s IS NULL"
# Takes the row locks of the active admins (PostgreSQL), so that two changes that would each
# leave one admin check one after the other; SQLite's transactions already run one at a time.
LOCK_ADMINS = "UPDATE users SET role = role WHERE role = 'admin' AND disabled_s IS NULL"
# The first Home Assistant user becomes admin once: whoever's id this setting holds.
FIRST_ADMIN_SETTING = "first_admin"
CLAIM = "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
SELECT_SETTING = "SELECT value FROM settings WHERE key = ?"
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MAX_NAME = 100


@dataclass(frozen=True, kw_only=True)
class User:
    """A person as stored (never their password)."""

    id: str
    ha_user_id: str | None
    username: str | None
    name: str
    role: Role | None
    created: datetime
    disabled: datetime | None

    @property
    def actor(self) -> str:
        """How the audit log names what this person does."""
        return f"user:{self.id}"

    def caller(self, via: Via) -> Caller:
        """Return the caller a request of this person's is."""
        return Caller(actor=self.actor, name=self.name, via=via, role=self.role)

    def as_dict(self) -> dict[str, Any]:
        """Return the user as the API and ``users list --json`` give them."""
        return {
            "id": self.id,
            "kind": "home_assistant" if self.ha_user_id is not None else "local",
            "ha_user_id": self.ha_user_id,
            "username": self.username,
            "name": self.name,
            "role": None if self.role is None else self.role.value,
            "created": utc_text(self.created),
            "disabled": None if self.disabled is None else utc_text(self.disabled),
        }


def _user(row: Sequence[Any]) -> User:
    return User(
        id=str(row[0]),
        ha_user_id=row[1],
        username=row[2],
        name=str(row[3]),
        role=None if row[4] is None else Role(row[4]),
        created=moment(int(row[5])),
        disabled=moment_or_none(row[6]),
    )


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise Refused(Kind.INVALID, f"name: 1 to {MAX_NAME} characters")
    return name


async def all_users(store: Store) -> Sequence[User]:
    """Return every user, disabled ones too, oldest first."""
    async with store.transaction() as tx:
        return [_user(row) for row in await tx.execute(SELECT_ALL)]


async def get(tx: Transaction, user_id: str) -> User:
    """Return one user; refuse (not found) an unknown id."""
    rows = await tx.execute(SELECT_ONE, (user_id,))
    if not rows:
        raise Refused(Kind.NOT_FOUND, f"no user {user_id!r}")
    return _user(rows[0])


async def ingress_user(store: Store, ha_user_id: str, name: str) -> User:
    """Return the Home Assistant user the Supervisor names, recording them the first time.

    The first one to arrive while no user is an active admin becomes admin (once: a later
    arrival never does, even if the admins were all disabled since).
    """
    name = " ".join(name.split())[:MAX_NAME] or ha_user_id[:MAX_NAME]
    async with store.transaction() as tx:
        rows = await tx.execute(SELECT_BY_HA, (ha_user_id,))
        if rows:
            user = _user(rows[0])
            if user.name == name:
                return user
            await tx.execute(SET_NAME, (name, user.id))
            return await get(tx, user.id)
        user_id = uuid.uuid4().hex[:12]
        role = None
        if not await tx.execute(SELECT_ACTIVE_ADMINS):
            await tx.execute(CLAIM, (FIRST_ADMIN_SETTING, user_id))
            claimed = await tx.execute(SELECT_SETTING, (FIRST_ADMIN_SETTING,))
            role = Role.ADMIN if claimed[0][0] == user_id else None
        now_s = int(time.time())
        await tx.execute(
            INSERT, (user_id, ha_user_id, None, name, None if role is None else role, None, now_s)
        )
        await audit.record(
            tx,
            f"user:{user_id}",
            audit.Action.USER_ADDED,
            f"user:{user_id}",
            {"kind": "home_assistant", "name": name, "role": role},
        )
        return await get(tx, user_id)


async def add_local(
    tx: Transaction, *, username: str, name: str, role: Role | None, password_hash: str, actor: str
) -> User:
    """Create a user who signs in with a password (hashed by the caller)."""
    if not USERNAME.fullmatch(username):
        raise Refused(
            Kind.INVALID,
            f"username: {username!r}: 2 to 32 lower-case letters, digits, '.', '_' or '-'",
        )
    if await tx.execute(SELECT_BY_USERNAME, (username,)):
        raise Refused(Kind.CONFLICT, f"a user {username!r} exists already", code="user_exists")
    user_id = uuid.uuid4().hex[:12]
    await tx.execute(
        INSERT,
        (user_id, None, username, _name(name), role, password_hash, int(time.time())),
    )
    detail = {"kind": "local", "username": username, "role": role}
    await audit.record(tx, actor, audit.Action.USER_ADDED, f"user:{user_id}", detail)
    return await get(tx, user_id)


async def _keep_an_admin(tx: Transaction, user: User) -> None:
    """Refuse to take the last active admin's role or access away."""
    if user.role is not Role.ADMIN or user.disabled is not None:
        return
    await tx.execute(LOCK_ADMINS)
    admins = {str(row[0]) for row in await tx.execute(SELECT_ACTIVE_ADMINS)}
    if admins == {user.id}:
        raise Refused(
            Kind.CONFLICT,
            f"{user.name} is the community's last active admin: make someone else admin first",
            code="last_admin",
        )


async def names_of_people(tx: Transaction) -> dict[str, str]:
    """Return every control centre user's name by the actor the audit log names them with."""
    return {f"user:{row[0]}": str(row[1]) for row in await tx.execute(SELECT_NAMES)}


async def set_role(
    tx: Transaction, user_id: str, role: Role | None, *, actor: str, keep_an_admin: bool = True
) -> User:
    """Give a user a role, or take it away (None); never the last admin's (``last_admin``)."""
    user = await get(tx, user_id)
    if role == user.role:
        return user
    if keep_an_admin:
        await _keep_an_admin(tx, user)
    await tx.execute(SET_ROLE, (role, user_id))
    await audit.record(tx, actor, audit.Action.USER_CHANGED, user.actor, {"role": role})
    return await get(tx, user_id)


async def set_disabled(
    tx: Transaction, user_id: str, disabled: bool, *, actor: str, keep_an_admin: bool = True
) -> User:
    """Disable a user (their sessions end) or enable them again; never the last admin."""
    user = await get(tx, user_id)
    if disabled == (user.disabled is not None):
        return user
    if disabled:
        if keep_an_admin:
            await _keep_an_admin(tx, user)
        await tx.execute(DISABLE, (int(time.time()), user_id))
        await tx.execute(END_SESSIONS, (user_id,))
    else:
        await tx.execute(ENABLE, (user_id,))
    await audit.record(tx, actor, audit.Action.USER_CHANGED, user.actor, {"disabled": disabled})
    return await get(tx, user_id)


async def set_name(tx: Transaction, user_id: str, name: str, *, actor: str) -> User:
    """Rename a user."""
    user = await get(tx, user_id)
    if (name := _name(name)) != user.name:
        await tx.execute(SET_NAME, (name, user_id))
        await audit.record(tx, actor, audit.Action.USER_CHANGED, user.actor, {"name": name})
    return await get(tx, user_id)


async def set_password(tx: Transaction, user_id: str, password_hash: str, *, actor: str) -> User:
    """Give a local user a new password (hashed by the caller); their sessions end."""
    user = await get(tx, user_id)
    if user.username is None:
        raise Refused(
            Kind.INVALID, "a Home Assistant user signs in through Home Assistant: no password here"
        )
    await tx.execute(SET_PASSWORD, (password_hash, user_id))
    await tx.execute(END_SESSIONS, (user_id,))
    await audit.record(tx, actor, audit.Action.USER_CHANGED, user.actor, {"password": "changed"})
    return user


async def with_password(store: Store, username: str) -> tuple[User | None, str | None]:
    """Return the active local user of a user name and their password's hash (or Nones)."""
    async with store.transaction() as tx:
        rows = await tx.execute(SELECT_BY_USERNAME, (username,))
    if not rows or rows[0][6] is not None:
        return None, None
    return _user(rows[0]), rows[0][7]
