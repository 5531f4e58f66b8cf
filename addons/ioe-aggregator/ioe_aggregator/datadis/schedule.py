"""The daily Datadis sync of the service: at the configured hour, members spread over a window.

A service that has not synced for a day (a new install, or one that was stopped) syncs as soon
as it starts; then every day at ``datadis_sync_time`` (local), the members' turns spread over
``datadis_spread_minutes`` so that Datadis sees no burst. A query whose 24 hours are nearly up
is waited for rather than left to the next day, so each month is refreshed daily. The same task
runs the syncs the manager asks for (``runs.SyncRuns``), one at a time. A run that could not
log in or store, or in which a member's queries were refused, is told to the webhooks
(``datadis.sync_failed``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
import logging
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from ioe_aggregator.config import DatadisConfig
from ioe_aggregator.datadis.client import DatadisClient
from ioe_aggregator.datadis.ledger import QUERY_INTERVAL, Ledger
from ioe_aggregator.datadis.runs import SyncRuns, Trigger
from ioe_aggregator.datadis.sync import REFUSED, TEMPORARY, DatadisSync, SyncReport, utc_now
from ioe_aggregator.members.registry import Registry
from ioe_aggregator.store import Store, StoreError
from ioe_aggregator.webhooks.events import EventType, emit

_LOGGER = logging.getLogger(__name__)

# How long a query that is not yet 24 hours old is waited for within a daily run.
WAIT_FOR_TURN = timedelta(hours=1)
# A member's outcomes that tell the webhooks the sync failed (``datadis.sync_failed``).
FAILED = frozenset({TEMPORARY, REFUSED, "not_found", "not_authorized"})


def next_run(sync_time: str, zone: ZoneInfo, now: datetime) -> datetime:
    """Return the next moment (UTC) the local clock shows ``sync_time`` (HH:MM) after ``now``."""
    hour, minute = (int(part) for part in sync_time.split(":"))
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), time(hour, minute), zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(hour, minute), zone)
    return candidate.astimezone(now.tzinfo)


async def run_daily(
    settings: DatadisConfig,
    store: Store,
    registry: Registry,
    runs: SyncRuns,
    *,
    on_stored: Callable[[], None] | None = None,
) -> None:
    """Sync every day, and when asked (``runs``), until cancelled; a failed run is logged.

    A sync asked for runs at once, its queries neither spread nor waited for. ``on_stored``
    is called after each member whose data changed (`DatadisSync`).
    """
    zone = ZoneInfo(settings.timezone)
    ledger = Ledger(store)
    async with aiohttp.ClientSession() as session:
        client = DatadisClient(session, settings.username, settings.password, base_url=settings.url)
        try:
            last = await ledger.login_state()
        except StoreError as err:  # the database away as this replica starts leading
            _LOGGER.warning("Datadis: waiting for the next sync (%s)", err)
            run = None
        else:
            due = last is None or utc_now() - last[0] >= QUERY_INTERVAL
            run = runs.begin() if due else None
        while True:
            if run is None:
                at = next_run(settings.sync_time, zone, utc_now())
                _LOGGER.info("Next Datadis sync at %s", at.astimezone(zone).isoformat())
                run = await runs.wait((at - utc_now()).total_seconds())
            asked = run.trigger is Trigger.MANUAL
            sync = DatadisSync(
                store,
                client,
                zone,
                history_months=settings.history_months,
                wait_s=0.0 if asked else WAIT_FOR_TURN.total_seconds(),
                on_stored=on_stored,
            )
            run = None
            try:
                report = await sync.run(
                    await registry.members(),
                    spread_s=0.0 if asked else settings.spread_minutes * 60,
                )
            except StoreError as err:
                _LOGGER.error("Datadis sync failed: %s", err)  # noqa: TRY400 - reason is all
                runs.finished(None, str(err))
                await _tell_failure(
                    store, {"error": str(err), "login_refused": None, "members": []}
                )
                continue
            runs.finished(report)
            _log(report)
            failed = [m for m in report.members if m.status in FAILED]
            if report.login_refused or failed:
                await _tell_failure(
                    store,
                    {
                        "error": None,
                        "login_refused": report.login_refused,
                        "members": [
                            {"member": m.member, "status": m.status, "problems": m.problems}
                            for m in failed
                        ],
                    },
                )


async def _tell_failure(store: Store, data: dict[str, Any]) -> None:
    """Record a ``datadis.sync_failed`` event for the webhooks (a store error is only logged)."""
    try:
        async with store.transaction() as tx:
            await emit(tx, EventType.DATADIS_SYNC_FAILED, data)
    except StoreError as err:
        _LOGGER.error("Datadis sync: could not tell the webhooks: %s", err)  # noqa: TRY400


def _log(report: SyncReport) -> None:
    if report.login_refused:
        _LOGGER.error(
            "Datadis sync: %s; set datadis_username and datadis_password again",
            report.login_refused,
        )
        return
    _LOGGER.info(
        "Datadis sync done: %d members, %d queries, %d months, %d intervals; %s",
        len(report.members),
        sum(member.queries for member in report.members),
        sum(len(member.months) for member in report.members),
        sum(member.intervals for member in report.members),
        ", ".join(f"{m.member} {m.status}" for m in report.members) or "no member linked",
    )
