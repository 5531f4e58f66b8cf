"""The Data page: the completeness heat-map, a distributor's file with a bad line, the export."""

from __future__ import annotations

import pytest

from tests.community import T0, batch, call
from tests.conftest import REPO
from tests.web.conftest import ControlCentre, OpenVisit, violations_text

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

BROKEN = REPO / "tests" / "aggregator" / "distributor" / "fixtures" / "broken.csv"
TEXTS = {
    "en": {
        "errors": "Lines not read",
        "stored": "Stored",
        "off": "Not configured",
        # broken.csv's line 6 (code not_a_calendar_day) and line 4 (not_a_number).
        "calendar": "“31/06/2025” is not a day of the calendar",
        "number": "“abc” is not a number",
    },
    "es": {
        "errors": "Líneas no leídas",
        "stored": "Guardado",
        "off": "Sin configurar",
        "calendar": "«31/06/2025» no es un día del calendario",
        "number": "«abc» no es un número",
    },
}


def _member_sent_two_hours(control_centre: ControlCentre) -> None:
    """Register m-0001 and have it send eight quarter hours of 0.25 kWh from its own meter."""
    token = control_centre.community.add_member("m-0001", 1).api_token
    sent = call(control_centre.base.rstrip("/"), "POST", "/api/v1/readings", token,
                batch("m-0001", "b-1", count=8))  # fmt: skip
    assert sent.status == 200, sent.body


@pytest.mark.parametrize(
    ("language", "width", "scheme"), [("en", "desktop", "light"), ("es", "phone", "dark")]
)
async def test_an_operator_uploads_a_file_with_a_bad_line_and_sees_why(
    visit: OpenVisit, control_centre: ControlCentre, language: str, width: str, scheme: str
) -> None:
    _member_sent_two_hours(control_centre)
    texts = TEXTS[language]
    page = await visit(language, width, scheme)
    await page.open("data")
    # One row of the heat-map per member, one cell per day.
    assert await page.page.locator(".heat-map tbody tr").count() == 1
    assert (
        texts["off"]
        in await page.page.locator("section[aria-labelledby=datadis-title] p").first.inner_text()
    )

    await page.page.set_input_files("#upload-file", BROKEN)
    errors = page.page.get_by_role("region", name=texts["errors"], exact=False)
    await errors.wait_for()
    lines = await errors.locator("tbody tr").all_inner_texts()
    assert lines, "the bad lines are listed"
    assert all(line.split()[0].isdigit() for line in lines)  # each with its line number
    # Each reason in the reader's language, from its code and parameters.
    reasons = {line.split()[0]: line.split(None, 1)[1].strip() for line in lines}
    assert reasons["6"] == texts["calendar"]
    assert reasons["4"] == texts["number"]
    assert await page.page.get_by_role("region", name=texts["stored"]).count() == 1
    assert await page.axe() == [], violations_text(await page.axe())
    assert await page.horizontal_overflow() == 0
    await page.screenshot(f"data-upload-{width}-{language}-{scheme}")

    href = await page.page.locator("#export-title ~ div a.button").get_attribute("href")
    assert href is not None
    assert href.startswith("api/v1/members/m-0001/export.csv?start=")
    assert page.errors == []
    assert page.outside() == []


BILLING = {
    "en": {"title": "Billing", "measured": "own meter", "consumption": "Consumption"},
    "es": {"title": "Facturación", "measured": "contador propio", "consumption": "Consumo"},
}


@pytest.mark.parametrize(
    ("language", "width", "scheme"), [("en", "desktop", "light"), ("es", "phone", "dark")]
)
async def test_the_billing_month_shown_and_downloaded(
    visit: OpenVisit, control_centre: ControlCentre, language: str, width: str, scheme: str
) -> None:
    _member_sent_two_hours(control_centre)
    texts = BILLING[language]
    page = await visit(language, width, scheme)
    await page.open("data")
    card = page.page.locator("section[aria-labelledby=billing-title]")
    assert await card.locator("h2").inner_text() == texts["title"]

    month = f"{T0:%Y-%m}"
    await page.page.locator("#billing-month").fill(month)
    await page.page.locator("#billing-month").dispatch_event("change")
    row = card.locator("tbody tr", has_text="m-0001")
    await row.wait_for()
    # Eight quarter hours of 0.25 kWh: 2 kWh, all from the grid (no plant, no agreement).
    cells = await row.locator("td").all_inner_texts()
    assert cells[0].endswith("2 kWh"), cells
    assert cells[1].endswith("2 kWh"), cells
    assert cells[5].endswith(texts["measured"]), cells
    assert await page.axe() == [], violations_text(await page.axe())
    assert await page.horizontal_overflow() == 0
    await card.scroll_into_view_if_needed()
    await page.screenshot(f"data-billing-{width}-{language}-{scheme}")

    links = card.locator("a.button")
    href = await links.first.get_attribute("href")
    assert href == f"api/v1/billing/{month}/export.csv?lang=es"
    await page.page.locator("#billing-language").select_option("en")
    assert await links.first.get_attribute("href") == f"api/v1/billing/{month}/export.csv?lang=en"
    assert await links.nth(1).get_attribute("href") == f"api/v1/billing/{month}/export.json"
    # The browser's session downloads it: a spreadsheet's CSV, headed in English now.
    answer = await page.page.request.get(
        control_centre.base + f"api/v1/billing/{month}/export.csv?lang=en"
    )
    assert answer.ok
    body = await answer.body()
    assert body.startswith(b"\xef\xbb\xbfmonth;member;name;cups;period;")
    assert page.errors == []
    assert page.outside() == []
