"""The notice blueprint: tells at a time of day how much share went unused, in its language."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, ServiceCall
import pytest
from pytest_homeassistant_custom_component.common import async_mock_service

from .conftest import local, run_until, use_blueprint
from .signals import SURPLUS_TODAY, set_surplus_today

PRICE = "sensor.pvpc_price"


async def start(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, language: str = "en", **inputs: Any
) -> list[ServiceCall]:
    """At 20:00 (Madrid), the automation with its defaults, its notify action captured.

    The defaults: at 21:00, from 0.5 kWh, at 0.15 €/kWh.
    """
    freezer.move_to(local("2026-12-05 20:00"))
    calls = async_mock_service(hass, "notify", "mobile_app_phone")
    await use_blueprint(
        hass,
        "unused_share_notice",
        {"surplus_today": SURPLUS_TODAY, "notify_action": "notify.mobile_app_phone", **inputs},
        language,
    )
    return calls


@pytest.mark.parametrize(
    ("language", "kwh", "worth"), [("en", "3.2 kWh", "€0.48"), ("es", "3,2 kWh", "0,48 €")]
)
async def test_the_unused_share_and_its_worth_are_told_at_the_time_of_day(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, language: str, kwh: str, worth: str
) -> None:
    calls = await start(hass, freezer, language)
    set_surplus_today(hass, 3.2)
    await run_until(hass, freezer, local("2026-12-05 20:59:30"), step=timedelta(minutes=1))
    assert calls == []
    await run_until(hass, freezer, local("2026-12-05 21:00:30"))
    assert len(calls) == 1
    assert kwh in calls[0].data["message"]
    assert worth in calls[0].data["message"]
    assert calls[0].data["title"]


async def test_a_price_sensor_replaces_the_price_while_it_has_a_value(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    calls = await start(hass, freezer, price_sensor=PRICE)
    hass.states.async_set(PRICE, "0.215", {"unit_of_measurement": "€/kWh"})
    set_surplus_today(hass, 2.0)
    await run_until(hass, freezer, local("2026-12-05 21:00:30"))
    assert "€0.43" in calls[0].data["message"]

    hass.states.async_set(PRICE, "unavailable")
    await run_until(hass, freezer, local("2026-12-06 21:00:30"), step=timedelta(minutes=30))
    assert "€0.30" in calls[1].data["message"]


@pytest.mark.parametrize("kwh", [0.4, "unknown", "unavailable"])
async def test_below_the_threshold_or_unknown_nothing_is_sent(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, kwh: float | str
) -> None:
    calls = await start(hass, freezer)
    set_surplus_today(hass, kwh)
    await run_until(hass, freezer, local("2026-12-05 21:00:30"))
    assert calls == []
