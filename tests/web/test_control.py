"""The Control page: the community signal now and its history, the homes' local control."""

from __future__ import annotations

import json
import time

import pytest

from tests.community import PREFIX, call, live_batch
from tests.web.conftest import ControlCentre, OpenVisit, violations_text

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

TEXTS = {
    "en": {"kind": "Surplus", "mode": "Use my share", "charger": "On surplus", "empty": "No home"},
    "es": {
        "kind": "Excedente",
        "mode": "Usar mi reparto",
        "charger": "Con excedente",
        "empty": "Ningún hogar",
    },
}
CONTROL = {
    "devices": [
        {"id": "battery", "kind": "battery", "mode": "use_my_share"},
        {"id": "wallbox", "kind": "charger", "mode": "surplus", "since": "2026-11-24T09:00:00Z"},
    ]
}


def _wait_for_control(centre: ControlCentre, check: object) -> dict[str, object]:
    """Return the control API's answer once ``check`` holds for it."""
    deadline = time.monotonic() + 20
    while True:
        body = call(centre.base.rstrip("/"), "GET", "/api/v1/control", centre.token).json()
        if check(body) or time.monotonic() > deadline:  # type: ignore[operator]
            return body
        time.sleep(0.2)


def _surplus_with_local_control(centre: ControlCentre) -> None:
    """Three members: one home runs local control, one hosts the plant; the plant has surplus."""
    community, base = centre.community, centre.base.rstrip("/")
    code = community.add_member("m-0001")
    plant = community.add_member("m-0002", **{"--plant-kw": "10"})
    community.add_member("m-0003")
    home = community.connect("m-0001", code.mqtt_password)
    status = {"schema": "ioe.status.v1", "state": "online", "version": "1.0", "control": CONTROL}
    home.publish(f"{PREFIX}/m/m-0001/status", json.dumps(status), retain=True)
    # The signal as the service started (normal) first, then the plant's surplus.
    _wait_for_control(centre, lambda body: body["history"])
    sent = live_batch("m-0002", "live", grid_w=-200, plant_w=6000)
    assert call(base, "POST", "/api/v1/readings", plant.api_token, sent).status == 200
    time.sleep(1)  # the history keeps whole seconds
    assert call(base, "POST", "/api/v1/results/publish", centre.token).status == 200
    body = _wait_for_control(centre, lambda body: body["members"][0]["control"] is not None)
    assert body["signal"]["kind"] == "surplus"


@pytest.mark.parametrize(
    ("language", "width", "scheme"), [("en", "desktop", "light"), ("es", "phone", "dark")]
)
async def test_the_control_page_shows_the_signal_and_the_homes_local_control(
    visit: OpenVisit, control_centre: ControlCentre, language: str, width: str, scheme: str
) -> None:
    _surplus_with_local_control(control_centre)
    texts = TEXTS[language]

    page = await visit(language, width, scheme)
    await page.open("control")

    main = page.page.locator("main")
    assert await main.locator(".signal-kind").inner_text() == texts["kind"]
    chart = main.locator("figure.chart")
    await chart.locator("canvas").wait_for()
    # The chart's text: how long each kind held, and how often the signal changed.
    summary = await chart.locator("[role=img]").get_attribute("aria-label")
    assert summary is not None
    assert summary.endswith(": 1."), summary
    homes = main.locator("table.homes tbody tr")
    assert await homes.count() == 3
    first = await homes.nth(0).inner_text()
    assert texts["mode"] in first, first
    assert texts["charger"] in first, first
    modes = await main.locator("#modes-heading + .table-scroll tbody tr").all_inner_texts()
    assert [row.split()[-1] for row in modes] == ["1", "1"], modes
    assert await page.axe() == [], violations_text(await page.axe())
    assert await page.horizontal_overflow() == 0
    await page.screenshot(f"control-{width}-{language}-{scheme}")

    # Another period: the history is asked for again and drawn from another first day.
    week = await chart.locator("figcaption").inner_text()
    await main.locator("#history-days").select_option("30")
    await page.page.wait_for_function(
        "week => document.querySelector('figure.chart figcaption').textContent !== week", arg=week
    )
    await chart.locator("canvas").wait_for()
    assert page.errors == []
    assert page.outside() == []


@pytest.mark.parametrize(
    ("language", "width", "scheme"), [("es", "desktop", "light"), ("en", "phone", "light")]
)
async def test_without_local_control_the_page_says_how_homes_report_it(
    visit: OpenVisit, control_centre: ControlCentre, language: str, width: str, scheme: str
) -> None:
    control_centre.community.add_member("m-0001")
    _wait_for_control(control_centre, lambda body: body["history"])

    page = await visit(language, width, scheme)
    await page.open("control")

    main = page.page.locator("main")
    empty = await main.locator(".empty").inner_text()
    assert TEXTS[language]["empty"] in empty
    assert "Home Assistant" in empty
    assert await main.locator("table.homes").count() == 0
    await main.locator("figure.chart canvas").wait_for()
    assert await page.axe() == [], violations_text(await page.axe())
    assert await page.horizontal_overflow() == 0
    await page.screenshot(f"control-empty-{width}-{language}-{scheme}")
    assert page.errors == []
