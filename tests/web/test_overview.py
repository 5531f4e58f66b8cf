"""The overview of a community with members: figures now, today and this month, attention."""

from __future__ import annotations

import pytest

from tests.community import batch, call
from tests.web.conftest import ControlCentre, OpenVisit, violations_text

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

HEADINGS = {
    "en": ["Today · This month", "Members", "Datadis", "Needs attention"],
    "es": ["Hoy · Este mes", "Socios", "Datadis", "Requiere atención"],
}


@pytest.mark.parametrize(
    ("language", "width", "scheme"), [("en", "desktop", "light"), ("es", "phone", "dark")]
)
async def test_the_overview_shows_the_community(
    visit: OpenVisit, control_centre: ControlCentre, language: str, width: str, scheme: str
) -> None:
    community = control_centre.community
    token = community.add_member("m-0001").api_token
    community.add_member("m-0002")
    sent = call(
        control_centre.base.rstrip("/"),
        "POST",
        "/api/v1/readings",
        token,
        batch("m-0001", "b-1", count=8),
    )
    assert sent.status == 200, sent.body

    page = await visit(language, width, scheme)
    await page.open()
    headings = await page.page.locator("main h2").all_inner_texts()
    assert all(heading in headings for heading in HEADINGS[language]), headings
    # Two members, neither online (no home connected to the broker).
    assert "0" in await page.page.locator("#members-title + p").inner_text()
    assert await page.axe() == [], violations_text(await page.axe())
    assert await page.horizontal_overflow() == 0
    await page.screenshot(f"overview-{width}-{language}-{scheme}")
    assert page.errors == []
    assert page.outside() == []
