"""The shell: it loads clean, in English and Spanish, at both widths, light and dark."""

from __future__ import annotations

import asyncio

from playwright.async_api import Route
import pytest

from tests.web.conftest import ControlCentre, OpenVisit, violations_text

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

NAV = {
    "en": ["Overview", "Members", "Data", "Agreements", "Control", "Settings"],
    "es": ["Resumen", "Socios", "Datos", "Acuerdos", "Control", "Ajustes"],
}
EMPTY = {"en": "No members yet", "es": "Todavía no hay socios"}


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("width", ["desktop", "phone"])
async def test_the_shell_loads_clean_in_each_language(
    visit: OpenVisit, language: str, width: str
) -> None:
    for scheme in ("light", "dark"):
        page = await visit(language, width, scheme)
        await page.open()
        assert await page.page.get_attribute("html", "lang") == language
        assert await page.page.title() == "Comunidad Los Molinos · IoE Community"
        assert await page.page.locator("#navigation a").all_inner_texts() == NAV[language]
        # A new community: the overview says what to do first, with the button that does it.
        assert EMPTY[language] in await page.page.locator("main").inner_text()
        assert await page.axe() == [], violations_text(await page.axe())
        assert await page.horizontal_overflow() == 0
        await page.screenshot(f"overview-empty-{width}-{language}-{scheme}")
        await page.open("members")
        assert EMPTY[language] in await page.page.locator("main").inner_text()
        assert await page.axe() == [], violations_text(await page.axe())
        await page.screenshot(f"members-empty-{width}-{language}-{scheme}")
        assert page.errors == []
        assert page.outside() == []
        await page.page.context.close()


async def test_keyboard_users_skip_to_the_content(visit: OpenVisit) -> None:
    page = await visit()
    await page.open()
    await page.page.keyboard.press("Tab")
    skip = page.page.locator(".skip-link")
    assert await skip.evaluate("link => link === document.activeElement")
    assert await skip.is_visible()
    await page.page.keyboard.press("Enter")
    assert await page.page.evaluate("document.activeElement.id") == "main"
    # The page stays: the link is no route of its own.
    assert page.page.url.endswith("#/") or "#" not in page.page.url, page.page.url
    await page.page.wait_for_load_state("networkidle")
    assert await page.page.evaluate("document.activeElement.id") == "main"
    assert "There is no such page." not in await page.page.locator("main").inner_text()


async def test_an_unknown_page_says_so(visit: OpenVisit) -> None:
    page = await visit()
    await page.open("nowhere")
    assert "There is no such page." in await page.page.locator("main").inner_text()


async def test_a_page_still_loading_does_not_draw_over_the_next(
    visit: OpenVisit, control_centre: ControlCentre
) -> None:
    # The overview's figures are slow to come (a busy database); the manager goes on to the
    # members meanwhile. The overview, drawn at last, must not replace the members' page.
    control_centre.community.add_member("m-0001")
    page = await visit()
    asked, answered = asyncio.Event(), asyncio.Event()

    async def slowly(route: Route) -> None:
        asked.set()
        await asyncio.sleep(3)
        await route.continue_()
        answered.set()

    await page.page.route("**/api/v1/community/overview", slowly)
    await page.page.goto(page.base)
    await asyncio.wait_for(asked.wait(), 30)  # the overview asks for its figures, and waits
    await page.open("members")
    members = await page.page.locator("main h1").all_inner_texts()
    await asyncio.wait_for(answered.wait(), 30)
    await page.page.wait_for_load_state("networkidle")

    assert await page.page.locator("main h1").all_inner_texts() == members == ["Members"]
    assert await page.page.locator("main").count() == 1
    assert await page.page.locator("#navigation a[aria-current=page]").inner_text() == "Members"
    assert page.errors == []
