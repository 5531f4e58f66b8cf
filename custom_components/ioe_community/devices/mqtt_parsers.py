"""Parse the payloads MQTT energy meters publish into numbers in the integration's units.

A parser turns one message into ``{key: value}`` (energies in kWh, powers in W) or raises
``PayloadError`` saying what is wrong with it: never a guessed number. It says what the
message holds, not what it means for the home: a value of one channel of a multi-channel
device carries the channel (``power@1``), and a counter that is not plainly an import counter
has its own name (``gross_import``: a sum of per-phase counters; ``total``: Tasmota's counter,
net on most meters). ``mqtt_meter.MeterReader`` makes the meter's values from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import json
import math
import re
from typing import Any, Final


class PayloadError(ValueError):
    """A payload that is not what the meter's format promises."""


class NoEnergyError(PayloadError):
    """A device that answers in its format but measures no energy (a Tasmota switch)."""


def _json(payload: bytes | str) -> Any:
    try:
        return json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise PayloadError(f"not JSON: {err}") from err


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"{what} is {value!r}, not a number")
    if not math.isfinite(value):
        raise PayloadError(f"{what} is not finite")
    return float(value)


def channel_key(key: str, channel: int) -> str:
    """Return the key of a value of one channel of a multi-channel device."""
    return f"{key}@{channel}"


def split_channel(key: str) -> tuple[str, int | None]:
    """Return a parsed key's name and channel (None for a value of the whole device)."""
    name, _, channel = key.partition("@")
    return name, int(channel) if channel else None


# Switches and plugs with power metering (Plus 1PM, Plus 2PM, Plug S, PM Mini).
_SHELLY_SWITCH: Final = (
    ("apower", "power", 1.0),
    ("voltage", "voltage", 1.0),
    ("current", "current", 1.0),
    ("pf", "power_factor", 1.0),
    ("aenergy.total", "import_energy", 0.001),
    ("ret_aenergy.total", "export_energy", 0.001),
)
# Shelly Gen2+ components: field in the payload, our key, factor to our unit.
_SHELLY_FIELDS: Final[Mapping[str, tuple[tuple[str, str, float], ...]]] = {
    # The three-phase meter (Pro 3EM, 3EM-63 in the "triphase" profile): one component.
    "em": (
        ("total_act_power", "power", 1.0),
        ("a_voltage", "voltage_l1", 1.0),
        ("b_voltage", "voltage_l2", 1.0),
        ("c_voltage", "voltage_l3", 1.0),
        ("a_current", "current_l1", 1.0),
        ("b_current", "current_l2", 1.0),
        ("c_current", "current_l3", 1.0),
    ),
    # Its energies (Wh) are sums of per-phase counters, not a balanced meter's.
    "emdata": (("total_act", "gross_import", 0.001), ("total_act_ret", "gross_export", 0.001)),
    # One channel each: Pro EM and EM Gen3 (two clamps), Pro 3EM "monophase" (three).
    "em1": (
        ("act_power", "power", 1.0),
        ("voltage", "voltage", 1.0),
        ("current", "current", 1.0),
        ("pf", "power_factor", 1.0),
    ),
    "em1data": (
        ("total_act_energy", "import_energy", 0.001),
        ("total_act_ret_energy", "export_energy", 0.001),
    ),
    "switch": _SHELLY_SWITCH,
    "pm1": _SHELLY_SWITCH,
}
_SHELLY_COMPONENT = re.compile(r"^(em|emdata|em1|em1data|switch|pm1):(\d+)$")
# Components that are one channel of the device (the others are the whole device).
_SHELLY_CHANNELS: Final = frozenset({"em1", "em1data", "switch", "pm1"})


def _shelly_field(status: dict[str, Any], path: str) -> Any:
    node: Any = status
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _shelly_component(component: str, status: Any) -> dict[str, float]:
    match = _SHELLY_COMPONENT.match(component)
    if match is None:
        return {}
    if not isinstance(status, dict):
        raise PayloadError(f"{component} status is not an object")
    kind, channel = match[1], int(match[2])
    values = {}
    for path, key, factor in _SHELLY_FIELDS[kind]:
        if (value := _shelly_field(status, path)) is None:
            continue  # not sent: a NotifyStatus carries only what changed
        number = _number(value, f"{component}.{path}") * factor
        values[channel_key(key, channel) if kind in _SHELLY_CHANNELS else key] = number
    return values


