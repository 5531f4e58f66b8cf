"""Community totals never reveal one household's figures.

Before: the 5-contributor rule was counted over all quantities and the whole period, so a
public token read one household's exact export when it was the only one to send that quantity,
or a household's quarter hour as the difference of two totals. Now each quantity is counted on
its own, in every quarter hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.community import (
    PREFIX,
    T0,
    Community,
    StartAggregator,
    acks,
    batch,
    call,
    home,
    payload,
    start_service,
)

# Every test here talks to the real local servers it starts.
pytestmark = pytest.mark.usefixtures("allow_local_sockets")


def _kpis(base: str, token: str, start: datetime = T0) -> dict[str, Any]:
    query = f"start={start:%Y-%m-%dT%H:%M:%SZ}&end={T0 + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}"
    answer = call(base, "GET", f"/api/v1/community/kpis?{query}", token)
    assert answer.status == 200, answer.body
    return dict(answer.json())


def test_a_quantity_few_members_sent_is_withheld_on_its_own(
    community: Community, start_aggregator: StartAggregator
) -> None:
    homes = [home(community, f"m-000{n}") for n in range(1, 6)]
    public = community.token("public")
    admin = community.token("admin")
    _service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"
    for number, client in enumerate(homes, start=1):
        member = f"m-000{number}"
        client.publish(f"{PREFIX}/m/{member}/readings", payload(batch(member, "import")))
    # Only m-0001 exports: its own export must not be readable from the community's total.
    lonely = batch("m-0001", "export", value=0.1)
    for reading in lonely["readings"]:
        reading["quantity"] = "export_kwh"
    homes[0].publish(f"{PREFIX}/m/m-0001/readings", payload(lonely))
    for number, client in enumerate(homes, start=1):
        expected = 2 if number == 1 else 1
        client.wait_for(lambda c=client, m=f"m-000{number}", n=expected: len(acks(c, m)) == n)

    seen = _kpis(base, public)
    full = _kpis(base, admin)

    assert seen["import_kwh"] == 5.0  # 5 members × 4 quarters × 0.25 kWh
    assert seen["export_kwh"] is None
    assert seen["withheld"] == ["export_kwh"]
    assert seen["contributors"]["export_kwh"] == 1
    assert full["export_kwh"] == 0.4
    assert full["withheld"] == []


def test_no_household_is_the_difference_of_two_totals(
    community: Community, start_aggregator: StartAggregator
) -> None:
    homes = [home(community, f"m-000{n}") for n in range(1, 7)]
    public = community.token("public")
    _service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"
    # Five members send the day's first hour; a sixth sends the quarter before it, alone.
    for number, client in enumerate(homes[:5], start=1):
        member = f"m-000{number}"
        client.publish(f"{PREFIX}/m/{member}/readings", payload(batch(member, "import")))
    alone = batch("m-0006", "alone", first=-1, count=1, value=0.7)
    homes[5].publish(f"{PREFIX}/m/m-0006/readings", payload(alone))
    for number, client in enumerate(homes, start=1):
        client.wait_for(lambda c=client, m=f"m-000{number}": acks(c, m))

    with_it = _kpis(base, public, start=T0 - timedelta(hours=1))
    without_it = _kpis(base, public)

    # Both periods count 5 or more members; their difference would be m-0006's quarter.
    assert with_it["contributors"]["import_kwh"] == 6
    assert with_it["import_kwh"] is None
    assert with_it["withheld"] == ["import_kwh", "grid_independence"]
    assert without_it["import_kwh"] == 5.0
