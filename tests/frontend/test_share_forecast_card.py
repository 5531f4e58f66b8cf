"""The share forecast card on a dashboard, in a real Chromium and Home Assistant frontend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
import math
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, Locator, expect

from .conftest import TIME_ZONE, Frontend, Visit, forecast_sensor, open_visit

AXE = Path(__file__).resolve().parents[1] / "web" / "vendor" / "axe-core" / "axe.min.js"
SHOTS = Path(__file__).resolve().parents[2] / ".scratch" / "shots" / "card"
DASHBOARD = "ioe-forecast"
ZONE = ZoneInfo(TIME_ZONE)
WEEKDAYS_ES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
TEXTS = {
    "en": {"title": "My share, next hours", "today": "Rest of today", "next": "Next 24 h"},
    "es": {"title": "Mi parte, próximas horas", "today": "Resto de hoy", "next": "Próximas 24 h"},
}
# Catalan, Basque and Galician households read the card in Spanish.
TEXTS["ca"] = TEXTS["es"]


def share_forecast(
    computed_at: datetime, *, peak_kwh: float = 0.62, name: str = "Comunidad"
) -> tuple[str, dict[str, Any]]:
    """Return a share forecast sensor's state and attributes, as the contract shapes them.

    36 hours from the hour under way at ``computed_at``: a sunny day's bell from 08:00 to
    18:00 local time peaking near ``peak_kwh`` an hour, nothing at night.
    """
    first = computed_at.replace(minute=0, second=0, microsecond=0)
    detailed = []
    for hour in range(36):
        begins = (first + timedelta(hours=hour)).astimezone(ZONE)
        sun = max(0.0, math.sin(math.pi * (begins.hour + 0.5 - 8) / 10))
        kwh = round(peak_kwh * sun, 2)
        detailed.append(
            {
                "period_start": begins.isoformat(),
                "pv_estimate": kwh,
                "pv_estimate10": round(kwh * 0.55, 2),
                "pv_estimate90": round(kwh * 1.4, 2),
            }
        )
    today = computed_at.astimezone(ZONE).date()
    rest_of_today = sum(
        item["pv_estimate"]
        for item in detailed
        if datetime.fromisoformat(item["period_start"]).date() == today
    )
    attributes = {
        "detailedHourly": detailed,
        "wh_hours": {item["period_start"]: round(item["pv_estimate"] * 1000) for item in detailed},
        "next_hour_kwh": detailed[0]["pv_estimate"],
        "next_24h_kwh": round(sum(item["pv_estimate"] for item in detailed[:24]), 2),
        "next_24h_kwh_p10": round(sum(item["pv_estimate10"] for item in detailed[:24]), 2),
        "computed_at": computed_at.isoformat(),
        "unit_of_measurement": "kWh",
        "friendly_name": f"{name} Share forecast",
    }
    return f"{rest_of_today:.2f}", attributes


async def clear_of_the_hour(margin_s: float = 30) -> datetime:
    """Return the time now, at least ``margin_s`` before the next hour (waiting if it is closer).

    The card leaves out the hours already over: one ending while a test looks would change
    what it shows.
    """
    now = datetime.now(UTC)
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if (left := (next_hour - now).total_seconds()) < margin_s:
        await asyncio.sleep(left + 1)
        now = datetime.now(UTC)
    return now


def number(value: float, digits: int, language: str) -> str:
    """Write a number as the cards do in English, Spanish or Catalan (``Intl.NumberFormat``).

    It rounds the number's shortest decimal form, ties away from zero ("halfExpand"): 9.35 is
    9.4 there, where Python's ``f"{9.35:.1f}"`` rounds the binary 9.3499… to 9.3.
    """
    exact = Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    text = f"{exact:.{digits}f}"
    return text.replace(".", ",") if language in ("es", "ca") else text


async def set_forecast(
    frontend: Frontend, entity_id: str, computed_at: datetime, **shape: Any
) -> tuple[str, dict[str, Any]]:
    """Post a forecast as the sensor's state through the REST API; return it."""
    state, attributes = share_forecast(computed_at, **shape)
    await frontend.api(
        "POST", f"/api/states/{entity_id}", {"state": state, "attributes": attributes}
    )
    return state, attributes


async def add_dashboard(frontend: Frontend, card: dict[str, Any]) -> None:
    """Create a storage dashboard holding ``card``, as the dashboards page does."""
    await frontend.websocket(
        {
            "type": "lovelace/dashboards/create",
            "url_path": DASHBOARD,
            "title": "Forecast",
            "mode": "storage",
        },
        {
            "type": "lovelace/config/save",
            "url_path": DASHBOARD,
            "config": {"views": [{"title": "Forecast", "path": "hoy", "cards": [card]}]},
        },
    )


