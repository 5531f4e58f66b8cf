"""One message never stops the service.

A member's readings batch whose times match the pattern but are no dates, or whose live powers
are beyond any float, used to be stored and then end the only writer task; a retained status
nested 100,000 deep or holding a 5,000-digit integer ended the broker task. Each of them here
goes to the real service through the real broker and over HTTPS, then an honest batch of
another member must still be stored and acknowledged, and the service stay healthy.
"""

from __future__ import annotations

import ssl

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
    stored_rows,
)

# Every test here talks to the real local servers it starts.
pytestmark = pytest.mark.usefixtures("allow_local_sockets")

LIVE_TS = "2026-11-25T00:00:00Z"


def _with_live(raw_live: str) -> bytes:
    """Return an honest batch of m-0001 whose live part is ``raw_live`` (JSON text, as sent)."""
    return payload(batch("m-0001", "poison"))[:-1] + b', "live": ' + raw_live.encode() + b"}"


POISON: dict[str, tuple[bytes, str]] = {
    "impossible-reading-date": (
        payload(
            {
                **batch("m-0001", "poison"),
                "readings": [
                    {**batch("m-0001", "poison")["readings"][0], "start": "2026-13-01T00:00:00Z"}
                ],
            }
        ),
        "time",
    ),
    "impossible-live-date": (_with_live('{"ts": "2026-13-01T00:00:00Z", "grid_w": 1}'), "time"),
    "live-power-10e400-integer": (
        _with_live(f'{{"ts": "{LIVE_TS}", "grid_w": 1{"0" * 400}}}'),
        "number",
    ),
    "live-power-1e400": (_with_live(f'{{"ts": "{LIVE_TS}", "plant_w": 1e400}}'), "number"),
    "nan": (_with_live(f'{{"ts": "{LIVE_TS}", "grid_w": NaN}}'), "number"),
    "infinity": (_with_live(f'{{"ts": "{LIVE_TS}", "grid_w": -Infinity}}'), "number"),
    "deep-nesting": (b"[" * 100_000 + b"]" * 100_000, "nesting"),
    "control-character-in-meter": (
        payload(
            {
                **batch("m-0001", "poison"),
                "readings": [{**batch("m-0001", "poison")["readings"][0], "meter": "grid\n"}],
            }
        ),
        "schema",
    ),
    "control-character-in-batch-id": (payload(batch("m-0001", "poison\n")), "schema"),
}


def _honest_batch_still_goes_through(community: Community, port: int) -> None:
    other = home(community, "m-0002")
    other.publish(f"{PREFIX}/m/m-0002/readings", payload(batch("m-0002", "honest")))
    other.wait_for(lambda: acks(other, "m-0002"), timeout_s=20)
    status, health = get_json(f"http://127.0.0.1:{port}/api/health")
    assert status == 200, health
    assert all(task["running"] for task in health["tasks"].values()), health["tasks"]


@pytest.mark.parametrize("name", list(POISON))
def test_a_poisoned_batch_is_refused_and_the_writer_goes_on(
    community: Community, start_aggregator: StartAggregator, name: str
) -> None:
    body, kind = POISON[name]
    mallory = home(community, "m-0001")
    _service, port = start_service(community, start_aggregator)

    mallory.publish(f"{PREFIX}/m/m-0001/readings", body)
    mallory.publish(f"{PREFIX}/m/m-0001/readings", body)  # as a home resends it
    _honest_batch_still_goes_through(community, port)

    assert acks(mallory, "m-0001") == []
    assert {row[0] for row in stored_rows(community)} == {"m-0002"}
    refused = get_json(f"http://127.0.0.1:{port}/api/health")[1]["ingest"]["refused"]
    assert refused == {kind: 2}


def test_poisoned_batches_over_https_are_400_never_500(
    community: Community, start_aggregator: StartAggregator
) -> None:
    token = community.add_member("m-0001").api_token
    _service, port = start_service(community, start_aggregator)
    base = community.options["public_api_url"]
    context = ssl.create_default_context(cafile=community.options["mqtt_ca_file"])

    answers = {
        name: call(base, "POST", "/api/v1/readings", token, body, context=context)
        for name, (body, _kind) in POISON.items()
    }

    assert {name: answer.status for name, answer in answers.items()} == dict.fromkeys(POISON, 400)
    assert {name: answer.json()["error"] for name, answer in answers.items()} == {
        name: kind for name, (_body, kind) in POISON.items()
    }
    _honest_batch_still_goes_through(community, port)


@pytest.mark.parametrize(
    "status",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"schema": "ioe.status.v1", "state": "online", "backlog": 1' + b"0" * 5000 + b"}",
        b'{"schema": "ioe.status.v1", "state": "online", "backlog": NaN}',
        b"\xff\xfe\x00",
    ],
    ids=["nested-100000-deep", "5000-digit-integer", "nan", "not-utf8"],
)
def test_a_poisoned_retained_status_does_not_end_the_broker_task(
    community: Community, start_aggregator: StartAggregator, status: bytes
) -> None:
    mallory = home(community, "m-0001")
    # Retained: the service reads it again at every (re)connection.
    mallory.publish(f"{PREFIX}/m/m-0001/status", status, retain=True)
    service, port = start_service(community, start_aggregator)

    _honest_batch_still_goes_through(community, port)
    broker = get_json(f"http://127.0.0.1:{port}/api/health")[1]["broker"]
    assert broker["status"] == "connected"
    assert "Ignored a status of m-0001" in service.log_tail()


def test_a_restarted_service_survives_the_resend_that_killed_it(
    community: Community, start_aggregator: StartAggregator
) -> None:
    """The home resends what was not acknowledged: a restart must not meet its end again."""
    mallory = home(community, "m-0001")
    body, _kind = POISON["impossible-live-date"]
    service, port = start_service(community, start_aggregator)
    mallory.publish(f"{PREFIX}/m/m-0001/readings", body)
    service.stop()

    mallory.publish(f"{PREFIX}/m/m-0001/readings", body)
    _service, port = start_service(community, start_aggregator)
    mallory.publish(f"{PREFIX}/m/m-0001/readings", body)

    _honest_batch_still_goes_through(community, port)
    # The restarted service met the poison (kept for it by the broker, then sent again).
    refused = get_json(f"http://127.0.0.1:{port}/api/health")[1]["ingest"]["refused"]
    assert refused["time"] >= 1
