"""The household's "Community" dashboard: its share of the community, ready on request.

Created from the home's options in the language the household chooses (Home Assistant's by
default: a form cannot tell which language its user reads): at the top the integration's
household card (today hour by hour, the month, the coefficient, the community's advice, the
forecast of the share, the link), then the local control and the figures the card leaves out,
each with a line that says what it is, and the month's days as a chart (empty during the first
hour: statistics are hourly). It is the integration's own panel, kept with the home: Lovelace
stores its cards (the household may edit them), and the home's options remove it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components import frontend
from homeassistant.components.lovelace.const import LOVELACE_DATA
from homeassistant.components.lovelace.dashboard import LovelaceStorage
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import slugify

from .const import CONF_COMMUNITY, DOMAIN, LOGGER
from .entity import entity_unique_id

if TYPE_CHECKING:
    from . import IoeCommunityConfigEntry

# Where the home keeps its dashboard's address, title and language (in the entry's options).
CONF_DASHBOARD: Final = "dashboard"
CONF_LANGUAGE: Final = "language"
# The languages of its texts, each named in itself.
LANGUAGES: Final = {"es": "Español", "en": "English"}
# Spain's other languages, which the integration has no texts in: Spanish is read there.
_READ_AS_SPANISH: Final = frozenset({"ca", "eu", "gl", "oc"})
ICON: Final = "mdi:solar-power-variant"
# The household card (the integration's own, ``frontend/``), on the home's membership device.
COMMUNITY_CARD: Final = "custom:ioe-community-card"
# The figures the card leaves out, as a section: (platform, key, on the membership device or
# the home's).
_MORE: Final = (
    (Platform.SENSOR, "allocated_power", True),
    (Platform.SENSOR, "surplus_today", True),
    (Platform.SENSOR, "self_sufficiency", True),
    (Platform.SENSOR, "self_consumption", True),
    (Platform.SENSOR, "tariff_period", False),
)
_CHART: Final = ("self_consumed_today", "surplus_today")
# The local control's entities shown, by the device they sit on: (platform, key).
_CONTROL_SWITCH: Final = ((Platform.SWITCH, "control"),)
_CONTROL_BATTERY: Final = ((Platform.SELECT, "battery_mode"), (Platform.SENSOR, "battery_decision"))
_CONTROL_CHARGER: Final = ((Platform.SELECT, "charger_mode"), (Platform.SENSOR, "charger_decision"))


def available(hass: HomeAssistant) -> bool:
    """Return whether Lovelace runs (it does with Home Assistant's frontend)."""
    return LOVELACE_DATA in hass.data


def url_path(entry: IoeCommunityConfigEntry) -> str:
    """Return a dashboard address for the home (Lovelace wants a hyphen in it)."""
    return f"comunidad-{slugify(entry.title, separator='-') or 'casa'}"


def _storage(
    hass: HomeAssistant, entry: IoeCommunityConfigEntry, path: str, title: str
) -> LovelaceStorage:
    return LovelaceStorage(
        hass,
        {
            "id": f"{DOMAIN}_{entry.entry_id}",
            "url_path": path,
            "title": title,
            "icon": ICON,
            "show_in_sidebar": True,
            "require_admin": False,
            "mode": "storage",
        },
    )


def default_language(hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> str:
    """Return the language to offer: the dashboard's, else the closest to Home Assistant's."""
    if (kept := entry.options.get(CONF_DASHBOARD)) is not None and CONF_LANGUAGE in kept:
        return str(kept[CONF_LANGUAGE])
    language = hass.config.language.split("-")[0].lower()
    if language in LANGUAGES:
        return language
    return "es" if language in _READ_AS_SPANISH else "en"


async def _texts(hass: HomeAssistant, language: str) -> dict[str, str]:
    prefix = f"component.{DOMAIN}.dashboard.community."
    found = await async_get_translations(hass, language, "dashboard", [DOMAIN])
    return {key.removeprefix(prefix): text for key, text in found.items() if key.startswith(prefix)}


def _sensor(
    hass: HomeAssistant,
    entry: IoeCommunityConfigEntry,
    key: str,
    platform: Platform = Platform.SENSOR,
    *,
    membership: bool = True,
) -> str | None:
    """Return the entity id of the membership's entity ``key`` (or the home's, if not)."""
    community = entry.data[CONF_COMMUNITY]["community"]
    unique_id = (
        f"{entry.entry_id}_{community}_{key}"
        if membership
        else entity_unique_id(entry.entry_id, key)
    )
    return er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)


def _section(texts: dict[str, str], name: str, shown: list[tuple[str, str]]) -> dict[str, Any]:
    """Return a section: its figures by short name, then a line per figure saying what it is.

    ``shown`` pairs each figure's text key with its entity.
    """
    figures = [{"entity": entity, "name": texts[f"{key}_name"]} for key, entity in shown]
    lines = "\n".join(f"- **{texts[f'{key}_name']}**: {texts[f'{key}_line']}" for key, _ in shown)
    return {
        "type": "vertical-stack",
        "cards": [
            {"type": "entities", "title": texts[f"{name}_title"], "entities": figures},
            {"type": "markdown", "content": lines},
        ],
    }


def _control(hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> list[tuple[str, str]]:
    """Return the control's switch, and each controlled device's mode and decision."""
    if (control := entry.runtime_data.control) is None:
        return []
    # The home's device holds the switch, and the charger of another integration's entities.
    owners = (
        (entry.entry_id, _CONTROL_SWITCH),
        (control.battery_owner, _CONTROL_BATTERY),
        (control.charger_owner, _CONTROL_CHARGER),
    )
    registry = er.async_get(hass)
    return [
        (key, entity)
        for owner, figures in owners
        if owner is not None
        for platform, key in figures
        if (entity := registry.async_get_entity_id(platform, DOMAIN, entity_unique_id(owner, key)))
    ]


def _card(
    hass: HomeAssistant, entry: IoeCommunityConfigEntry, texts: dict[str, str]
) -> dict[str, Any]:
    """Return the household card for the home's membership device, with a line on reading it."""
    card: dict[str, Any] = {"type": COMMUNITY_CARD, "title": texts["title"]}
    coefficient = _sensor(hass, entry, "coefficient_now")
    if coefficient is not None and (found := er.async_get(hass).async_get(coefficient)):
        card["homes"] = [found.device_id]
    return {
        "type": "vertical-stack",
        "cards": [card, {"type": "markdown", "content": texts["card_note"]}],
    }


async def async_build(
    hass: HomeAssistant, entry: IoeCommunityConfigEntry, language: str
) -> tuple[str, dict[str, Any]]:
    """Return the dashboard's title and cards for a joined home, in ``language``."""
    texts = await _texts(hass, language)
    chart = [entity for key in _CHART if (entity := _sensor(hass, entry, key))]
    more = [
        (key, entity)
        for platform, key, membership in _MORE
        if (entity := _sensor(hass, entry, key, platform, membership=membership))
    ]
    cards: list[dict[str, Any]] = [
        {"type": "markdown", "content": texts["intro"].format(home=entry.title)},
        _card(hass, entry, texts),
        _section(texts, "more", more),
        {
            "type": "statistics-graph",
            "title": texts["chart_title"],
            "entities": chart,
            "stat_types": ["change"],
            "period": "day",
            "days_to_show": 30,
            "chart_type": "bar",
        },
        {"type": "markdown", "content": texts["chart_note"]},
    ]
    if control := _control(hass, entry):
        cards.insert(2, _section(texts, "control", control))
    title = texts["title"]
    return title, {"title": title, "views": [{"title": title, "path": "hoy", "cards": cards}]}


async def async_create(
    hass: HomeAssistant, entry: IoeCommunityConfigEntry, language: str
) -> dict[str, str]:
    """Write the home's dashboard (replacing an earlier one); return what the options keep."""
    path = url_path(entry)
    title, config = await async_build(hass, entry, language)
    # Through the dashboard Lovelace serves, when there is one: it keeps what it read, and
    # tells the open frontends to load the new cards.
    shown = hass.data[LOVELACE_DATA].dashboards.get(path) if available(hass) else None
    storage = shown if isinstance(shown, LovelaceStorage) else _storage(hass, entry, path, title)
    await storage.async_save(config)
    LOGGER.info("Created the dashboard %s of %s (%s)", path, entry.title, language)
    return {"url_path": path, "title": title, CONF_LANGUAGE: language}


@callback
def async_show(hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> None:
    """Put the home's dashboard in the sidebar (at every start: it is the integration's)."""
    if not available(hass) or (kept := entry.options.get(CONF_DASHBOARD)) is None:
        return
    path, title = kept["url_path"], kept["title"]
    hass.data[LOVELACE_DATA].dashboards[path] = _storage(hass, entry, path, title)
    frontend.async_register_built_in_panel(
        hass,
        "lovelace",
        sidebar_title=title,
        sidebar_icon=ICON,
        frontend_url_path=path,
        config={"mode": "storage"},
        update=True,
    )


@callback
def async_hide(hass: HomeAssistant, path: str) -> None:
    """Take the dashboard out of the sidebar (the home unloads; its cards stay stored)."""
    if available(hass):
        hass.data[LOVELACE_DATA].dashboards.pop(path, None)
    frontend.async_remove_panel(hass, path, warn_if_unknown=False)


async def async_delete(
    hass: HomeAssistant, entry: IoeCommunityConfigEntry, kept: Mapping[str, str] | None
) -> None:
    """Remove the home's dashboard (``kept`` in its options), if it has one, and its cards."""
    if kept is None:
        return
    async_hide(hass, kept["url_path"])
    await _storage(hass, entry, kept["url_path"], kept["title"]).async_delete()
    LOGGER.info("Removed the dashboard %s of %s", kept["url_path"], entry.title)
