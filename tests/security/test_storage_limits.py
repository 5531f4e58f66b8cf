"""No member fills the store: readings only for times it can have measured, and a quota.

A reading must start at most two years before its member joined and not in the future; a
member's own data may take at most ``member_quota_rows`` rows. Beyond them its batches are
refused (not acknowledged), counted and logged; other members are not affected.
"""

from __future__ import annotations

from datetime import UTC, datetime
import json
import sqlite3
import ssl
from typing import Any

import pytest

from tests.community import (
    PREFIX,
    Community,
    StartAggregator,
    acks,
    batch,
    call,
    get_json,
    home,
    payload,
    start_service,
)

# Every test here talks to the real local servers it starts.
pytestmark = pytest.mark.usefixtures("allow_local_sockets")

QUARTERS_PER_DAY = 96
YEARS_3 = 3 * 366 * QUARTERS_PER_DAY


def _https(community: Community) -> tuple[str, ssl.SSLContext]:
    context = ssl.create_default_context(cafile=community.options["mqtt_ca_file"])
    return community.options["public_api_url"], context


def _refused(port: int) -> dict[str, Any]:
    return dict(get_json(f"http://127.0.0.1:{port}/api/health")[1]["ingest"]["refused"])


def test_readings_from_the_future_or_long_before_joining_are_refused(
    community: Community, start_aggregator: StartAggregator
) -> None:
    mallory = home(community, "m-0001")
    token = community.add_member("m-0002").api_token
    _service, port = start_service(community, start_aggregator)
    base, context = _https(community)
    days_ahead = (30 + 10) * QUARTERS_PER_DAY  # a month from now (T0 is ten days ago)

    mallory.publish(
        f"{PREFIX}/m/m-0001/readings", payload(batch("m-0001", "ahead", first=days_ahead))
    )
    mallory.publish(f"{PREFIX}/m/m-0001/readings", payload(batch("m-0001", "past", first=-YEARS_3)))
    mallory.publish(f"{PREFIX}/m/m-0001/readings", payload(batch("m-0001", "honest")))
    mallory.wait_for(lambda: acks(mallory, "m-0001"))
    answer = call(
        base, "POST", "/api/v1/readings", token, batch("m-0002", "x", first=days_ahead), context
    )

    assert [a["batches"] for a in acks(mallory, "m-0001")] == [["honest"]]
    assert answer.status == 400
    assert answer.json()["error"] == "time_window"
    assert "in the future" in answer.json()["message"]
    assert _refused(port) == {"time_window": 3}


def test_a_member_over_its_quota_is_refused_and_the_others_are_not(
    community: Community, start_aggregator: StartAggregator
) -> None:
    flood = home(community, "m-0001")
    neighbour = home(community, "m-0002")
    token = community.add_member("m-0003").api_token
    community.options["member_quota_rows"] = 1000
    _service, port = start_service(community, start_aggregator)
    base, context = _https(community)

    # 150 readings and one batch record each: six fit in 1,000 rows, the seventh does not.
    for number in range(7):
        body = payload(batch("m-0001", f"f-{number}", first=-3000 + 150 * number, count=150))
        flood.publish(f"{PREFIX}/m/m-0001/readings", body)
    neighbour.publish(f"{PREFIX}/m/m-0002/readings", payload(batch("m-0002", "n-1", count=150)))
    neighbour.wait_for(lambda: acks(neighbour, "m-0002"))
    flood.wait_for(lambda: len(acks(flood, "m-0001")) == 6)
    # Sent again, a stored batch takes no more room: it is still acknowledged.
    flood.publish(
        f"{PREFIX}/m/m-0001/readings", payload(batch("m-0001", "f-0", first=-3000, count=150))
    )
    flood.wait_for(lambda: len(acks(flood, "m-0001")) == 7)
    over_https = [
        call(
            base,
            "POST",
            "/api/v1/readings",
            token,
            batch("m-0003", f"h-{n}", first=-3000 + 150 * n, count=150),
            context,
        )
        for n in range(7)
    ]

    assert [a["batches"] for a in acks(flood, "m-0001")][-1] == ["f-0"]
    assert [answer.status for answer in over_https] == [200] * 6 + [507]
    assert over_https[-1].json()["error"] == "quota"
    assert _refused(port) == {"quota": 2}
    assert json.loads(over_https[0].body)["stored"] == 150


def test_live_reports_alone_take_no_room(
    community: Community, start_aggregator: StartAggregator
) -> None:
    """A home sends its live power every 10 s: that must never count against its quota."""
    client = home(community, "m-0001")
    _service, port = start_service(community, start_aggregator)

    for number in range(60):
        message = {**batch("m-0001", f"live-{number}", count=0), "live": {"ts": _now()}}
        client.publish(f"{PREFIX}/m/m-0001/readings", payload(message))
    client.wait_for(lambda: len(acks(client, "m-0001")) == 60)

    path = community.options["database_url"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        recorded = connection.execute("SELECT COUNT(*) FROM batches").fetchone()[0]
        used = connection.execute("SELECT COUNT(*) FROM member_usage").fetchone()[0]
    assert (recorded, used) == (0, 0)
    assert _refused(port) == {}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
