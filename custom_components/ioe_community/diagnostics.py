"""Diagnostics download of a home entry, with personal data redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant

from . import IoeCommunityConfigEntry
from .const import CONF_CUPS

# A CUPS identifies a household's supply point: personal data under the GDPR.
TO_REDACT = {CONF_CUPS, CONF_NAME, "title", "unique_id"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: IoeCommunityConfigEntry
) -> dict[str, Any]:
    """Return the entry and its run-time state, redacted."""
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "home": {"device_id": entry.runtime_data.device_id},
    }
