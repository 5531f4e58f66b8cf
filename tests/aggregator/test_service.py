"""The service as a process: /api/health with a real SQLite file and a real TLS Mosquitto."""

from __future__ import annotations

from pathlib import Path
import socket
import subprocess
from typing import Any

import pytest

from ioe_aggregator import __version__
from ioe_dev.mosquitto import Broker
from ioe_dev.postgres import PostgresServer
from tests.conftest import AGGREGATOR_PASSWORD, AGGREGATOR_USER

from .conftest import (
    SERVICE_TASKS,
    StartAggregator,
    aggregator_command,
    aggregator_env,
    get_json,
    wait_for_broker_status,
)


def broker_options(broker: Broker, password: str = AGGREGATOR_PASSWORD) -> dict[str, Any]:
    return {
        "mqtt_host": broker.host,
        "mqtt_port": broker.port,
        "mqtt_ca_file": str(broker.ca_file),
        "mqtt_username": AGGREGATOR_USER,
        "mqtt_password": password,
    }


def test_health_with_database_and_broker(
    start_aggregator: StartAggregator, mosquitto: Broker, tmp_path: Path
) -> None:
    _service, port = start_aggregator(community_id="los-molinos", **broker_options(mosquitto))

    body = wait_for_broker_status(port, "connected")

    running = {"running": True, "error": None}
    replica = body.pop("replica")
    assert replica == {
        "replica": replica["replica"],
        "name": socket.gethostname(),
        "leading": True,  # alone on its SQLite database
        "term": 1,
        "leader": {
            "replica": replica["replica"],
            "name": socket.gethostname(),
            "term": 1,
            "since": replica["leader"]["since"],
        },
        "replicas": [replica["replica"]],
    }
    assert body == {
        "status": "ok",
        "problems": [],
        "version": __version__,
        "community": "los-molinos",
        "tasks": dict.fromkeys(SERVICE_TASKS, running),
        "database": {"backend": "sqlite", "status": "ok"},
        "broker": {"status": "connected", "address": f"127.0.0.1:{mosquitto.port}", "error": None},
        "ingest": {
            "batches": 0,
            "readings_new": 0,
            "readings_changed": 0,
            "readings_unchanged": 0,
            "refused": {},
            "readings_refused": {},
            "live_refused": {},
            "last_write": None,
        },
    }
    assert (tmp_path / "ioe.db").exists()


def test_health_without_broker_configured(start_aggregator: StartAggregator) -> None:
    _service, port = start_aggregator()

    status, body = get_json(f"http://127.0.0.1:{port}/api/health")

    assert status == 200
    assert body["broker"] == {"status": "not_configured", "address": None, "error": None}


def test_wrong_broker_password_is_reported_and_logged(
    start_aggregator: StartAggregator, mosquitto: Broker
) -> None:
    service, port = start_aggregator(**broker_options(mosquitto, password="wrong"))

    body = wait_for_broker_status(port, "disconnected")

    assert body["status"] == "ok"  # the API keeps working without the broker
    assert body["broker"]["status"] == "disconnected"
    assert "authoriz" in body["broker"]["error"].lower()
    assert "MQTT broker at 127.0.0.1" in service.log_tail()


def test_broker_with_untrusted_certificate_is_refused(
    start_aggregator: StartAggregator, mosquitto: Broker
) -> None:
    options = broker_options(mosquitto)
    del options["mqtt_ca_file"]  # the system's public CAs do not know our local CA

    _service, port = start_aggregator(**options)
    body = wait_for_broker_status(port, "disconnected")

    assert "certificate verify failed" in body["broker"]["error"]


def test_broker_that_comes_back_is_reconnected(
    start_aggregator: StartAggregator, mosquitto: Broker
) -> None:
    _service, port = start_aggregator(**broker_options(mosquitto))
    wait_for_broker_status(port, "connected")

    mosquitto.service.stop()
    assert wait_for_broker_status(port, "disconnected")["broker"]["status"] == "disconnected"
    mosquitto.service.start(port=mosquitto.port)

    assert wait_for_broker_status(port, "connected")["broker"]["status"] == "connected"


def test_port_in_use_stops_the_service_with_its_reason(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "config.yaml"
        config.write_text(f"http_host: 127.0.0.1\nhttp_port: {port}\n")
        result = subprocess.run(
            aggregator_command("serve", "--config", str(config)),
            env=aggregator_env(IOE_AGGREGATOR_DATABASE_URL=f"sqlite:///{tmp_path / 'ioe.db'}"),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr


def refused_start(start_aggregator: StartAggregator, **options: Any) -> str:
    """Start the service with options it must refuse; return what it said as it exited."""
    with pytest.raises(RuntimeError, match="exited with code") as refused:
        start_aggregator(**options)
    return str(refused.value)


def test_unusable_database_stops_the_service_with_its_reason(
    start_aggregator: StartAggregator, tmp_path: Path
) -> None:
    (tmp_path / "a-directory.db").mkdir()
    url = f"sqlite:///{tmp_path / 'a-directory.db'}"

    message = refused_start(start_aggregator, database_url=url)

    assert "exited with code 1" in message
    assert "cannot open SQLite database" in message


def test_the_service_runs_on_postgresql(
    start_aggregator: StartAggregator, postgres: PostgresServer
) -> None:
    _service, port = start_aggregator(database_url=postgres.create_database("service"))

    status, health = get_json(f"http://127.0.0.1:{port}/api/health")

    assert status == 200
    assert health["database"] == {"backend": "postgresql", "status": "ok"}


def test_unreachable_postgresql_stops_the_service_without_showing_the_password(
    start_aggregator: StartAggregator, postgres: PostgresServer
) -> None:
    url = postgres.url("no_such_database").replace("ioe@", "ioe:s3cret-word@")

    message = refused_start(start_aggregator, database_url=url)

    assert "PostgreSQL: " in message
    assert 'database "no_such_database" does not exist' in message
    assert "s3cret-word" not in message
