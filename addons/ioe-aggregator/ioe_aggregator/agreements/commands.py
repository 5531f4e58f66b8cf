"""``python -m ioe_aggregator agreements …``: the sharing agreements from the command line."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from ioe_aggregator.agreements import (
    REGISTRY_SCHEMES,
    Agreement,
    Agreements,
    Shares,
    shares_from_coefficients,
    shares_from_file,
    shares_from_scheme,
)
from ioe_aggregator.config import Config
from ioe_aggregator.jobs import Job, actor, show
from ioe_aggregator.members.registry import Member, Registry
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.store import Store


def _beta(text: str) -> tuple[str, float]:
    member, _, value = text.partition("=")
    try:
        return member.strip(), float(value.replace(",", "."))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected MEMBER=β (e.g. m-0001=0.25), got {text!r}"
        ) from None


def add_parser(
    commands: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
) -> None:
    """Add the ``agreements`` command."""
    parser = commands.add_parser("agreements", help="the sharing agreements (coefficients β)")
    jobs = parser.add_subparsers(dest="agreements_command", required=True, metavar="JOB")
    add = jobs.add_parser(
        "add", help="record an agreement (ends the open one before it)", parents=[common]
    )
    add.add_argument("name", help="what the members call it, e.g. 'Reparto 2027'")
    given = add.add_mutually_exclusive_group(required=True)
    given.add_argument("--scheme", choices=REGISTRY_SCHEMES, help="β from the member registry")
    given.add_argument(
        "--file", type=Path, help="the distributor's coefficient file CAU_YYYY.txt (static/hourly)"
    )
    given.add_argument(
        "--beta", type=_beta, nargs="+", metavar="MEMBER=β", help="static β for each member"
    )
    add.add_argument("--from", dest="valid_from", type=date.fromisoformat, required=True)
    add.add_argument(
        "--to", dest="valid_to", type=date.fromisoformat, help="last day (default: open-ended)"
    )
    jobs.add_parser("list", help="list agreements", parents=[common])
    show_parser = jobs.add_parser("show", help="an agreement and its β", parents=[common])
    show_parser.add_argument("agreement_id")
    end = jobs.add_parser("end", help="set an agreement's last day", parents=[common])
    end.add_argument("agreement_id")
    last = end.add_mutually_exclusive_group(required=True)
    last.add_argument("--last-day", type=date.fromisoformat)
    last.add_argument("--open", action="store_true", help="make it open-ended again")
    remove = jobs.add_parser("remove", help="delete one that has not started", parents=[common])
    remove.add_argument("agreement_id")


def job(args: argparse.Namespace) -> Job | None:
    """Return the job a parsed ``agreements`` command line asks for."""
    return _JOBS[args.agreements_command] if args.command == "agreements" else None


def _agreements(store: Store, config: Config) -> Agreements:
    return Agreements(
        store, tz=config.results.timezone, min_months=config.results.agreement_min_months
    )


def _describe(agreement: Agreement) -> str:
    until = agreement.valid_to.isoformat() if agreement.valid_to else "open-ended"
    return (
        f"{agreement.id}  {agreement.valid_from} → {until}  {agreement.scheme:<12}  "
        f"{agreement.name}"
    )


def _shares(args: argparse.Namespace, members: list[Member]) -> Shares:
    if args.scheme:
        return shares_from_scheme(args.scheme, members)
    if args.beta:
        return shares_from_coefficients(dict(args.beta), members)
    path: Path = args.file
    return shares_from_file(path.read_bytes(), path.name, members)


async def _add(store: Store, config: Config, args: argparse.Namespace) -> bool:
    members = list(await Registry(store, config.members).members())
    try:
        shares = _shares(args, members)
    except OSError as err:
        raise Refused(Kind.INVALID, f"cannot read {args.file}: {err.strerror}") from err
    agreement = await _agreements(store, config).add(
        args.name, shares, valid_from=args.valid_from, valid_to=args.valid_to, actor=actor()
    )
    show(args, agreement.as_dict(), f"Recorded {_describe(agreement)}")
    return True


async def _list(store: Store, config: Config, args: argparse.Namespace) -> bool:
    found = await _agreements(store, config).all()
    text = "\n".join(_describe(a) for a in found) or "No agreements yet."
    show(args, [a.as_dict() for a in found], text)
    return True


async def _show(store: Store, config: Config, args: argparse.Namespace) -> bool:
    found = await _agreements(store, config).coefficients(args.agreement_id)
    lines = [f"{found['id']}  {found['name']}  ({found['kind']}, {found['scheme']})"]
    for member, beta in found["coefficients"].items():
        shown = f"{beta:.6f}" if isinstance(beta, float) else f"{len(beta)} hourly values"
        lines.append(f"  {member:<32} {shown}")
    show(args, found, "\n".join(lines))
    return True


async def _end(store: Store, config: Config, args: argparse.Namespace) -> bool:
    last_day = None if args.open else args.last_day
    agreement = await _agreements(store, config).end(args.agreement_id, last_day, actor=actor())
    show(args, agreement.as_dict(), f"Changed {_describe(agreement)}")
    return True


async def _remove(store: Store, config: Config, args: argparse.Namespace) -> bool:
    agreement = await _agreements(store, config).remove(args.agreement_id, actor=actor())
    show(args, agreement.as_dict(), f"Removed {_describe(agreement)}")
    return True


_JOBS: dict[str, Job] = {
    "add": _add,
    "list": _list,
    "show": _show,
    "end": _end,
    "remove": _remove,
}
