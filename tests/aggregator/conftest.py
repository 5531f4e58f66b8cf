"""Run the real aggregator service as its own process, as the add-on does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import json
import os
from pathlib import Path
import shutil
import sys
import tempfile
from typing import Any
import urllib.request

import pytest
import pytest_socket
import yaml

from ioe_dev.postgres import PostgresServer, start_postgres
from ioe_dev.processes import Service, free_port
from tests.conftest import REPO

AGGREGATOR_PACKAGE = REPO / "addons" / "ioe-aggregator"


def aggregator_command(*args: str) -> list[str]:
    """Return the command line of ``python -m ioe_aggregator ARGS``."""
    return [sys.executable, "-m", "ioe_aggregator", *args]


def aggregator_env(**overrides: str) -> dict[str, str]:
    """Return the service's environment: ours, without stray IOE_AGGREGATOR_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOE_AGGREGATOR_")}
    env["PYTHONPATH"] = str(AGGREGATOR_PACKAGE)
    env.update(overrides)
    return env


@pytest.fixture(autouse=True)
def allow_local_sockets(socket_enabled: None) -> None:
    """Let these tests talk to the real local servers they start (HA's plugin blocks sockets)."""


@pytest.fixture
def start_aggregator(tmp_path: Path) -> Iterator[Callable[..., tuple[Service, int]]]:
    """Start the service with the given options (plus a database and a port); stop it after."""
    started: list[Service] = []

    def start(**options: Any) -> tuple[Service, int]:
        port = free_port()
        config = tmp_path / f"config-{len(started)}.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "database_url": f"sqlite:///{tmp_path / 'ioe.db'}",
                    "http_host": "127.0.0.1",
                    "http_port": port,
                    **options,
                }
            )
        )
        service = Service(
            "aggregator",
            aggregator_command("serve", "--config", str(config)),
            tmp_path / "aggregator.log",
            env=aggregator_env(),
        )
        started.append(service)
        service.start(port=port)
        return service, port

    yield start
    for service in started:
        service.stop()


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    """GET a JSON document; return the status and the body, also for error statuses."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local URL
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throw-away PostgreSQL server for the session (tests make their own databases).

    It is set up before the first test that uses it lifts Home Assistant's socket guard, so it
    lifts the guard itself (each test's setup puts the guard back).
    """
    pytest_socket.enable_socket()
    directory = Path(tempfile.mkdtemp(prefix="ioe-postgres-"))
    server = start_postgres(directory)
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)
