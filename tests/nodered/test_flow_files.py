"""The flow files users import: no credentials, one server node, entities edited in one place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import re
from typing import Any

import pytest

from ioe_dev.nodered import HomeAssistantServer, load_flows, with_server
from tests.nodered.conftest import FLOWS

FILES = sorted(FLOWS.glob("*.json"))
SECRET_KEYS = {"credentials", "access_token", "token", "password", "host"}
# What the editor's Home Assistant nodes hold entity ids in.
ENTITY_FIELDS = ("entities", "entityId", "entity_id")
VARIABLE = re.compile(r"^\$\{(\w+)\}$")
ENV_GET = re.compile(r"env\.get\(\"(\w+)\"\)")


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Yield every (key, value) pair at any depth, and every string as ("", string)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
    elif isinstance(value, str):
        yield "", value


def test_there_is_a_flow_for_each_job() -> None:
    assert [path.stem for path in FILES] == ["appliance", "battery", "car", "manager"]


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.stem)
def test_a_flow_file_carries_no_credentials_nor_hosts(path: Path) -> None:
    pairs = list(walk(load_flows(path)))
    assert not {key for key, _ in pairs} & SECRET_KEYS
    strings = [value for key, value in pairs if key == "" and isinstance(value, str)]
    assert not [text for text in strings if "://" in text or "eyJ" in text]
    assert not [text for text in strings if re.search(r"\b\d{1,3}(\.\d{1,3}){3}\b", text)]


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.stem)
def test_every_home_assistant_node_uses_the_add_on_s_server(path: Path) -> None:
    nodes = load_flows(path)
    servers = [node for node in nodes if node["type"] == "server"]
    assert len(servers) == 1
    # The same node in every file: importing a second flow reuses the first one's.
    assert servers[0]["id"] == "ioe_community_ha"
    assert servers[0]["addon"] is True
    users = [node for node in nodes if "server" in node]
    assert users
    assert {node["server"] for node in users} == {"ioe_community_ha"}


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.stem)
def test_the_user_s_entities_and_settings_are_the_tab_s_variables(path: Path) -> None:
    nodes = load_flows(path)
    (tab,) = [node for node in nodes if node["type"] == "tab"]
    variables = {item["name"] for item in tab["env"]}
    used = set()
    for node in nodes:
        for name in ENTITY_FIELDS:
            if name not in node:
                continue
            field = node[name]
            ids = field["entity"] if name == "entities" else field
            for entity_id in [ids] if isinstance(ids, str) else ids:
                found = VARIABLE.match(entity_id)
                assert found, f"{node['id']}: {entity_id!r} is not a tab variable"
                used.add(found.group(1))
        for value in node.values():
            if isinstance(value, str) and (found := VARIABLE.match(value)):
                used.add(found.group(1))
        used.update(ENV_GET.findall(node.get("func", "")))
    assert used == variables


def test_deploying_points_the_server_node_at_home_assistant_without_touching_the_files() -> None:
    server = HomeAssistantServer(url="http://127.0.0.1:8123", token="a-token")
    nodes = [node for path in FILES for node in load_flows(path)]
    deployed = with_server(nodes, server)
    servers = [node for node in deployed if node["type"] == "server"]
    assert servers == [
        {
            **servers[0],
            "addon": False,
            "credentials": {"host": "http://127.0.0.1:8123", "access_token": "a-token"},
        }
    ]
    assert len(deployed) == len(nodes) - len(FILES) + 1
    assert all("credentials" not in node for node in nodes)
