"""What the command-line jobs share: the store they run on, who runs them, how they print."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import date, datetime
import getpass
import json
import sys
from typing import Any

from ioe_aggregator.agreements import AgreementError
from ioe_aggregator.config import Config
from ioe_aggregator.members.registry import RegistryError
from ioe_aggregator.store import Store, open_store

EXIT_REFUSED = 1

type Job = Callable[[Store, Config, argparse.Namespace], Awaitable[int]]


async def run(job: Job, config: Config, args: argparse.Namespace) -> int:
    """Open the store, run the job, close the store; return the exit code."""
    store = await open_store(config.database_url)
    try:
        return await job(store, config, args)
    except (RegistryError, AgreementError) as err:
        print(f"ioe-aggregator: {err}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        await store.close()


def actor() -> str:
    """Return who runs the command, as the audit log names them."""
    return f"cli:{getpass.getuser()}"


def show(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print ``data`` as JSON with ``--json``, else ``text``."""
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else text)


def month_argument(text: str) -> date:
    """Parse a command line's YYYY-MM into the month's first day."""
    try:
        return datetime.strptime(text, "%Y-%m").date()  # noqa: DTZ007 - a calendar month
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {text!r}") from None
