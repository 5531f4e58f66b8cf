"""The diagnostics download: useful to a maintainer, free of the household's personal data."""

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

from .conftest import CUPS, set_up_home


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
