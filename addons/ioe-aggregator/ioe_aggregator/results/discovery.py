"""The community's sensors in the manager's Home Assistant (MQTT discovery), and whether it is up.

The aggregator says it is online at every connection, and the broker says offline for it when
it goes away (its last will): the sensors are unavailable while it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ioe_aggregator import __version__

ONLINE = b"online"
OFFLINE = b"offline"


def availability_topic(prefix: str) -> str:
    """Return where the aggregator says online (and the broker, for it, offline)."""
    return f"{prefix}/community/availability"


@dataclass(frozen=True, kw_only=True)
class _Sensor:
    key: str
    topic: str  # "state" or "signal"
    template: str
    names: Mapping[str, str]
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    icon: str | None = None
    options: tuple[str, ...] = ()


_SENSORS = (
    _Sensor(
        key="generation_power",
        topic="state",
        template="{{ value_json.generation_w }}",
        names={"en": "Generation", "es": "Generación"},
        unit="W",
        device_class="power",
        state_class="measurement",
    ),
    _Sensor(
        key="consumption_power",
        topic="state",
        template="{{ value_json.consumption_w }}",
        names={"en": "Consumption", "es": "Consumo"},
        unit="W",
        device_class="power",
        state_class="measurement",
    ),
    _Sensor(
        key="surplus_power",
        topic="state",
        template="{{ value_json.surplus_w }}",
        names={"en": "Surplus", "es": "Excedente"},
        unit="W",
        device_class="power",
        state_class="measurement",
    ),
    _Sensor(
        key="generation_today",
        topic="state",
        template="{{ value_json.today.generation_kwh }}",
        names={"en": "Generation today", "es": "Generación hoy"},
        unit="kWh",
        device_class="energy",
        state_class="total_increasing",
    ),
    _Sensor(
        key="consumption_today",
        topic="state",
        template="{{ value_json.today.consumption_kwh }}",
        names={"en": "Consumption today", "es": "Consumo hoy"},
        unit="kWh",
        device_class="energy",
        state_class="total_increasing",
    ),
    _Sensor(
        key="self_consumption_today",
        topic="state",
        template="{{ value_json.today.self_consumed_kwh }}",
        names={"en": "Self-consumption today", "es": "Autoconsumo hoy"},
        unit="kWh",
        device_class="energy",
        state_class="total_increasing",
    ),
    _Sensor(
        key="members_online",
        topic="state",
        template="{{ value_json.members_online }}",
        names={"en": "Members online", "es": "Miembros conectados"},
        state_class="measurement",
        icon="mdi:home-group",
    ),
    _Sensor(
        key="members_total",
        topic="state",
        template="{{ value_json.members_total }}",
        names={"en": "Members", "es": "Miembros"},
        state_class="measurement",
        icon="mdi:account-group",
    ),
    _Sensor(
        key="signal",
        topic="signal",
        template="{{ value_json.kind }}",
        names={"en": "Community signal", "es": "Señal de la comunidad"},
        device_class="enum",
        icon="mdi:traffic-light",
        options=("surplus", "deficit", "normal"),
    ),
)


def discovery_messages(
    *, prefix: str, discovery_prefix: str, community: str, name: str | None, language: str
) -> dict[str, dict[str, Any]]:
    """Return the discovery configuration of each community sensor, by its config topic.

    Unique ids depend only on the community id, so the entities survive restarts, upgrades
    and a move to another machine.
    """
    device = {
        "identifiers": [f"ioe_community_{community}"],
        "name": name or f"IoE Community {community}",
        "manufacturer": "IoE Community",
        "model": "Aggregator",
        "sw_version": __version__,
    }
    messages = {}
    for sensor in _SENSORS:
        unique_id = f"ioe_{community}_{sensor.key}".replace("-", "_")
        config: dict[str, Any] = {
            "name": sensor.names[language],
            "unique_id": unique_id,
            "state_topic": f"{prefix}/community/{sensor.topic}",
            "value_template": sensor.template,
            "availability_topic": availability_topic(prefix),
            "payload_available": ONLINE.decode(),
            "payload_not_available": OFFLINE.decode(),
            "device": device,
            "origin": {"name": "IoE Community aggregator", "sw_version": __version__},
        }
        optional = {
            "unit_of_measurement": sensor.unit,
            "device_class": sensor.device_class,
            "state_class": sensor.state_class,
            "icon": sensor.icon,
            "options": list(sensor.options) or None,
        }
        config.update({key: value for key, value in optional.items() if value is not None})
        messages[f"{discovery_prefix}/sensor/{unique_id}/config"] = config
    return messages
