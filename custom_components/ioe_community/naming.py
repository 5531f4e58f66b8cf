"""How the home's devices are named: by model (or maker) and role, never by address."""

from __future__ import annotations

from collections.abc import Collection
import re
from typing import TYPE_CHECKING, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.translation import async_get_translations

from .const import (
    CONF_CHANNEL,
    CONF_FORMAT,
    CONF_ROLE,
    CONF_TOPIC,
    DOMAIN,
    SUBENTRY_MODBUS,
    SUBENTRY_MQTT,
)

if TYPE_CHECKING:
    from . import IoeCommunityConfigEntry

# A Modbus device's title until 0.2: "Eastron SDM630 (127.0.0.1:1502 #1)".
_OLD_MODBUS_TITLE: Final = re.compile(r"^(?P<name>.+) \([^()]+ #\d+\)$")


async def async_device_title(
    hass: HomeAssistant, name: str, role: str, taken: Collection[str]
) -> str:
    """Return a device's title: its name and its role in Home Assistant's language.

    A number follows when the home has another device of that title already.
    """
    texts = await async_get_translations(hass, hass.config.language, "selector", [DOMAIN])
    title = f"{name} · {texts.get(f'component.{DOMAIN}.selector.role_title.options.{role}', role)}"
    found, number = title, 2
    while found in taken:
        found, number = f"{title} ({number})", number + 1
    return found


async def async_rename_devices(
    hass: HomeAssistant, entry: IoeCommunityConfigEntry, makers: dict[str, str]
) -> None:
    """Give devices titled by address (before 0.2) their name and role instead.

    ``makers`` names each MQTT meter format's maker. A title the household changed is kept.
    """
    taken = {subentry.title for subentry in entry.subentries.values()}
    for subentry in list(entry.subentries.values()):
        data = subentry.data
        name: str | None = None
        if subentry.subentry_type == SUBENTRY_MODBUS:
            if found := _OLD_MODBUS_TITLE.match(subentry.title):
                name = found["name"]
        elif subentry.subentry_type == SUBENTRY_MQTT:
            maker = makers.get(str(data.get(CONF_FORMAT)), "")
            old = f"{maker} {data.get(CONF_TOPIC)}"
            if subentry.title == old:
                name = maker
            elif subentry.title.startswith(f"{old} (") and CONF_CHANNEL in data:
                name = f"{maker} ({int(data[CONF_CHANNEL]) + 1})"
        if name is None or CONF_ROLE not in data:
            continue
        taken.discard(subentry.title)
        title = await async_device_title(hass, name, str(data[CONF_ROLE]), taken)
        taken.add(title)
        hass.config_entries.async_update_subentry(entry, subentry, title=title)
