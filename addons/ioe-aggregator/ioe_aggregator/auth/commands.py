"""``python -m ioe_aggregator users …``: the control centre's people from the command line.

For the first admin of an aggregator that runs without Home Assistant (where nobody arrives
through ingress), and to recover when nobody can sign in: the command line may take the last
admin's role away (and warns), since it can always give one again. Passwords are read from
standard input (``--password-stdin``) or asked for without echo, never from the command line,
where other users of the machine would see them.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from ioe_aggregator.auth import passwords, users
from ioe_aggregator.auth.roles import Role
from ioe_aggregator.config import Config
from ioe_aggregator.jobs import Job, actor, show
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.store import Store

NO_ROLE = "none"


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``users`` command."""
    parser = commands.add_parser("users", help="the control centre's users and their roles")
    jobs = parser.add_subparsers(dest="users_command", required=True, metavar="JOB")
    roles = [*(role.value for role in Role), NO_ROLE]
    add = jobs.add_parser(
        "add", help="create a user who signs in with a password", parents=[common]
    )
    add.add_argument("username")
    add.add_argument("--name", required=True, help="the person's name, as pages show it")
    add.add_argument("--role", choices=roles, required=True)
    _password_option(add)
    jobs.add_parser("list", help="list users (never their passwords)", parents=[common])
    role = jobs.add_parser("role", help="give a user a role, or take it away", parents=[common])
    role.add_argument("user", help="a user's id or user name")
    role.add_argument("role", choices=roles)
    password = jobs.add_parser("password", help="set a user's password", parents=[common])
    password.add_argument("user", help="a user's id or user name")
    _password_option(password)
    for name, text in (("disable", "disable a user; their sessions end"), ("enable", "enable")):
        job = jobs.add_parser(name, help=text, parents=[common])
        job.add_argument("user", help="a user's id or user name")


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (else it is asked for)",
    )


def job(args: argparse.Namespace) -> Job | None:
    """Return the job a parsed ``users`` command line asks for."""
    return _JOBS[args.users_command] if args.command == "users" else None


async def _new_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("New password: ")
        if getpass.getpass("The same again: ") != password:
            raise Refused(Kind.INVALID, "the two passwords differ")
    if (weakness := passwords.weakness(password)) is not None:
        raise Refused(Kind.INVALID, f"password: {weakness}")
    return await passwords.hash_password(password)


def _role(text: str) -> Role | None:
    return None if text == NO_ROLE else Role(text)


async def _user_id(store: Store, given: str) -> str:
    for user in await users.all_users(store):
        if given in (user.id, user.username):
            return user.id
    raise Refused(Kind.NOT_FOUND, f"no user {given!r} (an id or a user name)")


def _describe(user: users.User) -> str:
    shown = user.as_dict()
    login = user.username or f"Home Assistant {user.ha_user_id}"
    state = "" if user.disabled is None else f"  (disabled {shown['disabled']})"
    return f"{user.id}  {shown['role'] or NO_ROLE:<8}  {login:<24}  {user.name}{state}"


async def _add(store: Store, _config: Config, args: argparse.Namespace) -> bool:
    password_hash = await _new_password(args)
    async with store.transaction() as tx:
        user = await users.add_local(
            tx,
            username=args.username.lower(),
            name=args.name,
            role=_role(args.role),
            password_hash=password_hash,
            actor=actor(),
        )
    show(args, user.as_dict(), f"User {user.username} ({user.id}) created: {_describe(user)}")
    return True


async def _list(store: Store, _config: Config, args: argparse.Namespace) -> bool:
    found = await users.all_users(store)
    text = "\n".join(_describe(user) for user in found) or (
        "No users yet: the first Home Assistant admin to open the control centre becomes its "
        "admin, or create one with `users add NAME --name … --role admin`."
    )
    show(args, [user.as_dict() for user in found], text)
    return True


async def _set_role(store: Store, _config: Config, args: argparse.Namespace) -> bool:
    user_id = await _user_id(store, args.user)
    async with store.transaction() as tx:
        user = await users.set_role(
            tx, user_id, _role(args.role), actor=actor(), keep_an_admin=False
        )
        admins_left = await tx.execute(users.SELECT_ACTIVE_ADMINS)
    if not admins_left:
        print(
            "ioe-aggregator: warning: no active admin is left; give the role again with "
            "`users role USER admin`",
            file=sys.stderr,
        )
    show(args, user.as_dict(), _describe(user))
    return True


async def _set_password(store: Store, _config: Config, args: argparse.Namespace) -> bool:
    user_id = await _user_id(store, args.user)
    password_hash = await _new_password(args)
    async with store.transaction() as tx:
        user = await users.set_password(tx, user_id, password_hash, actor=actor())
    show(args, user.as_dict(), f"Password of {user.username} changed; their sessions ended")
    return True


async def _set_disabled(store: Store, args: argparse.Namespace, disabled: bool) -> bool:
    user_id = await _user_id(store, args.user)
    async with store.transaction() as tx:
        user = await users.set_disabled(tx, user_id, disabled, actor=actor(), keep_an_admin=False)
    show(args, user.as_dict(), _describe(user))
    return True


async def _disable(store: Store, _config: Config, args: argparse.Namespace) -> bool:
    return await _set_disabled(store, args, disabled=True)


async def _enable(store: Store, _config: Config, args: argparse.Namespace) -> bool:
    return await _set_disabled(store, args, disabled=False)


_JOBS: dict[str, Job] = {
    "add": _add,
    "list": _list,
    "role": _set_role,
    "password": _set_password,
    "disable": _disable,
    "enable": _enable,
}
