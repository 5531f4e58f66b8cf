"""``python -m ioe_aggregator backup`` and ``restore``: the SQLite database, copied and put back.

``backup --to FILE`` runs beside the service (it keeps serving); ``restore --from FILE`` needs it
stopped. Both print what the file holds (its schema and readings). See ``backups.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ioe_aggregator.config import Config
from ioe_aggregator.jobs import show
from ioe_aggregator.store import backups


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add the ``backup`` and ``restore`` commands."""
    backing_up = commands.add_parser(
        "backup",
        help="copy the SQLite database into one file, while the service runs",
        parents=[common],
    )
    backing_up.add_argument("--to", type=Path, required=True, help="the backup file to write")
    restoring = commands.add_parser(
        "restore",
        help="put a backup in place of the SQLite database (the service stopped); the "
        "database it replaces is kept beside it",
        parents=[common],
    )
    restoring.add_argument("--from", dest="source", type=Path, required=True, help="a backup")


def run(args: argparse.Namespace, config: Config) -> bool | None:
    """Run ``backup`` or ``restore`` if that is the command; None for any other command.

    Raises Refused when nothing was done.
    """
    database = (
        backups.sqlite_path(config.database_url) if args.command in {"backup", "restore"} else None
    )
    if database is None:
        return None
    if args.command == "backup":
        made = backups.backup(database, args.to)
        show(
            args,
            made.as_dict(),
            f"Backed up {database} to {made.path}: schema v{made.schema}, "
            f"{made.readings} readings, {made.size} bytes.",
        )
        return True
    restored, kept = backups.restore(args.source, database)
    show(
        args,
        restored.as_dict() | {"kept": None if kept is None else str(kept)},
        f"Restored {database} from {args.source}: schema v{restored.schema}, "
        f"{restored.readings} readings."
        + ("" if kept is None else f" The database it replaced is kept as {kept}."),
    )
    return True
