"""The integration's Lovelace cards, served by Home Assistant and loaded by every frontend.

Each card is an ES module in this folder, and they import what they share from each other by
relative address. Home Assistant serves them with a month's cache headers, so their addresses
carry the integration's version in the path (``/ioe_community/frontend/<version>/<file>``):
an update loads the new files, the imported ones too (a query string would not reach them).
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
# The cards, which every frontend loads, and what they import.
CARDS: Final = ("ioe-share-forecast-card.js", "ioe-community-card.js")
MODULES: Final = (*CARDS, "ioe-card-common.js")
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
    version = (await async_get_integration(hass, DOMAIN)).version
    base = f"{URL_BASE}/{version}"
    await hass.http.async_register_static_paths(
        [StaticPathConfig(f"{base}/{name}", str(folder / name)) for name in MODULES]
    )
    for name in CARDS:
        add_extra_js_url(hass, f"{base}/{name}")
