"""A real Home Assistant core in a config folder of its own, in Madrid's time zone.

The blueprints read the signals through the entity shapes of the contract; the tests stand in
for the integration by setting those states, and use Home Assistant's own helpers as the
devices the automations control.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.components.blueprint import BLUEPRINT_SCHEMA, Blueprint
from homeassistant.const import EVENT_HOMEASSISTANT_STARTED
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from tests.conftest import REPO

BLUEPRINTS = REPO / "blueprints" / "automation" / "ioe_community"
LANGUAGES = ("en", "es")
# Where a blueprint imported from the project's GitHub repository lands: the import names the
# file after the repository's owner (homeassistant/components/blueprint/importer.py).
IMPORTED_FOLDER = "ioe-community"
AUTOMATION = "automation.under_test"
# Passes of the event loop that let a state change reach an automation's action and the
# action's own state changes land (a handful are needed; more cost nothing).
SETTLE_PASSES = 50


def shipped(stem: str, language: str) -> Path:
    """Return the shipped file of one blueprint in one language."""
    return BLUEPRINTS / language / f"{stem}_{language}.yaml"


@pytest.fixture(autouse=True)
async def home(hass: HomeAssistant) -> AsyncIterator[None]:
    """Run Home Assistant on the Spanish peninsula's clock, as the homes do.

    With its core integration set up, as it always is outside tests: the blueprints turn
    devices of any domain on and off through its ``homeassistant.turn_on``/``turn_off``.
    """
    await hass.config.async_set_time_zone("Europe/Madrid")
    assert await async_setup_component(hass, "homeassistant", {})
    yield
    # Turning the automation off detaches its triggers: a template trigger that reads the
    # clock keeps a timer otherwise, which the test plugin reports as lingering.
    if hass.services.has_service("automation", "turn_off"):
        await hass.services.async_call(
            "automation", "turn_off", {"entity_id": AUTOMATION}, blocking=True
        )


async def use_blueprint(
    hass: HomeAssistant, stem: str, inputs: dict[str, Any], language: str = "en"
) -> None:
    """Install a shipped blueprint as an import saves it, and make it an automation.

    The automation must come up on: a blueprint whose substituted automation does not
    validate leaves it unavailable.
    """
    path = shipped(stem, language)
    blueprint = Blueprint(
        await hass.async_add_executor_job(load_yaml_dict, path),
        expected_domain="automation",
        schema=BLUEPRINT_SCHEMA,
    )
    await async_get_blueprints(hass).async_add_blueprint(
        blueprint, f"{IMPORTED_FOLDER}/{path.name}"
    )
    await start_automation(hass, f"{IMPORTED_FOLDER}/{path.name}", inputs)


async def start_automation(hass: HomeAssistant, path: str, inputs: dict[str, Any]) -> None:
    """Set up one automation from an installed blueprint; check that it is on."""
    config = {
        "id": "under_test",
        "alias": "Under test",
        "use_blueprint": {"path": path, "input": inputs},
    }
    assert await async_setup_component(hass, "automation", {"automation": [config]})
    await hass.async_block_till_done()
    state = hass.states.get(AUTOMATION)
    assert state is not None
    assert state.state == "on"


async def helpers(hass: HomeAssistant, domain: str, config: dict[str, Any]) -> None:
    """Set up Home Assistant's own helpers of one domain, the devices under control."""
    assert await async_setup_component(hass, domain, {domain: config})
    await hass.async_block_till_done()


async def home_assistant_starts(hass: HomeAssistant) -> None:
    """Announce that Home Assistant has started, as after a restart: start triggers fire."""
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    await settle()


async def by_hand(hass: HomeAssistant, action: str, entity_id: str, **data: Any) -> None:
    """Do what a person does from a dashboard: one action on one entity."""
    domain, service = action.split(".")
    await hass.services.async_call(domain, service, {"entity_id": entity_id, **data}, blocking=True)


def local(text: str) -> datetime:
    """Return a local time in Madrid, e.g. ``local("2026-12-05 09:00")``."""
    return datetime.fromisoformat(text).replace(tzinfo=dt_util.get_default_time_zone())


async def run_until(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    until: datetime,
    step: timedelta = timedelta(seconds=30),
) -> None:
    """Let time pass in steps until ``until``, firing Home Assistant's timers on the way."""
    while (now := dt_util.now()) < until:
        freezer.tick(min(step, until - now))
        async_fire_time_changed(hass)
        await settle()


async def settle() -> None:
    """Let the event loop run all that is ready.

    Not ``hass.async_block_till_done()``: that waits for every automation run, and a run
    waiting on a timer only ends when the test moves the clock.
    """
    for _ in range(SETTLE_PASSES):
        await asyncio.sleep(0)


async def run_for(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    duration: timedelta,
    step: timedelta = timedelta(seconds=30),
) -> None:
    """Let ``duration`` pass (see ``run_until``)."""
    await run_until(hass, freezer, dt_util.now() + duration, step)


def is_on(hass: HomeAssistant, entity_id: str) -> bool:
    """Return whether an entity is on."""
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state == "on"
