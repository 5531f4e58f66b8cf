"""The household card on a dashboard, in a real Chromium and Home Assistant frontend.

The homes are membership devices as the integration makes them (its entry, its platforms, its
translation keys); their states are posted through the REST API and today's hours are
long-term statistics in the real recorder, read back by the card over the websocket API.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
import math
import os
from pathlib import Path
from typing import Any

from homeassistant.components.recorder.models import StatisticMeanType
from homeassistant.components.recorder.statistics import async_import_statistics
from playwright.async_api import Browser, Locator, expect
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from .conftest import CommunityHome, Frontend, Visit, community_home, open_visit
from .test_share_forecast_card import (
    ZONE,
    add_dashboard,
    axe_violations,
    clear_of_the_hour,
    number,
    share_forecast,
)

CARD = "ioe-community-card"
# Today's hours with statistics in the tests: midnight to 13:00, whatever the time now.
HOURS = 13
TEXTS = {
    "en": {
        "title": "My community",
        "coefficient": "My coefficient",
        "month_used": "Used from the community this month",
        "month_saved": "Saved this month",
        "consumed": "Consumed",
        "allocated": "My share",
        "self_consumed": "Used from my share",
        "advice": "Good time to run appliances: 850 W of your share goes unused now.",
        "community": "The community produces 12,400 W now · 9 homes online",
        "link": "Link to the community: connected",
    },
    "es": {
        "title": "Mi comunidad",
        "coefficient": "Mi coeficiente",
        "month_used": "Usada de la comunidad este mes",
        "month_saved": "Ahorrado este mes",
        "consumed": "Consumida",
        "allocated": "Mi parte",
        "self_consumed": "Usada de mi parte",
        "advice": "Buen momento para poner electrodomésticos: 850 W de tu parte no se usa ahora.",
        "community": "La comunidad produce 12.400 W ahora · 9 casas conectadas",
        "link": "Conexión con la comunidad: conectada",
    },
}


def hourly_energies(peak_kwh: float = 0.9) -> list[dict[str, float]]:
    """Return today's first hours as a home lives them: its share, what it used, what it bought.

    A share that follows the sun (08:00 to 18:00), a consumption with a breakfast and a wash.
    """
    hours = []
    for hour in range(HOURS):
        allocated = round(peak_kwh * max(0.0, math.sin(math.pi * (hour + 0.5 - 8) / 10)), 3)
        consumed = 0.25 + (0.45 if hour in (7, 8) else 0) + (0.8 if hour == 11 else 0)
        self_consumed = min(allocated, consumed)
        hours.append(
            {
                "allocated": allocated,
                "self_consumed": round(self_consumed, 3),
                "import": round(consumed - self_consumed, 3),
            }
        )
    return hours


async def import_today(
    frontend: Frontend, home: CommunityHome, hours: list[dict[str, float]]
) -> None:
    """Write ``hours`` as the hourly statistics of the home's day sensors, from local midnight.

    As the recorder compiles them: a sum that counts up, the hour before midnight its start.
    """
    midnight = datetime.now(ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    for key in ("allocated", "self_consumed", "import"):
        statistic_id = home.entities[f"{key}_today"]
        total = 0.0
        rows: list[Any] = [{"start": midnight - timedelta(hours=1), "state": 0.0, "sum": 0.0}]
        for index, hour in enumerate(hours):
            total += hour[key]
            rows.append({"start": midnight + timedelta(hours=index), "state": total, "sum": total})
        async_import_statistics(
            frontend.hass,
            {
                "mean_type": StatisticMeanType.NONE,
                "has_sum": True,
                "name": None,
                "source": "recorder",
                "statistic_id": statistic_id,
                "unit_class": "energy",
                "unit_of_measurement": "kWh",
            },
            rows,
        )
    await async_wait_recording_done(frontend.hass)


def home_states(
    hours: list[dict[str, float]], **changed: str
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Return a home's states by key, as the integration's sensors write them; ``changed``: others.

    Today's energies are the sums of ``hours``.
    """
    energy = {"unit_of_measurement": "kWh", "device_class": "energy"}
    today = {
        key: sum(hour[key] for hour in hours) for key in ("allocated", "self_consumed", "import")
    }
    states: dict[str, tuple[str, dict[str, Any]]] = {
        "coefficient_now": ("12.5", {"unit_of_measurement": "%", "state_class": "measurement"}),
        "savings_month": ("7.42", {"unit_of_measurement": "EUR", "device_class": "monetary"}),
        "self_consumed_month": ("48.3", energy),
        "allocated_today": (f"{today['allocated']:.3f}", energy),
        "self_consumed_today": (f"{today['self_consumed']:.3f}", energy),
        "import_today": (f"{today['import']:.3f}", energy),
        "signal": (
            "surplus",
            {"device_class": "enum", "options": ["surplus", "deficit", "normal"]},
        ),
        "unused_share": ("850.0", {"unit_of_measurement": "W", "device_class": "power"}),
        "surplus_for_me": ("on", {"unused_w": 850.0}),
        "community_generation": ("12400.0", {"unit_of_measurement": "W", "device_class": "power"}),
        "members_online": ("9", {"state_class": "measurement"}),
        "link_status": ("connected", {"device_class": "enum"}),
        "backlog": ("0", {"state_class": "measurement"}),
    }
    for key, state in changed.items():
        states[key] = (state, states[key][1])
    return states


