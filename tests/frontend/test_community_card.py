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

from .conftest import TIME_ZONE, CommunityHome, Frontend, Visit, community_home, open_visit
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


async def import_today(frontend: Frontend, home: CommunityHome, hours: list[dict[str, float]]) -> None:
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


def home_states(hours: list[dict[str, float]], **changed: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Return a home's states by key, as the integration's sensors write them; ``changed``: others.

    Today's energies are the sums of ``hours``.
    """
    energy = {"unit_of_measurement": "kWh", "device_class": "energy"}
    today = {key: sum(hour[key] for hour in hours) for key in ("allocated", "self_consumed", "import")}
    states: dict[str, tuple[str, dict[str, Any]]] = {
        "coefficient_now": ("12.5", {"unit_of_measurement": "%", "state_class": "measurement"}),
        "savings_month": ("7.42", {"unit_of_measurement": "EUR", "device_class": "monetary"}),
        "self_consumed_month": ("48.3", energy),
        "allocated_today": (f"{today['allocated']:.3f}", energy),
        "self_consumed_today": (f"{today['self_consumed']:.3f}", energy),
        "import_today": (f"{today['import']:.3f}", energy),
        "signal": ("surplus", {"device_class": "enum", "options": ["surplus", "deficit", "normal"]}),
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
    return f"{number(value, 2, language)} €" if language == "es" else f"€{value:.2f}"


def percent(value: float, language: str) -> str:
    """Write a percentage as Home Assistant does (with no space before the sign)."""
    return f"{number(value, 2, language)}%"


async def screenshot(visit: Visit, element: Locator, name: str) -> None:
    """Keep a screenshot of the card when IOE_SCREENSHOTS names a folder (looked at, not compared)."""
    if folder := os.environ.get("IOE_SCREENSHOTS"):
        await asyncio.to_thread(Path(folder).mkdir, parents=True, exist_ok=True)
        # Tall enough for the whole card below the toolbar.
        viewport = visit.page.viewport_size
        assert viewport is not None
        await visit.page.set_viewport_size({"width": viewport["width"], "height": 1600})
        await element.screenshot(path=Path(folder) / f"{name}.png", animations="disabled")
        await visit.page.set_viewport_size(viewport)


async def figure(card: Locator, name: str) -> Locator:
    """Return the value of the card's figure ``name``."""
    return card.locator(f".figure.{name} .value")


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
        ("es", "phone", "dark"),
    ):
        visit = await open_visit(browser, frontend, language=language, width=width, scheme=scheme)
        await visit.open(frontend.base, "/ioe-forecast/hoy")
        card = visit.page.locator(CARD)
        texts = TEXTS[language]
        await expect(card.locator(".title")).to_have_text(texts["title"])
        await expect(card.locator(".figure.coefficient .label")).to_have_text(texts["coefficient"])
        # The figures are the sensors' states, as Home Assistant writes them.
        await expect(card.locator(".figure.coefficient .value")).to_have_text(percent(12.5, language))
        await expect(card.locator(".figure.month-saved .value")).to_have_text(euros(7.42, language))
        await expect(card.locator(".figure.month-used .value")).to_have_text(kwh(48.3, language))
        today = {key: float(states[f"{key}_today"][0]) for key in ("allocated", "self_consumed", "import")}
        await expect(card.locator(".figure.consumed .value")).to_have_text(
            kwh(today["self_consumed"] + today["import"], language)
        )
        await expect(card.locator(".figure.allocated .value")).to_have_text(kwh(today["allocated"], language))
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