async def screenshot(visit: Visit, name: str) -> None:
    """Keep a screenshot of the page (looked at by a person, not compared)."""
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    await visit.page.screenshot(path=SHOTS / f"{name}.png")


async def table_rows(visit: Visit) -> list[list[str]]:
    """Return the hidden table's rows as screen readers read them."""
    return await visit.page.locator("ioe-share-forecast table tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )


async def test_card_draws_the_forecast_in_english_and_spanish(
    browser: Browser, frontend: Frontend
) -> None:
    entity_id = await forecast_sensor(frontend.hass, "comunidad_share_forecast")
    state, attributes = await set_forecast(frontend, entity_id, await clear_of_the_hour())
    await add_dashboard(frontend, {"type": "custom:ioe-share-forecast-card", "entity": entity_id})

    for language, width, scheme in (
        ("en", "desktop", "light"),
        ("en", "phone", "dark"),
        ("es", "desktop", "dark"),
        ("es", "phone", "light"),
        ("ca", "phone", "light"),
    ):
        visit = await open_visit(browser, frontend, language=language, width=width, scheme=scheme)
        await visit.open(frontend.base, f"/{DASHBOARD}/hoy")
        chart = visit.page.locator("ioe-share-forecast .chart svg[role=img]")
        await expect(chart).to_be_visible()
        chosen = "document.querySelector('home-assistant').hass.locale.language"
        assert (await visit.page.evaluate(chosen)).startswith(language)
        texts = TEXTS[language]
        card = visit.page.locator("ioe-share-forecast-card")
        await expect(card.locator("ha-card .card-header")).to_have_text(texts["title"])
        today = visit.page.locator("ioe-share-forecast .figure.today")
        await expect(today).to_have_text(
            texts["today"] + number(float(state), 1, language) + " kWh"
        )
        next_24h = visit.page.locator("ioe-share-forecast .figure.next-24h")
        await expect(next_24h).to_have_text(
            texts["next"] + number(attributes["next_24h_kwh"], 1, language) + " kWh"
        )

        rows = await table_rows(visit)
        assert len(rows) == 36
        for row, item in zip(rows, attributes["detailedHourly"], strict=True):
            begins = datetime.fromisoformat(item["period_start"])
            assert row[0].endswith(begins.strftime("%H:%M"))
            assert row[1:] == [
                number(item[key], 2, language)
                for key in ("pv_estimate", "pv_estimate10", "pv_estimate90")
            ]
        label = await chart.get_attribute("aria-label")
        assert label is not None
        assert number(attributes["next_24h_kwh"], 1, language) in label

        assert await axe_violations(visit, card) == []
        await screenshot(visit, f"{language}-{width}-{scheme}")
        if width == "phone":
            await visit.page.set_viewport_size({"width": 360, "height": 844})
            await expect(chart).to_have_attribute("width", str(await chart_width(visit)))
            assert await visit.horizontal_overflow() == 0
            await screenshot(visit, f"{language}-360-{scheme}")
        assert not visit.errors, visit.errors
        await visit.page.context.close()


async def axe_violations(visit: Visit, element: Locator) -> list[tuple[str, str]]:
    """Return axe-core's serious and critical violations inside ``element``.

    Only the card's: Home Assistant's own frontend has known ones.
    """
    if not await visit.page.evaluate("Boolean(window.axe)"):
        await visit.page.add_script_tag(path=AXE)
    found = await element.evaluate("e => axe.run(e).then(r => r.violations)")
    return [(v["id"], v["help"]) for v in found if v["impact"] in ("serious", "critical")]


async def chart_width(visit: Visit) -> int:
    """Return the width the chart has to draw in (its element's)."""
    return int(
        await visit.page.locator("ioe-share-forecast").evaluate(
            "e => Math.floor(e.getBoundingClientRect().width)"
        )
    )


async def test_card_says_calmly_what_it_cannot_show(browser: Browser, frontend: Frontend) -> None:
    entity_id = await forecast_sensor(frontend.hass, "comunidad_share_forecast")
    now = await clear_of_the_hour()
    computed_at = now - timedelta(hours=5)
    _state, attributes = await set_forecast(frontend, entity_id, computed_at)
    # No sensor chosen: the card shows the first share forecast it finds.
    await add_dashboard(frontend, {"type": "custom:ioe-share-forecast-card"})
    # A household in the Canaries whose Home Assistant runs on Madrid's time: times are shown
    # in the browser's zone, as Home Assistant's default profile setting asks.
    canaries = "Atlantic/Canary"
    visit = await open_visit(browser, frontend, language="es", width="phone", timezone_id=canaries)
    await visit.open(frontend.base, f"/{DASHBOARD}/hoy")

    # The link went quiet five hours ago: the last forecast's hours still ahead, and a note.
    note = visit.page.locator("ioe-share-forecast .note.stale")
    since = computed_at.astimezone(ZoneInfo(canaries))
    if since.date() == now.astimezone(ZoneInfo(canaries)).date():
        await expect(note).to_contain_text(f"Última previsión de las {since:%H:%M}.")
    else:
        weekday = WEEKDAYS_ES[since.weekday()]
        await expect(note).to_contain_text(f"Última previsión del {weekday} a las {since:%H:%M}.")
    ahead = [
        item
        for item in attributes["detailedHourly"]
        if datetime.fromisoformat(item["period_start"]) + timedelta(hours=1) > now
    ]
    assert [row[1] for row in await table_rows(visit)] == [
        number(item["pv_estimate"], 2, "es") for item in ahead
    ]
    await screenshot(visit, "es-phone-stale")

    await frontend.api(
        "POST",
        f"/api/states/{entity_id}",
        {"state": "0.0", "attributes": {**attributes, "detailedHourly": []}},
    )
    await expect(visit.page.locator("ioe-share-forecast .note.empty")).to_contain_text(
        "Aún no hay previsión"
    )
    await frontend.api("POST", f"/api/states/{entity_id}", {"state": "unavailable"})
    await expect(visit.page.locator("ioe-share-forecast .note")).to_have_text(
        "La previsión no está disponible por ahora."
    )
    await expect(visit.page.locator("ioe-share-forecast .chart svg[role=img]")).to_have_count(0)
    await frontend.api("DELETE", f"/api/states/{entity_id}")
    await expect(visit.page.locator("ioe-share-forecast .note")).to_contain_text(
        "No se encuentra el sensor de previsión de tu parte"
    )
    assert not visit.errors, visit.errors
    await visit.page.context.close()


async def test_editor_picks_another_home_and_a_title(browser: Browser, frontend: Frontend) -> None:
    entity_id = await forecast_sensor(frontend.hass, "comunidad_share_forecast")
    other = await forecast_sensor(frontend.hass, "abuela_share_forecast")
    now = await clear_of_the_hour()
    await set_forecast(frontend, entity_id, now)
    other_state, _ = await set_forecast(frontend, other, now, peak_kwh=1.5, name="Abuela")
    await add_dashboard(frontend, {"type": "custom:ioe-share-forecast-card", "entity": entity_id})
    visit = await open_visit(browser, frontend)
    await visit.open(frontend.base, f"/{DASHBOARD}/hoy?edit=1")

    # In the card picker, and new cards start on the first share forecast.
    offered = await visit.page.evaluate(
        "window.customCards.find(c => c.type === 'ioe-share-forecast-card')"
    )
    assert offered["name"] == "Share forecast"
    stub = await visit.page.evaluate(
        "customElements.get('ioe-share-forecast-card')"
        ".getStubConfig(document.querySelector('home-assistant').hass)"
    )
    assert stub == {"entity": entity_id}

    await visit.page.locator("hui-card-options ha-button", has_text="Edit").click()
    editor = visit.page.locator("ioe-share-forecast-card-editor")
    await editor.locator("ha-entity-picker").click()
    await visit.page.get_by_text(other, exact=True).click()
    preview = visit.page.locator("hui-dialog-edit-card ioe-share-forecast-card")
    await expect(preview.locator(".figure.today")).to_have_text(
        f"Rest of today{number(float(other_state), 1, 'en')} kWh"
    )
    # The dialog gives the editor its new config back: until then a title typed is lost
    # when the form is drawn again (after sunset both homes' rest of today reads 0.0, and the
    # preview's figure above says nothing of which home it shows).
    form = editor.locator("ha-form")
    for _ in range(100):
        if await form.evaluate("form => form.data?.entity") == other:
            break
        await visit.page.wait_for_timeout(50)
    assert await form.evaluate("form => form.data?.entity") == other
    await editor.locator("ha-selector-text input").fill("Casa de la abuela")
    await expect(preview.locator(".card-header")).to_have_text("Casa de la abuela")
    # Home Assistant's text field floats its label after a short transition.
    await visit.page.wait_for_timeout(400)
    await screenshot(visit, "en-desktop-editor")
    await visit.page.locator("hui-dialog-edit-card ha-button", has_text="Save").click()

    await expect(preview).to_have_count(0)
    card = visit.page.locator("ioe-share-forecast-card")
    await expect(card.locator(".card-header")).to_have_text("Casa de la abuela")
    await expect(card.locator(".figure.today")).to_have_text(
        f"Rest of today{number(float(other_state), 1, 'en')} kWh"
    )
    (saved,) = await frontend.websocket({"type": "lovelace/config", "url_path": DASHBOARD})
    assert saved["views"][0]["cards"] == [
        {"type": "custom:ioe-share-forecast-card", "entity": other, "title": "Casa de la abuela"}
    ]
    assert not visit.errors, visit.errors
    await visit.page.context.close()
