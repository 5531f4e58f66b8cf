"""Signing in with a password, and what a viewer sees: figures, and no way to change them."""

from __future__ import annotations

from playwright.async_api import Browser
import pytest

from tests.community import Community, StartAggregator
from tests.web.conftest import open_page, violations_text

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

PASSWORD = "una frase larga y secreta"


@pytest.mark.parametrize("language", ["en", "es"])
async def test_a_viewer_signs_in_reads_and_changes_nothing(
    browser: Browser,
    community: Community,
    start_aggregator: StartAggregator,
    language: str,
) -> None:
    _service, port = start_aggregator(**community.options)
    community.add_member("m-0001")
    community.cli("users", "add", "tesorera", "--name", "Ana", "--role", "viewer",
                  "--password-stdin", input_text=PASSWORD)  # fmt: skip
    ana = await open_page(browser, f"http://127.0.0.1:{port}/", language=language)
    await ana.page.goto(ana.base)
    await ana.page.fill("#username", "tesorera")
    await ana.page.fill("#password", "not her password")
    await ana.page.locator("form.sign-in button[type=submit]").click()
    await ana.page.locator("form.sign-in [role=alert]").wait_for()
    assert await ana.axe() == [], violations_text(await ana.axe())
    await ana.screenshot(f"sign-in-wrong-desktop-{language}")
    await ana.page.fill("#password", PASSWORD)
    await ana.page.locator("form.sign-in button[type=submit]").click()
    await ana.page.locator("#navigation a").first.wait_for()

    # Figures, but no change button, no join code, no Settings.
    await ana.open("members")
    assert await ana.page.locator("main button.primary").count() == 0
    assert await ana.page.locator('#navigation a[data-section="settings"]').count() == 0
    await ana.open("members/m-0001")
    assert await ana.page.locator("main button.primary, main button.danger").count() == 0
    assert await ana.page.locator("main button.secondary").count() == 0
    # And the API refuses the change even when the page is bypassed.
    refused = await ana.page.evaluate(
        """async () => {
            const session = await (await fetch("api/v1/session")).json();
            const answer = await fetch("api/v1/members/m-0001/revoke", {
                method: "POST", headers: {"X-CSRF-Token": session.csrf}});
            return [answer.status, (await answer.json()).error];
        }"""
    )
    assert refused == [403, "forbidden"]
    await ana.screenshot(f"member-viewer-desktop-{language}")

    await ana.page.locator("#user button").click()
    await ana.page.locator("#username").wait_for()
    answer = await ana.page.evaluate("fetch('api/v1/members').then(r => r.status)")
    assert answer == 401
    # The browser reports each refused request (the sign-in's 401s, the bypass's 403) itself;
    # nothing else went wrong.
    assert [e for e in ana.errors if not e.startswith("Failed to load resource")] == []
    assert ana.outside() == []
