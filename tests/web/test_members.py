"""The Members pages: add (the CUPS checked as typed), the join code once, rotate, revoke."""

from __future__ import annotations

import io

from PIL import Image
import pytest
import zxingcpp

from ioe_aggregator.members.join_code import decode
from ioe_dev.synthetic import cups as make_cups
from tests.community import batch, call
from tests.web.conftest import ControlCentre, OpenVisit, Visit, violations_text

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

TEXTS = {
    "en": {"add": "Add member", "check": "The check letters do not match", "revoke": "Revoke"},
    "es": {
        "add": "Añadir socio",
        "check": "Las letras de control no cuadran",
        "revoke": "Dar de baja",
    },
}


async def _qr_text(page: Visit) -> str:
    """Read the QR code on the page back as a phone's camera would."""
    png = await page.page.locator("dialog img.qr").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert found, "no QR code could be read"
    return found[0].text


async def _fill(page: Visit, **values: str) -> None:
    for name, value in values.items():
        await page.page.fill(f"#new-{name}", value)


@pytest.mark.parametrize("language", ["en", "es"])
async def test_a_member_is_added_and_their_join_code_shown_once(
    visit: OpenVisit, control_centre: ControlCentre, language: str
) -> None:
    page = await visit(language, scale=2)
    posted: list[str] = []
    page.page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    await page.open("members")
    await page.page.get_by_role("button", name=TEXTS[language]["add"]).first.click()
    dialog = page.page.locator("dialog")
    assert await dialog.is_visible()
    good = make_cups(7)
    wrong = good[:18] + ("AA" if good[18:20] != "AA" else "BB")
    await _fill(page, id="m-0007", name="Casa <b>Rosa</b>", contracted_kw="4,6")
    await page.page.locator("#new-cups").press_sequentially(wrong)
    # Said while typing, before anything is sent.
    problem = page.page.locator("#new-cups-problem")
    assert TEXTS[language]["check"] in await problem.inner_text()
    assert good[18:20] in await problem.inner_text()
    assert await page.axe() == [], violations_text(await page.axe())
    await page.screenshot(f"members-add-wrong-cups-desktop-{language}")
    await dialog.locator("button[type=submit]").click()
    assert posted == []
    assert await page.page.evaluate("document.activeElement.id") == "new-cups"

    await page.page.fill("#new-cups", good)
    await dialog.locator("button[type=submit]").click()
    code_box = page.page.locator("dialog textarea.join-code")
    await code_box.wait_for()
    code = await code_box.input_value()
    assert decode(code).member == "m-0007"
    assert decode(code).cups == good
    assert await _qr_text(page) == code
    assert await page.axe() == [], violations_text(await page.axe())
    await page.screenshot(f"members-join-code-desktop-{language}")
    await page.page.locator("dialog .actions button.primary").click()
    # The list shows the new member; their name is text, never markup.
    row = page.page.locator("table.members tbody tr")
    assert await row.count() == 1
    assert "Casa <b>Rosa</b>" in await row.inner_text()
    assert await page.page.locator("table.members b").count() == 0

    # Shown once: after a reload, no code anywhere.
    await page.page.reload()
    await page.page.wait_for_selector("table.members")
    assert "IOE1-" not in await page.page.content()
    assert page.errors == []
    assert page.outside() == []


async def test_the_list_sorts_and_filters(visit: OpenVisit, control_centre: ControlCentre) -> None:
    for number, (member, name) in enumerate([("m-0002", "Zubiri"), ("m-0001", "Aldaia")]):
        control_centre.community.add_member(member, number + 20, **{"--name": name})
    for width in ("desktop", "phone"):
        page = await visit("en", width)
        await page.open("members")
        names = page.page.locator("table.members tbody tr td:nth-child(2)")
        assert await names.all_inner_texts() == ["Aldaia", "Zubiri"]
        await page.page.get_by_role("button", name="Name").click()
        await page.page.get_by_role("button", name="Name").click()
        assert await names.all_inner_texts() == ["Zubiri", "Aldaia"]
        assert (
            await page.page.locator("th[data-key=name]").get_attribute("aria-sort") == "descending"
        )
        await page.page.fill("#members-filter", "zub")
        assert await names.all_inner_texts() == ["Zubiri"]
        assert await page.horizontal_overflow() == 0
        await page.page.fill("#members-filter", "")
        assert await page.axe() == [], violations_text(await page.axe())
        await page.screenshot(f"members-list-{width}-en-light")
        assert page.errors == []


@pytest.mark.parametrize("language", ["en", "es"])
async def test_rotate_and_revoke_ask_first(
    visit: OpenVisit, control_centre: ControlCentre, language: str
) -> None:
    joined = control_centre.community.add_member("m-0003", 33)
    sent = call(
        control_centre.base.rstrip("/"),
        "POST",
        "/api/v1/readings",
        joined.api_token,
        batch("m-0003", "b-1", count=96),
    )
    assert sent.status == 200, sent.body
    page = await visit(language, scale=2)
    await page.open("members/m-0003")
    # The member's recent readings, as a chart with a table beside it for screen readers.
    await page.page.wait_for_selector("figure.chart canvas")
    await page.page.get_by_role(
        "button", name="Show as a table" if language == "en" else "Ver como tabla"
    ).click()
    cells = page.page.locator("figure.chart .table-scroll tbody td")
    assert await cells.count() == 96
    assert await cells.first.inner_text() == ("0.25" if language == "en" else "0,25")
    await page.page.locator("figure.chart button").click()
    assert await page.axe() == [], violations_text(await page.axe())
    await page.screenshot(f"member-desktop-{language}-light")

    rotate = page.page.locator("main .actions button.secondary")
    await rotate.click()
    await page.page.locator("dialog button.text").click()  # cancel: nothing changes
    await page.page.locator("dialog").wait_for(state="detached")
    await rotate.click()
    await page.page.locator("dialog button.primary").click()
    code_box = page.page.locator("dialog textarea.join-code")
    await code_box.wait_for()
    code = await code_box.input_value()
    assert decode(code).api_token != joined.api_token
    assert await _qr_text(page) == code
    await page.page.locator("dialog .actions button.primary").click()

    await page.page.locator("main .actions button.danger").click()
    await page.page.locator("dialog button.danger").click()
    await page.page.locator(".message.notice").wait_for()
    assert await page.page.locator("main .actions button.danger").count() == 0
    status = await page.page.locator("dl.record").inner_text()
    assert ("Revoked on" if language == "en" else "Baja el") in status
    assert page.errors == []


async def test_a_member_page_at_phone_width(
    visit: OpenVisit, control_centre: ControlCentre
) -> None:
    control_centre.community.add_member("m-0004", 44, **{"--name": "Hogar de la Plaza Mayor"})
    for scheme in ("light", "dark"):
        page = await visit("es", "phone", scheme)
        await page.open("members/m-0004")
        assert await page.horizontal_overflow() == 0
        assert await page.axe() == [], violations_text(await page.axe())
        await page.screenshot(f"member-phone-es-{scheme}")
        assert page.errors == []
