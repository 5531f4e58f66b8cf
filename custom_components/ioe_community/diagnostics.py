"""Diagnostics download of a home entry, with personal data redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST, CONF_NAME
from homeassistant.core import HomeAssistant

from . import IoeCommunityConfigEntry
from .const import (
    CONF_CUPS,
    CONF_LINK_CLIENT_SUFFIX,
    CONF_SERIAL_NUMBER,
    CONF_SERIAL_PORT,
    CONF_TOPIC,
)

# A CUPS identifies a household's supply point, and addresses and serial numbers identify its
# devices and network (a Shelly's MQTT topic holds its MAC address): personal data under the GDPR.
# Of the community the home joined (the join code's fields and the link's client id), the
# secrets go too, and the addresses and CA certificate that name the community's servers: a
# download must be safe to attach to a public bug report.
TO_REDACT = {
    CONF_CUPS,
    CONF_NAME,
    CONF_HOST,
    CONF_SERIAL_PORT,
    CONF_TOPIC,
    "subscriptions",
    "title",
    "unique_id",
    "serial",
    CONF_SERIAL_NUMBER,
    "mqtt_password",
    "api_token",
    CONF_LINK_CLIENT_SUFFIX,
    "broker_host",
    "api_url",
    "ca_certificate",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: IoeCommunityConfigEntry
) -> dict[str, Any]:
    """Return the entry, its devices and how reading them goes, redacted."""
    devices = {
        subentry_id: {
            "last_update_success": coordinator.last_update_success,
            **coordinator.diagnostics(),
            "values": coordinator.data,
        }
        for subentry_id, coordinator in entry.runtime_data.devices.items()
    }
    model = entry.runtime_data.energy_model
    return async_redact_data(
        {
            "entry": entry.as_dict(),
            "home": {"device_id": entry.runtime_data.device_id},
            "energy_model": {
                quantity: [{"entity_id": t.source, "sign": t.sign} for t in terms]
                for quantity, terms in (model.terms.items() if model else ())
            },
            "devices": devices,
            "control": control.diagnostics() if (control := entry.runtime_data.control) else None,
        },
        TO_REDACT,
    )
