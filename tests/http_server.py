"""Home Assistant's HTTP server really listening, for the tests that reach it from outside.

The test plugin keeps Home Assistant's HTTP server from binding; a test module that overrides
its ``disable_http_server`` fixture (with one that does nothing) lets it listen, on the port
given here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from homeassistant.components.http.config import HTTP_STORAGE_SCHEMA

from ioe_dev.processes import free_port


def listen_on_loopback(hass_storage: dict[str, Any]) -> str:
    """Store the HTTP settings for a free loopback port; return the server's base URL.

    Stored as Home Assistant keeps a confirmed HTTP configuration: one from YAML would be a
    trial, reverted (and the frontend opened on a dialog asking to keep it) five minutes on.
    """
    port = free_port()
    stable = HTTP_STORAGE_SCHEMA({"server_host": ["127.0.0.1"], "server_port": port})
    stable |= {"created_at": datetime.now(UTC).isoformat(), "error": None, "error_message": None}
    hass_storage["http"] = {
        "version": 2,
        "minor_version": 2,
        "key": "http",
        "data": {"stable": stable, "pending": None, "yaml_migration_done": True},
    }
    return f"http://127.0.0.1:{port}"
