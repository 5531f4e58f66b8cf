"""MQTT energy meters: what to subscribe to, how to ask for a reading now, how to parse it.

A ``MeterSource`` is one configured meter (its format and topic, and for the formats that do
not name their values, which value is which). It knows nothing about the MQTT client that
carries its messages: Home Assistant's MQTT integration in the integration, paho in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from .balance import BalancedCounters
from .mqtt_parsers import (
    UNIT_FACTORS,
    PayloadError,
    TasmotaEnergy,
    parse_emonhub,
    parse_esphome,
    parse_json_path,
    parse_shelly,
    parse_shelly_gen1,
    parse_tasmota,
    split_channel,
)


class MeterFormat(StrEnum):
    """The payload conventions a meter follows."""

    SHELLY = "shelly"
    SHELLY_GEN1 = "shelly_gen1"
    TASMOTA = "tasmota"
    ESPHOME = "esphome"
    EMONHUB = "emonhub"
    JSON = "json"


class CounterKind(StrEnum):
    """What a Tasmota meter's ``Total`` counts."""

    # Tasmota integrates the power itself (Shelly EM/3EM on Tasmota, PZEM, plugs): the counter
    # runs back while exporting.
    NET = "net"
    # A meter with its own import register (SetOption72, an SDM or DDS meter over Modbus): the
    # export is ``ExportActive``.
    IMPORT = "import"


class Counting(StrEnum):
    """Where a meter's import and export energies come from (shown on its device page)."""

    METER = "meter"  # the device's own import and export counters
    PHASE_BALANCED = "phase_balanced"  # the net of its per-phase counters, at each message
    NET_COUNTER = "net_counter"  # the changes of its net counter, at each message
    DAILY_BALANCED = "daily_balanced"  # Tasmota's daily balanced counters (TodaySum*)


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


# Every value a meter can have, in the parsers' units (kWh, W, V, A). A meter's own
# import/export are the grid's until its role in the home says otherwise.
QUANTITIES: Final[Mapping[str, Quantity]] = {
    q.key: q
    for q in (
        _energy("import_energy", "grid_import_energy"),
        _energy("export_energy", "grid_export_energy"),
        _energy("today_energy"),
        # Tasmota's Total where it is net: it falls while exporting (a "total", not increasing).
        Quantity(key="net_energy", unit="kWh", device_class="energy", state_class="total"),
        _measurement("power", "W", "power", role="grid_power"),
        _measurement("voltage", "V", "voltage"),
        _measurement("voltage_l1", "V", "voltage"),
        _measurement("voltage_l2", "V", "voltage"),
        _measurement("voltage_l3", "V", "voltage"),
        _measurement("current", "A", "current"),
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
        Quantity(
            key="counting",
            unit="",
            device_class="enum",
            state_class="",
            diagnostic=True,
            options=dict(enumerate(counting.value for counting in Counting)),
        ),
    )
}
# The values a meter whose payload does not name them can be told about, with their units.
MAPPABLE: Final = {
    "import_energy": ("Wh", "kWh"),
    "export_energy": ("Wh", "kWh"),
    "power": ("W", "kW"),
}
# Formats whose values are named by the household (emonhub keys, ESPHome sensor ids, JSON paths).
MAPPED_FORMATS: Final = frozenset({MeterFormat.EMONHUB, MeterFormat.ESPHOME, MeterFormat.JSON})


@dataclass(frozen=True, kw_only=True)
class ValueMapping:
    """Where one value is: a JSON path (``json``), an emonhub key or an ESPHome sensor id."""

    source: str
    unit: str


@dataclass(frozen=True, kw_only=True)
class MeterSource:
    """One MQTT meter: the topics it publishes on and how to read them.

    ``topic`` is the Shelly topic prefix (its device id; ``shellies/<id>`` for Gen1), the
    Tasmota topic, the ESPHome node's topic prefix, the emonhub node name, or the full topic
    of a JSON meter. ``channel`` is the clamp, relay or list item that is this meter on a
    device with several; None takes a three-phase device's phases together. ``counter`` says
    what a Tasmota meter's ``Total`` counts.
    """

    format: MeterFormat
    topic: str
    mapping: Mapping[str, ValueMapping] = field(default_factory=dict)
    channel: int | None = None
    counter: CounterKind = CounterKind.NET

    def __post_init__(self) -> None:
        """Refuse a mapping the format cannot use (checked once, not at every message)."""
        if self.format in MAPPED_FORMATS:
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
            case MeterFormat.SHELLY_GEN1:
                return (f"{self.topic}/emeter/+/+", f"{self.topic}/relay/+/+")
            case MeterFormat.TASMOTA:
                # Tasmota's default FullTopic, %prefix%/%topic%/: periodic SENSOR telemetry and
                # the reply to STATUS 10 (sent at once when asked).
                return (f"tele/{self.topic}/SENSOR", f"stat/{self.topic}/STATUS10")
            case MeterFormat.ESPHOME:
                return (f"{self.topic}/sensor/+/state",)
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
            case MeterFormat.SHELLY_GEN1:
                return (f"{self.topic}/command", "update")
            case MeterFormat.TASMOTA:
                return (f"cmnd/{self.topic}/STATUS", "10")
            case _:
                return None


