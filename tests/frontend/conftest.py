"""The integration's cards in a real Chromium against a real Home Assistant frontend.

Home Assistant runs in the test's own event loop (the test plugin's ``hass``) with its HTTP
server really listening on a free loopback port, and serves its frontend from the installed
``home-assistant-frontend`` package: the browser loads the same app a household opens.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import time
from typing import Any

import aiohttp
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from playwright.async_api import Browser, ViewportSize
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockEntity,
    MockEntityPlatform,
    MockUser,
)

from custom_components.ioe_community.const import DOMAIN
from custom_components.ioe_community.frontend import async_register_frontend
from tests.browser import Tab, open_tab
from tests.http_server import listen_on_loopback

TIME_ZONE = "Europe/Madrid"
VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
ALWAYS_SET_UP = ("brands", "labs", "persistent_notification")
ONBOARDED = {"done": ["user", "core_config", "analytics", "integration"]}


@dataclass(frozen=True)
class Frontend:
    """Home Assistant serving its frontend at ``base``, and what a browser logs in with."""

    hass: HomeAssistant
    base: str
    access_token: str
    tokens: dict[str, Any]

    async def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call Home Assistant's REST API as the logged-in user."""
        headers = {"Authorization": f"Bearer {self.access_token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.base + path, json=body, headers=headers) as response,
        ):
            response.raise_for_status()
            return await response.json()

    async def websocket(self, *commands: dict[str, Any]) -> list[Any]:
        """Send commands over the websocket API, as the frontend does; return their results."""
        results = []
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(self.base + "/api/websocket") as ws,
        ):
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": self.access_token})
            assert (await ws.receive_json())["type"] == "auth_ok"
            for number, command in enumerate(commands, start=1):
                await ws.send_json({"id": number, **command})
                reply = await ws.receive_json()
                assert reply["success"], reply
                results.append(reply["result"])
        return results


@pytest.fixture
def disable_http_server() -> None:
    """Let Home Assistant's HTTP server listen (the test plugin keeps it from binding)."""


@pytest.fixture
async def frontend(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hass_admin_user: MockUser,
    socket_enabled: None,
    enable_custom_integrations: None,
) -> Frontend:
    """Start Home Assistant's HTTP server and frontend on a free port, onboarded, with the cards.

    The cards are registered as the integration's setup registers them.
    """
    base = listen_on_loopback(hass_storage)
    hass_storage["onboarding"] = {
        "version": 4,
        "minor_version": 1,
        "key": "onboarding",
        "data": ONBOARDED,
    }
    await hass.config.async_update(time_zone=TIME_ZONE)
    # The frontend also talks to these, which a real Home Assistant always sets up.
    for domain in ("frontend", *ALWAYS_SET_UP):
        assert await async_setup_component(hass, domain, {})
    await async_register_frontend(hass)
    await hass.async_block_till_done()

    refresh = await hass.auth.async_create_refresh_token(hass_admin_user, client_id=f"{base}/")
    access = hass.auth.async_create_access_token(refresh)
    tokens = {
        "hassUrl": base,
        "clientId": f"{base}/",
        "expires": int(time.time() * 1000) + 3_600_000,
        "refresh_token": refresh.token,
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 1800,
    }
    return Frontend(hass, base, access, tokens)


async def forecast_sensor(hass: HomeAssistant, object_id: str) -> str:
    """Add a sensor of the integration's, with no state of its own yet; return its id.

    The entity picker lists an integration's entities by the platform that added them (the
    registry is not enough); the tests post its states through the REST API.
    """
    platform = MockEntityPlatform(hass, domain="sensor", platform_name=DOMAIN)
    entity = MockEntity(
        entity_id=f"sensor.{object_id}", unique_id=f"test_{object_id}", should_poll=False
    )
    await platform.async_add_entities([entity])
    return entity.entity_id


class Visit(Tab):
    """A browser tab logged into Home Assistant, with what went wrong in it."""

    async def open(self, base: str, path: str) -> None:
        """Load a dashboard and wait until Home Assistant's frontend has started."""
        await self.page.goto(base + path)
        await self.page.wait_for_selector("#ha-launch-screen", state="detached")


async def open_visit(browser: Browser, frontend: Frontend, **how: str) -> Visit:
    """Open a tab logged in as the admin; ``how``: its language, width and colour scheme.

    The browser is in Home Assistant's time zone unless ``how`` names another (timezone_id).
    """
    errors: list[str] = []
    # Logged in as the frontend keeps a login: its tokens in local storage.
    tokens = json.dumps(json.dumps(frontend.tokens))
    page = await open_tab(
        browser,
        errors,
        VIEWPORTS,
        init_script=f"localStorage.setItem('hassTokens', {tokens})",
        **{"timezone_id": TIME_ZONE, **how},
    )
    return Visit(page, errors)


@dataclass(frozen=True)
class CommunityHome:
    """A home's membership device, as the integration makes it, with its entity ids by key."""

    device_id: str
    entities: dict[str, str]


# The membership device's entities the household card reads: (platform, translation key,
# display precision).
MEMBERSHIP_ENTITIES = (
    *(
        ("sensor", key, precision)
        for key, precision in (
            ("coefficient_now", 2),
            ("savings_month", 2),
            ("self_consumed_month", 2),
            ("allocated_today", 2),
            ("self_consumed_today", 2),
            ("import_today", 2),
            ("signal", None),
            ("unused_share", 0),
            ("community_generation", 0),
            ("members_online", None),
            ("link_status", None),
            ("backlog", None),
            ("share_forecast", 2),
        )
    ),
    ("binary_sensor", "surplus_for_me", None),
)


async def community_home(hass: HomeAssistant, home: str, community: str) -> CommunityHome:
    """Add a joined home: its entry, its device, its membership device and that one's entities.

    The entities are added by platforms of the integration (the pickers list an integration's
    devices and entities by the entry and the platform that added them) with the integration's
    translation keys, so their names are the integration's; they have no state until a test
    posts one through the REST API.
    """
    entry = MockConfigEntry(domain=DOMAIN, title=home, unique_id=f"ES00{home}")
    entry.add_to_hass(hass)
    home_identifier = (DOMAIN, f"ES00{home}")
    home_device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={home_identifier}, name=home
    )
    membership = {"identifiers": {(DOMAIN, f"{entry.entry_id}_{community}")}, "name": community}
    entities: dict[str, str] = {}
    registry = er.async_get(hass)
    for domain in ("sensor", "binary_sensor"):
        platform = MockEntityPlatform(hass, domain=domain, platform_name=DOMAIN)
        platform.config_entry = entry
        wanted = [(key, digits) for kind, key, digits in MEMBERSHIP_ENTITIES if kind == domain]
        added = [
            MockEntity(
                unique_id=f"{entry.entry_id}_{community}_{key}",
                translation_key=key,
                has_entity_name=True,
                should_poll=False,
                device_info={**membership, "via_device_id": home_device.id},
            )
            for key, _digits in wanted
        ]
        await platform.async_add_entities(added)
        for entity, (key, digits) in zip(added, wanted, strict=True):
            entities[key] = entity.entity_id
            if digits is not None:
                registry.async_update_entity_options(
                    entity.entity_id, "sensor", {"suggested_display_precision": digits}
                )
    added_to = registry.async_get(entities["coefficient_now"])
    assert added_to is not None
    assert added_to.device_id is not None
    return CommunityHome(added_to.device_id, entities)
