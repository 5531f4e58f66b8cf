"""The Data page's guided emoncms import, against the real service and a fake emoncms.

An operator gives the old server's address and read key (a wrong one first: refused, in their
language), sees its feeds with what each seems to measure, maps two of them to a member,
imports them, watches the import finish with its counts, and imports them again: nothing
changes, and the page says so. A viewer has no such card.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Browser, Locator
import pytest

from ioe_dev.fake_emoncms import APIKEY, FakeEmoncms, household
from tests.community import Community, StartAggregator, start_service
from tests.web.conftest import ControlCentre, Visit, open_page, violations_text

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

PASSWORD = "una frase larga y secreta"
TEXTS = {
    "en": {
        "title": "Import from emoncms",
        "files": "Files copied to the add-on's folder",
        "no-files": "There are no feed files in the add-on's folder",
        "find": "Find feeds",
        "server": "An emoncms server",
        "refused": "emoncms refused the key: copy the read API key again from My Account",
        "found": "5 feeds on ",
        "all-to": "Member of every suggested feed",
        "dont": "Don't import",
        "import": "Import",
        "twice": "m-0001 has another feed for “Home consumption”",
        "no-plant": "m-0001 has no community plant registered",
        "summary": "2 feeds will be imported for 1 member, their whole history. "
        "3 feeds are left out.",
        "done": "Done: ",
        "same": "Done, and nothing changed",
        "past": "Past imports",
        "state-done": "Done",
    },
    "es": {
        "title": "Importar desde emoncms",
        "files": "Ficheros copiados en la carpeta del complemento",
        "no-files": "No hay ficheros de feeds en la carpeta del complemento",
        "find": "Buscar feeds",
        "server": "Un servidor emoncms",
        "refused": "emoncms ha rechazado la clave: vuelve a copiar la clave de lectura",
        "found": "5 feeds en ",
        "all-to": "Socio de todos los feeds sugeridos",
        "dont": "No importar",
        "import": "Importar",
        "twice": "m-0001 tiene otro feed de «Consumo de la casa»",
        "no-plant": "m-0001 no tiene registrada una planta comunitaria",
        "summary": "Se importarán 2 feeds para 1 socio, todo su histórico. "
        "3 feeds se quedan fuera.",
        "done": "Terminada: ",
        "same": "Terminada, y nada ha cambiado",
        "past": "Importaciones anteriores",
        "state-done": "Terminada",
    },
}
# The emonPi household's feeds (ids) and what the service suggests for each.
SUGGESTED = {
    "1": ("consumption", "power_w"),  # use
    "3": ("rooftop_pv", "power_w"),  # solar
    "4": ("import", "power_w"),  # import
    "5": ("consumption", "energy_kwh"),  # use_kwh
    "8": ("rooftop_pv", "energy_kwh"),  # solar_kwh
}


@pytest.fixture
def centre(
    community: Community, start_aggregator: StartAggregator, tmp_path: Path
) -> ControlCentre:
    """Start the service with an emoncms folder that is there but empty; return its centre."""
    folder = tmp_path / "emoncms"
    folder.mkdir()
    community.options["emoncms_dir"] = str(folder)
    _service, port = start_service(community, start_aggregator)
    return ControlCentre(community, f"http://127.0.0.1:{port}/", community.token("admin"))


async def _sign_in(
    browser: Browser, centre: ControlCentre, role: str, language: str, width: str, scheme: str
) -> Visit:
    """Sign in as a user of ``role`` with a password and open the Data page.

    In a tab reading ``language``, at ``width`` (desktop, phone), in the colour ``scheme``.
    """
    centre.community.cli("users", "add", "olga", "--name", "Olga", "--role", role,
                         "--password-stdin", input_text=PASSWORD)  # fmt: skip
    page = await open_page(browser, centre.base, language=language, width=width, scheme=scheme)
    await page.page.goto(page.base)
    await page.page.fill("#username", "olga")
    await page.page.fill("#password", PASSWORD)
    await page.page.locator("form.sign-in button[type=submit]").click()
    await page.page.locator("#navigation a").first.wait_for()
    page.errors.clear()  # the browser reports the 401 of the session asked for before
    await page.open("data")
    return page


def _row(card: Locator, feed: str) -> Locator:
    return card.locator(f'table.emoncms-feeds tr[data-feed="{feed}"]')


async def _find_feeds(
    page: Visit, card: Locator, url: str, key: str, texts: dict[str, str]
) -> None:
    await page.page.fill("#emoncms-url", url)
    await page.page.fill("#emoncms-key", key)
    await card.get_by_role("button", name=texts["find"]).click()


async def _check(page: Visit, name: str) -> None:
    """No serious accessibility problem, nothing wider than the screen; keep a screenshot."""
    assert await page.axe() == [], violations_text(await page.axe())
    assert await page.horizontal_overflow() == 0
    await page.screenshot(name)


async def _import_use_and_solar(page: Visit, card: Locator, texts: dict[str, str]) -> None:
    """Map the feeds ``use`` and ``solar`` to m-0001, leave the others out, and import."""
    await card.get_by_label(texts["all-to"], exact=True).select_option("m-0001")
    for feed in ("4", "5", "8"):
        await _row(card, feed).locator("select").first.select_option(label=texts["dont"])
    assert await card.locator(".emoncms-summary").inner_text() == texts["summary"]
    await card.get_by_role("button", name=texts["import"], exact=True).click()


@pytest.mark.parametrize(
    ("language", "width", "scheme"), [("en", "desktop", "light"), ("es", "phone", "dark")]
)
async def test_an_operator_imports_two_feeds_and_sees_them_counted(
    browser: Browser, centre: ControlCentre, language: str, width: str, scheme: str
) -> None:
    centre.community.add_member("m-0001", 1)
    texts = TEXTS[language]
    # Twelve days of an emonPi at 10 s from 35 days before this month (a 24th to a 28th):
    # across a month's end.
    month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = month - timedelta(days=35)
    with FakeEmoncms(household(int(start.timestamp()), days=12)) as fake:
        page = await _sign_in(browser, centre, "operator",
                              language=language, width=width, scheme=scheme)  # fmt: skip
        card = page.page.locator("section[aria-labelledby=emoncms-title]")
        assert await card.locator("h2").inner_text() == texts["title"]
        assert await page.page.locator("#emoncms-key").get_attribute("type") == "password"
        assert await page.page.locator("#emoncms-key").get_attribute("autocomplete") == "off"

        # Files copied to the add-on's folder: there are none yet, and the page says where.
        await card.get_by_label(texts["files"]).check()
        assert not await page.page.locator("#emoncms-key").is_visible()
        await card.get_by_role("button", name=texts["find"]).click()
        await card.locator(
            "form.emoncms-source [role=alert]", has_text=texts["no-files"]
        ).wait_for()
        await card.get_by_label(texts["server"]).check()

        # A wrong key: refused in the reader's language, the field emptied for another try.
        await _find_feeds(page, card, fake.url, "0" * 32, texts)
        refusal = card.locator("form.emoncms-source [role=alert]")
        await refusal.wait_for()
        assert (await refusal.inner_text()).startswith(texts["refused"])
        assert await page.page.locator("#emoncms-key").input_value() == ""
        assert await page.page.evaluate("document.activeElement.id") == "emoncms-key"
        await _check(page, f"emoncms-refused-{width}-{language}-{scheme}")

        # The right key: the five feeds, each with what it seems to measure and no member yet.
        await _find_feeds(page, card, fake.url, APIKEY, texts)
        await card.locator("table.emoncms-feeds").wait_for()
        assert (await card.locator("form.emoncms-feeds > p").first.inner_text()).startswith(
            texts["found"] + fake.url.rstrip("/")
        )
        for feed, (measure, kind) in SUGGESTED.items():
            selects = _row(card, feed).locator("select")
            assert await selects.nth(0).input_value() == "", feed  # a member to choose
            assert await selects.nth(1).input_value() == measure, feed
            assert await selects.nth(2).input_value() == kind, feed
        cells = await _row(card, "1").locator("td").all_inner_texts()
        assert cells[0].strip() == "W"
        points = f"{12 * 8640:,}"
        assert cells[3].strip() == (points if language == "en" else points.replace(",", "."))
        await _check(page, f"emoncms-feeds-{width}-{language}-{scheme}")

        # Every suggested feed to m-0001: use and use_kwh both its consumption, said at the row.
        await card.get_by_label(texts["all-to"], exact=True).select_option("m-0001")
        await card.get_by_role("button", name=texts["import"], exact=True).click()
        problems = card.locator("tr.row-problem:not([hidden])")
        await problems.first.wait_for()
        assert texts["twice"] in " ".join(await problems.all_inner_texts())
        assert await page.page.evaluate("document.activeElement.getAttribute('aria-invalid')")
        await _check(page, f"emoncms-problem-{width}-{language}-{scheme}")

        # A feed gone from emoncms meanwhile: the service's refusal is said at its row too.
        for feed in ("4", "5", "8"):
            await _row(card, feed).locator("select").first.select_option(label=texts["dont"])
        solar = fake.feeds.pop(3)
        await card.get_by_role("button", name=texts["import"], exact=True).click()
        refused = card.locator('tr[data-feed="3"] + tr.row-problem:not([hidden])')
        await refused.wait_for()
        assert "3" in await refused.inner_text()
        assert await card.locator("tr.row-problem:not([hidden])").count() == 1
        await _check(page, f"emoncms-gone-{width}-{language}-{scheme}")
        fake.feeds[3] = solar
        # A community plant needs one registered at the member's: said before asking.
        await _row(card, "3").locator("select").nth(1).select_option("plant")
        await card.get_by_role("button", name=texts["import"], exact=True).click()
        assert texts["no-plant"] in await refused.inner_text()
        await _row(card, "3").locator("select").nth(1).select_option("rooftop_pv")

        # use and solar alone: imported (emoncms slow enough to watch it run), followed until
        # done, each feed's quarters counted.
        fake.delay = 0.5
        await _import_use_and_solar(page, card, texts)
        running = card.locator("section.emoncms-import[data-state=running]")
        await running.wait_for()
        assert await running.locator("progress").count() == 3  # the import's, each feed's
        await page.page.locator("table.emoncms-progress td.progress-cell").first.wait_for()
        await _check(page, f"emoncms-running-{width}-{language}-{scheme}")
        fake.delay = 0
        done = card.locator("section.emoncms-import[data-state=done]")
        await done.wait_for(timeout=60_000)
        assert await page.page.locator("#emoncms-key").input_value() == ""
        outcome = await done.locator("[role=status]").inner_text()
        assert outcome.startswith(texts["done"]), outcome
        for feed in ("1", "3"):
            row = done.locator(f'table.emoncms-progress tr[data-feed="{feed}"]')
            counts = [text.strip() for text in await row.locator("td.numeric").all_inner_texts()]
            new, changed, unchanged, missing, resets, kwh = counts
            # 12 days of quarters; the 5-minute gap is within one quarter, averaged over.
            assert new.replace(",", "").replace(".", "") == str(12 * 96), counts
            assert (changed, unchanged, resets) == ("0", "0", "0"), counts
            assert missing == "0", counts
            assert kwh != "0", counts
        past = card.locator("table.emoncms-past tbody tr")
        assert await past.count() == 1
        assert texts["state-done"] in await past.first.inner_text()
        await _check(page, f"emoncms-done-{width}-{language}-{scheme}")

        # The same again: nothing changes, and the page says so.
        await _find_feeds(page, card, fake.url, APIKEY, texts)
        await card.locator("table.emoncms-feeds").wait_for()
        first = await done.get_attribute("data-import")
        await _import_use_and_solar(page, card, texts)
        done = card.locator(f'section.emoncms-import[data-state=done]:not([data-import="{first}"])')
        await done.wait_for(timeout=60_000)
        again = await done.locator("[role=status]").inner_text()
        assert again.startswith(texts["same"]), again
        assert await past.count() == 2
        await _check(page, f"emoncms-again-{width}-{language}-{scheme}")

        assert APIKEY not in await page.page.content()
        assert all(APIKEY not in url for url in page.requests)
    # The browser reports the refusals (502, 400) itself; nothing else went wrong.
    assert [e for e in page.errors if not e.startswith("Failed to load resource")] == []
    assert page.outside() == []  # the browser never reached emoncms: the service did


async def test_a_viewer_has_no_emoncms_import(
    browser: Browser, control_centre: ControlCentre
) -> None:
    viewer = control_centre.community.token("viewer")
    page = await open_page(
        browser, control_centre.base, headers={"Authorization": f"Bearer {viewer}"}
    )
    await page.open("data")
    assert await page.page.locator("section[aria-labelledby=billing-title]").count() == 1
    assert await page.page.locator("section[aria-labelledby=emoncms-title]").count() == 0
    assert page.errors == []
