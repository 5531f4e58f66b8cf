"""The integration's signals as the contract of issue 24 shapes them, set by hand.

Entity ids are those Home Assistant gives a membership device named "Comunidad" and a home
named "Casa"; the attributes are exactly the contract's (.scratch/issue24/contract.md in the
main session), so that a blueprint reading a wrong name fails here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from homeassistant.core import HomeAssistant

UNUSED_SHARE = "sensor.comunidad_unused_share"
SURPLUS_FOR_ME = "binary_sensor.comunidad_surplus_for_me"
SHARE_FORECAST = "sensor.comunidad_share_forecast"
TARIFF_PERIOD = "sensor.comunidad_tariff_period"
SURPLUS_TODAY = "sensor.comunidad_surplus_today"
GRID_POWER = "sensor.casa_grid_power"
# The binary sensor's threshold (W).
SURPLUS_THRESHOLD_W = 100


def set_unused_share(hass: HomeAssistant, watts: float | str, source: str = "community") -> None:
    """Set the unused share now (W); ``source`` is ``community`` or ``forecast``."""
    hass.states.async_set(
        UNUSED_SHARE,
        str(watts),
        {
            "unit_of_measurement": "W",
            "device_class": "power",
            "state_class": "measurement",
            "source": source,
        },
    )
    if isinstance(watts, str):
        hass.states.async_set(SURPLUS_FOR_ME, watts)
        return
    hass.states.async_set(
        SURPLUS_FOR_ME,
        "on" if watts >= SURPLUS_THRESHOLD_W else "off",
        {"unused_w": watts},
    )


def set_surplus_for_me(hass: HomeAssistant, state: str) -> None:
    """Set the binary sensor alone: ``on``, ``off`` or ``unavailable``."""
    hass.states.async_set(SURPLUS_FOR_ME, state, {"unused_w": 1500 if state == "on" else 0})


def set_tariff_period(hass: HomeAssistant, period: str, next_change: datetime) -> None:
    """Set the 2.0TD period now and when it changes."""
    following = {"P1": "P2", "P2": "P1", "P3": "P2"}[period]
    hass.states.async_set(
        TARIFF_PERIOD,
        period,
        {
            "device_class": "enum",
            "options": ["P1", "P2", "P3"],
            "next_period": following,
            "next_change": next_change.isoformat(),
        },
    )


def set_share_forecast(
    hass: HomeAssistant,
    computed_at: datetime,
    expected_kwh: list[float],
    p10_kwh: list[float] | None = None,
) -> None:
    """Set the share forecast: hourly kWh from ``computed_at``'s hour, local time stamps.

    The band's upper end is the expected value plus a quarter; the lower end is ``p10_kwh``,
    or the expected value less a quarter.
    """
    first = computed_at.replace(minute=0, second=0, microsecond=0)
    lows = p10_kwh if p10_kwh is not None else [kwh * 0.75 for kwh in expected_kwh]
    hourly = [
        {
            "period_start": (first + timedelta(hours=index)).isoformat(),
            "pv_estimate": kwh,
            "pv_estimate10": low,
            "pv_estimate90": kwh * 1.25,
        }
        for index, (kwh, low) in enumerate(zip(expected_kwh, lows, strict=True))
    ]
    day_end = first.replace(hour=0) + timedelta(days=1)
    today = [hour for hour in hourly if datetime.fromisoformat(hour["period_start"]) < day_end]
    hass.states.async_set(
        SHARE_FORECAST,
        str(round(sum(hour["pv_estimate"] for hour in today), 3)),
        {
            "unit_of_measurement": "kWh",
            "device_class": "energy",
            "detailedHourly": hourly,
            "wh_hours": {
                hour["period_start"]: round(hour["pv_estimate"] * 1000) for hour in hourly
            },
            "next_hour_kwh": expected_kwh[0],
            "next_24h_kwh": round(sum(expected_kwh[:24]), 3),
            "next_24h_kwh_p10": round(sum(lows[:24]), 3),
            "computed_at": computed_at.isoformat(),
        },
    )


def fire_forecast_event(hass: HomeAssistant, computed_at: datetime) -> None:
    """Fire the event the integration fires on each new forecast."""
    state = hass.states.get(SHARE_FORECAST)
    assert state is not None
    hass.bus.async_fire(
        "ioe_community_forecast",
        {
            "entry_id": "01JHOMEENTRY000000000000000",
            "member": "m-0001",
            "computed_at": computed_at.isoformat(),
            "next_24h_kwh": state.attributes["next_24h_kwh"],
            "today_kwh": float(state.state),
        },
    )


def set_surplus_today(hass: HomeAssistant, kwh: float | str) -> None:
    """Set today's unused community energy (kWh)."""
    hass.states.async_set(
        SURPLUS_TODAY,
        str(kwh),
        {"unit_of_measurement": "kWh", "device_class": "energy", "state_class": "total"},
    )


def set_grid_power(hass: HomeAssistant, watts: float | str) -> None:
    """Set the home's grid power (W, positive importing)."""
    hass.states.async_set(
        GRID_POWER,
        str(watts),
        {"unit_of_measurement": "W", "device_class": "power", "state_class": "measurement"},
    )
