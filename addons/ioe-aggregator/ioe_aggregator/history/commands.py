"""``python -m ioe_aggregator history …``: both sources of the history, reconciled or exported.

``history reconcile`` shows, per member and month, the member's meter next to the
distributor's; ``history export`` writes the sharing comparison's inputs (``sharing compare``)
from the store, each period's consumption from the source the manager chooses.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from ioe_aggregator.config import Config
from ioe_aggregator.distributor.timeline import local_midnight
from ioe_aggregator.history.hourly import Period, consumption, generation
from ioe_aggregator.history.reconciliation import reconcile
from ioe_aggregator.jobs import Job, month_argument, show
from ioe_aggregator.members.registry import Registry
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.store import Store


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, got {text!r}") from None


def _period(text: str) -> Period:
    first, _, last = text.partition("/")
    period = Period(_day(first), _day(last or first))
    if period.last < period.first:
        raise argparse.ArgumentTypeError(f"{text!r}: the last day comes before the first")
    return period


def add_parser(
    commands: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
) -> None:
    """Add the ``history`` command."""
    parser = commands.add_parser(
        "history", help="the members' meters and the distributor's data, side by side"
    )
    jobs = parser.add_subparsers(dest="history_command", required=True, metavar="JOB")
    checking = jobs.add_parser(
        "reconcile",
        help="per member and month: the member's meter against the distributor's",
        parents=[common],
    )
    checking.add_argument(
        "--from", dest="first", type=month_argument, required=True, metavar="YYYY-MM"
    )
    checking.add_argument(
        "--to", dest="last", type=month_argument, required=True, metavar="YYYY-MM"
    )
    export = jobs.add_parser(
        "export", help="write the inputs of 'sharing compare' from the store", parents=[common]
    )
    export.add_argument("--from", dest="first", type=_day, required=True, metavar="YYYY-MM-DD")
    export.add_argument(
        "--to", dest="last", type=_day, required=True, metavar="YYYY-MM-DD", help="last day"
    )
    export.add_argument(
        "--distributor-for",
        type=_period,
        action="append",
        default=[],
        metavar="FIRST/LAST",
        help="days (YYYY-MM-DD/YYYY-MM-DD) whose consumption comes from the distributor's data "
        "(repeatable; other days: the members' own meters)",
    )
    export.add_argument("--out", type=Path, required=True, help="a folder for the three files")


def job(args: argparse.Namespace) -> Job | None:
    """Return the job a parsed ``history`` command line asks for."""
    return _JOBS[args.history_command] if args.command == "history" else None


async def _reconcile(store: Store, config: Config, args: argparse.Namespace) -> bool:
    months = await reconcile(store, args.first, args.last, config.results.zone)
    lines = [
        f"{'member':<16}{'month':<9}{'hours: own':>11}{'distr.':>8}{'both':>6}"
        f"{'own kWh':>11}{'distr. kWh':>12}{'difference':>12}"
    ]
    for month in months:
        share = "" if month.difference is None else f" ({month.difference:+.1%})"
        lines.append(
            f"{month.member:<16}{month.month:<9}{month.hours_member:>11}"
            f"{month.hours_distributor:>8}{month.hours_both:>6}{month.member_kwh:>11.3f}"
            f"{month.distributor_kwh:>12.3f}{month.difference_kwh:>+12.3f}{share}"
        )
    text = "\n".join(lines) if months else "No readings from either source in those months."
    show(args, [month.as_dict() for month in months], text)
    return True


async def _export(store: Store, config: Config, args: argparse.Namespace) -> bool:
    if args.last < args.first:
        raise Refused(Kind.INVALID, "--to comes before --from")
    zone = config.results.zone
    start = local_midnight(args.first, zone)
    end = local_midnight(args.last + timedelta(days=1), zone)
    registered = await Registry(store, config.members).members()
    members = [m for m in registered if m.active]
    ids = [member.id for member in members]
    table = await consumption(
        store, ids, start, end, distributor_periods=args.distributor_for, zone=zone
    )
    plant = await generation(store, {m.id for m in registered if m.plant_kw > 0}, start, end)
    out: Path = args.out
    registry = pd.DataFrame(
        {
            "member_id": ids,
            "cups": [member.cups for member in members],
            "contracted_power_kw": [member.contracted_kw for member in members],
            # The comparison shares by investment in proportion: the share itself will do.
            "investment_eur": [member.investment_share for member in members],
            "vulnerable": [str(member.vulnerable).lower() for member in members],
        }
    )
    long = table.stack().rename("kwh").reset_index()
    long.columns = ["start", "member_id", "kwh"]
    long["start"] = long["start"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    plant_rows = plant.dropna().reset_index()
    plant_rows["start"] = plant_rows["start"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")

    def write() -> None:
        out.mkdir(parents=True, exist_ok=True)
        registry.to_csv(out / "members.csv", index=False)
        long[["member_id", "start", "kwh"]].to_csv(out / "consumption.csv", index=False)
        plant_rows[["start", "kwh"]].to_csv(out / "generation.csv", index=False)

    await asyncio.to_thread(write)
    data = {
        "out": str(out),
        "members": len(ids),
        "consumption_hours": len(long),
        "generation_hours": len(plant_rows),
        "distributor_periods": [f"{p.first}/{p.last}" for p in args.distributor_for],
    }
    show(
        args,
        data,
        f"Wrote {out}/members.csv ({len(ids)} members), consumption.csv ({len(long)} member-hours)"
        f" and generation.csv ({len(plant_rows)} hours); compare them with "
        f"'sharing compare --members {out}/members.csv --consumption {out}/consumption.csv "
        f"--generation {out}/generation.csv --out REPORT'",
    )
    return True


_JOBS: dict[str, Job] = {"reconcile": _reconcile, "export": _export}
