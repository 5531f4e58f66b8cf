"""``python -m ioe_aggregator datadis …``: link members, sync them, see how the sync goes."""

from __future__ import annotations

import argparse
import re
from typing import Any

import aiohttp

from ioe_aggregator.config import Config
from ioe_aggregator.datadis.client import DatadisClient
from ioe_aggregator.datadis.ledger import Ledger
from ioe_aggregator.datadis.status import datadis_status, masked
from ioe_aggregator.datadis.sync import DatadisSync, SyncReport, utc_now
from ioe_aggregator.jobs import Job, month_argument, show
from ioe_aggregator.members.registry import Registry
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.store import Store

_NIF = re.compile(r"^[0-9A-Z][0-9]{7}[0-9A-Z]$")


def _nif(text: str) -> str:
    nif = text.strip().upper().replace("-", "")
    if not _NIF.fullmatch(nif):
        raise argparse.ArgumentTypeError(f"expected a NIF/NIE such as 12345678Z, got {text!r}")
    return nif


def add_parser(
    commands: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
) -> None:
    """Add the ``datadis`` command."""
    parser = commands.add_parser("datadis", help="the distributors' data through Datadis")
    jobs = parser.add_subparsers(dest="datadis_command", required=True, metavar="JOB")
    link = jobs.add_parser("link", help="read a member's supply through Datadis", parents=[common])
    link.add_argument("member")
    whose = link.add_mutually_exclusive_group(required=True)
    whose.add_argument(
        "--nif", type=_nif, help="the NIF of the supply's owner, who authorised yours in Datadis"
    )
    whose.add_argument(
        "--own", action="store_true", help="the supply is in the manager's own Datadis account"
    )
    unlink = jobs.add_parser(
        "unlink", help="stop reading a member through Datadis", parents=[common]
    )
    unlink.add_argument("member")
    sync = jobs.add_parser(
        "sync",
        help="ask Datadis for what is due now (never a query twice in 24 h)",
        parents=[common],
    )
    sync.add_argument("--member", help="only this member")
    sync.add_argument("--from", dest="first", type=month_argument, metavar="YYYY-MM")
    sync.add_argument("--to", dest="last", type=month_argument, metavar="YYYY-MM")
    jobs.add_parser(
        "status", help="per member: last success, months missing, last error", parents=[common]
    )


def job(args: argparse.Namespace) -> Job | None:
    """Return the job a parsed ``datadis`` command line asks for."""
    return _JOBS[args.datadis_command] if args.command == "datadis" else None


async def _link(store: Store, config: Config, args: argparse.Namespace) -> bool:
    member = await Registry(store, config.members).get(args.member)
    await Ledger(store).link(member.id, None if args.own else args.nif, utc_now())
    whose = "the manager's own account" if args.own else f"NIF {masked(args.nif)}"
    show(args, {"member": member.id, "nif": args.nif}, f"{member.id} is read through {whose}")
    return True


async def _unlink(store: Store, _config: Config, args: argparse.Namespace) -> bool:
    if not await Ledger(store).unlink(args.member):
        raise Refused(Kind.NOT_FOUND, f"{args.member} is not read through Datadis")
    show(args, {"member": args.member}, f"{args.member} is no longer read through Datadis")
    return True


async def _sync(store: Store, config: Config, args: argparse.Namespace) -> bool:
    if config.datadis is None:
        raise Refused(
            Kind.INVALID, "Datadis is not configured: set datadis_username and datadis_password"
        )
    if (args.first is None) != (args.last is None):
        raise Refused(Kind.INVALID, "--from and --to go together")
    members = await Registry(store, config.members).members()
    months = None if args.first is None else (args.first, args.last)
    async with aiohttp.ClientSession() as session:
        client = DatadisClient(
            session, config.datadis.username, config.datadis.password, base_url=config.datadis.url
        )
        report = await DatadisSync(
            store,
            client,
            config.results.zone,
            history_months=config.datadis.history_months,
        ).run(members, only=args.member, months=months)
    show(args, report.as_dict(), _describe_sync(report))
    return not report.login_refused


def _describe_sync(report: SyncReport) -> str:
    if report.login_refused:
        return f"Datadis refused the login: {report.login_refused}"
    lines = [
        f"{m.member:<16} {m.status:<15} {m.queries:>3} queries, {len(m.months):>2} months, "
        f"{m.intervals:>6} intervals" + (f"\n  {m.problems[-1]}" if m.problems else "")
        for m in report.members
    ]
    return "\n".join(lines) or "No member is read through Datadis (datadis link MEMBER …)."


async def _status(store: Store, config: Config, args: argparse.Namespace) -> bool:
    data = await datadis_status(store, config)
    show(args, data, _describe_status(data))
    return True


def _describe_status(data: dict[str, Any]) -> str:
    if not data["configured"]:
        lines = ["Datadis is not configured (datadis_username, datadis_password)."]
    elif data["last_login"] is None:
        lines = ["Datadis: no sync yet."]
    else:
        login = data["last_login"]
        lines = [f"Datadis: last login {login['at']} ({login['outcome']})"]
    for member in data["members"]:
        whose = member["nif"] or "own account"
        lines.append(
            f"{member['member']:<16} {member['status']:<15} via {whose:<11} "
            f"last success {member['last_success'] or 'never'}"
        )
        if member["months_missing"]:
            shown = ", ".join(member["months_missing"][:6])
            more = (
                f" … ({len(member['months_missing'])} in all)"
                if len(member["months_missing"]) > 6
                else ""
            )
            lines.append(f"  months missing: {shown}{more}")
        if member["last_error"]:
            lines.append(f"  last error: {member['last_error']}")
    if not data["members"]:
        lines.append("No member is read through Datadis (datadis link MEMBER --nif NIF).")
    return "\n".join(lines)


_JOBS: dict[str, Job] = {"link": _link, "unlink": _unlink, "sync": _sync, "status": _status}
