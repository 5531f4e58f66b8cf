"""MQTT energy meters: what to subscribe to, how to ask for a reading now, how to parse it.

A ``MeterSource`` is one configured meter (its format and topic, and for the formats that do
not name their values, which value is which). It knows nothing about the MQTT client that
carries its messages: Home Assistant's MQTT integration in the integration, paho in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from .mqtt_parsers import (
    UNIT_FACTORS,
    PayloadError,
    parse_emonhub,
    parse_json_path,
    parse_shelly,
    parse_tasmota,
)


class MeterFormat(StrEnum):
    """The payload conventions a meter follows."""

    SHELLY = "shelly"
    TASMOTA = "tasmota"
    EMONHUB = "emonhub"
    JSON = "json"


@dataclass(frozen=True, kw_only=True)
class Quantity:
    """One value an MQTT meter reports, described as profile registers are."""

    key: str
    unit: str
    device_class: str
    state_class: str
    role: str | None = None
    enabled_by_default: bool = True
    diagnostic: bool = False
    options: dict[int, str] = field(default_factory=dict)


def _energy(key: str, role: str | None = None) -> Quantity:
    return Quantity(
        key=key, unit="kWh", device_class="energy", state_class="total_increasing", role=role
    )


def _measurement(key: str, unit: str, device_class: str, *, role: str | None = None) -> Quantity:
    return Quantity(
        key=key,
        unit=unit,
        device_class=device_class,
        state_class="measurement",
        role=role,
        enabled_by_default=device_class in ("power", "energy"),
    )


# Every value the parsers produce, in the parsers' units (kWh, W, V, A). A meter's own
# import/export are the grid's until its role in the home says otherwise.
QUANTITIES: Final[Mapping[str, Quantity]] = {
    q.key: q
    for q in (
        _energy("import_energy", "grid_import_energy"),
        _energy("export_energy", "grid_export_energy"),
        _energy("import_energy_1"),
        _energy("export_energy_1"),
        _energy("today_energy"),
        _measurement("power", "W", "power", role="grid_power"),
        _measurement("power_1", "W", "power"),
        _measurement("voltage", "V", "voltage"),
        _measurement("voltage_1", "V", "voltage"),
        _measurement("voltage_l1", "V", "voltage"),
        _measurement("voltage_l2", "V", "voltage"),
        _measurement("voltage_l3", "V", "voltage"),
        _measurement("current", "A", "current"),
        _measurement("current_1", "A", "current"),
        _measurement("current_l1", "A", "current"),
        _measurement("current_l2", "A", "current"),
        _measurement("current_l3", "A", "current"),
        *(
            Quantity(
                key=key,
                unit="",
                device_class="power_factor",
                state_class="measurement",
                enabled_by_default=False,
            )
            for key in ("power_factor", "power_factor_l1", "power_factor_l2", "power_factor_l3")
        ),
    )
}
# The values a meter whose payload does not name them can be told about, with their units.
MAPPABLE: Final = {
    "import_energy": ("Wh", "kWh"),
    "export_energy": ("Wh", "kWh"),
    "power": ("W", "kW"),
}


@dataclass(frozen=True, kw_only=True)
class ValueMapping:
    """Where one value is in a payload: a JSON path (``json``) or an emonhub key."""

    source: str
    unit: str


@dataclass(frozen=True, kw_only=True)
class MeterSource:
    """One MQTT meter: the topics it publishes on and how to read them.

    ``topic`` is the Shelly topic prefix (its device id), the Tasmota topic, the emonhub node
    name, or the full topic of a JSON meter.
    """

    format: MeterFormat
    topic: str
    mapping: Mapping[str, ValueMapping] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse a mapping the format cannot use (checked once, not at every message)."""
        if self.format in (MeterFormat.EMONHUB, MeterFormat.JSON):
            if not self.mapping:
                raise ValueError("this format needs at least one value mapped")
            for key, value in self.mapping.items():
                if key not in MAPPABLE or value.unit not in MAPPABLE[key]:
                    raise ValueError(f"{key} in {value.unit!r} cannot be mapped")

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """The topic filters the meter's messages arrive on."""
        match self.format:
            case MeterFormat.SHELLY:
                return (f"{self.topic}/status/+", f"{self.topic}/events/rpc")
            case MeterFormat.TASMOTA:
                # Tasmota's default FullTopic, %prefix%/%topic%/: periodic SENSOR telemetry and
                # the reply to STATUS 10 (sent at once when asked).
                return (f"tele/{self.topic}/SENSOR", f"stat/{self.topic}/STATUS10")
            case MeterFormat.EMONHUB:
                return (f"emon/{self.topic}/+",)
            case MeterFormat.JSON:
                return (self.topic,)

    @property
    def request(self) -> tuple[str, str] | None:
        """A (topic, payload) that makes the meter report now, for the formats that have one."""
        match self.format:
            case MeterFormat.SHELLY:
                return (f"{self.topic}/command", "status_update")
            case MeterFormat.TASMOTA:
                return (f"cmnd/{self.topic}/STATUS", "10")
            case _:
                return None

    def parse(self, topic: str, payload: bytes | bytearray | str) -> dict[str, float]:
        """Return the known values in one message (possibly none), or raise ``PayloadError``.

        Only values in ``QUANTITIES`` are kept (a third channel, say, has no sensor to go to).
        """
        values = self._parse(topic, bytes(payload) if isinstance(payload, bytearray) else payload)
        return {key: value for key, value in values.items() if key in QUANTITIES}

    def _parse(self, topic: str, payload: bytes | str) -> dict[str, float]:
        match self.format:
            case MeterFormat.SHELLY:
                return parse_shelly(topic, payload)
            case MeterFormat.TASMOTA:
                return parse_tasmota(payload)
            case MeterFormat.EMONHUB:
                _node, name, number = parse_emonhub(topic, payload)
                return {
                    key: number * UNIT_FACTORS[value.unit]
                    for key, value in self.mapping.items()
                    if value.source == name
                }
            case MeterFormat.JSON:
                values: dict[str, float] = {}
                problems = []
                for key, value in self.mapping.items():
                    try:
                        values[key] = parse_json_path(payload, value.source, value.unit)
                    except PayloadError as err:
                        problems.append(str(err))
                if not values:
                    raise PayloadError("; ".join(problems))
                return values