async def post_states(
    frontend: Frontend, home: CommunityHome, states: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    """Post the home's states, and a forecast of its share made now."""
    for key, (state, attributes) in states.items():
        await frontend.api(
            "POST", f"/api/states/{home.entities[key]}", {"state": state, "attributes": attributes}
        )
    state, attributes = share_forecast(await clear_of_the_hour())
    await frontend.api(
        "POST",
        f"/api/states/{home.entities['share_forecast']}",
        {"state": state, "attributes": attributes},
    )


def kwh(value: float, language: str) -> str:
    """Write an energy as the card does (two decimals, kWh)."""
    return f"{number(value, 2, language)} kWh"


def euros(value: float, language: str) -> str:
    """Write an amount in euros as Home Assistant does in English and Spanish."""
    return f"{number(value, 2, language)} €" if language == "es" else f"€{number(value, 2, 'en')}"


def percent(value: float, language: str) -> str:
    """Write a percentage as Home Assistant does (with no space before the sign)."""
    return f"{number(value, 2, language)}%"


async def screenshot(visit: Visit, element: Locator | None, name: str) -> None:
    """Keep a screenshot of the card (None: the page) when IOE_SCREENSHOTS names a folder.

    Looked at by a person, not compared.
    """
    if folder := os.environ.get("IOE_SCREENSHOTS"):
        await asyncio.to_thread(Path(folder).mkdir, parents=True, exist_ok=True)
        if element is None:
            await visit.page.screenshot(path=Path(folder) / f"{name}.png")
            return
        # Tall enough for the whole card below the toolbar.
        viewport = visit.page.viewport_size
        assert viewport is not None
        await visit.page.set_viewport_size({"width": viewport["width"], "height": 1600})
        await element.screenshot(path=Path(folder) / f"{name}.png", animations="disabled")
        await visit.page.set_viewport_size(viewport)


async def test_card_shows_what_the_community_gives_the_home(
    browser: Browser, frontend: Frontend
) -> None:
    home = await community_home(frontend.hass, "Casa", "Molinos")
    hours = hourly_energies()
    await import_today(frontend, home, hours)
    states = home_states(hours)
    await post_states(frontend, home, states)
    await add_dashboard(frontend, {"type": f"custom:{CARD}", "homes": [home.device_id]})

    for language, width, scheme in (
        ("en", "desktop", "light"),
        ("en", "phone", "light"),
        ("es", "desktop", "light"),
        ("es", "phone", "light"),
        ("es", "phone", "dark"),
    ):
        visit = await open_visit(browser, frontend, language=language, width=width, scheme=scheme)
        await visit.open(frontend.base, "/ioe-forecast/hoy")
        card = visit.page.locator(CARD)
        texts = TEXTS[language]
        await expect(card.locator(".title")).to_have_text(texts["title"])
        await expect(card.locator(".figure.coefficient .label")).to_have_text(texts["coefficient"])
        # The figures are the sensors' states, as Home Assistant writes them.
        await expect(card.locator(".figure.coefficient .value")).to_have_text(
            percent(12.5, language)
        )
        await expect(card.locator(".figure.month-saved .value")).to_have_text(euros(7.42, language))
        await expect(card.locator(".figure.month-used .value")).to_have_text(kwh(48.3, language))
        today = {
            key: float(states[f"{key}_today"][0])
            for key in ("allocated", "self_consumed", "import")
        }
        await expect(card.locator(".figure.consumed .value")).to_have_text(
            kwh(today["self_consumed"] + today["import"], language)
        )
        await expect(card.locator(".figure.allocated .value")).to_have_text(
            kwh(today["allocated"], language)
        )
        await expect(card.locator(".figure.self-consumed .value")).to_have_text(
            kwh(today["self_consumed"], language)
        )
        await expect(card.locator(".advice")).to_have_text(texts["advice"])
        await expect(card.locator(".community")).to_have_text(texts["community"])
        link = card.locator(".link")
        await expect(link).to_have_attribute("aria-label", texts["link"])
        await expect(link).to_have_attribute("title", texts["link"])
        # The hourly chart: each hour's statistics, as screen readers read its table.
        await expect(card.locator(".today-chart svg[role=img]")).to_be_visible()
        rows = await card.locator(".today-chart + table tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
        )
        assert [row[1:] for row in rows] == [
            [
                number(hour["self_consumed"] + hour["import"], 2, language),
                number(hour["allocated"], 2, language),
                number(hour["self_consumed"], 2, language),
            ]
            for hour in hours
        ]
        assert [row[0] for row in rows] == [f"{hour:02d}:00" for hour in range(HOURS)]
        # The forecast of the share: the forecast card's own element.
        await expect(card.locator("ioe-share-forecast .chart svg[role=img]")).to_be_visible()

        assert await axe_violations(visit, card) == []
        await screenshot(visit, card, f"{language}-{width}-{scheme}")
        assert await visit.horizontal_overflow() == 0
        assert not visit.errors, visit.errors
        await visit.page.context.close()


async def test_card_says_what_it_cannot_show(browser: Browser, frontend: Frontend) -> None:
    home = await community_home(frontend.hass, "Casa", "Molinos")
    # Joined a moment ago, the link down since: no results, no statistics, a sensor gone.
    states = home_states(hourly_energies(), coefficient_now="unknown", link_status="disconnected")
    del states["savings_month"]
    await post_states(frontend, home, states)
    await frontend.api("DELETE", f"/api/states/{home.entities['savings_month']}")
    await add_dashboard(
        frontend,
        {
            "type": "vertical-stack",
            "cards": [
                {"type": f"custom:{CARD}", "homes": [home.device_id]},
                {"type": f"custom:{CARD}", "homes": ["not-a-device"], "title": "Otra"},
                # Written by hand, wrong: Home Assistant's error card says what to fix.
                {"type": f"custom:{CARD}", "homes": "Casa"},
            ],
        },
    )
    link = frontend.hass.states.get(home.entities["link_status"])
    assert link is not None
    since = link.last_changed.astimezone(ZONE).strftime("%H:%M")

    visit = await open_visit(browser, frontend, language="es", width="phone")
    await visit.open(frontend.base, "/ioe-forecast/hoy")
    card = visit.page.locator(CARD).first
    await expect(card.locator(".link")).to_have_attribute(
        "aria-label", f"Conexión con la comunidad: sin conexión desde {since}"
    )
    await expect(card.locator(".note.offline")).to_have_text(
        f"Sin conexión desde {since}: las cifras son las últimas que envió la comunidad."
    )
    await expect(card.locator(".note.no-results")).to_contain_text("Aún no hay resultados")
    await expect(card.locator(".figure.coefficient .value")).to_have_text("—")
    await expect(card.locator(".note.missing")).to_have_text(
        "No se encuentra en Casa: savings_month. "
        "Puede que la integración necesite actualizarse o recargarse."
    )
    await expect(card.locator(".note.chart-waiting")).to_contain_text(
        "El gráfico por horas se llena al acabar cada hora"
    )
    # On a phone the link's state is read by tapping its icon.
    await card.locator(".link").click()
    await expect(card.locator(".link-text")).to_have_text(
        f"Conexión con la comunidad: sin conexión desde {since}"
    )
    await expect(card.locator(".link")).to_have_attribute("aria-expanded", "true")
    # A device that is no home of the integration: every figure it lacks is named.
    other = visit.page.locator(CARD).nth(1)
    await expect(other.locator(".note.missing")).to_contain_text("coefficient_now, savings_month")
    error = visit.page.locator("hui-error-card")
    await expect(error).to_contain_text("Error de configuración")
    assert (await error.evaluate("e => e._config.message")).startswith(
        "homes must be a list of device ids"
    )
    await screenshot(visit, card, "es-phone-offline")
    assert await axe_violations(visit, card) == []
    assert not visit.errors, visit.errors

    # The link back and the first results: the card follows the sensors as they change.
    await frontend.api(
        "POST",
        f"/api/states/{home.entities['link_status']}",
        {"state": "connected", "attributes": states["link_status"][1]},
    )
    await frontend.api(
        "POST",
        f"/api/states/{home.entities['coefficient_now']}",
        {"state": "8.25", "attributes": states["coefficient_now"][1]},
    )
    await expect(card.locator(".link")).to_have_attribute(
        "aria-label", "Conexión con la comunidad: conectada"
    )
    await expect(card.locator(".figure.coefficient .value")).to_have_text("8,25%")
    await expect(card.locator(".note.offline")).to_have_count(0)
    await expect(card.locator(".note.no-results")).to_have_count(0)
    await visit.page.context.close()


async def test_one_card_for_the_households_homes_and_its_editor(
    browser: Browser, frontend: Frontend
) -> None:
    home = await community_home(frontend.hass, "Casa", "Molinos")
    second = await community_home(frontend.hass, "Abuela", "Solar del Pueblo")
    hours = hourly_energies()
    await import_today(frontend, home, hours)
    await post_states(frontend, home, home_states(hours))
    others = home_states(hourly_energies(0.4), coefficient_now="30.0", surplus_for_me="off")
    others["savings_month"] = ("2.10", others["savings_month"][1])
    others["self_consumed_month"] = ("11.7", others["self_consumed_month"][1])
    await post_states(frontend, second, others)
    await add_dashboard(frontend, {"type": f"custom:{CARD}", "homes": [home.device_id]})
    visit = await open_visit(browser, frontend)
    await visit.open(frontend.base, "/ioe-forecast/hoy?edit=1")

    # In the card picker; a new card starts on the first home.
    offered = await visit.page.evaluate(f"window.customCards.find(c => c.type === '{CARD}')")
    assert offered["name"] == "My community"
    assert offered["preview"] is True
    assert offered["documentationURL"].endswith("docs/household-card.md")
    stub = await visit.page.evaluate(
        f"customElements.get('{CARD}').getStubConfig(document.querySelector('home-assistant').hass)"
    )
    assert stub == {"homes": [home.device_id]}

    await visit.page.locator("hui-card-options ha-button", has_text="Edit").click()
    dialog = visit.page.locator("hui-dialog-edit-card")
    await expect(dialog.get_by_text("Homes", exact=True).first).to_be_visible()
    await dialog.locator("ha-devices-picker ha-device-picker").last.click()
    await visit.page.get_by_text("Solar del Pueblo", exact=True).last.click()
    preview = dialog.locator(CARD)
    # Both homes: a switcher, and the month summed.
    await expect(preview.locator(".homes button")).to_have_text(["Casa", "Abuela"])
    await expect(preview.locator(".household")).to_have_text(
        "All homes this month: 60.0 kWh used from the community, €9.52 saved."
    )
    await preview.locator(".homes button", has_text="Abuela").click()
    await expect(preview.locator(".homes button", has_text="Abuela")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(preview.locator(".figure.coefficient .value")).to_have_text("30.00%")
    await expect(preview.locator(".figure.month-saved .value")).to_have_text("€2.10")
    await expect(preview.locator(".note.chart-waiting")).to_be_visible()
    await screenshot(visit, None, "en-desktop-editor")
    await dialog.locator("ha-button", has_text="Save").click()
    await expect(preview).to_have_count(0)

    (saved,) = await frontend.websocket({"type": "lovelace/config", "url_path": "ioe-forecast"})
    assert saved["views"][0]["cards"] == [
        {"type": f"custom:{CARD}", "homes": [home.device_id, second.device_id]}
    ]
    card = visit.page.locator(CARD)
    await expect(card.locator(".homes button")).to_have_count(2)
    await expect(card.locator(".figure.coefficient .value")).to_have_text("12.50%")
    # Home Assistant's card picker offers it, drawn on the first home.
    assert not visit.errors, visit.errors
    # (The picker's other cards load pictures from the internet, which the tests do not reach.)
    await visit.page.get_by_role("button", name="Add card").click()
    await visit.page.get_by_role("tab", name="By card").click()
    picker = visit.page.locator("hui-card-picker")
    await picker.locator("input").first.fill("My community")
    await expect(picker.locator(f"{CARD} .figure.coefficient .value")).to_have_text("12.50%")
    await visit.page.context.close()
