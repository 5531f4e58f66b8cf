"""The diagnostics download: useful to a maintainer, free of the household's personal data.

A joined home's download carries none of its community secrets either (its MQTT password,
API token and client id, its community's addresses): it is safe to attach to a public bug
report.
"""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.ioe_community.const import CONF_LINK_CLIENT_SUFFIX
from tests.community import Community

from .conftest import CUPS, set_up_home
from .joined_home import join


async def test_diagnostics_are_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    home_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    await set_up_home(hass, home_entry)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, home_entry)

    assert CUPS not in json.dumps(diagnostics)
    assert diagnostics == snapshot(exclude=props("created_at", "modified_at", "device_id"))


async def test_a_joined_homes_diagnostics_hold_no_secret(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    allow_local_sockets: None,
    community: Community,
    snapshot: SnapshotAssertion,
) -> None:
    code = community.add_member("m-0001", cups=CUPS)
    entry = await join(hass, code)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    text = json.dumps(diagnostics)
    assert code.api_url is not None
    for secret in (
        code.mqtt_password,
        code.api_token,
        entry.data[CONF_LINK_CLIENT_SUFFIX],
        code.api_url,
        CUPS,
    ):
        assert secret not in text
    # The entry's id and the community's free port change with every run.
    assert diagnostics == snapshot(
        exclude=props("created_at", "modified_at", "device_id", "entry_id", "broker_port")
    )
    assert await hass.config_entries.async_unload(entry.entry_id)