def parse_shelly(topic: str, payload: bytes | str) -> dict[str, float]:
    """Parse a Shelly Gen2+ message (EM, Pro EM, Pro 3EM, EM Gen3, PM switches and plugs).

    Accepts ``<prefix>/status/<component>`` (status updates over MQTT) and
    ``<prefix>/events/rpc`` ``NotifyStatus`` notifications, which carry only the fields that
    changed. Energies arrive in Wh. The status of a component that measures nothing (``sys``,
    ``wifi``, a switch without metering) holds no values: ``{}``.
    """
    data = _json(payload)
    if topic.endswith("/events/rpc"):
        if not isinstance(data, dict) or data.get("method") not in (
            "NotifyStatus",
            "NotifyFullStatus",
        ):
            return {}
        params = data.get("params")
        if not isinstance(params, dict):
            raise PayloadError("NotifyStatus without params")
        values: dict[str, float] = {}
        for component, status in params.items():
            values |= _shelly_component(component, status)
        return values
    if "/status/" not in topic:
        raise PayloadError(f"topic {topic!r} is not a Shelly status or event topic")
    return _shelly_component(topic.rsplit("/status/", 1)[-1], data)


# Shelly Gen1 (EM, 3EM, 1PM, Plug S): one plain number per topic.
# (topic part, field, our key, factor to our unit)
_SHELLY_GEN1_FIELDS: Final[Mapping[tuple[str, str], tuple[str, float]]] = {
    ("emeter", "power"): ("power", 1.0),
    ("emeter", "voltage"): ("voltage", 1.0),
    ("emeter", "current"): ("current", 1.0),
    ("emeter", "pf"): ("power_factor", 1.0),
    # Wh, kept by the device across restarts (``energy`` is the same in watt-minutes, reset
    # by every restart: not read).
    ("emeter", "total"): ("import_energy", 0.001),
    ("emeter", "total_returned"): ("export_energy", 0.001),
    ("relay", "power"): ("power", 1.0),
    # A plug's only counter: watt-minutes since the device started.
    ("relay", "energy"): ("import_energy", 1 / 60000),
}
_SHELLY_GEN1_TOPIC = re.compile(r"/(emeter|relay)/(\d+)/([a-z_]+)$")


def parse_plain_number(payload: bytes | str, what: str) -> float | None:
    """Return a plain-number payload's value; None for a sensor that has none (``nan``)."""
    try:
        text = (payload.decode() if isinstance(payload, bytes) else payload).strip()
    except UnicodeDecodeError:
        raise PayloadError(f"{what}: not text") from None
    if text.lower() in ("nan", "none", "unknown", ""):
        return None  # ESPHome's and Shelly's "no value now"
    try:
        value = float(text)
    except ValueError:
        raise PayloadError(f"{what}: {text!r} is not a number") from None
    return _number(value, what)


def parse_shelly_gen1(topic: str, payload: bytes | str) -> dict[str, float]:
    """Parse a Shelly Gen1 ``<prefix>/emeter/<n>/<field>`` or ``…/relay/<n>/<field>`` message.

    Every value belongs to a channel (a 3EM's phase, an EM's clamp, a relay). Topics that are
    not values (``online``, ``announce``, ``relay/0`` on/off) hold none: ``{}``.
    """
    match = _SHELLY_GEN1_TOPIC.search(topic)
    if match is None or (match[1], match[3]) not in _SHELLY_GEN1_FIELDS:
        return {}
    key, factor = _SHELLY_GEN1_FIELDS[match[1], match[3]]
    value = parse_plain_number(payload, topic)
    if value is None:
        return {}
    return {channel_key(key, int(match[2])): value * factor}


@dataclass(frozen=True, kw_only=True)
class TasmotaEnergy:
    """Tasmota's ENERGY object: its values (a list's items by channel) and counter start."""

    values: dict[str, float] = field(default_factory=dict)
    # TotalStartTime: when ``total`` started counting (changes when it is reset).
    started: str | None = None
    # The date of the message (its Time), when the daily counters count.
    day: str | None = None


