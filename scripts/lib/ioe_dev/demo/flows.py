"""The demo's Node-RED: the battery scheduler of nodered/ on the household's forecast, in use.

Started where Node-RED is installed (scripts/setup puts it in the development environment);
where it is not, the demo goes on without it and says so. Its Home Assistant server node gets
a long-lived token of the demo's user, made once and kept in the state directory (mode 0600),
as a household pastes one into the add-on's settings.
"""

from __future__ import annotations

from pathlib import Path
import time
from typing import Final

from ioe_dev.homeassistant_api import HomeAssistantApi, HomeAssistantApiError
from ioe_dev.nodered import (
    HomeAssistantServer,
    NodeRed,
    configured_flow,
    node_red_home,
    start_node_red,
)
from ioe_dev.processes import Service

REPO = Path(__file__).resolve().parents[4]
FLOW: Final = REPO / "nodered" / "battery.json"
CLIENT_NAME: Final = "Node-RED (IoE Community demo)"
# The demo's battery reserve: 80 % before a shortfall of the share, its usual 20 % otherwise.
RESERVE_HIGH: Final = 80
RESERVE_NORMAL: Final = 20


def _token(api: HomeAssistantApi, state: Path) -> str:
    """Return the server node's token: the kept one while Home Assistant accepts it."""
    path = state / "home-assistant.token"
    if path.exists():
        kept = HomeAssistantApi(api.base_url)
        kept.token = path.read_text().strip()
        try:
            kept.request("GET", "/api/")
        except HomeAssistantApiError:
            pass  # Home Assistant's state was made anew: a new token
        else:
            return kept.token
    for refresh in api.websocket_command({"type": "auth/refresh_tokens"}):
        if refresh.get("client_name") == CLIENT_NAME:  # a token of an earlier state
            api.websocket_command(
                {"type": "auth/delete_refresh_token", "refresh_token_id": refresh["id"]}
            )
    token = str(
        api.websocket_command(
            {"type": "auth/long_lived_access_token", "client_name": CLIENT_NAME, "lifespan": 3650}
        )
    )
    path.write_text(token)
    path.chmod(0o600)
    return token


def start(
    api: HomeAssistantApi,
    state: Path,
    port: int,
    secret: str,
    services: list[Service],
    *,
    forecast: str,
    reserve: str,
) -> NodeRed | None:
    """Start Node-RED and run the battery scheduler on the home's entities (None: not here)."""
    try:
        node_red_home()
    except FileNotFoundError as err:
        print(f"demo: no Node-RED flow: {err}", flush=True)
        return None
    directory = state / "node-red"
    node_red = start_node_red(directory, port, credential_secret=secret)
    # Between the flow's two values: the check sees the flow set one of them.
    api.request("POST", "/api/services/number/set_value", body={"entity_id": reserve, "value": 50})
    services.append(node_red.service)
    server = HomeAssistantServer(url=api.base_url, token=_token(api, directory))
    flow = configured_flow(
        FLOW,
        FORECAST=forecast,
        RESERVE=reserve,
        RESERVE_HIGH=RESERVE_HIGH,
        RESERVE_NORMAL=RESERVE_NORMAL,
    )
    mark = node_red.deploy(flow, server)
    node_red.wait_for_log(f"Connected to {server.url}", mark, timeout_s=60)
    return node_red


def check(node_red: NodeRed | None, api: HomeAssistantApi, reserve: str) -> list[str]:
    """Check the flow runs without errors and has set the reserve (high or usual)."""
    if node_red is None:
        return []
    deadline = time.monotonic() + 60
    while (value := api.request("GET", f"/api/states/{reserve}")["state"]) not in (
        f"{RESERVE_HIGH}.0",
        f"{RESERVE_NORMAL}.0",
    ):
        if errors := node_red.errors_since(0):
            return [f"Node-RED: {errors[0]}"]
        if time.monotonic() > deadline:
            return [f"the battery scheduler flow left {reserve} at {value}"]
        time.sleep(1)
    return []
