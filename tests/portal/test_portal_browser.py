"""The member portal in a real Chromium: a household's journeys, and the manager's link.

Sign in with the link, see the figures the API gives, download all the data, sign out; an
expired or replaced link refused with a message that says what to do; another member's data
refused however it is asked for; the code typed, and wrong codes limited; a link opened in a
browser signed in already asks before it signs in as someone else; the control
centre's card that issues, shows and revokes a link. Desktop and phone, English and Spanish,
no serious accessibility violation.
"""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime
import io
import json
from pathlib import Path
from typing import Any

from playwright.async_api import Browser
import pytest

from tests.community import call
from tests.portal.conftest import DAY, Portal
from tests.web.conftest import Visit, open_page, violations_text

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

TEXTS = {
    "en": {
        "hello": "Hello, Hogar m-0001",
        "sign-out": "Sign out",
        "signed-out": "You have signed out.",
        "expired": "This link has expired. Ask your community's manager for a new one.",
        "replaced": "This link was replaced by a newer one.",
        "invalid": "This link or code is not valid.",
        "too-many": "Too many attempts",
        "json": "All my data (JSON)",
        "csv": "My hours (CSV, for spreadsheets)",
        "withheld": "Fewer than 5 homes contributed",
        "own-meter": "Your own meter",
        "sign-in": "Sign in",
        "ask": "This browser is signed in to the portal of Hogar m-0002.",
        "stay": "Stay signed in as Hogar m-0002",
        "switch": "Sign out and open the link",
    },
    "es": {
        "hello": "Hola, Hogar m-0001",
        "sign-out": "Cerrar sesión",
        "signed-out": "Has cerrado la sesión.",
        "expired": "Este enlace ha caducado. Pide uno nuevo a quien gestiona tu comunidad.",
        "replaced": "Este enlace se ha sustituido por otro más reciente.",
        "invalid": "Este enlace o código no es válido.",
        "too-many": "Demasiados intentos",
        "json": "Todos mis datos (JSON)",
        "csv": "Mis horas (CSV, para hojas de cálculo)",
        "withheld": "Menos de 5 hogares contribuyeron",
        "own-meter": "Tu propio contador",
        "sign-in": "Entrar",
        "ask": "Este navegador tiene abierta la sesión del portal de Hogar m-0002.",
        "stay": "Seguir como Hogar m-0002",
        "switch": "Cerrar sesión y abrir el enlace",
    },
}


async def _visit(browser: Browser, portal: Portal, language: str, width: str = "desktop") -> Visit:
    return await open_page(browser, f"{portal.base}/", language=language, width=width)


def _secret(issued: dict[str, Any]) -> str:
    return str(issued["path"]).removeprefix("portal#k=")


async def _open_link(tab: Visit, portal: Portal, secret: str) -> None:
    """Open the portal at a member's link in a new page, as from their e-mail; wait for it."""
    await tab.page.goto("about:blank")
    await tab.page.goto(f"{portal.base}/portal#k={secret}")
    await tab.page.wait_for_function(
        "() => !location.hash && document.querySelector("
        "\"main [role='alert'], main h1:not(#sign-in-title)\")"
    )


async def _formatted(tab: Visit, value: float, options: dict[str, Any]) -> str:
    """Return a number as the page's language writes it (Intl, as the page does)."""
    return str(
        await tab.page.evaluate(
            "([value, options]) => new Intl.NumberFormat(document.documentElement.lang,"
            " options).format(value)",
            [value, options],
        )
    )


async def _download(tab: Visit, name: str) -> bytes:
    async with tab.page.expect_download() as info:
        await tab.page.get_by_role("link", name=name).click()
    path = await (await info.value).path()
    return await asyncio.to_thread(Path(path).read_bytes)


@pytest.mark.parametrize(("language", "width"), [("en", "desktop"), ("es", "phone"),
                                                 ("es", "desktop"), ("en", "phone")])  # fmt: skip
