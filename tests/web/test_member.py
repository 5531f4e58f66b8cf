"""A member's figures on their page: consumption against their share, completeness, Datadis.

A day of readings ten days ago (T0): m-0001 draws 0.4 kWh an hour, m-0002 1 kWh, the plant at
m-0001's makes 2 kWh an hour from 08:00 to 18:00 UTC, shared equally by the three members.
The distributor's export gives m-0001 0.42 kWh an hour of that local day: 5 % more than its
meter, a flagged month.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ioe_dev.synthetic import cups as make_cups
from tests.community import T0, batch, call, distributor_day, plant_batch
from tests.web.conftest import ControlCentre, OpenVisit, Visit, violations_text

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

MADRID = ZoneInfo("Europe/Madrid")
DAY = T0.astimezone(MADRID).date()
TEXTS = {
    "en": {
        "period.month": "Month",
        "year": "Year",
        "previous": "Previous",
        "consumed": "9.62 kWh",
        "month": "10.02 kWh",
        "flagged": "Differs",
        "no-datadis": "Datadis is not linked for this member",
        "no-agreement": "No agreement was in force",
        "no-energy": "No consumption known in this period",
    },
    "es": {
        "period.month": "Mes",
        "year": "Año",
        "previous": "Anterior",
        "consumed": "9,62 kWh",
        "month": "10,02 kWh",
        "flagged": "Difiere",
        "no-datadis": "Datadis no está vinculado para este socio",
        "no-agreement": "No había ningún acuerdo en vigor",
        "no-energy": "No se conoce el consumo en este periodo",
    },
}


@pytest.fixture
def figures(control_centre: ControlCentre) -> ControlCentre:
    """Store the day, the plant, an equal agreement and the distributor's export of m-0001."""
    community, base = control_centre.community, control_centre.base.rstrip("/")
    admin = control_centre.token
    first = community.add_member("m-0001", 801)
    second = community.add_member("m-0002", 802)
    community.add_member("m-0003", 803, **{"--name": "Hogar sin datos"})
    answer = call(base, "PUT", "/api/v1/members/m-0001/plant", admin, {"plant_kw": 5})
    assert answer.status == 200, answer.body
    for member, token, sent in (
        ("m-0001", first.api_token, batch("m-0001", "c", count=96, value=0.1)),
        ("m-0001", first.api_token, plant_batch("m-0001")),
        ("m-0002", second.api_token, batch("m-0002", "c", count=96, value=0.25)),
    ):
        answer = call(base, "POST", "/api/v1/readings", token, sent)
        assert answer.status == 200, (member, answer.body)
    agreement = {"name": "A partes iguales", "scheme": "equal", "valid_from": str(DAY)}
    answer = call(base, "POST", "/api/v1/agreements", admin, agreement)
    assert answer.status == 201, answer.body
    export, _months = distributor_day(make_cups(801), DAY, 0.42)
    answer = call(base, "POST", "/api/v1/distributor/csv?name=day.csv", admin, export)
    assert answer.status == 200, answer.body
    return control_centre


def _card(page: Visit, title: str) -> Any:
    return page.page.locator(f"section[aria-labelledby='{title}-title']")


async def _show_day(page: Visit) -> None:
    """Open m-0001's page and choose the day of the readings."""
    await page.open("members/m-0001")
    await page.page.fill("#energy-date", DAY.isoformat())
    await _card(page, "energy").locator("figure.chart canvas").wait_for()


@pytest.mark.parametrize("language", ["en", "es"])
async def test_a_members_share_by_day_month_and_year(
    visit: OpenVisit, figures: ControlCentre, language: str
) -> None:
    texts = TEXTS[language]
    page = await visit(language)
    await _show_day(page)
    energy = _card(page, "energy")
    # The local day: 23 hours of the meter's 0.4 kWh and one of the distributor's 0.42;
    # 10 sunny hours of 2/3 kWh allocated, 0.4 of each used.
    totals = await energy.locator("dl.totals").inner_text()
    assert texts["consumed"] in totals
    summary = await energy.locator(".chart-plot").get_attribute("aria-label")
    assert texts["consumed"].removesuffix(" kWh") in str(summary)
    caption = await energy.locator("figcaption").inner_text()
    assert await page.axe() == [], violations_text(await page.axe())
    await page.screenshot(f"member-figures-desktop-{language}")

    await energy.get_by_label(texts["period.month"], exact=True).check()
    await page.page.wait_for_function(
        "caption => document.querySelector('#energy-title ~ div figcaption')?.textContent"
        " !== caption",
        arg=caption,
    )
    assert await page.page.input_value("#energy-date") == DAY.isoformat()  # the day stays
    # And the first hour of the next local day, 0.4 kWh more.
    assert texts["month"] in await energy.locator("dl.totals").inner_text()
    await page.screenshot(f"member-figures-month-desktop-{language}")
    await energy.get_by_label(texts["year"], exact=True).check()
    await page.page.wait_for_function(
        "year => document.querySelector('#energy-title ~ div figcaption')?.textContent"
        ".endsWith(`, ${year}`)",
        arg=DAY.year,
    )
    await energy.get_by_role("button", name=texts["previous"]).click()
    previous_year = f"{DAY.year - 1}-01-01"
    await page.page.wait_for_function(
        f"() => document.querySelector('#energy-date').value === '{previous_year}'"
    )
    assert texts["no-energy"] in await energy.inner_text()

    completeness = _card(page, "completeness")
    assert await completeness.locator("tbody tr").count() == 2
    assert await completeness.locator("thead th.heat-day").count() == 30
    reconciliation = _card(page, "reconciliation")
    assert texts["flagged"] in await reconciliation.locator("tbody").inner_text()
    assert page.errors == []


@pytest.mark.parametrize(("language", "scheme"), [("en", "light"), ("es", "dark")])
async def test_a_members_figures_at_phone_width(
    visit: OpenVisit, figures: ControlCentre, language: str, scheme: str
) -> None:
    texts = TEXTS[language]
    page = await visit(language, "phone", scheme)
    await _show_day(page)
    assert await page.horizontal_overflow() == 0
    assert await page.axe() == [], violations_text(await page.axe())
    await page.screenshot(f"member-figures-phone-{language}-{scheme}")

    # A member with nothing: no Datadis, no consumption; and a day before any agreement.
    await page.open("members/m-0003")
    await page.page.get_by_role("heading", name="Hogar sin datos").wait_for()
    await page.page.fill("#energy-date", (DAY - timedelta(days=1)).isoformat())
    energy = _card(page, "energy")
    await energy.get_by_text(texts["no-agreement"]).wait_for()
    assert texts["no-energy"] in await energy.inner_text()
    assert texts["no-datadis"] in await _card(page, "reconciliation").inner_text()
    assert await page.horizontal_overflow() == 0
    assert await page.axe() == [], violations_text(await page.axe())
    assert page.errors == []
