"""``python -m ioe_aggregator members|tokens|audit …``: the registry from the command line.

They work on the service's database (the same configuration as ``serve``), also while the
service runs: SQLite lets one writer in at a time, and every change is audited as
``cli:<user>``.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
import sys

from ioe_aggregator import audit
from ioe_aggregator.auth import portal, tokens
from ioe_aggregator.config import Config
from ioe_aggregator.jobs import Job, actor, show
from ioe_aggregator.members import broker_files
from ioe_aggregator.members.broker_accounts import BrokerAccounts
from ioe_aggregator.members.registry import Credentials, Member, NewMember, Registry
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.store import Store


def add_parsers(
    commands: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
) -> None:
    """Add the ``members``, ``tokens`` and ``audit`` commands."""
    members = commands.add_parser("members", help="register members and manage their credentials")
    jobs = members.add_subparsers(dest="members_command", required=True, metavar="JOB")
    add = jobs.add_parser("add", help="register a member; prints its join code", parents=[common])
    add.add_argument("member_id", help="1-32 of a-z, 0-9, - and _ (also its broker login)")
    add.add_argument("--name", required=True)
    add.add_argument("--cups", required=True, help="the supply point's CUPS (spaces allowed)")
    add.add_argument("--contracted-kw", type=float, required=True, help="contracted power, kW")
    add.add_argument(
        "--investment-share", type=float, default=0.0, help="share of the plant's investment, 0-1"
    )
    add.add_argument("--vulnerable", action="store_true", help="a vulnerable consumer")
    add.add_argument(
        "--plant-kw",
        type=float,
        default=0.0,
        help="peak power of a community plant metered at this member's site, kW",
    )
    jobs.add_parser("list", help="list members", parents=[common])
    plant = jobs.add_parser(
        "plant",
        help="register the community plant metered at a member's site (0 removes it)",
        parents=[common],
    )
    plant.add_argument("member_id")
    plant.add_argument("--kw", type=float, required=True, help="the plant's peak power, kW")
    for name, text in (
        ("show", "show one member"),
        ("rotate", "new broker password and API token (the old ones stop at once)"),
        ("revoke", "revoke a member's access (its data is kept)"),
    ):
        job = jobs.add_parser(name, help=text, parents=[common])
        job.add_argument("member_id")
    link = jobs.add_parser(
        "portal-link",
        help="issue a member a personal link (and code) to their portal; prints it once",
        parents=[common],
    )
    link.add_argument("member_id")
    link.add_argument(
        "--days",
        type=_link_days,
        default=portal.DEFAULT_DAYS,
        help=f"how long it works (1-{portal.MAX_DAYS}, default {portal.DEFAULT_DAYS})",
    )
    link.add_argument(
        "--base-url",
        metavar="URL",
        help="the address members reach the aggregator at (default: public_api_url)",
    )
    unlink = jobs.add_parser(
        "portal-revoke",
        help="revoke a member's link to their portal and end their portal sessions",
        parents=[common],
    )
    unlink.add_argument("member_id")
    files = jobs.add_parser(
        "broker-files", help="rewrite the broker's password file and access list", parents=[common]
    )
    files.add_argument(
        "--listener",
        type=int,
        metavar="PORT",
        help="also write the TLS listener of a Mosquitto of the community's own (not the add-on)",
    )
    files.add_argument("--bind", metavar="HOST", help="the listener's address (default: all)")
    files.add_argument("--certfile", type=Path, help="the listener's certificate chain (PEM)")
    files.add_argument("--keyfile", type=Path, help="the listener's private key (PEM)")

    token_parser = commands.add_parser("tokens", help="API tokens for admins and public displays")
    token_jobs = token_parser.add_subparsers(dest="tokens_command", required=True, metavar="JOB")
    create = token_jobs.add_parser("add", help="create a token; prints it once", parents=[common])
    create.add_argument(
        "--scope",
        choices=[s.value for s in tokens.Scope if s is not tokens.Scope.MEMBER],
        required=True,
    )
    create.add_argument("--label", required=True, help="who or what uses it")
    create.add_argument(
        "--expires-in-days",
        dest="expires",
        type=_expiry,
        metavar="DAYS",
        help=f"the token stops working after DAYS days (1-{tokens.MAX_EXPIRY_DAYS}); "
        "default: it does not expire",
    )
    token_jobs.add_parser("list", help="list tokens (never their secrets)", parents=[common])
    revoke = token_jobs.add_parser(
        "revoke",
        help="revoke a token at once (even the last admin token, which the API refuses)",
        parents=[common],
    )
    revoke.add_argument("token_id")

    audit_parser = commands.add_parser(
        "audit", help="print the audit log, newest first", parents=[common]
    )
    audit_parser.add_argument(
        "--limit",
        type=_page_size,
        default=audit.DEFAULT_PAGE,
        help=f"entries to print (1-{audit.MAX_PAGE}, default {audit.DEFAULT_PAGE})",
    )
    audit_parser.add_argument(
        "--before", metavar="CURSOR", help="older entries: the cursor the last page ended with"
    )


def _expiry(text: str) -> datetime:
    try:
        return tokens.expiry_in_days(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of days from 1 to {tokens.MAX_EXPIRY_DAYS}, got {text!r}"
        ) from None


def _link_days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= portal.MAX_DAYS:
        raise argparse.ArgumentTypeError(f"expected 1 to {portal.MAX_DAYS} days, got {text!r}")
    return int(text)


def _page_size(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= audit.MAX_PAGE:
        raise argparse.ArgumentTypeError(f"expected 1 to {audit.MAX_PAGE}, got {text!r}")
    return int(text)


def job(args: argparse.Namespace) -> Job | None:
    """Return the job a parsed ``members``/``tokens``/``audit`` command line asks for."""
    if args.command == "members":
        return _MEMBER_JOBS[args.members_command]
    if args.command == "tokens":
        return _TOKEN_JOBS[args.tokens_command]
    return _audit if args.command == "audit" else None


def _describe(member: Member) -> str:
    state = "active" if member.active else f"revoked {member.as_dict()['revoked']}"
    flags = ", vulnerable" if member.vulnerable else ""
    flags += f", plant {member.plant_kw:g} kW" if member.plant_kw else ""
    return (
        f"{member.id}  {member.name}  CUPS {member.cups}  {member.contracted_kw:g} kW  "
        f"investment {member.investment_share:.2%}{flags}  ({state})"
    )


def _credentials(args: argparse.Namespace, credentials: Credentials, verb: str) -> None:
    show(
        args,
        credentials.as_dict(),
        f"{verb} {_describe(credentials.member)}\n\n"
        "Join code (give it to the household; it is shown only now):\n\n"
        f"{credentials.join_code}",
    )


async def _add(store: Store, config: Config, args: argparse.Namespace) -> bool:
    new = NewMember(
        id=args.member_id,
        name=args.name,
        cups=args.cups,
        contracted_kw=args.contracted_kw,
        investment_share=args.investment_share,
        vulnerable=args.vulnerable,
        plant_kw=args.plant_kw,
    )
    credentials = await Registry(store, config.members).add(new, actor=actor())
    _credentials(args, credentials, "Registered")
    return True


async def _list(store: Store, config: Config, args: argparse.Namespace) -> bool:
    members = await Registry(store, config.members).members()
    text = "\n".join(_describe(member) for member in members) or "No members yet."
    show(args, [member.as_dict() for member in members], text)
    return True


async def _show(store: Store, config: Config, args: argparse.Namespace) -> bool:
    member = await Registry(store, config.members).get(args.member_id)
    show(args, member.as_dict(), _describe(member))
    return True


async def _rotate(store: Store, config: Config, args: argparse.Namespace) -> bool:
    credentials = await Registry(store, config.members).rotate(args.member_id, actor=actor())
    _credentials(args, credentials, "New credentials for")
    return True


async def _revoke(store: Store, config: Config, args: argparse.Namespace) -> bool:
    member = await Registry(store, config.members).revoke(args.member_id, actor=actor())
    show(args, member.as_dict(), f"Revoked {_describe(member)}")
    return True


async def _plant(store: Store, config: Config, args: argparse.Namespace) -> bool:
    member = await Registry(store, config.members).set_plant(args.member_id, args.kw, actor=actor())
    show(args, member.as_dict(), f"Plant registered: {_describe(member)}")
    return True


async def _portal_link(store: Store, config: Config, args: argparse.Namespace) -> bool:
    async with store.transaction() as tx:
        issued = await portal.issue(tx, args.member_id, days=args.days, actor=actor())
    url = issued.url(args.base_url or config.members.public_api_url)
    where = (
        url
        if url is not None
        else f"{issued.path}\n\n(after the address members reach the aggregator at: set "
        "public_api_url, or pass --base-url)"
    )
    shown = issued.link.as_dict()
    show(
        args,
        {"link": shown, "path": issued.path, "url": url, "code": issued.code},
        f"Portal link for {issued.link.member_name} ({issued.link.member}), valid until "
        f"{shown['expires']}; it is shown only now:\n\n{where}\n\nCode: {issued.code}",
    )
    return True


async def _portal_revoke(store: Store, _config: Config, args: argparse.Namespace) -> bool:
    async with store.transaction() as tx:
        ended = await portal.revoke(tx, args.member_id, actor=actor())
    if not ended:
        raise Refused(Kind.NOT_FOUND, f"member {args.member_id} has no link to revoke")
    show(args, {"member": args.member_id, "revoked": ended}, f"Revoked {', '.join(ended)}")
    return True


async def _broker_files(store: Store, config: Config, args: argparse.Namespace) -> bool:
    accounts = config.members.accounts
    if accounts.files_dir is None:
        raise Refused(Kind.INVALID, "set broker_files_dir to write the broker's files")
    listener = None
    if args.listener is not None:
        if args.certfile is None or args.keyfile is None:
            raise Refused(Kind.INVALID, "--listener needs --certfile and --keyfile")
        listener = broker_files.Listener(
            port=args.listener, host=args.bind, certfile=args.certfile, keyfile=args.keyfile
        )
    await BrokerAccounts(store, accounts).publish()
    directory = accounts.files_dir
    if listener is not None:
        broker_files.write_listener(directory, listener)
    show(args, {"directory": str(directory)}, f"Broker files written to {directory}")
    return True


async def _token_add(store: Store, _config: Config, args: argparse.Namespace) -> bool:
    async with store.transaction() as tx:
        token, presented = await tokens.issue(
            tx,
            scope=tokens.Scope(args.scope),
            label=args.label,
            actor=actor(),
            expires=args.expires,
        )
    expiry = "" if token.expires is None else f", expires {token.as_dict()['expires']}"
    show(
        args,
        {**token.as_dict(), "token": presented},
        f"Token {token.id} ({token.scope}, {token.label}{expiry}); it is shown only now:\n\n"
        f"{presented}",
    )
    return True


def _token_state(token: tokens.Token) -> str:
    shown = token.as_dict()
    if token.revoked is not None:
        return f"  (revoked {shown['revoked']})"
    if token.expired():
        return f"  (expired {shown['expires']})"
    return "" if token.expires is None else f"  (expires {shown['expires']})"


async def _token_list(store: Store, _config: Config, args: argparse.Namespace) -> bool:
    found = await tokens.all_tokens(store)
    lines = [
        f"{t.id}  {t.scope:<8}  {t.member or '-':<12}  {t.label}{_token_state(t)}" for t in found
    ]
    show(args, [t.as_dict() for t in found], "\n".join(lines) or "No tokens yet.")
    return True


async def _token_revoke(store: Store, _config: Config, args: argparse.Namespace) -> bool:
    # The manager may revoke the last admin token here (a leaked one must stop at once), and
    # can always issue another; the API refuses to, since nothing could then undo it there.
    async with store.transaction() as tx:
        was_admin = args.token_id in await tokens.active_admins(tx)
        revoked = await tokens.revoke(tx, args.token_id, actor=actor(), keep_an_admin=False)
        admins_left = await tokens.active_admins(tx)
    if not revoked:
        raise Refused(Kind.NOT_FOUND, f"no active token {args.token_id!r}")
    if was_admin and not admins_left:
        print(
            "ioe-aggregator: warning: no active admin token is left; the API's admin "
            "endpoints refuse everyone until you create one with "
            "`tokens add --scope admin --label …`",
            file=sys.stderr,
        )
    show(args, {"id": args.token_id, "revoked": True}, f"Token {args.token_id} revoked")
    return True


async def _audit(store: Store, _config: Config, args: argparse.Namespace) -> bool:
    page = await audit.page(store, limit=args.limit, before=args.before)
    lines = [
        f"{e.at:%Y-%m-%d %H:%M:%S}  {e.actor:<20}  {e.action.value:<16}  {e.subject}"
        + (f"  ×{e.occurrences}" if e.occurrences > 1 else "")
        for e in page.entries
    ]
    if page.next is not None:
        lines.append(f"(older entries: audit --before {page.next})")
    show(args, page.as_dict(), "\n".join(lines) or "The audit log is empty.")
    return True


_MEMBER_JOBS: dict[str, Job] = {
    "add": _add,
    "list": _list,
    "show": _show,
    "rotate": _rotate,
    "revoke": _revoke,
    "plant": _plant,
    "portal-link": _portal_link,
    "portal-revoke": _portal_revoke,
    "broker-files": _broker_files,
}
_TOKEN_JOBS: dict[str, Job] = {"add": _token_add, "list": _token_list, "revoke": _token_revoke}
