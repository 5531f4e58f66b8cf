"""The control centre in a real Chromium against a real aggregator and Mosquitto."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, ViewportSize
import pytest

from tests.browser import Tab, open_tab
from tests.community import (  # noqa: F401 - fixtures
    Community,
    StartAggregator,
    community,
    ingress_proxy,
    start_aggregator,
    start_service,
)

VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 900},
    "phone": {"width": 390, "height": 844},
}
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


@dataclass(frozen=True)
class ControlCentre:
    """The running service and an admin token to open its control centre with."""

    community: Community
    base: str
    token: str


@pytest.fixture
def control_centre(
    community: Community,  # noqa: F811 - the fixture imported above
    start_aggregator: StartAggregator,  # noqa: F811
) -> ControlCentre:
    """Start the community's aggregator with a name; return it with an admin token."""
    community.options["community_name"] = "Comunidad Los Molinos"
    token = community.token("admin")
    _service, port = start_service(community, start_aggregator)
    return ControlCentre(community, f"http://127.0.0.1:{port}/", token)


@dataclass(kw_only=True)
class Visit(Tab):
    """A page of the control centre, with what went wrong and where it went."""

    base: str
    requests: list[str] = field(default_factory=list)

    async def open(self, route: str = "") -> None:
        """Load the control centre at ``#/route`` and wait for its page to be drawn.

        From another page of the control centre only the hash changes: the page before stays
        until the hash change is handled, which marks the route's section current first.
        """
        await self.page.goto(f"{self.base}#/{route}" if route else self.base)
        await self.page.wait_for_function(
            """section => {
                const link = document.querySelector(`#navigation a[data-section="${section}"]`);
                return !link || link.getAttribute("aria-current") === "page";
            }""",
            arg=route.split("/", maxsplit=1)[0] or "overview",
        )
        await self.page.wait_for_selector("main h1")

    def outside(self) -> list[str]:
        """Return the requests that left the aggregator."""
        return [url for url in self.requests if not url.startswith((self.base, "data:"))]

    async def axe(self) -> list[dict[str, Any]]:
        """Return axe-core's serious and critical violations on the page as it is now."""
        if not await self.page.evaluate("Boolean(window.axe)"):
            # Served (to this browser only) from the aggregator's origin, as the page's CSP
            # allows scripts from nowhere else: axe-core is never part of the add-on.
            url = f"{self.base}test-only/axe.min.js"
            await self.page.route(url, lambda route: route.fulfill(path=AXE))
            await self.page.add_script_tag(url=url)
        result = await self.page.evaluate("axe.run(document).then(r => r.violations)")
        return [v for v in result if v["impact"] in ("serious", "critical")]

    async def screenshot(self, name: str) -> None:
        """Keep a screenshot when IOE_SCREENSHOTS names a folder."""
        if folder := os.environ.get("IOE_SCREENSHOTS"):
            await asyncio.to_thread(Path(folder).mkdir, parents=True, exist_ok=True)
            await self.page.screenshot(path=Path(folder) / f"{name}.png", full_page=True)


type OpenVisit = Callable[..., Awaitable[Visit]]


async def open_page(
    browser: Browser,
    base: str,
    *,
    scale: float = 1,
    headers: dict[str, str] | None = None,
    **how: str,
) -> Visit:
    """Open a browser tab on the control centre at ``base``, recording what goes wrong.

    ``how``: the tab's language, width and colour scheme, as `open_tab` takes them.
    """
    errors: list[str] = []
    page = await open_tab(
        browser, errors, VIEWPORTS, device_scale_factor=scale, extra_http_headers=headers, **how
    )
    made = Visit(page, errors, base=base)
    page.on("request", lambda request: made.requests.append(request.url))
    return made


@pytest.fixture
async def visit(browser: Browser, control_centre: ControlCentre) -> OpenVisit:
    """Open the control centre as the admin token, in a language, width and colour scheme."""

    async def open_visit(
        language: str = "en",
        width: str = "desktop",
        scheme: str = "light",
        scale: float = 1,
    ) -> Visit:
        return await open_page(
            browser,
            control_centre.base,
            language=language,
            width=width,
            scheme=scheme,
            scale=scale,
            headers={"Authorization": f"Bearer {control_centre.token}"},
        )

    return open_visit


def violations_text(violations: list[dict[str, Any]]) -> str:
    """Say which rules failed where, for an assertion's message."""
    return json.dumps(
        [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations], indent=1
    )
