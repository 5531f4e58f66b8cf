"""Browser tabs for the tests in a real Chromium, recording what goes wrong in them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Browser, Page, ViewportSize

# The browser's language for each of the suite's languages (Catalan: read as Spanish).
LOCALES = {"en": "en-GB", "es": "es-ES", "ca": "ca-ES"}


@dataclass
class Tab:
    """A browser tab, with its console errors and uncaught exceptions."""

    page: Page
    errors: list[str] = field(default_factory=list)

    async def horizontal_overflow(self) -> int:
        """Return how far the page scrolls sideways (0: it does not)."""
        return int(
            await self.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
        )


async def open_tab(
    browser: Browser,
    errors: list[str],
    viewports: Mapping[str, ViewportSize],
    *,
    language: str = "en",
    width: str = "desktop",
    scheme: str = "light",
    init_script: str | None = None,
    **options: Any,
) -> Page:
    """Open a tab in a new browser context; its errors go to ``errors``.

    The context reads ``language`` (en, es), has the viewport named ``width`` in ``viewports``
    and the colour ``scheme`` (light, dark), and takes Playwright's other context ``options``.
    ``init_script`` runs in every page of the context before the page's own scripts.
    """
    context = await browser.new_context(
        viewport=viewports[width],
        locale=LOCALES[language],
        color_scheme=scheme,  # type: ignore[arg-type]
        **options,
    )
    if init_script is not None:
        await context.add_init_script(init_script)
    page = await context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page