async def test_a_member_signs_in_sees_their_figures_downloads_and_signs_out(
    browser: Browser, portal: Portal, language: str, width: str
) -> None:
    texts = TEXTS[language]
    issued = portal.issue("m-0001")
    tab = await _visit(browser, portal, language, width)
    await tab.page.goto(f"{portal.base}/portal")
    await tab.page.wait_for_selector("#code")
    assert await tab.axe() == [], violations_text(await tab.axe())
    await tab.screenshot(f"sign-in-{width}-{language}")

    await _open_link(tab, portal, _secret(issued))
    # The secret left the address at once.
    assert tab.page.url == f"{portal.base}/portal"
    assert await tab.page.inner_text("main h1") == texts["hello"]
    # The share now and this month, as the API gives them for today and this year.
    today = call(portal.base, "GET", "/api/v1/members/m-0001/energy?period=day",
                 portal.admin).json()  # fmt: skip
    now = datetime.now(UTC)
    point = [one for one in today["points"] if datetime.fromisoformat(one["start"]) <= now][-1]
    months = call(portal.base, "GET", "/api/v1/members/m-0001/months", portal.admin).json()
    month = next(one for one in months["months"] if one["month"] == today["from"][:7])
    share = await tab.page.inner_text("section[aria-labelledby='share-title']")
    percent = {"style": "percent", "maximumFractionDigits": 1}
    assert await _formatted(tab, point["coefficient"], percent) in share
    kwh = {"maximumFractionDigits": 2}
    if month["self_consumed_kwh"] is not None:
        assert f"{await _formatted(tab, month['self_consumed_kwh'], kwh)} kWh" in share
    assert "A partes iguales" in share
    assert texts["own-meter"] in share
    # The day of the data, as the API counts it.
    await tab.page.fill("#energy-date", DAY.isoformat())
    await tab.page.dispatch_event("#energy-date", "change")
    energy = call(portal.base, "GET", f"/api/v1/members/m-0001/energy?period=day&date={DAY}",
                  portal.admin).json()  # fmt: skip
    consumed = await _formatted(tab, energy["totals"]["consumption_kwh"], kwh)
    totals = tab.page.locator("section[aria-labelledby='energy-title'] dl.totals")
    await tab.page.wait_for_function(
        "text => document.querySelector(\"section[aria-labelledby='energy-title'] dl.totals\")"
        "?.textContent.includes(text)",
        arg=f"{consumed} kWh",
    )
    assert f"{consumed} kWh" in await totals.inner_text()
    await tab.page.locator("section[aria-labelledby='energy-title'] canvas").wait_for()
    # The community's totals the API gives a member for the page's month: a figure fewer
    # than 5 homes made up says so.
    asked = next(url for url in tab.requests if "/api/v1/community/kpis?" in url)
    kpis = call(portal.base, "GET", asked.removeprefix(portal.base), portal.tokens["m-0001"]).json()
    community = await tab.page.inner_text("section[aria-labelledby='community-title']")
    for name in ("generation_kwh", "consumption_kwh"):
        if name in kpis["withheld"]:
            assert texts["withheld"] in community
        else:
            assert f"{await _formatted(tab, kpis[name], kwh)} kWh" in community
    assert await tab.horizontal_overflow() == 0
    assert await tab.axe() == [], violations_text(await tab.axe())
    await tab.screenshot(f"home-{width}-{language}")

    data = json.loads(await _download(tab, texts["json"]))
    assert data["member"]["id"] == "m-0001"
    assert len(data["readings"]["own_meter"]) == 2 * 96
    rows = list(
        csv.DictReader(io.StringIO((await _download(tab, texts["csv"])).decode("utf-8-sig")))
    )
    assert len(rows) == len(data["hourly"])
    assert {row["measured_by"] for row in rows} == {"own_meter", ""}

    await tab.page.get_by_role("button", name=texts["sign-out"]).click()
    await tab.page.wait_for_selector("#code")
    assert texts["signed-out"] in await tab.page.inner_text("main")
    await tab.page.reload()
    await tab.page.wait_for_selector("#code")
    status = await tab.page.evaluate("fetch('api/v1/members/m-0001/data.json').then(r => r.status)")
    assert status == 401
    assert tab.errors == [] or all("401" in error for error in tab.errors), tab.errors


