"""The Agreements page: run a comparison, watch it, adopt the winner, get and check the file."""

from __future__ import annotations

import asyncio
from pathlib import Path
import subprocess

from playwright.async_api import Browser, expect
import pytest

from tests.community import (
    Community,
    StartAggregator,
    call,
    make_cups,
    start_service,
    validate_coefficient_file,
    write_history,
)
from tests.web.conftest import ControlCentre, Visit, open_page, violations_text

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

MEMBERS = 4
# The installation at the first member's supply point.
CAU = make_cups(1) + "A001"
PASSWORD = "una frase larga y secreta"
TEXTS = {
    "en": {
        "title": "Agreements",
        "run": "Run a comparison",
        "start": "Start the comparison",
        "adopt": "Adopt",
        "best": "Recommended",
        "min": "Coefficients may change every 4 months at most",
        "valid": "is valid",
    },
    "es": {
        "title": "Acuerdos",
        "run": "Ejecutar una comparación",
        "start": "Empezar la comparación",
        "adopt": "Adoptar",
        "best": "Recomendado",
        "min": "Los coeficientes solo pueden cambiar cada 4 meses",
        "valid": "es válido",
    },
}


@pytest.fixture
def centre(community: Community, start_aggregator: StartAggregator) -> ControlCentre:
    """Start the service on four members (m-0001 with the plant) and January 2025's history."""
    community.options["community_name"] = "Comunidad Los Molinos"
    for number in range(1, MEMBERS + 1):
        extra = {"--plant-kw": "10"} if number == 1 else {}
        community.add_member(f"m-{number:04d}", number, **extra)
    asyncio.run(write_history(community.options["database_url"], MEMBERS, 2025, range(1, 2)))
    token = community.token("admin")
    _service, port = start_service(community, start_aggregator)
    return ControlCentre(community, f"http://127.0.0.1:{port}/", token)


async def _sign_in(
    browser: Browser, centre: ControlCentre, username: str, role: str, **how: str
) -> Visit:
    """Sign in with a password (a download carries the session's cookie, not a token)."""
    centre.community.cli("users", "add", username, "--name", username.title(), "--role", role,
                         "--password-stdin", input_text=PASSWORD)  # fmt: skip
    page = await open_page(browser, centre.base, **how)
    await page.page.goto(page.base)
    await page.page.fill("#username", username)
    await page.page.fill("#password", PASSWORD)
    await page.page.locator("form.sign-in button[type=submit]").click()
    await page.page.locator("#navigation a").first.wait_for()
    # The browser itself reports the 401 of the session asked for before signing in.
    page.errors.clear()
    await page.open("agreements")
    return page


async def _adopt(page: Visit, language: str, valid_from: str) -> None:
    """Adopt the winner from ``valid_from`` in the dialog."""
    await (
        page.page.locator("tr.winner").get_by_role("button", name=TEXTS[language]["adopt"]).click()
    )
    dialog = page.page.locator("dialog")
    await expect(dialog).to_be_visible()
    await page.page.fill("#adopt-name", "Reparto 2027")
    await page.page.fill("#adopt-from", valid_from)
    await dialog.locator("button[type=submit]").click()


