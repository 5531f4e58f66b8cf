"""``GET /api/v1/metrics``: the service's own figures in Prometheus' text format, from the process.

The exposition is read back with the text format's rules (version 0.0.4): each metric's HELP
and TYPE once, before its samples; names and label names as the format allows them; values
that parse as numbers. Then what it says is checked against what the test did.
"""

from __future__ import annotations

from tests.community import (
    PREFIX,
    SERVICE_TASKS,
    Community,
    StartAggregator,
    acks,
    batch,
    call,
    home,
    parse_metrics,
    payload,
    start_service,
)


def test_metrics_tell_what_the_replica_does_in_prometheus_text_format(
    community: Community, start_aggregator: StartAggregator
) -> None:
    sender = home(community, "m-0001")
    _service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"
    sender.publish(f"{PREFIX}/m/m-0001/readings", payload(batch("m-0001", "b-1")))
    sender.publish(f"{PREFIX}/m/m-0001/readings", payload(batch("m-0001", "b-1")))
    sender.publish(f"{PREFIX}/m/m-0001/readings", b"{not json")
    sender.wait_for(lambda: len(acks(sender, "m-0001")) == 2)
    viewer = community.token("viewer")
    sender.wait_for(
        lambda: (
            b"ioe_aggregator_batches_refused_total{reason"
            in call(base, "GET", "/api/v1/metrics", viewer).body
        )
    )

    answer = call(base, "GET", "/api/v1/metrics", viewer)

    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples, types = parse_metrics(answer.body.decode())
    one = frozenset[tuple[str, str]]()
    [info] = samples["ioe_aggregator_info"]
    assert dict(info)["community"] == "molinos"
    assert dict(info)["backend"] == "sqlite"
    assert samples["ioe_aggregator_leader"] == {one: 1}
    assert samples["ioe_aggregator_replicas"] == {one: 1}
    assert samples["ioe_aggregator_database_up"] == {one: 1}
    assert samples["ioe_aggregator_broker_connected"] == {one: 1}
    assert samples["ioe_aggregator_broker_messages_waiting"] == {one: 0}  # all handled
    assert samples["ioe_aggregator_ingest_write_ok"] == {one: 1}
    tasks = samples["ioe_aggregator_task_running"]
    running = {dict(labels)["task"]: value for labels, value in tasks.items()}
    assert running == dict.fromkeys(SERVICE_TASKS, 1)
    assert samples["ioe_aggregator_batches_stored_total"] == {one: 2}
    readings = {
        dict(labels)["outcome"]: value
        for labels, value in samples["ioe_aggregator_readings_total"].items()
    }
    assert readings == {"new": 4, "changed": 0, "unchanged": 4}
    assert samples["ioe_aggregator_batches_refused_total"] == {
        frozenset({("reason", "not_json")}): 1
    }
    assert types["ioe_aggregator_readings_total"] == "counter"
    assert types["process_resident_memory_bytes"] == "gauge"
    assert samples["process_resident_memory_bytes"][one] > 10_000_000
    assert samples["ioe_aggregator_webhook_deliveries_pending"] == {one: 0}


def test_metrics_need_a_reader(community: Community, start_aggregator: StartAggregator) -> None:
    _service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"

    assert call(base, "GET", "/api/v1/metrics").status == 401
    assert call(base, "GET", "/api/v1/metrics", "not-a-token").status == 401
    # The public display's token reads the community's totals, not the service's figures.
    assert call(base, "GET", "/api/v1/metrics", community.token("public")).status == 403
