"""Parse the payloads MQTT energy meters publish into values in the integration's units.

Every parser returns ``{key: value}`` with energies in kWh and powers in W, or raises
``PayloadError`` saying what is wrong with the payload: never a guessed number.
"""

from __future__ import annotations

from collections.abc import Mapping
import json
import math
import re
from typing import Any, Final


class PayloadError(ValueError):
    """A payload that is not what the meter's format promises."""


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


# Shelly Gen2+ components: (component prefix, field in the payload, our key, factor).
_SHELLY_FIELDS: Final = {
    "em": (
        ("total_act_power", "power", 1.0),
        ("a_voltage", "voltage_l1", 1.0),
        ("b_voltage", "voltage_l2", 1.0),
        ("c_voltage", "voltage_l3", 1.0),
        ("a_current", "current_l1", 1.0),
        ("b_current", "current_l2", 1.0),
        ("c_current", "current_l3", 1.0),
    ),
    "emdata": (("total_act", "import_energy", 0.001), ("total_act_ret", "export_energy", 0.001)),
    "em1": (("act_power", "power", 1.0), ("voltage", "voltage", 1.0), ("current", "current", 1.0)),
    "em1data": (
        ("total_act_energy", "import_energy", 0.001),
        ("total_act_ret_energy", "export_energy", 0.001),
    ),
}
_SHELLY_COMPONENT = re.compile(r"^(em|emdata|em1|em1data):(\d+)$")


def _shelly_component(component: str, status: Any) -> dict[str, float]:
    match = _SHELLY_COMPONENT.match(component)
    if match is None or not isinstance(status, dict):
        return {}
    kind, channel = match[1], match[2]
    # Pro EM has two channels (em1:0, em1:1): the second one's keys carry its number.
    suffix = f"_{channel}" if kind.startswith("em1") and channel != "0" else ""
    values = {}
    for field, key, factor in _SHELLY_FIELDS[kind]:
        if field in status and status[field] is not None:
            values[key + suffix] = _number(status[field], f"{component}.{field}") * factor
    return values


def parse_shelly(topic: str, payload: bytes | str) -> dict[str, float]:
    """Parse a Shelly Gen2+ energy meter (EM, Pro EM, Pro 3EM) message.

    Accepts ``<prefix>/status/<component>`` (status updates over MQTT) and
    ``<prefix>/events/rpc`` ``NotifyStatus`` notifications. Energies arrive in Wh. The status of
    a component that is not a meter (``sys``, ``wifi``, a switch) holds no values: ``{}``.
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
    component = topic.rsplit("/status/", 1)[-1]
    if _SHELLY_COMPONENT.match(component) and not isinstance(data, dict):
        raise PayloadError(f"{component} status is not an object")
    return _shelly_component(component, data)


_TASMOTA_FIELDS: Final = (
    ("Total", "import_energy"),
    ("ExportActive", "export_energy"),
    ("Power", "power"),
    ("Voltage", "voltage"),
    ("Current", "current"),
    ("Factor", "power_factor"),
    ("Today", "today_energy"),
)
# Values kept per phase when Tasmota sends a list (a sum would mean nothing).
_PER_PHASE: Final = frozenset({"voltage", "power_factor"})


def parse_tasmota(payload: bytes | str) -> dict[str, float]:
    """Parse Tasmota's ENERGY block (energies in kWh, power in W).

    From ``tele/<device>/SENSOR`` or from the ``stat/<device>/STATUS10`` reply, which wraps the
    same object in ``StatusSNS``. Multi-phase builds send lists: powers, currents and energies
    are summed, voltages and power factors kept per phase (a power factor never adds up).
    Firmware before 8.3.1.2 wrote tariffs as ``"Total": [total, tariff 1, tariff 2]`` beside a
    single ``Today``: the total is the first.
    """
    data = _json(payload)
    if isinstance(data, dict) and isinstance(data.get("StatusSNS"), dict):
        data = data["StatusSNS"]
    energy = data.get("ENERGY") if isinstance(data, dict) else None
    if not isinstance(energy, dict):
        raise PayloadError("no ENERGY object in the SENSOR message")
    values: dict[str, float] = {}
    for field, key in _TASMOTA_FIELDS:
        if field not in energy:
            continue
        value = energy[field]
        if not isinstance(value, list):
            values[key] = _number(value, f"ENERGY.{field}")
            continue
        numbers = [_number(v, f"ENERGY.{field}") for v in value]
        if key in _PER_PHASE:
            values |= {f"{key}_l{i + 1}": v for i, v in enumerate(numbers)}
        elif field == "Total" and numbers and not isinstance(energy.get("Today"), list):
            values[key] = numbers[0]  # the tariff form: [total, tariff 1, tariff 2]
        else:
            values[key] = sum(numbers)
    if not values:
        raise PayloadError("the ENERGY object has none of Total, Power, Voltage, Current")
    return values


def parse_emonhub(topic: str, payload: bytes | str) -> tuple[str, str, float]:
    """Parse an emonhub ``emon/<node>/<key>`` message: a plain number."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != "emon" or not parts[1] or not parts[2]:
        raise PayloadError(f"topic {topic!r} is not emon/<node>/<key>")
    text = payload.decode() if isinstance(payload, bytes) else payload
    try:
        value = float(text)
    except ValueError:
        raise PayloadError(f"{topic}: {text!r} is not a number") from None
    return parts[1], parts[2], _number(value, topic)


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
