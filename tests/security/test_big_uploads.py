"""A big distributor export, uploaded by an admin, neither swells the service nor stalls the homes.

The body goes to a temporary file as it arrives (at most 64 MiB) and is imported a supply
point's month at a time, in transactions of a few thousand readings: the members' own batches
are stored and acknowledged between them. The service's memory and the acknowledgements'
latency during a 63 MiB upload are measured by ``scripts/bench upload`` (docs/benchmarks.md).
"""

from __future__ import annotations

from datetime import date
import http.client
import json
from pathlib import Path
import random
import sqlite3
import threading
import urllib.error
import urllib.request

import pytest

from ioe_dev.bench_upload import distributor_csv
from tests.community import (
    PREFIX,
    Community,
    StartAggregator,
    acks,
    batch,
    home,
    make_cups,
    payload,
    start_service,
)

# Every test here talks to the real local servers it starts.
pytestmark = pytest.mark.usefixtures("allow_local_sockets")

# The supply points in the export: members of their own, apart from the home that sends.
POINTS = range(900_001, 900_007)
MAX_BATCHES = 2000
# The quarter hours the home's batches cover, one each, over and over (five days from T0).
QUARTERS = 480


def _csv_batches_stored(community: Community) -> int:
    """Return how many of the import's transactions (one batch each) have committed."""
    path = Path(community.options["database_url"].removeprefix("sqlite:///"))
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT COUNT(*) FROM batches WHERE batch LIKE 'csv:%'")
        return int(rows.fetchone()[0])


def _upload(port: int, token: str, body: bytes, answers: list[tuple[int, bytes]]) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/distributor/csv?name=year.csv",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    try:
        with urllib.request.urlopen(request, timeout=600) as answer:  # noqa: S310
            answers.append((answer.status, answer.read()))
    except urllib.error.HTTPError as err:
        answers.append((err.code, err.read()))


def test_a_home_is_acknowledged_while_a_big_upload_is_stored(
    community: Community, start_aggregator: StartAggregator
) -> None:
    sender = home(community, "m-0001")
    for number in POINTS:
        community.add_member(f"m-{number}", number)
    token = community.token("admin")
    _service, port = start_service(community, start_aggregator)
    header, *lines = distributor_csv(
        [make_cups(n) for n in POINTS], date(2025, 1, 1), 365, step_minutes=60
    )
    random.Random(3).shuffle(lines)  # noqa: S311 - an order, no secret
    body = (header + "".join(lines)).encode()
    answers: list[tuple[int, bytes]] = []
    upload = threading.Thread(target=_upload, args=(port, token, body, answers))

    # One batch at a time, each sent once its predecessor is acknowledged, all through the
    # upload; for each, the import's transactions committed before it was sent and after its
    # acknowledgement came.
    upload.start()
    stored_around: list[tuple[int, int]] = []
    for number in range(MAX_BATCHES):
        if not upload.is_alive():
            break
        before = _csv_batches_stored(community)
        sender.publish(
            f"{PREFIX}/m/m-0001/readings",
            payload(batch("m-0001", f"b-{number}", first=number % QUARTERS, count=1)),
        )
        sender.wait_for(lambda n=number: len(acks(sender, "m-0001")) > n, timeout_s=60)
        stored_around.append((before, _csv_batches_stored(community)))
    upload.join()

    assert len(body) > 3_000_000
    ((status, answer),) = answers
    assert status == 200, answer
    report = json.loads(answer)
    assert (report["rows"], report["errors_total"]) == (len(lines), 0)
    assert sum(month["new"] for month in report["months"]) == len(lines) * 4
    total = _csv_batches_stored(community)
    # Batches sent after the import had stored part of the file, and acknowledged before it had
    # stored all of it: the ingest took its turns between the import's transactions.
    between = [pair for pair in stored_around if pair[0] > 0 and pair[1] < total]
    assert len(between) >= 3, (stored_around, total)
    assert [a["batches"] for a in acks(sender, "m-0001")] == [
        [f"b-{n}"] for n in range(len(stored_around))
    ]


def test_an_upload_declared_over_64_mib_is_refused_before_it_is_read(
    community: Community, start_aggregator: StartAggregator
) -> None:
    token = community.token("admin")
    _service, port = start_service(community, start_aggregator)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)

    # The headers alone: the answer comes without a byte of the body sent.
    connection.putrequest("POST", "/api/v1/distributor/csv")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("Content-Length", str(64 * 1024 * 1024 + 1))
    connection.endheaders()
    answer = connection.getresponse()

    assert answer.status == 413
    assert json.loads(answer.read())["error"] == "too_large"
    connection.close()
