"""``python -m ioe_aggregator``: one command line for every job of the aggregator."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import logging
import os
from pathlib import Path
import sys

from ioe_aggregator import __version__, jobs
from ioe_aggregator.agreements import commands as agreements_commands
from ioe_aggregator.app import ListenError, serve
from ioe_aggregator.auth import commands as users_commands
from ioe_aggregator.config import ENV_PREFIX, Config, ConfigError, load_config
from ioe_aggregator.datadis import commands as datadis_commands
from ioe_aggregator.distributor import commands as distributor_commands
from ioe_aggregator.history import commands as history_commands
from ioe_aggregator.members import commands as members_commands
from ioe_aggregator.refusals import Refused
from ioe_aggregator.replicas import ReplicaRefused
from ioe_aggregator.sharing import commands as sharing_commands
from ioe_aggregator.store import StoreError, commands as store_commands
from ioe_aggregator.supervisor import TaskEnded

# Where the Supervisor puts an add-on's options.
ADDON_OPTIONS = Path("/data/options.json")
# The one place outcomes become exit codes: a refusal, or a job that went through only in
# part (bad lines of a file, a login refused), exits 1, like a failure of the service's own.
EXIT_CONFIG = 2
EXIT_REFUSED = 1
EXIT_RUNTIME = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ioe_aggregator",
        description="IoE Community aggregator: the energy community's own service.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the service (API, database, broker)")
    _add_config_option(serve)
    common = argparse.ArgumentParser(add_help=False)
    _add_config_option(common)
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    members_commands.add_parsers(commands, common)
    agreements_commands.add_parser(commands, common)
    distributor_commands.add_parser(commands, common)
    datadis_commands.add_parser(commands, common)
    history_commands.add_parser(commands, common)
    users_commands.add_parser(commands, common)
    store_commands.add_parsers(commands, common)
    commands.add_parser("version", help="print the version")
    sharing_commands.add_parser(commands)
    return parser


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        help=(
            f"configuration file (JSON or YAML); default ${ENV_PREFIX}CONFIG, "
            f"then {ADDON_OPTIONS} if it exists"
        ),
    )


def _config_path(given: Path | None) -> Path | None:
    if given is not None:
        return given
    if from_env := os.environ.get(f"{ENV_PREFIX}CONFIG"):
        return Path(from_env)
    return ADDON_OPTIONS if ADDON_OPTIONS.exists() else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command and return the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(__version__)
        return 0
    if args.command == "sharing":
        return sharing_commands.run(args)
    try:
        config = load_config(_config_path(args.config), os.environ)
    except ConfigError as err:
        print(f"ioe-aggregator: {err}", file=sys.stderr)
        return EXIT_CONFIG
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return _run(args, config)
    except Refused as err:
        print(f"ioe-aggregator: {err}", file=sys.stderr)
        return EXIT_REFUSED
    except (StoreError, ListenError, TaskEnded, ReplicaRefused) as err:
        # The reason is the whole story; a traceback would only bury it.
        logging.getLogger("ioe_aggregator").error("%s", err)  # noqa: TRY400
        return EXIT_RUNTIME


def _run(args: argparse.Namespace, config: Config) -> int:
    """Run the service, or the job the command line asks for; return the exit code."""
    if args.command == "serve":
        asyncio.run(serve(config))
        return 0
    if (done := store_commands.run(args, config)) is not None:
        return 0 if done else EXIT_REFUSED
    job = (
        members_commands.job(args)
        or agreements_commands.job(args)
        or distributor_commands.job(args)
        or datadis_commands.job(args)
        or history_commands.job(args)
        or users_commands.job(args)
    )
    if job is None:
        raise AssertionError(args.command)  # every command has a job
    return 0 if asyncio.run(jobs.run(job, config, args)) else EXIT_REFUSED
