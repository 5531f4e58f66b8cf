"""A real Home Assistant and a real Node-RED (npm, from the development root) for the flows.

One of each per test module: Home Assistant runs as its own process (``python -m
homeassistant``, as the demo starts it) on a free port, onboarded, with an admin's long-lived
token for Node-RED's server node. The integration's entities are stood in for through the REST
API, with the contract's ids; what the flows act on is in configuration.yaml.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
from pathlib import Path
import secrets
import sys
import threading
import time
from typing import Any

import pytest
import pytest_socket
import yaml

from ioe_dev.homeassistant_api import HomeAssistantApi, Login
from ioe_dev.nodered import HomeAssistantServer, NodeRed, configured_flow, start_node_red
from ioe_dev.processes import Service, free_port
from tests.conftest import REPO

FLOWS = REPO / "nodered"
HA_CONFIGURATION = Path(__file__).with_name("configuration.yaml")
HA_START_TIMEOUT_S = 120


@dataclass(frozen=True, kw_only=True)
class HomeAssistant:
    """The running Home Assistant: its API (logged in as the owner) and what Node-RED needs."""

    api: HomeAssistantApi
    server: HomeAssistantServer
    service: Service

    def set_state(
        self, entity_id: str, state: str, attributes: Mapping[str, Any] | None = None
    ) -> None:
        """Set a stand-in entity's state, as the integration would."""
        body = {"state": state, "attributes": dict(attributes or {})}
        self.api.request("POST", f"/api/states/{entity_id}", body=body)

    def state(self, entity_id: str) -> str:
        """Return an entity's state."""
        return str(self.api.request("GET", f"/api/states/{entity_id}")["state"])

    def call(self, action: str, data: Mapping[str, Any]) -> None:
        """Perform an action (``domain.service``)."""
        domain, service = action.split(".")
        self.api.request("POST", f"/api/services/{domain}/{service}", body=dict(data))

    def fire(self, event_type: str, data: Mapping[str, Any]) -> None:
        """Fire an event on Home Assistant's bus."""
        self.api.request("POST", f"/api/events/{event_type}", body=dict(data))

    def wait_for_state(self, entity_id: str, expected: str, timeout_s: float = 20) -> float:
        """Wait until the entity's state is ``expected``; return how long it took (s)."""
        start = time.monotonic()
        while (state := self.state(entity_id)) != expected:
            if time.monotonic() - start > timeout_s:
                raise AssertionError(
                    f"{entity_id} is {state!r}, not {expected!r}, after {timeout_s} s"
                )
            time.sleep(0.1)
        return time.monotonic() - start

    def keeps_state(self, entity_id: str, expected: str, seconds: float) -> bool:
        """Return whether the entity's state stays ``expected`` for ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.state(entity_id) != expected:
                return False
            time.sleep(0.1)
        return True


def _start_home_assistant(directory: Path) -> HomeAssistant:
    port = free_port()
    configuration = yaml.safe_load(HA_CONFIGURATION.read_text())
    configuration["http"] = {"server_host": "127.0.0.1", "server_port": port}
    directory.mkdir(parents=True)
    (directory / "configuration.yaml").write_text(yaml.safe_dump(configuration))
    service = Service(
        "home-assistant",
        [sys.executable, "-m", "homeassistant", "--config", str(directory)],
        directory / "home-assistant.log",
    )
    service.start()
    api = HomeAssistantApi(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + HA_START_TIMEOUT_S
    while not api.is_up():
        if service.process is not None and service.process.poll() is not None:
            raise RuntimeError(f"Home Assistant exited:\n{service.log_tail()}")
        if time.monotonic() > deadline:
            service.stop()
            raise RuntimeError(f"Home Assistant did not answer:\n{service.log_tail()}")
        time.sleep(0.2)
    api.onboard(Login(name="Owner", username="owner", password=secrets.token_hex(), language="en"))
    # The YAML HTTP settings are on trial until promoted (reverted after five minutes).
    api.websocket_command({"type": "http/config/promote"})
    # Node-RED's nodes act only once Home Assistant has started everything.
    while api.request("GET", "/api/config")["state"] != "RUNNING":
        if time.monotonic() > deadline:
            service.stop()
            raise RuntimeError(f"Home Assistant did not finish starting:\n{service.log_tail()}")
        time.sleep(0.2)
    token = api.websocket_command(
        {"type": "auth/long_lived_access_token", "client_name": "Node-RED", "lifespan": 1}
    )
    return HomeAssistant(
        api=api, server=HomeAssistantServer(url=api.base_url, token=token), service=service
    )


@pytest.fixture(scope="module")
def home_assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistant]:
    """Run a Home Assistant for the module's tests.

    It is set up before the first test's ``allow_local_sockets``, so it lifts Home Assistant's
    socket guard itself (each test's setup puts the guard back).
    """
    pytest_socket.enable_socket()
    home = _start_home_assistant(tmp_path_factory.mktemp("home-assistant") / "config")
    yield home
    home.service.stop()


@pytest.fixture(scope="module")
def node_red(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeRed]:
    """Run a Node-RED for the module's tests."""
    pytest_socket.enable_socket()
    running = start_node_red(
        tmp_path_factory.mktemp("node-red"), free_port(), credential_secret=secrets.token_hex()
    )
    yield running
    running.stop()


type Deploy = Callable[..., int]


def deploy_flow(node_red: NodeRed, server: HomeAssistantServer, name: str, **variables: Any) -> int:
    """Deploy a flow of nodered/ with its tab's variables set as a user edits them.

    Every flow is removed first, so that nothing a previous flow remembered (its flow context)
    is left. Returns once the server node is connected, with the log's mark.
    """
    nodes = configured_flow(FLOWS / f"{name}.json", **variables)
    node_red.deploy([], server)
    mark = node_red.deploy(nodes, server)
    node_red.wait_for_log(f"Connected to {server.url}", mark)
    return mark


@pytest.fixture
def deploy(node_red: NodeRed, home_assistant: HomeAssistant) -> Deploy:
    """Deploy a flow of nodered/ on the module's Home Assistant (see ``deploy_flow``)."""

    def deploy_on_home_assistant(name: str, **variables: Any) -> int:
        return deploy_flow(node_red, home_assistant.server, name, **variables)

    return deploy_on_home_assistant


@dataclass
class Endpoint:
    """A local web endpoint that answers with the queued statuses (200 once none is left)."""

    port: int
    statuses: list[int] = field(default_factory=list)
    received: list[Any] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Where to post."""
        return f"http://127.0.0.1:{self.port}/daily"

    def wait_for_posts(self, count: int, timeout_s: float = 30) -> list[Any]:
        """Wait until ``count`` posts arrived; return them (decoded JSON)."""
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} posts, not {count}, in {timeout_s} s")
            time.sleep(0.1)
        return list(self.received)


@pytest.fixture
def endpoint(allow_local_sockets: None) -> Iterator[Endpoint]:
    """Serve an ``Endpoint`` on 127.0.0.1 for the test."""
    made = Endpoint(port=free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            made.content_types.append(self.headers.get_content_type())
            made.received.append(json.loads(body))
            self.send_response(made.statuses.pop(0) if made.statuses else 200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - as overridden
            """Keep the test's output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", made.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield made
    server.shutdown()
    server.server_close()