# Tasmota's fields: our key for each. ``total`` is net where Tasmota integrates power itself
# (it runs back while exporting); ``today_sum_*`` are its daily phase-balanced counters.
_TASMOTA_FIELDS: Final = (
    ("Total", "total"),
    ("Today", "today"),
    ("ExportActive", "export_active"),
    ("TodaySumImport", "today_sum_import"),
    ("TodaySumExport", "today_sum_export"),
    ("Power", "power"),
    ("Voltage", "voltage"),
    ("Current", "current"),
    ("Factor", "power_factor"),
)


def parse_tasmota(payload: bytes | str) -> TasmotaEnergy:
    """Parse Tasmota's ENERGY object (energies in kWh, power in W).

    From ``tele/<device>/SENSOR`` or from the ``stat/<device>/STATUS10`` reply, which wraps the
    same object in ``StatusSNS``. A list is one item per phase or per channel (JSON cannot say
    which): item ``n`` is keyed ``<key>@n``. Firmware before 8.3.1.2 wrote tariffs as
    ``"Total": [total, tariff 1, tariff 2]`` beside a single ``Today``: the total is the first.
    """
    data = _json(payload)
    if isinstance(data, dict) and isinstance(data.get("StatusSNS"), dict):
        data = data["StatusSNS"]
    if not isinstance(data, dict):
        raise PayloadError("the message is not a JSON object")
    energy = data.get("ENERGY")
    if energy is None:
        raise NoEnergyError("no ENERGY object: the device measures no energy")
    if not isinstance(energy, dict):
        raise PayloadError("ENERGY is not an object")
    values: dict[str, float] = {}
    for name, key in _TASMOTA_FIELDS:
        if name not in energy:
            continue
        value = energy[name]
        if not isinstance(value, list):
            values[key] = _number(value, f"ENERGY.{name}")
            continue
        numbers = [_number(item, f"ENERGY.{name}") for item in value]
        if name == "Total" and numbers and not isinstance(energy.get("Today"), list):
            values[key] = numbers[0]  # the tariff form: [total, tariff 1, tariff 2]
        else:
            values |= {channel_key(key, n): number for n, number in enumerate(numbers)}
    if not values:
        raise NoEnergyError("the ENERGY object has none of Total, Power, Voltage, Current")
    started = energy.get("TotalStartTime")
    time = data.get("Time")
    return TasmotaEnergy(
        values=values,
        started=started if isinstance(started, str) else None,
        day=time[:10] if isinstance(time, str) and len(time) >= 10 else None,
    )


def parse_emonhub(topic: str, payload: bytes | str) -> tuple[str, float | None]:
    """Parse an emonhub ``emon/<node>/<key>`` message: the key and its plain number."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != "emon" or not parts[1] or not parts[2]:
        raise PayloadError(f"topic {topic!r} is not emon/<node>/<key>")
    return parts[2], parse_plain_number(payload, topic)


def parse_esphome(topic: str, payload: bytes | str) -> tuple[str, float | None]:
    """Parse an ESPHome ``<node>/sensor/<object id>/state`` message: the id and its number.

    ESPHome sends a sensor without a value as ``nan``: None, not an error.
    """
    parts = topic.rsplit("/", 3)
    if len(parts) != 4 or parts[1] != "sensor" or parts[3] != "state" or not parts[2]:
        raise PayloadError(f"topic {topic!r} is not <node>/sensor/<name>/state")
    return parts[2], parse_plain_number(payload, topic)


# Factors to the integration's units (kWh for energy, W for power).
UNIT_FACTORS: Final[Mapping[str, float]] = {
    "Wh": 0.001,
    "kWh": 1.0,
    "MWh": 1000.0,
    "W": 1.0,
    "kW": 1000.0,
    "V": 1.0,
    "A": 1.0,
    "%": 1.0,
}


def parse_json_path(payload: bytes | str, path: str, unit: str) -> float:
    """Return the number at ``path`` (``a.b.0.c``) in a JSON payload, converted from ``unit``."""
    if unit not in UNIT_FACTORS:
        raise PayloadError(f"unit {unit!r} is not one of {sorted(UNIT_FACTORS)}")
    node: Any = _json(payload)
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise PayloadError(f"no {part!r} at {path!r} in the payload")
    return _number(node, path) * UNIT_FACTORS[unit]
