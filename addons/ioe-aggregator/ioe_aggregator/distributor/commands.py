"""``python -m ioe_aggregator import-csv …``: the distributors' exports from the command line."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from ioe_aggregator.config import Config
from ioe_aggregator.distributor.csv_files import MAX_ERRORS, CsvFile
from ioe_aggregator.distributor.importer import ImportSummary, import_csv
from ioe_aggregator.distributor.model import EXPORT, GENERATION, IMPORT, SELF_CONSUMPTION
from ioe_aggregator.jobs import Job, show
from ioe_aggregator.members.registry import Registry
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.store import Store

# Bad lines printed; the count is always complete (the first MAX_ERRORS are in --json).
SHOWN_ERRORS = 50
_QUANTITIES = (
    (IMPORT, "import"),
    (EXPORT, "export"),
    (GENERATION, "gen."),
    (SELF_CONSUMPTION, "self"),
)


def add_parser(
    commands: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
) -> None:
    """Add the ``import-csv`` command."""
    parser = commands.add_parser(
        "import-csv",
        help="import a distributor's CSV export (format detected from its header)",
        parents=[common],
    )
    parser.add_argument("file", type=Path, help="the CSV file as downloaded")
    parser.add_argument("--member", help="import only this member's rows")


def job(args: argparse.Namespace) -> Job | None:
    """Return the job a parsed command line asks for, if it is one of these."""
    return _import_csv if args.command == "import-csv" else None


async def _import_csv(store: Store, config: Config, args: argparse.Namespace) -> bool:
    path: Path = args.file
    zone = config.results.zone
    registry = Registry(store, config.members)
    if args.member is not None:
        await registry.get(args.member)  # an unknown member is refused before anything is read
    members = await registry.members()
    try:
        with await asyncio.to_thread(path.open, "rb") as file:
            parsed, summary = await import_csv(
                store, file, members, zone, origin=f"csv:{path.name}", only_member=args.member
            )
    except OSError as err:
        raise Refused(Kind.INVALID, f"cannot read {path}: {err.strerror}") from err
    except Refused as err:
        raise Refused(err.kind, f"{path}: {err}", code=err.code) from err
    show(args, report(path.name, parsed, summary), describe(path.name, parsed, summary))
    return not parsed.errors.total


def report(name: str, parsed: CsvFile, summary: ImportSummary) -> dict[str, Any]:
    """Return an import's outcome as the API and ``--json`` give it."""
    return {
        "file": name,
        "format": parsed.format.value,
        "rows": parsed.rows,
        "errors": [
            {"line": e.line, "message": e.message, "code": e.code, "params": dict(e.params)}
            for e in parsed.errors.first()
        ],
        "errors_total": parsed.errors.total,
        **summary.as_dict(),
    }


def describe(name: str, parsed: CsvFile, summary: ImportSummary) -> str:
    """Return an import's outcome as text: a table per member and month, then what went wrong."""
    lines = [
        f"{name}: {parsed.format.value} format, {parsed.rows} intervals read, "
        f"{parsed.errors.total} lines not read"
    ]
    if summary.months:
        heading = "".join(f"{label + ' kWh':>13}" for _, label in _QUANTITIES)
        lines.append(
            f"{'member':<16}{'month':<9}{'intervals':>10}{'estim.':>8}{heading}"
            f"{'new':>8}{'changed':>9}{'same':>8}"
        )
        for month in summary.months:
            energies = "".join(
                f"{month.kwh[q]:>13.3f}" if q in month.kwh else f"{'-':>13}" for q, _ in _QUANTITIES
            )
            lines.append(
                f"{month.member:<16}{month.month:<9}{month.intervals:>10}{month.estimated:>8}"
                f"{energies}{month.new:>8}{month.changed:>9}{month.unchanged:>8}"
            )
    for cups, count in sorted(summary.unknown_cups.items()):
        lines.append(f"not stored: {count} rows for {cups}, which no member has")
    if summary.other_members:
        lines.append(f"left out: {summary.other_members} rows of other members")
    lines.extend(f"  {error}" for error in parsed.errors.first()[:SHOWN_ERRORS])
    if parsed.errors.total > SHOWN_ERRORS:
        listed = "all of them" if parsed.errors.total <= MAX_ERRORS else f"the first {MAX_ERRORS}"
        lines.append(f"  … and {parsed.errors.total - SHOWN_ERRORS} more ({listed} with --json)")
    return "\n".join(lines)
