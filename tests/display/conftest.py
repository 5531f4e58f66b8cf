"""The public display against a real aggregator (and, for its page, a real Chromium)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ioe_dev.processes import Service
from tests.community import Community, StartAggregator, community, start_aggregator, start_service  # noqa: F401 - fixtures
from tests.display.data import IMPORT_PRICE, REFRESH_S
from tests.web.conftest import ControlCentre


@dataclass(frozen=True)
class DisplayCentre(ControlCentre):
    """The running service (its log too) and an admin token."""

    service: Service


@pytest.fixture
def display_centre(
    community: Community,  # noqa: F811 - the fixture imported above
    start_aggregator: StartAggregator,  # noqa: F811
) -> DisplayCentre:
    """Start the aggregator with a name, prices and a quick refresh; return it with an admin."""
    community.options.update(
        community_name="Comunidad Los Molinos",
        import_price_eur_kwh=IMPORT_PRICE,
        surplus_price_eur_kwh=0.05,
        display_refresh_s=REFRESH_S,
    )
    token = community.token("admin")
    service, port = start_service(community, start_aggregator)
    return DisplayCentre(community, f"http://127.0.0.1:{port}/", token, service)
