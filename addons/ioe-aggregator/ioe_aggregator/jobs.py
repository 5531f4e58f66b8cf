"""What the command-line jobs share: the store they run on, who runs them, how they print."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import date, datetime
import getpass
import json
from typing import Any

from ioe_aggregator.config import Config
from ioe_aggregator.store import Store, open_store

# A job returns whether everything went through; it raises Refused when it does nothing.
type Job = Callable[[Store, Config, argparse.Namespace], Awaitable[bool]]


async def run(job: Job, config: Config, args: argparse.Namespace) -> bool:
    """Open the store, run the job, close the store; return whether everything went through."""
    store = await open_store(config.database_url, zone=config.results.zone)
    try:
        return await job(store, config, args)
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