def _validate(
    path: Path, centre: ControlCentre, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``sharing validate FILE`` on the community's members, as the manager would."""
    rows = call(centre.base.rstrip("/"), "GET", "/api/v1/members", centre.token).json()
    return validate_coefficient_file(path, rows, tmp_path, year=2027)


async def test_a_comparison_is_run_adopted_and_its_file_downloaded_and_checked(
    browser: Browser, centre: ControlCentre, tmp_path: Path
) -> None:
    language = "en"
    page = await _sign_in(browser, centre, "olga", "operator", language=language)
    texts = TEXTS[language]
    assert await page.page.locator("h1").inner_text() == texts["title"]
    assert await page.axe() == [], violations_text(await page.axe())

    await page.page.fill("#run-first", "2025-01")
    await page.page.fill("#run-last", "2025-01")
    for scheme in ("investment", "hourly-profile", "optimized-hourly", "perfect-foresight"):
        await page.page.locator(f"input[name=scheme][value={scheme}]").uncheck()
    await page.page.fill("#run-import", "0.15")
    await page.page.fill("#run-surplus", "0.05")
    # The decision: the most euros, against sharing by power.
    await page.page.get_by_text("The decision").click()
    await page.page.select_option("#run-in-force", "power")
    await page.page.select_option("#run-objective", "savings")
    # What if a bakery joined, m-0004 left, and the community bought a battery?
    await page.page.get_by_text("What if…?").click()
    await page.page.fill("#run-join-kwh", "6000")
    await page.page.fill("#run-join-name", "The bakery")
    await page.page.fill("#run-join-investment", "10")
    await page.page.select_option("#run-leaves", "m-0004")
    await page.page.fill("#run-battery-kwh", "10")
    await page.page.get_by_role("button", name=texts["start"]).click()
    # Half a battery is not asked for: the page says what is missing.
    await expect(page.page.locator(".message.error")).to_contain_text(
        "Give both the battery's capacity and its power."
    )
    await page.page.fill("#run-battery-kw", "5")
    await page.page.get_by_role("button", name=texts["start"]).click()

    # The job first, with its progress bar (labelled), then its ranking.
    progress = page.page.get_by_role("progressbar", name="Progress of the comparison")
    await expect(progress).to_be_visible()
    assert await page.axe() == [], violations_text(await page.axe())
    ranking = page.page.locator("table.ranking")
    await expect(ranking).to_be_visible(timeout=60_000)
    assert await ranking.locator("tbody tr").count() == 4
    winner = page.page.locator("tr.winner")
    await expect(winner).to_contain_text(texts["best"])
    jobs = call(centre.base.rstrip("/"), "GET", "/api/v1/comparisons", centre.token).json()
    asked = jobs[0]["request"]["decision"]
    assert asked == {"in_force": "power", "objective": "savings", "max_loss_share": None}
    summary = jobs[0]["summary"]
    savings = {name: s["community"]["savings_eur"] for name, s in summary["schemes"].items()}
    assert summary["winner"] == max(savings, key=lambda name: savings[name])
    asked_scenarios = jobs[0]["request"]["scenarios"]
    assert [item["kind"] for item in asked_scenarios] == [
        "member-joins",
        "member-leaves",
        "battery",
    ]
    # The registry keeps investment shares: a tenth, as the page was told in per cent.
    assert asked_scenarios[0]["investment_share"] == pytest.approx(0.1)
    # Against sharing by power: power itself moves nobody.
    await expect(ranking).to_contain_text("Members gaining / losing")
    power = ranking.locator("tr", has_text="By contracted power")
    await expect(power.locator("td").nth(4)).to_have_text("0 / 0")
    what_if = page.page.locator("table.what-if")
    await expect(what_if.locator("tbody tr")).to_have_count(4)
    await expect(what_if).to_contain_text("The bakery joins: 6,000 kWh a year")
    await expect(what_if).to_contain_text("m-0004 leaves")
    await expect(what_if).to_contain_text("A 10 kWh, 5 kW battery")
    report = page.page.locator("a[href*='/report']")
    assert (await report.get_attribute("href") or "").startswith("api/v1/comparisons/c-")
    assert await report.get_attribute("target") == "_blank"

    # Adopted from a day to come: the history shows it, in force from then.
    await _adopt(page, language, "2027-01-01")
    history = page.page.locator("table.agreements")
    await expect(history).to_contain_text("Reparto 2027")
    await expect(history).to_contain_text("Olga (you)")
    await expect(page.page.locator("dialog")).to_have_count(0)
    # Another one a month later: the minimum months refuse it, said in the page's words.
    await _adopt(page, language, "2027-02-01")
    refusal = page.page.locator("dialog .message.error")
    await expect(refusal).to_contain_text(texts["min"])
    # The browser reports the refused request itself: that one, and nothing else, so far.
    assert [error for error in page.errors if "409" not in error] == []
    page.errors.clear()
    await page.page.keyboard.press("Escape")
    await expect(page.page.locator("dialog")).to_have_count(0)
    assert await history.locator("tbody tr").count() == 1
    await page.screenshot(f"agreements-desktop-{language}")

    # The distributor's file of the agreement, which `sharing validate` accepts.
    await page.page.fill("#file-cau", CAU)
    link = page.page.locator("a[download]")
    await expect(link).to_be_visible()
    async with page.page.expect_download() as waiting:
        await link.click()
    download = await waiting.value
    assert download.suggested_filename == f"{CAU}_2027.txt"
    path = tmp_path / download.suggested_filename
    await download.save_as(path)
    checked = await asyncio.to_thread(_validate, path, centre, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == f"{CAU}_2027.txt: valid"

    # Checked in the browser too; then a broken copy, with its line.
    await page.page.set_input_files("#check-file", path)
    await page.page.get_by_role("button", name="Check").click()
    await expect(page.page.locator(".findings")).to_contain_text(texts["valid"])
    broken = tmp_path / "broken" / path.name
    broken.parent.mkdir()
    broken.write_bytes(path.read_bytes() + b"not a line\r\n")
    await page.page.set_input_files("#check-file", broken)
    await page.page.get_by_role("button", name="Check").click()
    await expect(page.page.locator(".findings .problems li").first).to_contain_text("Line")
    assert await page.axe() == [], violations_text(await page.axe())
    assert await page.horizontal_overflow() == 0
    assert page.errors == []
    assert page.outside() == []


async def test_a_viewer_reads_the_comparisons_on_a_phone_in_spanish_without_changing(
    browser: Browser, centre: ControlCentre
) -> None:
    base = centre.base.rstrip("/")
    started = call(
        base,
        "POST",
        "/api/v1/comparisons",
        centre.token,
        {
            "period": {"first": "2025-01", "last": "2025-01"},
            "schemes": ["equal", "consumption"],
            "scenarios": [
                {"kind": "member-joins", "name": "La panadería", "member_id": "panaderia",
                 "annual_kwh": 6000},
                {"kind": "plant-grows", "added_kwp": 5, "plant_kwp": 10},
            ],
        },
    )  # fmt: skip
    assert started.status == 202, started.body
    page = await _sign_in(
        browser, centre, "ana", "viewer", language="es", width="phone", scheme="dark"
    )
    texts = TEXTS["es"]
    assert await page.page.locator("h1").inner_text() == texts["title"]
    await page.page.get_by_role("button", name="Ver la comparación").first.click()
    await expect(page.page.locator("table.ranking")).to_be_visible(timeout=60_000)
    assert await page.page.get_by_role("button", name=texts["start"]).count() == 0
    assert await page.page.get_by_role("button", name=texts["adopt"]).count() == 0
    assert await page.page.get_by_text(texts["run"]).count() == 0
    what_if = page.page.locator("table.what-if")
    await expect(what_if).to_contain_text("Entra La panadería: 6000 kWh al año")
    await expect(what_if).to_contain_text("La planta crece 5 kWp")
    assert await page.horizontal_overflow() == 0
    assert await page.axe() == [], violations_text(await page.axe())
    assert page.errors == []
    await page.screenshot("agreements-phone-es-dark")
