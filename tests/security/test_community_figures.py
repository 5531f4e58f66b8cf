"""No member can forge the community's figures, on which every home's automations act.

Before: any member's live ``plant_w`` was summed into the community's generation and signal
(5 MW with a ``ts`` in 2099 held until a restart, even after the member was revoked), and any
member's stored ``plant`` readings counted as the community's generation. Now only plants
registered to members count, live powers are bounded by the registered plant and contract,
a report from the future is refused, and a revoked member's live data is dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from typing import Any

import pytest

from ioe_aggregator.protocol.messages import utc_text
from tests.community import (
    PREFIX,
    Community,
    MqttClient,
    StartAggregator,
    acks,
    call,
    get_json,
    home,
    start_service,
)

# Every test here talks to the real local servers it starts.
pytestmark = pytest.mark.usefixtures("allow_local_sockets")

QUARTER = timedelta(minutes=15)


def send(client: MqttClient, member: str, name: str, live: dict[str, Any], **reading: Any) -> None:
    """Send a batch (with one reading of the last complete quarter, if given) and its live part."""
    now = datetime.now(UTC)
    end = now.replace(minute=now.minute // 15 * 15, second=0, microsecond=0)
    readings = []
    if reading:
        readings.append(
            {
                "start": utc_text(end - QUARTER),
                "end": utc_text(end),
                "quality": "measured",
                **reading,
            }
        )
    message = {
        "schema": "ioe.readings.v1",
        "member": member,
        "batch": name,
        "sent_at": utc_text(now),
        "readings": readings,
        "live": {"ts": utc_text(now), **live},
    }
    before = len(acks(client, member))
    client.publish(f"{PREFIX}/m/{member}/readings", json.dumps(message).encode())
    client.wait_for(lambda: len(acks(client, member)) > before)


def test_only_registered_plants_count_and_live_powers_are_bounded(
    community: Community, start_aggregator: StartAggregator
) -> None:
    plant = home(community, "m-0002", **{"--plant-kw": "10"})
    mallory = home(community, "m-0003")
    leaver = home(community, "m-0004")
    admin = community.token("admin")
    _service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"

    # A member with no registered plant: its "plant" counts for nothing, live or stored.
    send(mallory, "m-0003", "forged-1", {"plant_w": 5_000_000.0, "grid_w": 500.0})
    send(
        mallory,
        "m-0003",
        "forged-2",
        {"grid_w": 500.0},
        meter="plant",
        quantity="generation_kwh",
        value=1250.0,
    )
    # From the future, or beyond the contract: not believed at all.
    send(mallory, "m-0003", "forged-3", {"grid_w": 400.0, "ts": "2099-01-01T00:00:00Z"})
    send(mallory, "m-0003", "forged-4", {"grid_w": 1_000_000.0})
    # The registered plant beyond its peak power: not believed; then an honest report.
    send(plant, "m-0002", "plant-1", {"plant_w": 50_000.0})
    send(plant, "m-0002", "plant-2", {"plant_w": 3000.0})
    # A member that draws 2 kW, then leaves the community.
    send(leaver, "m-0004", "leaver-1", {"grid_w": 2000.0})
    assert call(base, "POST", "/api/v1/members/m-0004/revoke", admin).status == 200

    published = call(base, "POST", "/api/v1/results/publish", admin)

    assert published.status == 200, published.body
    state = published.json()["state"]
    assert state["generation_w"] == 3000.0  # m-0002's honest report only
    assert state["consumption_w"] == 500.0  # m-0003's believable report; m-0004 left
    assert state["today"]["generation_kwh"] == 0.0  # m-0003's stored "plant" is not counted
    assert published.json()["signal"]["kind"] == "surplus"
    refused = get_json(f"{base}/api/health")[1]["ingest"]["live_refused"]
    assert refused == {"implausible": 3}


def test_the_plant_is_registered_through_the_api_and_audited(
    community: Community, start_aggregator: StartAggregator
) -> None:
    community.add_member("m-0002")
    admin = community.token("admin")
    _service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"

    changed = call(base, "PUT", "/api/v1/members/m-0002/plant", admin, {"plant_kw": 10})
    refused = call(base, "PUT", "/api/v1/members/m-0002/plant", admin, {"plant_kw": -1})

    assert changed.status == 200, changed.body
    assert changed.json()["plant_kw"] == 10.0
    assert refused.status == 400
    assert call(base, "GET", "/api/v1/members/m-0002", admin).json()["plant_kw"] == 10.0
    assert "plant 10 kW" in community.cli("members", "show", "m-0002").stdout
    assert "member_plant" in community.cli("audit").stdout


def test_stored_quarters_beyond_contract_or_plant_are_left_out(
    community: Community, start_aggregator: StartAggregator
) -> None:
    """Without a fresh live report, "now" comes from the last quarter's stored energy."""
    plant = home(community, "m-0002", **{"--plant-kw": "10"})
    mallory = home(community, "m-0003")
    admin = community.token("admin")
    _service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"

    # 100,000 kWh in a quarter on a 4.6 kW contract (400 MW), and 50 kWh from a 10 kW plant.
    send(mallory, "m-0003", "forged", {}, meter="grid", quantity="import_kwh", value=100_000.0)
    send(plant, "m-0002", "forged", {}, meter="plant", quantity="generation_kwh", value=50.0)
    # What they can have measured is stored: 1.5 kWh (6 kW) and 2.5 kWh (10 kW).
    send(mallory, "m-0003", "honest", {}, meter="grid", quantity="import_kwh", value=1.5)
    send(plant, "m-0002", "honest", {}, meter="plant", quantity="generation_kwh", value=2.5)

    state = call(base, "POST", "/api/v1/results/publish", admin).json()["state"]

    assert (state["consumption_w"], state["generation_w"]) == (6000.0, 10_000.0)
    ingest = get_json(f"{base}/api/health")[1]["ingest"]
    assert ingest["readings_refused"] == {"implausible": 2}
    assert ingest["refused"] == {}  # the batches themselves were stored (and acknowledged)