@pytest.mark.parametrize("language", ["en", "es"])
async def test_an_expired_or_replaced_link_says_what_to_do(
    browser: Browser, portal: Portal, language: str
) -> None:
    texts = TEXTS[language]
    expired = portal.issue("m-0002")
    portal.expire(expired["link"]["id"])
    tab = await _visit(browser, portal, language, "phone")
    await _open_link(tab, portal, _secret(expired))
    assert texts["expired"] in await tab.page.inner_text("main [role='alert']")
    assert tab.page.url == f"{portal.base}/portal"
    await tab.screenshot(f"expired-phone-{language}")
    old = portal.issue("m-0001")
    portal.issue("m-0001")
    await _open_link(tab, portal, _secret(old))
    assert texts["replaced"] in await tab.page.inner_text("main [role='alert']")
    await _open_link(tab, portal, "not-a-link")
    assert texts["invalid"] in await tab.page.inner_text("main [role='alert']")
    assert await tab.axe() == [], violations_text(await tab.axe())


async def test_another_members_data_is_refused_however_it_is_asked(
    browser: Browser, portal: Portal
) -> None:
    tab = await _visit(browser, portal, "en")
    await _open_link(tab, portal, _secret(portal.issue("m-0001")))
    others = (
        "members/m-0002",
        "members/m-0002/energy?period=day",
        "members/m-0002/months",
        "members/m-0002/results",
        "members/m-0002/data.json",
        "members/m-0002/data.csv",
    )
    centre = ("members", "members/status", "session", "audit", "tokens")
    fetch = "([path, headers]) => fetch(`api/v1/${path}`, {headers}).then(r => r.status)"
    for path in others + centre:
        status = await tab.page.evaluate(fetch, [path, {"X-IoE-Portal": "1"}])
        assert status == 403, (path, status)
        # Without the portal's header (a link): refused, or nobody signed in.
        status = await tab.page.evaluate(fetch, [path, {}])
        assert status == (403 if path in others else 401), (path, status)
    # The address typed in the bar, as a curious member would.
    answer = await tab.page.goto(f"{portal.base}/api/v1/members/m-0002/data.json")
    assert answer is not None
    assert answer.status == 403
    # The control centre is not theirs either.
    await tab.page.goto(f"{portal.base}/")
    await tab.page.wait_for_selector("#username")
    assert await tab.page.locator("#navigation a").count() == 0


async def test_the_code_signs_in_and_wrong_codes_are_limited(
    browser: Browser, portal: Portal
) -> None:
    code = portal.issue("m-0001")["code"]
    tab = await _visit(browser, portal, "es", "phone")
    await tab.page.goto(f"{portal.base}/portal")
    wrong = code[:5] + ("0000" if code[5:9] != "0000" else "1111") + code[9:]
    for _attempt in range(5):
        await tab.page.fill("#code", wrong)
        await tab.page.get_by_role("button", name=TEXTS["es"]["sign-in"]).click()
        await tab.page.wait_for_selector("main [role='alert']")
    message = await tab.page.inner_text("main [role='alert']")
    assert TEXTS["es"]["invalid"] in message
    await tab.page.fill("#code", code.lower().replace("-", " "))
    await tab.page.get_by_role("button", name=TEXTS["es"]["sign-in"]).click()
    await tab.page.wait_for_function(
        "text => document.querySelector(\"main [role='alert']\")?.textContent.includes(text)",
        arg=TEXTS["es"]["too-many"],
    )
    assert await tab.page.get_attribute("#code", "aria-invalid") == "true"
    await tab.screenshot("code-limited-phone-es")


async def test_another_member_signs_in_with_their_code(browser: Browser, portal: Portal) -> None:
    code = portal.issue("m-0002")["code"]
    tab = await _visit(browser, portal, "en", "phone")
    await tab.page.goto(f"{portal.base}/portal")
    await tab.page.fill("#code", code)
    await tab.page.get_by_role("button", name=TEXTS["en"]["sign-in"]).click()
    await tab.page.wait_for_selector("main h1:not(#sign-in-title)")
    assert await tab.page.inner_text("main h1") == "Hello, Hogar m-0002"
    # Switched to Spanish, the page speaks it (and remembers it).
    await tab.page.select_option("#language", "es")
    await tab.page.wait_for_function(
        "() => document.querySelector('main h1')?.textContent.startsWith('Hola')"
    )
    await tab.page.reload()
    await tab.page.wait_for_selector("main h1")
    assert (await tab.page.inner_text("main h1")).startswith("Hola")


