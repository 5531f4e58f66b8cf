"""The demo household's automations: one of the integration's blueprints, in use.

The household's dishwasher (an input_boolean stands for its smart plug) runs once a day on
its unused share of the community, started anyway in time to be done by 20:00: the blueprint
"appliance on my share" in Spanish, installed as importing it from its URL installs it, and
instantiated as the household would in Automations → Create from blueprint.
"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
import shutil
import time
from typing import Any, Final

from ioe_dev.homeassistant_api import HomeAssistantApi, HomeAssistantApiError

REPO = Path(__file__).resolve().parents[4]
# Where Home Assistant's importer puts a blueprint of the project's GitHub repository.
BLUEPRINT: Final = "ioe-community/appliance_on_share_es.yaml"
SHIPPED: Final = REPO / "blueprints/automation/ioe_community/es/appliance_on_share_es.yaml"
AUTOMATION_ID: Final = "ioe_demo_dishwasher"
AUTOMATION: Final = "automation.lavavajillas_con_mi_cuota"
DISHWASHER: Final = "input_boolean.lavavajillas"
LAST_RUN: Final = "input_datetime.lavavajillas_ultimo_arranque"


def _ensure_helper(api: HomeAssistantApi, domain: str, entity_id: str, **fields: Any) -> None:
    """Create a helper of ``domain`` (UI-made, stored) unless it exists."""
    try:
        api.request("GET", f"/api/states/{entity_id}")
    except HomeAssistantApiError as err:
        if err.status != HTTPStatus.NOT_FOUND:
            raise
        api.websocket_command({"type": f"{domain}/create", **fields})


def ensure_blueprint_automation(
    api: HomeAssistantApi, config_dir: Path, unused_share: str, tariff_period: str
) -> None:
    """Install the blueprint and make the dishwasher's automation from it, once."""
    target = config_dir / "blueprints" / "automation" / BLUEPRINT
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHIPPED, target)
    _ensure_helper(api, "input_boolean", DISHWASHER, name="Lavavajillas", icon="mdi:dishwasher")
    _ensure_helper(
        api,
        "input_datetime",
        LAST_RUN,
        name="Lavavajillas último arranque",
        has_date=True,
        has_time=True,
    )
    api.request(
        "POST",
        f"/api/config/automation/config/{AUTOMATION_ID}",
        body={
            "alias": "Lavavajillas con mi cuota",
            "description": "Hecha con el plano «Poner un electrodoméstico con mi cuota».",
            "use_blueprint": {
                "path": BLUEPRINT,
                "input": {
                    "unused_share": unused_share,
                    "appliance_power": 800,
                    "appliance": DISHWASHER,
                    "run_time": 120,
                    "deadline": "20:00:00",
                    "last_run": LAST_RUN,
                    "tariff_period": tariff_period,
                    "allowed_periods": ["P2", "P3"],
                },
            },
        },
    )


def check_blueprint_automation(api: HomeAssistantApi) -> list[str]:
    """Check the automation made from the blueprint is on (its inputs were accepted)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            state = api.request("GET", f"/api/states/{AUTOMATION}")["state"]
        except HomeAssistantApiError:
            state = "missing"
        if state == "on":
            return []
        if time.monotonic() > deadline:
            return [f"the blueprint's automation {AUTOMATION} is {state}"]
        time.sleep(1)
