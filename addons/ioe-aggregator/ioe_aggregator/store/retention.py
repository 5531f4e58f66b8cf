"""The raw readings kept for the days the manager chose (``raw_readings_days``).

The leading replica's task: at once and every ``EVERY_S``, the readings that start before the
local midnight ``days`` days ago pass the horizon, and those that passed it at the previous
run are deleted (``Store.forget_readings``); the hourly and daily sums stay. A database away
is waited for.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
import logging

from ioe_aggregator.store.database import StoreError
from ioe_aggregator.store.readings import Store

_LOGGER = logging.getLogger(__name__)
EVERY_S = 6 * 3600
RETRY_S = 60


def horizon(days: int, now: datetime) -> datetime:
    """Return the local midnight ``days`` days before ``now``'s local day (``now`` aware)."""
    return datetime.combine(now.date() - timedelta(days=days), time.min, now.tzinfo)


async def keep_raw_readings(store: Store, days: int) -> None:
    """Keep ``days`` days of raw readings, for as long as it runs (see the module)."""
    while True:
        try:
            await store.forget_readings(horizon(days, datetime.now(store.days.zone)))
        except StoreError as err:
            _LOGGER.warning("Old raw readings are forgotten once the database answers: %s", err)
            await asyncio.sleep(RETRY_S)
            continue
        await asyncio.sleep(EVERY_S)