@pytest.mark.parametrize(("language", "width"), [("en", "desktop"), ("es", "phone")])
async def test_a_link_asks_first_in_a_browser_signed_in_already(
    browser: Browser, portal: Portal, language: str, width: str
) -> None:
    texts = TEXTS[language]
    code = portal.issue("m-0002")["code"]
    # Another member's link, sent to a member signed in to their own portal.
    secret = _secret(portal.issue("m-0001"))
    tab = await _visit(browser, portal, language, width)
    await tab.page.goto(f"{portal.base}/portal")
    await tab.page.fill("#code", code)
    await tab.page.get_by_role("button", name=texts["sign-in"]).click()
    await tab.page.wait_for_selector("main h1:not(#sign-in-title)")
    # Opened in the same tab (only the fragment changes), the link asks; staying keeps the
    # member's own portal.
    await tab.page.goto(f"{portal.base}/portal#k={secret}")
    await tab.page.wait_for_selector("#link-title")
    assert tab.page.url == f"{portal.base}/portal"
    assert texts["ask"] in await tab.page.inner_text("main")
    assert await tab.axe() == [], violations_text(await tab.axe())
    await tab.screenshot(f"link-asks-{width}-{language}")
    await tab.page.get_by_role("button", name=texts["stay"]).click()
    await tab.page.wait_for_function(
        "() => document.querySelector('main h1')?.textContent.endsWith('m-0002')"
    )
    own = await tab.page.evaluate(
        "fetch('api/v1/portal/session', {headers: {'X-IoE-Portal': '1'}}).then(r => r.json())"
    )
    assert own["member"]["id"] == "m-0002"
    # Opened as from an e-mail, it asks too; signing out first, it opens the other portal.
    await _open_link(tab, portal, secret)
    assert texts["ask"] in await tab.page.inner_text("main")
    await tab.page.get_by_role("button", name=texts["switch"]).click()
    await tab.page.wait_for_function(
        "() => document.querySelector('main h1')?.textContent.endsWith('m-0001')"
    )
    # Only the first page's question (nobody signed in yet) was answered 401.
    assert all("401" in error for error in tab.errors), tab.errors


@pytest.mark.parametrize(("language", "width"), [("en", "desktop"), ("es", "phone")])
async def test_the_manager_issues_shows_and_revokes_a_link(
    browser: Browser, portal: Portal, language: str, width: str
) -> None:
    manager = await open_page(
        browser, f"{portal.base}/", language=language, width=width,
        headers={"Authorization": f"Bearer {portal.admin}"},
    )  # fmt: skip
    await manager.page.goto(f"{portal.base}/#/members/m-0003")
    await manager.page.wait_for_selector("#portal-days")
    card = manager.page.locator("section[aria-labelledby='portal-title']")
    await manager.page.fill("#portal-days", "30")
    await card.locator("button[type='submit']").click()
    dialog = manager.page.locator("dialog")
    await dialog.wait_for()
    link = await dialog.locator("textarea").input_value()
    code = await dialog.locator("input.portal-code").input_value()
    assert link.startswith(portal.community.options["public_api_url"] + "/portal#k=")
    assert await dialog.locator("img.qr").count() == 1
    assert await manager.axe() == [], violations_text(await manager.axe())
    await manager.screenshot(f"manager-link-{width}-{language}")
    await dialog.locator(".actions button.primary").click()
    # The link works (opened at the service's own address), and is listed without its secret.
    answer, _cookie = portal.sign_in({"code": code})
    assert answer.status == 200
    assert link.partition("#k=")[2] not in await card.inner_text()
    await card.locator("button.danger").click()
    await manager.page.locator("dialog button.danger").click()
    await card.locator("[role='status']").wait_for()
    answer, _cookie = portal.sign_in({"code": code})
    assert answer.json()["error"] == "link_revoked"
    assert manager.errors == []