type MeterValues = dict[str, float | str]


def _items(values: Mapping[str, float], key: str) -> dict[int, float]:
    """Return a parsed value's items by channel."""
    items = {}
    for name, value in values.items():
        base, channel = split_channel(name)
        if base == key and channel is not None:
            items[channel] = value
    return items


class MeterReader:
    """Reads one meter's messages: its values, as the home needs them, from each message.

    Some values need what came before: phase-balanced energies count the changes of a net
    (``balance``), a Gen1 3EM's phases arrive one topic at a time. ``state`` keeps that across
    restarts. ``channels`` are the channels the device showed (for the flow's choice).
    """

    def __init__(self, source: MeterSource, state: Mapping[str, Any] | None = None) -> None:
        """Read ``source``'s messages, going on from a stored ``state``."""
        self.source = source
        self.channels: set[int] = set()
        self.messages = 0  # messages in the meter's format, values or not
        state = state or {}
        if state.get("source") != self._fingerprint:
            state = {}  # counted from another device, channel or counter: start again
        self._balanced = (
            BalancedCounters.from_dict(state["balanced"]) if state.get("balanced") else None
        )
        self._started: str | None = state.get("started")
        self._day: str | None = state.get("day")  # the date of Tasmota's last message
        # Gross per-phase counters at the last count, to tell a reset from export.
        self._gross: dict[str, float] = dict(state.get("gross", {}))
        # A Gen1 meter's latest value of each channel; its counters (learnt over one round of
        # messages: a counter seen again starts the next round), those not counted yet.
        self._latest: dict[str, float] = dict(self._gross)
        self._counters: frozenset[str] | None = None
        self._fresh: set[str] = set()

    @property
    def _fingerprint(self) -> list[Any]:
        """What the stored counts were counted from (JSON-ready)."""
        source = self.source
        return [source.format.value, source.topic, source.channel, source.counter.value]

    def state(self) -> dict[str, Any]:
        """Return what the next start goes on from (JSON-ready)."""
        return {
            "source": self._fingerprint,
            "balanced": self._balanced.as_dict() if self._balanced else None,
            "started": self._started,
            "day": self._day,
            "gross": self._gross,
        }

    def read(self, topic: str, payload: bytes | bytearray | str) -> MeterValues:
        """Return the meter's values in one message (possibly none), or raise ``PayloadError``.

        Only values in ``QUANTITIES`` are kept (a third channel, say, has no sensor to go to).
        """
        raw = bytes(payload) if isinstance(payload, bytearray) else payload
        values = self._read(topic, raw)
        self.messages += 1
        if values.keys() & {"import_energy", "export_energy"} and "counting" not in values:
            values["counting"] = Counting.METER.value
        return {key: value for key, value in values.items() if key in QUANTITIES}

    @property
    def counts(self) -> bool:
        """Whether the meter's energies are counted here (``state`` must be kept)."""
        return self._balanced is not None

    def _read(self, topic: str, payload: bytes | str) -> MeterValues:
        source = self.source
        match source.format:
            case MeterFormat.SHELLY:
                return self._shelly(parse_shelly(topic, payload))
            case MeterFormat.SHELLY_GEN1:
                return self._shelly_gen1(parse_shelly_gen1(topic, payload))
            case MeterFormat.TASMOTA:
                return self._tasmota(parse_tasmota(payload))
            case MeterFormat.EMONHUB:
                return self._mapped(*parse_emonhub(topic, payload))
            case MeterFormat.ESPHOME:
                return self._mapped(*parse_esphome(topic, payload))
            case MeterFormat.JSON:
                values: MeterValues = {}
                problems = []
                for key, value in source.mapping.items():
                    try:
                        values[key] = parse_json_path(payload, value.source, value.unit)
                    except PayloadError as err:
                        problems.append(str(err))
                if not values:
                    raise PayloadError("; ".join(problems))
                return values

    def _mapped(self, name: str, number: float | None) -> MeterValues:
        if number is None:
            return {}  # the sensor has no value now
        return {
            key: number * UNIT_FACTORS[value.unit]
            for key, value in self.source.mapping.items()
            if value.source == name
        }

    def _channel_values(self, raw: Mapping[str, float], channel: int) -> dict[str, float]:
        """Return the whole-device values and those of ``channel``, without channel marks."""
        values = {}
        for key, value in raw.items():
            name, of = split_channel(key)
            if of is not None:
                self.channels.add(of)
            if of is None or of == channel:
                values[name] = value
        return values

    def _shelly(self, raw: Mapping[str, float]) -> MeterValues:
        values: MeterValues = dict(self._channel_values(raw, self.source.channel or 0))
        gross_keys = ("gross_import", "gross_export")
        # A NotifyStatus carries only the counter that changed: the other is as last sent.
        self._latest |= {key: raw[key] for key in gross_keys if key in raw}
        for key in gross_keys:
            values.pop(key, None)
        if raw.keys() & set(gross_keys) and self._latest.keys() >= set(gross_keys):
            gross = {key: self._latest[key] for key in gross_keys}
            values |= self._count_net(gross, gross["gross_import"] - gross["gross_export"])
        return values

    def _count_net(self, gross: Mapping[str, float], net: float) -> MeterValues:
        """Count the net of per-phase gross counters: balanced import and export.

        A gross counter only grows: when one is lower than at the last count, the device's
        counters were reset. When the counters are not those of the last count (a phase that
        reported late), the net is not comparable either: it starts a new baseline.
        """
        restarted = gross.keys() != self._gross.keys() or any(
            value < self._gross[key] for key, value in gross.items()
        )
        if self._balanced is None:
            self._balanced = BalancedCounters()
        self._balanced.add_net(net, restarted=restarted)
        self._gross = dict(gross)
        return {**self._balanced.values(), "counting": Counting.PHASE_BALANCED.value}

    def _shelly_gen1(self, raw: Mapping[str, float]) -> MeterValues:
        channel = self.source.channel
        if channel is not None:
            return dict(self._channel_values(raw, channel))
        # The whole three-phase meter (3EM): per-phase values, sums, balanced energies.
        self._latest |= raw
        for key in raw:
            self.channels.add(split_channel(key)[1] or 0)
        values: MeterValues = {}
        for key, value in raw.items():
            name, phase = split_channel(key)
            if name in ("voltage", "current", "power_factor"):
                values[f"{name}_l{(phase or 0) + 1}"] = value
            elif name == "power":
                values["power"] = sum(_items(self._latest, "power").values())
            elif self._counters is None and key in self._fresh:  # a round is complete
                self._counters, self._fresh = frozenset(self._fresh), {key}
            else:
                self._fresh.add(key)
        if self._counters and self._fresh >= self._counters:  # each counter came again
            self._fresh.clear()
            gross = {key: self._latest[key] for key in self._counters}
            imported = sum(v for k, v in gross.items() if k.startswith("import_energy"))
            values |= self._count_net(gross, imported - (sum(gross.values()) - imported))
        return values

    def _tasmota(self, energy: TasmotaEnergy) -> MeterValues:
        raw, channel = energy.values, self.source.channel
        for key in raw:
            if (of := split_channel(key)[1]) is not None:
                self.channels.add(of)
        values: MeterValues = {}
        for key in ("power", "current", "voltage", "power_factor"):
            items = _items(raw, key)
            if channel is None and items and key in ("voltage", "power_factor"):
                values |= {f"{key}_l{n + 1}": value for n, value in items.items()}
            elif (value := _tasmota_value(raw, key, channel)) is not None:
                values[key] = value
        if self.source.counter is CounterKind.IMPORT:
            for key, name in (
                ("total", "import_energy"),
                ("export_active", "export_energy"),
                ("today", "today_energy"),
            ):
                if (value := _tasmota_value(raw, key, channel)) is not None:
                    values[name] = value
            return values
        if (total := _tasmota_value(raw, "total", channel)) is None:
            return values  # a channel's counter is not sent on its own (SetOption129 0)
        if self._balanced is None:
            self._balanced = BalancedCounters()
        restarted = self._started is not None and energy.started != self._started
        daily = (raw.get("today_sum_import"), raw.get("today_sum_export"))
        if channel is None and daily[0] is not None and daily[1] is not None:
            # A new day (Home Assistant may have missed midnight) restarts the daily counters.
            new_day = None not in (energy.day, self._day) and energy.day != self._day
            self._balanced.add_daily(
                daily[0], daily[1], total, restarted=restarted, new_day=new_day
            )
            counting = Counting.DAILY_BALANCED
        else:
            self._balanced.add_net(total, restarted=restarted)
            counting = Counting.NET_COUNTER
        self._started = energy.started or self._started
        self._day = energy.day or self._day
        return {
            **values,
            "net_energy": total,
            **self._balanced.values(),
            "counting": counting.value,
        }


# Tasmota values sent once for the whole device even when others are per channel.
_TASMOTA_COMMON: Final = frozenset({"voltage"})


def _tasmota_value(raw: Mapping[str, float], key: str, channel: int | None) -> float | None:
    """Return a Tasmota value of the chosen channel, or of all channels (phases) together."""
    items = _items(raw, key)
    if channel is None:
        return raw.get(key, sum(items.values()) if items else None)
    if channel in items:
        return items[channel]
    return raw.get(key) if key in _TASMOTA_COMMON else None
