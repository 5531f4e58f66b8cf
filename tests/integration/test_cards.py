"""The integration's Lovelace cards, served by a real Home Assistant core."""

from __future__ import annotations

from homeassistant.components.frontend import DATA_EXTRA_MODULE_URL
from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_integration
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ioe_community.const import DOMAIN
from custom_components.ioe_community.frontend import async_register_frontend
from tests.conftest import INTEGRATION


async def test_cards_served_with_the_version_once_per_start(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    assert await async_setup_component(hass, "frontend", {})
    await async_register_frontend(hass)
    # Called again in the same run (aiohttp would refuse the route a second time).
    await async_register_frontend(hass)

    version = (await async_get_integration(hass, DOMAIN)).version
    modules = sorted(url for url in hass.data[DATA_EXTRA_MODULE_URL].urls if DOMAIN in url)
    base = f"/ioe_community/frontend/{version}"
    # The cards are loaded by every frontend; what they import is only served.
    assert modules == [f"{base}/ioe-community-card.js", f"{base}/ioe-share-forecast-card.js"]
    client = await hass_client()
    for name in ("ioe-community-card.js", "ioe-share-forecast-card.js", "ioe-card-common.js"):
        response = await client.get(f"{base}/{name}")
        assert response.status == 200
        assert response.content_type == "text/javascript"
        assert response.headers["Cache-Control"] == "public, max-age=2678400"
        assert await response.read() == (INTEGRATION / "frontend" / name).read_bytes()
    # The folder's Python is not served, nor a file without the version.
    assert (await client.get(f"{base}/__init__.py")).status == 404
    assert (await client.get("/ioe_community/frontend/ioe-community-card.js")).status == 404


async def test_nothing_to_serve_without_http(hass: HomeAssistant) -> None:
    await async_register_frontend(hass)

    assert DATA_EXTRA_MODULE_URL not in hass.data
