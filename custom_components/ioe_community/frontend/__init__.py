"""The integration's Lovelace cards, served by Home Assistant and loaded by every frontend.

Each card is one ES module in this folder. Home Assistant serves it with a month's cache
headers, so its address carries the integration's version: an update loads the new file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from homeassistant.components.frontend import DATA_EXTRA_MODULE_URL, add_extra_js_url
from homeassistant.components.http import StaticPathConfig
from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_integration
from homeassistant.util.hass_dict import HassKey

from ..const import DOMAIN, LOGGER

# Where the cards are served; only the modules listed are (this folder also holds Python).
URL_BASE: Final = f"/{DOMAIN}/frontend"
MODULES: Final = ("ioe-share-forecast-card.js",)
_REGISTERED: HassKey[bool] = HassKey(f"{DOMAIN}_frontend")


async def async_register_frontend(hass: HomeAssistant) -> None:
    """Serve the cards and have every frontend load them; once per Home Assistant start.

    Without Home Assistant's HTTP server or frontend (a test that sets up neither) there is
    nothing to serve them to, and this does nothing.
    """
    if hass.http is None or DATA_EXTRA_MODULE_URL not in hass.data:
        LOGGER.debug("No HTTP server or frontend: the cards are not served")
        return
    if hass.data.get(_REGISTERED):
        return
    hass.data[_REGISTERED] = True
    folder = Path(__file__).parent
    await hass.http.async_register_static_paths(
        [StaticPathConfig(f"{URL_BASE}/{name}", str(folder / name)) for name in MODULES]
    )
    version = (await async_get_integration(hass, DOMAIN)).version
    for name in MODULES:
        add_extra_js_url(hass, f"{URL_BASE}/{name}?v={version}")
