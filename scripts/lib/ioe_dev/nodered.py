"""A real Node-RED with Home Assistant's palette, headless, for the tests and the demo.

Node-RED and node-red-contrib-home-assistant-websocket come from scripts/env/node-red/ (npm
ci at setup) into the folder named by IOE_NODE_RED. Each instance has its own user directory
and a settings file written here: the editor and admin API on 127.0.0.1 only, without login
(nothing but this machine reaches it), credentials encrypted with a secret the caller gives.

The flows of nodered/ carry no credentials: their Home Assistant server node says it is the
add-on's. ``deploy`` points it at a Home Assistant of our own and hands Node-RED the URL and
token as that node's credentials, which Node-RED keeps encrypted in the user directory only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
import json
import os
from pathlib import Path
import time
from typing import Any
import urllib.error
import urllib.request

from ioe_dev.processes import Service, ServiceError

START_TIMEOUT_S = 60
# Written by start_node_red; the secret comes from the environment, never from the file.
_SETTINGS = """\
module.exports = {{
    uiHost: "127.0.0.1",
    uiPort: {port},
    flowFile: "flows.json",
    flowFilePretty: true,
    credentialSecret: process.env.IOE_NODE_RED_CREDENTIAL_SECRET,
    // No update checks or palette installs: this machine reaches no such service.
    telemetry: {{ enabled: false, updateNotification: false }},
    externalModules: {{ autoInstall: false, palette: {{ allowInstall: false }} }},
    editorTheme: {{ projects: {{ enabled: false }}, tours: false }},
    logging: {{ console: {{ level: "info", metrics: false, audit: false }} }},
}};
"""


class NodeRedError(RuntimeError):
    """Node-RED refused a request, or did not do what was asked in time."""


@dataclass(frozen=True, kw_only=True)
class HomeAssistantServer:
    """The Home Assistant a deployed server node connects to: its URL and an admin's token."""

    url: str
    token: str


def node_red_home() -> Path:
    """Return where scripts/setup installed Node-RED and the palette (IOE_NODE_RED)."""
    home = os.environ.get("IOE_NODE_RED")
    if not home or not (Path(home) / "node_modules" / "node-red" / "red.js").exists():
        raise FileNotFoundError("Node-RED is not installed here (IOE_NODE_RED); run scripts/setup")
    return Path(home)


def load_flows(path: Path) -> list[dict[str, Any]]:
    """Return the nodes of an exported flow file (a JSON list, as Node-RED's export writes)."""
    nodes = json.loads(path.read_text())
    if not isinstance(nodes, list):
        raise TypeError(f"{path}: not a list of nodes")
    return nodes


def configured_flow(path: Path, **settings: object) -> list[dict[str, Any]]:
    """Return a flow file's nodes with its tab's variables set, as a user edits them.

    Raises KeyError for a setting the flow does not have.
    """
    nodes = load_flows(path)
    tab = next(node for node in nodes if node["type"] == "tab")
    variables = {item["name"]: item for item in tab["env"]}
    for name, value in settings.items():
        variables[name]["value"] = str(value)
    return nodes


def with_server(
    flows: Iterable[Mapping[str, Any]], server: HomeAssistantServer
) -> list[dict[str, Any]]:
    """Return the flows with each Home Assistant server node pointed at ``server``.

    Every server node stops being the add-on's and gets the URL and token as credentials, the
    way the editor sends them on a deploy. Nodes that appear in several files (the shared
    server node) are kept once.
    """
    nodes: dict[str, dict[str, Any]] = {}
    for node in flows:
        copy = dict(node)
        if copy["type"] == "server":
            copy["addon"] = False
            copy["credentials"] = {"host": server.url, "access_token": server.token}
        nodes.setdefault(copy["id"], copy)
    return list(nodes.values())


class NodeRed:
    """A running Node-RED: its admin API at ``url``, its user directory and its log."""

    def __init__(self, url: str, directory: Path, service: Service) -> None:
        """Wrap a started Node-RED (see ``start_node_red``)."""
        self.url = url
        self.directory = directory
        self.service = service

    def request(
        self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        """Call the admin API; return the decoded JSON answer (None when empty)."""
        sent = {"Node-RED-API-Version": "v2", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(  # noqa: S310 - a local http URL we built
            self.url + path, data=data, headers=sent, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                text = response.read().decode()
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:300]
            raise NodeRedError(f"{method} {path}: HTTP {err.code} {detail}") from err
        return json.loads(text) if text else None

    def deploy(self, flows: Iterable[Mapping[str, Any]], server: HomeAssistantServer) -> int:
        """Replace every flow with ``flows`` (a full deploy) connected to ``server``.

        Returns the log's length before the deploy: what the new flows log comes after it
        (``wait_for_log``).
        """
        mark = self.log_size()
        self.request(
            "POST",
            "/flows",
            {"flows": with_server(flows, server)},
            {"Node-RED-Deployment-Type": "full"},
        )
        return mark

    def deployed(self) -> list[dict[str, Any]]:
        """Return the nodes Node-RED runs now (credentials are never part of them)."""
        return list(self.request("GET", "/flows")["flows"])

    def log_size(self) -> int:
        """Return the length of the log so far."""
        return self.service.log_file.stat().st_size if self.service.log_file.exists() else 0

    def log_since(self, mark: int) -> str:
        """Return what Node-RED logged after ``mark`` (a ``log_size``)."""
        with self.service.log_file.open("rb") as log:
            log.seek(mark)
            return log.read().decode(errors="replace")

    def wait_for_log(self, text: str, mark: int, timeout_s: float = 20) -> str:
        """Wait until Node-RED logs a line holding ``text`` after ``mark``; return that line."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.log_since(mark).splitlines():
                if text in line:
                    return line
            time.sleep(0.2)
        raise NodeRedError(
            f"Node-RED did not log {text!r} within {timeout_s:.0f} s:\n{self.service.log_tail()}"
        )

    def errors_since(self, mark: int) -> list[str]:
        """Return the error lines (a node's error, a failed start) logged after ``mark``."""
        return [line for line in self.log_since(mark).splitlines() if "[error]" in line]

    def stop(self) -> int | None:
        """Stop Node-RED (SIGTERM: it closes its flows and connections); return its exit code."""
        return self.service.stop()


def start_node_red(directory: Path, port: int, *, credential_secret: str) -> NodeRed:
    """Start Node-RED on 127.0.0.1:port with its user directory in ``directory``.

    The palette is found next to Node-RED itself (Node-RED looks for node modules in the
    node_modules folders above its own). Returns once the admin API answers.
    """
    home = node_red_home()
    directory.mkdir(parents=True, exist_ok=True)
    settings = directory / "settings.js"
    settings.write_text(_SETTINGS.format(port=port))
    service = Service(
        "node-red",
        [
            "node",
            str(home / "node_modules" / "node-red" / "red.js"),
            *("--userDir", str(directory), "--settings", str(settings)),
        ],
        directory / "node-red.log",
        env={**os.environ, "IOE_NODE_RED_CREDENTIAL_SECRET": credential_secret},
    )
    service.start(port=port, timeout_s=START_TIMEOUT_S)
    node_red = NodeRed(f"http://127.0.0.1:{port}", directory, service)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            node_red.request("GET", "/settings")
        except (NodeRedError, OSError) as err:
            if time.monotonic() > deadline:
                service.stop()
                raise ServiceError(f"node-red: admin API unanswered: {err}") from err
            time.sleep(0.2)
        else:
            return node_red
