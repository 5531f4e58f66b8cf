"""The shipped blueprint files: valid for Home Assistant, importable, one logic in two languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.components.blueprint import Blueprint
from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from tests.conftest import REPO

from .conftest import BLUEPRINTS, LANGUAGES, shipped, start_automation, use_blueprint
from .signals import GRID_POWER, SHARE_FORECAST, SURPLUS_FOR_ME, SURPLUS_TODAY, UNUSED_SHARE

REPOSITORY = "https://github.com/ioe-community/ioe-community"
# What each blueprint needs to become an automation (the inputs without a default).
REQUIRED_INPUTS: dict[str, dict[str, Any]] = {
    "appliance_on_share": {
        "unused_share": UNUSED_SHARE,
        "appliance": "switch.dishwasher",
        "last_run": "input_datetime.dishwasher_last_run",
    },
    "car_on_surplus": {"surplus": SURPLUS_FOR_ME, "charger": "switch.charger"},
    "reserve_before_shortfall": {
        "share_forecast": SHARE_FORECAST,
        "reserve": "number.casa_reserve_soc",
    },
    "unused_share_notice": {"surplus_today": SURPLUS_TODAY},
    "shed_loads": {"grid_power": GRID_POWER, "loads": ["switch.water_heater"]},
}
STEMS = sorted(REQUIRED_INPUTS)
# Keys whose text is written in the file's language; the rest is the logic.
TEXT_KEYS = frozenset({"name", "description", "label", "title", "message", "stop"})
FILES = [(stem, language) for stem in STEMS for language in LANGUAGES]


def load(path: Path) -> dict[str, Any]:
    """Load a blueprint file with Home Assistant's loader (it knows ``!input``)."""
    return load_yaml_dict(path)


def logic(node: Any) -> Any:
    """Return a blueprint with its texts and its own address blanked: what must not drift."""
    if isinstance(node, dict):
        return {
            key: "<text>"
            if key in TEXT_KEYS | {"source_url"} and isinstance(value, str)
            else logic(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [logic(item) for item in node]
    return node


def texts(node: Any) -> list[str]:
    """Return a blueprint's texts in the order they appear."""
    if isinstance(node, dict):
        return [
            text
            for key, value in node.items()
            for text in ([value] if key in TEXT_KEYS and isinstance(value, str) else texts(value))
        ]
    if isinstance(node, list):
        return [text for item in node for text in texts(item)]
    return []


def test_every_blueprint_ships_in_every_language_and_nothing_else() -> None:
    for language in LANGUAGES:
        files = {path.name for path in (BLUEPRINTS / language).iterdir()}
        assert files == {f"{stem}_{language}.yaml" for stem in STEMS}
    assert {path.name for path in BLUEPRINTS.iterdir()} == set(LANGUAGES)


@pytest.mark.parametrize(("stem", "language"), FILES)
def test_each_file_is_an_automation_blueprint_that_names_its_own_address(
    stem: str, language: str
) -> None:
    path = shipped(stem, language)
    blueprint = Blueprint(
        load(path), path=str(path), expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA
    )
    metadata = blueprint.metadata
    assert metadata["source_url"] == f"{REPOSITORY}/blob/main/{path.relative_to(REPO)}"
    min_version = metadata["homeassistant"]["min_version"]
    assert len(min_version.split(".")) == 3
    # This Home Assistant is recent enough for it.
    assert blueprint.validate() is None, ha_version
    assert set(blueprint.inputs) >= set(REQUIRED_INPUTS[stem])


def test_the_guide_has_an_import_button_for_each_file() -> None:
    guide = (REPO / "docs" / "automations.md").read_text(encoding="utf-8")
    for stem, language in FILES:
        address = load(shipped(stem, language))["blueprint"]["source_url"]
        link = "https://my.home-assistant.io/redirect/blueprint_import/?blueprint_url="
        assert f"{link}{quote(address, safe='')})" in guide


@pytest.mark.parametrize("stem", STEMS)
def test_the_languages_differ_in_their_texts_only(stem: str) -> None:
    english, spanish = (load(shipped(stem, language)) for language in ("en", "es"))
    assert logic(spanish) == logic(english)
    # Every text is translated (the same text in both would be one left in English).
    pairs = list(zip(texts(english), texts(spanish), strict=True))
    assert [pair for pair in pairs if pair[0] == pair[1]] == []


def test_a_change_of_logic_between_languages_is_seen() -> None:
    english = load(shipped("car_on_surplus", "en"))
    spanish = load(shipped("car_on_surplus", "es"))
    spanish["mode"] = "restart"
    assert logic(spanish) != logic(english)


@pytest.mark.parametrize(("stem", "language"), FILES)
async def test_each_blueprint_becomes_an_automation_that_is_on(
    hass: HomeAssistant, stem: str, language: str
) -> None:
    await use_blueprint(hass, stem, REQUIRED_INPUTS[stem], language)


@pytest.mark.parametrize(("stem", "language"), FILES)
async def test_each_blueprint_imports_from_its_address(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    aioclient_mock: AiohttpClientMocker,
    stem: str,
    language: str,
) -> None:
    """Import by URL as the UI's "Import blueprint" does; GitHub is served locally."""
    path = shipped(stem, language)
    raw = f"https://raw.githubusercontent.com/ioe-community/ioe-community/main/{path.relative_to(REPO)}"
    aioclient_mock.get(raw, text=path.read_text(encoding="utf-8"))
    address = load(path)["blueprint"]["source_url"]
    assert await async_setup_component(hass, "blueprint", {})
    # The automation integration registers its blueprints' domain as it sets up; set it up
    # with the automation made from the import, after the import.
    async_get_blueprints(hass)
    client = await hass_ws_client(hass)

    await client.send_json_auto_id({"type": "blueprint/import", "url": address})
    imported = await client.receive_json()
    assert imported["success"], imported
    result = imported["result"]
    assert result["validation_errors"] is None
    assert result["exists"] is False
    assert result["suggested_filename"] == f"ioe-community/{stem}_{language}"

    await client.send_json_auto_id(
        {
            "type": "blueprint/save",
            "domain": "automation",
            "path": result["suggested_filename"],
            "yaml": result["raw_data"],
            "source_url": address,
        }
    )
    saved = await client.receive_json()
    assert saved["success"], saved
    await start_automation(hass, f"{result['suggested_filename']}.yaml", REQUIRED_INPUTS[stem])
