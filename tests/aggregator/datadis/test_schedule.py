"""When the daily sync runs: the configured local time, across the clock changes too."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ioe_aggregator.datadis.schedule import next_run

MADRID = ZoneInfo("Europe/Madrid")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 6, 1, 3, 0), utc(2026, 6, 1, 4, 0)),  # 05:00 CEST: today at 06:00
        (utc(2026, 6, 1, 4, 0), utc(2026, 6, 2, 4, 0)),  # exactly at 06:00: tomorrow
        (utc(2026, 12, 1, 12, 0), utc(2026, 12, 2, 5, 0)),  # winter: 06:00 CET
        (utc(2026, 3, 28, 12, 0), utc(2026, 3, 29, 4, 0)),  # the 23-hour day
        (utc(2026, 10, 24, 12, 0), utc(2026, 10, 25, 5, 0)),  # the 25-hour day
    ],
)
def test_next_run_is_the_local_time(now: datetime, expected: datetime) -> None:
    assert next_run("06:00", MADRID, now) == expected
