"""One member floods the broker with batches: its rate is limited, the others go on as before.

A member's home (or someone with its login) publishes as fast as the broker takes it. Beyond
its allowance (``member_batches_per_s``, a minute's worth at once) its batches are refused
before they are even decoded and never acknowledged; another member's batches, sent meanwhile,
are stored and acknowledged as quickly as when nobody floods, each reading once.
"""

from __future__ import annotations

import statistics
import threading
import time

from tests.community import (
    PREFIX,
    Community,
    StartAggregator,
    acks,
    batch,
    home,
    live_batch,
    payload,
    start_service,
    stored_rows,
)

from .platform import health, wait

RATE = 5  # batches a second, for a short test: 300 at once, then 5 a second


def _latencies(sender, member: str, first: int, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Send ``count`` batches one after another; return each one's time to its ack (s)."""
    found = []
    for number in range(first, first + count):
        before = len(acks(sender, member))
        sent = time.monotonic()
        message = batch(member, f"b-{number}", first=number * 4, count=4)
        sender.client.publish(f"{PREFIX}/m/{member}/readings", payload(message), qos=1)
        sender.wait_for(lambda before=before: len(acks(sender, member)) > before, 20)
        found.append(time.monotonic() - sent)
    return found


def test_a_members_flood_is_limited_and_the_others_are_not_slowed(
    community: Community, start_aggregator: StartAggregator
) -> None:
    community.options["member_batches_per_s"] = RATE
    flooder = home(community, "m-0001")
    honest = home(community, "m-0002")
    _service, port = start_service(community, start_aggregator)
    calm = _latencies(honest, "m-0002", 0, 10)

    flooding = threading.Event()
    flooding.set()
    flooded = 0

    def flood() -> None:
        nonlocal flooded
        message = payload(live_batch("m-0001", "flood", grid_w=500.0))
        while flooding.is_set():
            # As a home gone wrong would: QoS 1, as many in flight as MQTT lets one client
            # have (paho's 20), as fast as the broker takes them.
            sent = [
                flooder.client.publish(f"{PREFIX}/m/m-0001/readings", message, qos=1)
                for _ in range(20)
            ]
            sent[-1].wait_for_publish(5)
            flooded += len(sent)

    worker = threading.Thread(target=flood)
    started = time.monotonic()
    worker.start()
    try:
        wait(lambda: flooded > 3000, 30, "the flood under way")
        busy = _latencies(honest, "m-0002", 10, 10)
    finally:
        flooding.clear()
        worker.join()
    seconds = time.monotonic() - started

    refused = health(port)["ingest"]["refused"]
    stored = len(acks(flooder, "m-0001"))
    # The flooder got its allowance, not what it sent.
    assert refused.get("rate_limited", 0) > 0
    assert stored <= RATE * 60 + RATE * seconds + 5
    assert stored + refused["rate_limited"] <= flooded
    # The other member: every batch stored once, acknowledged as fast as before the flood.
    assert statistics.median(busy) < max(0.5, 5 * statistics.median(calm))
    assert max(busy) < 5
    rows = [row for row in stored_rows(community) if row[0] == "m-0002"]
    assert len(rows) == 80
    assert len({row[3] for row in rows}) == 80
