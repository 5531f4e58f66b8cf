"""MQTT meter payloads as the meters publish them, and every way they can be wrong."""

from __future__ import annotations

from collections.abc import Iterable
import json
import re

import pytest

from custom_components.ioe_community.devices.mqtt_meter import (
    CounterKind,
    MeterFormat,
    MeterReader,
    MeterSource,
    MeterValues,
    ValueMapping,
)
from custom_components.ioe_community.devices.mqtt_parsers import (
    PayloadError,
    parse_emonhub,
    parse_esphome,
    parse_json_path,
    parse_shelly,
    parse_shelly_gen1,
    parse_tasmota,
)

from .mqtt_payloads import (
    EM63_EM1_2,
    EM63_TOPIC,
    EM_GEN3_NOTIFY,
    GEN1_3EM,
    GEN1_3EM_PHASE_A,
    GEN1_EM,
    GEN1_EM_MESSAGES,
    MQTT_CONNECTED_NOTIFY,
    PLUS_1_SWITCH_0,
    PLUS_2PM_SWITCH_0,
    PRO_3EM_EM,
    PRO_3EM_EMDATA,
    PRO_EM_EM1_1,
    PRO_EM_EM1DATA_1,
    TASMOTA_3EM_NET,
    TASMOTA_3EM_PHASES,
    TASMOTA_PZEM,
    TASMOTA_TWO_CHANNELS,
    tasmota_total,
)


def _read(reader: MeterReader, messages: Iterable[tuple[str, str]]) -> MeterValues:
    values: MeterValues = {}
    for topic, payload in messages:
        values |= reader.read(topic, payload)
    return values


def _emdata(total_act: float, total_act_ret: float) -> str:
    return json.dumps({**PRO_3EM_EMDATA, "total_act": total_act, "total_act_ret": total_act_ret})


def test_shelly_pro_3em_values_and_per_phase_counters() -> None:
    assert parse_shelly("shellypro3em-abc/status/em:0", json.dumps(PRO_3EM_EM)) == {
        "power": 2413.825,
        "voltage_l1": 227.0,
        "voltage_l2": 230.0,
        "voltage_l3": 230.2,
        "current_l1": 9.592,
        "current_l2": 0.044,
        "current_l3": 1.479,
    }
    energy = parse_shelly("shellypro3em-abc/status/emdata:0", json.dumps(PRO_3EM_EMDATA))
    # total_act is the plain sum of the three phases' counters (Wh), not a balanced counter.
    assert energy == pytest.approx({"gross_import": 5415.41419, "gross_export": 0.0})


def test_shelly_pro_3em_energies_are_balanced_across_phases() -> None:
    """A three-phase home with single-phase PV: L1 imports what L3 exports at the same time.

    The Pro 3EM's counters grow both (each phase counts on its own); the distributor's meter,
    balancing its phases, counts neither. The balanced counters follow the net.
    """
    meter = MeterReader(MeterSource(format=MeterFormat.SHELLY, topic="shellypro3em-abc"))
    first = meter.read("shellypro3em-abc/status/emdata:0", json.dumps(PRO_3EM_EMDATA))
    assert first == {"import_energy": 0.0, "export_energy": 0.0, "counting": "phase_balanced"}
    # A minute later: 20 Wh imported on L1 while L3 exported 20 Wh; then 50 Wh net import.
    same_time = meter.read("p/status/emdata:0", _emdata(5415434.19, 20.0))
    assert same_time["import_energy"] == pytest.approx(0.0)
    assert same_time["export_energy"] == pytest.approx(0.0)
    later = meter.read("p/status/emdata:0", _emdata(5415494.19, 30.0))
    assert later["import_energy"] == pytest.approx(0.05)
    # The home exports 0.3 kWh net: the balanced export grows, the import stays.
    exporting = meter.read("p/status/emdata:0", _emdata(5415544.19, 380.0))
    assert exporting["import_energy"] == pytest.approx(0.05)
    assert exporting["export_energy"] == pytest.approx(0.3)
    # Counters reset on the device (both start again): a new baseline, nothing counted.
    reset = meter.read("p/status/emdata:0", _emdata(10.0, 0.0))
    assert reset["import_energy"] == pytest.approx(0.05)
    assert reset["export_energy"] == pytest.approx(0.3)


def test_balanced_counters_go_on_after_a_restart() -> None:
    source = MeterSource(format=MeterFormat.SHELLY, topic="p")
    before = MeterReader(source)
    before.read("p/status/emdata:0", _emdata(1000.0, 0.0))
    before.read("p/status/emdata:0", _emdata(3000.0, 0.0))
    state = json.loads(json.dumps(before.state()))  # as stored
    after = MeterReader(source, state)
    # While Home Assistant was down the home imported 1 kWh net: counted at the next message.
    values = after.read("p/status/emdata:0", _emdata(4500.0, 500.0))
    assert values["import_energy"] == pytest.approx(3.0)
    assert values["export_energy"] == pytest.approx(0.0)


def test_stored_counts_of_another_device_or_channel_are_not_gone_on_from() -> None:
    """Reconfigured to another device: its counters' difference with the old is not energy."""
    before = MeterReader(MeterSource(format=MeterFormat.SHELLY, topic="p"))
    before.read("p/status/emdata:0", _emdata(1000.0, 0.0))
    state = before.state()
    other = MeterReader(MeterSource(format=MeterFormat.SHELLY, topic="q"), state)
    values = other.read("q/status/emdata:0", _emdata(1001000.0, 0.0))
    assert values["import_energy"] == 0.0  # a new baseline, not 1000 kWh


def test_a_notify_status_with_one_counter_counts_with_the_other_as_last_sent() -> None:
    """NotifyStatus carries only what changed: a consumer-only home's export never does."""
    meter = MeterReader(MeterSource(format=MeterFormat.SHELLY, topic="p"))
    meter.read("p/status/emdata:0", _emdata(1000.0, 5.0))

    def notify(total_act: float) -> str:
        params = {"ts": 1.0, "emdata:0": {"id": 0, "total_act": total_act}}
        return json.dumps({"method": "NotifyStatus", "params": params})

    assert meter.read("p/events/rpc", notify(1500.0))["import_energy"] == pytest.approx(0.5)
    assert meter.read("p/events/rpc", notify(1700.0))["import_energy"] == pytest.approx(0.7)
    # A restart of Home Assistant keeps the counters the next notification needs.
    again = MeterReader(meter.source, json.loads(json.dumps(meter.state())))
    assert again.read("p/events/rpc", notify(1800.0))["import_energy"] == pytest.approx(0.8)


def test_shelly_channels_are_chosen_not_assumed() -> None:
    """Pro EM and EM Gen3 have two clamps, a Pro 3EM in monophase three: one is this meter."""
    second = MeterReader(MeterSource(format=MeterFormat.SHELLY, topic="shellyproem50", channel=1))
    values = _read(
        second,
        [
            ("shellyproem50/status/em1:1", json.dumps(PRO_EM_EM1_1)),
            ("shellyproem50/status/em1data:1", json.dumps(PRO_EM_EM1DATA_1)),
            ("shellyproem50/status/em1:0", '{"id":0,"act_power":-1500.0,"voltage":224.0}'),
        ],
    )
    assert values == pytest.approx(
        {
            "power": 5080.3,
            "voltage": 224.6,
            "current": 22.78,
            "power_factor": 0.99,
            "import_energy": 6.6449,
            "export_energy": 2.59526,
            "counting": "meter",
        }
    )
    assert second.channels == {0, 1}
    third = MeterReader(MeterSource(format=MeterFormat.SHELLY, topic="x", channel=2))
    assert third.read(EM63_TOPIC, EM63_EM1_2)["power"] == 219.4
    # Without a choice (meters saved before channels were asked) the first clamp.
    first = MeterReader(MeterSource(format=MeterFormat.SHELLY, topic="shellyemg3-dcb4d9c564f4"))
    assert first.read("shellyemg3-dcb4d9c564f4/events/rpc", EM_GEN3_NOTIFY) == {
        "power": -1899.8,
        "voltage": 117.6,
        "current": 16.714,
    }


def test_shelly_switches_with_power_metering_and_without() -> None:
    assert parse_shelly("shellyplus2pm-a/status/switch:0", PLUS_2PM_SWITCH_0) == pytest.approx(
        {
            "power@0": 0.0,
            "voltage@0": 230.8,
            "current@0": 0.0,
            "power_factor@0": 0.0,
            "import_energy@0": 0.123585,
        }
    )
    # A Plus 1 switches but measures nothing; other components say nothing about energy.
    assert parse_shelly("shellyplus1-a/status/switch:0", PLUS_1_SWITCH_0) == {}
    assert parse_shelly("shelly1pmmini-Sat/events/rpc", MQTT_CONNECTED_NOTIFY) == {}
    assert parse_shelly("shellyproem50-1/status/sys", '{"uptime": 5}') == {}


def test_shelly_gen1_plain_topics() -> None:
    clamp = MeterReader(MeterSource(format=MeterFormat.SHELLY_GEN1, topic=GEN1_EM, channel=0))
    assert _read(clamp, GEN1_EM_MESSAGES) == {
        "power": 611.53,
        "voltage": 238.85,
        "import_energy": pytest.approx(1.8919),
        "export_energy": 0.0,
        "counting": "meter",
    }
    assert clamp.channels == {0, 1}
    # A plug's energy is in watt-minutes.
    assert parse_shelly_gen1("shellies/shellyplug-s-1/relay/0/energy", "60000") == {
        "import_energy@0": 1.0
    }
    assert parse_shelly_gen1("shellies/shellyplug-s-1/relay/0", "on") == {}
    assert parse_shelly_gen1(f"{GEN1_EM}/emeter/0/energy", "113514") == {}  # resets: not read


def test_shelly_gen1_3em_phases_are_balanced_once_every_phase_reported() -> None:
    """A Gen1 3EM sends each phase's counters on its own topic (Wh, not balanced)."""
    meter = MeterReader(MeterSource(format=MeterFormat.SHELLY_GEN1, topic=GEN1_3EM))

    def phase_b(total: str, returned: str) -> list[tuple[str, str]]:
        return [
            (f"{GEN1_3EM}/emeter/1/power", "-100"),
            (f"{GEN1_3EM}/emeter/1/total", total),
            (f"{GEN1_3EM}/emeter/1/total_returned", returned),
        ]

    def phase_a(total: str, returned: str) -> list[tuple[str, str]]:
        return [
            (f"{GEN1_3EM}/emeter/0/power", "1200"),
            (f"{GEN1_3EM}/emeter/0/total", total),
            (f"{GEN1_3EM}/emeter/0/total_returned", returned),
        ]

    # The first round tells which counters the meter has; the second is the baseline.
    first = _read(meter, [*GEN1_3EM_PHASE_A, *phase_b("500", "2000")])
    assert first["voltage_l1"] == 231.84
    assert first["power"] == -100.0
    assert "import_energy" not in first
    assert meter.channels == {0, 1}
    second = _read(meter, [*phase_a("10533.1", "427.7"), *phase_b("500", "2000")])
    assert second["import_energy"] == 0.0
    assert second["power"] == pytest.approx(1100.0)
    # Phase A imports 100 Wh while phase B exports 100 Wh: balanced, neither. Nothing is
    # counted until every counter came again.
    assert "import_energy" not in _read(meter, phase_a("10633.1", "427.7"))
    third = _read(meter, phase_b("500", "2100"))
    assert third["import_energy"] == pytest.approx(0.0)
    assert third["export_energy"] == pytest.approx(0.0)
    # Then phase A imports 300 Wh and phase B exports 100 Wh: 0.2 kWh balanced import.
    fourth = _read(meter, [*phase_a("10933.1", "427.7"), *phase_b("500", "2200")])
    assert fourth["import_energy"] == pytest.approx(0.2)
    assert fourth["export_energy"] == pytest.approx(0.0)
    assert fourth["counting"] == "phase_balanced"


def test_tasmota_net_total_is_split_into_import_and_export() -> None:
    """A Shelly 3EM on Tasmota: Total runs back while the home exports (Tasmota#17178)."""
    meter = MeterReader(MeterSource(format=MeterFormat.TASMOTA, topic="shelly3em"))
    first = meter.read("tele/shelly3em/SENSOR", TASMOTA_3EM_NET)
    assert first == {
        "power": pytest.approx(-0.2),
        "current": pytest.approx(0.04),
        "voltage_l1": 236.9,
        "voltage_l2": 0.1,
        "voltage_l3": 0.1,
        "power_factor_l1": -0.05,
        "power_factor_l2": 0.0,
        "power_factor_l3": 0.0,
        "net_energy": 0.00627,
        "import_energy": 0.0,
        "export_energy": 0.0,
        "counting": "net_counter",
    }
    # Later messages (Total changed): 1.5 kWh exported, then 0.5 kWh imported.
    exported = meter.read("tele/shelly3em/SENSOR", tasmota_total(TASMOTA_3EM_NET, Total=-1.49373))
    assert exported["export_energy"] == pytest.approx(1.5)
    assert exported["import_energy"] == 0.0
    imported = meter.read("tele/shelly3em/SENSOR", tasmota_total(TASMOTA_3EM_NET, Total=-0.99373))
    assert imported["import_energy"] == pytest.approx(0.5)
    assert imported["export_energy"] == pytest.approx(1.5)
    # EnergyTotal 0 resets the counter (a new TotalStartTime): not an export.
    reset = tasmota_total(TASMOTA_3EM_NET, Total=0.0, TotalStartTime="2022-12-01T00:00:00")
    after = meter.read("tele/shelly3em/SENSOR", reset)
    assert after["export_energy"] == pytest.approx(1.5)
    assert after["import_energy"] == pytest.approx(0.5)


def test_tasmota_daily_balanced_counters_are_preferred() -> None:
    """SetOption129 1 (Tasmota#22579): per-phase lists, and TodaySum* balanced across them."""
    meter = MeterReader(MeterSource(format=MeterFormat.TASMOTA, topic="shelly3em"))
    first = meter.read("tele/shelly3em/SENSOR", TASMOTA_3EM_PHASES)
    assert first["net_energy"] == pytest.approx(9.588 + 22.732 + 0.005)
    assert first["power"] == pytest.approx(176.0 + 232.1 - 0.1)
    assert [first[f"power_factor_l{n}"] for n in (1, 2, 3)] == [0.32, 0.54, -0.01]
    assert first["counting"] == "daily_balanced"
    later = tasmota_total(
        TASMOTA_3EM_PHASES, Total=[9.700, 22.732, 0.000], TodaySumImport=0.265, TodaySumExport=0.007
    )
    values = meter.read("tele/shelly3em/SENSOR", later)
    assert values["import_energy"] == pytest.approx(0.1)
    assert values["export_energy"] == pytest.approx(0.005)
    # Midnight: the daily counters start again; that interval counts the net's change.
    midnight = tasmota_total(
        TASMOTA_3EM_PHASES, Total=[9.900, 22.732, 0.000], TodaySumImport=0.0, TodaySumExport=0.0
    )
    values = meter.read("tele/shelly3em/SENSOR", midnight)
    assert values["import_energy"] == pytest.approx(0.3)


def test_tasmota_daily_counters_across_a_missed_midnight_and_a_reset() -> None:
    meter = MeterReader(MeterSource(format=MeterFormat.TASMOTA, topic="shelly3em"))
    meter.read("t", TASMOTA_3EM_PHASES)  # 2024-12-02, TodaySum 0.165 / 0.002

    def message(time: str, totals: list[float], day: tuple[float, float], **more: str) -> str:
        payload = json.loads(tasmota_total(TASMOTA_3EM_PHASES, Total=totals, **more))
        payload["Time"] = time
        payload["ENERGY"] |= {"TodaySumImport": day[0], "TodaySumExport": day[1]}
        return json.dumps(payload)

    # Home Assistant was down over midnight: the next day's counters already passed the old
    # ones. The net's change (8 kWh) is counted, not the daily counters' difference.
    next_day = message("2024-12-03T09:00:00", [17.588, 22.732, 0.005], (8.5, 0.5))
    values = meter.read("t", next_day)
    assert values["import_energy"] == pytest.approx(8.0)
    assert values["export_energy"] == pytest.approx(0.0)
    # EnergyTotal 0 with a new TotalStartTime, the day's counters restarted by the reboot:
    # neither is energy.
    reset = message(
        "2024-12-03T09:05:00", [0.0, 0.0, 0.0], (0.0, 0.0), TotalStartTime="2024-12-03T09:04:00"
    )
    values = meter.read("t", reset)
    assert values["import_energy"] == pytest.approx(8.0)
    assert values["export_energy"] == pytest.approx(0.0)


def test_tasmota_two_channels_are_two_meters() -> None:
    """A Shelly 2.5 or EM on Tasmota: its lists are channels (grid and PV clamps), not phases."""
    pv = MeterReader(MeterSource(format=MeterFormat.TASMOTA, topic="em", channel=1))
    values = pv.read("stat/em/STATUS10", TASMOTA_TWO_CHANNELS)
    assert values == {
        "power": 0.0,
        "current": 0.0,
        "voltage": 231.0,
        "net_energy": 0.517,
        "import_energy": 0.0,
        "export_energy": 0.0,
        "counting": "net_counter",
    }
    assert pv.channels == {0, 1}
    # SetOption129 0: Total is both channels' sum, nobody's counter: no energy for a channel.
    summed = tasmota_total(TASMOTA_TWO_CHANNELS, Total=1.721, Today=0.3)
    assert "net_energy" not in pv.read("stat/em/STATUS10", summed)


def test_tasmota_import_counter_and_old_tariff_lists() -> None:
    pzem = MeterSource(format=MeterFormat.TASMOTA, topic="energy1", counter=CounterKind.IMPORT)
    assert MeterReader(pzem).read("tele/energy1/SENSOR", TASMOTA_PZEM) == {
        "power": 2109.0,
        "current": 13.07,
        "voltage": 227.0,
        "power_factor": 0.71,
        "import_energy": 13.797,
        "today_energy": 8.881,
        "counting": "meter",
    }
    # Tasmota's release notes, v8.3.1.2: "Total":[33.736,11.717,16.978] became "Total":33.736
    # with "TotalTariff":[11.717,16.978]; the old form comes with a single Today.
    old = '{"ENERGY":{"Total":[33.736,11.717,16.978],"Yesterday":1.2,"Today":0.4,"Power":120}}'
    assert parse_tasmota(old).values["total"] == 33.736
    new = '{"ENERGY":{"Total":33.736,"TotalTariff":[11.717,16.978],"Today":0.4,"Power":120}}'
    assert parse_tasmota(new).values["total"] == 33.736


@pytest.mark.parametrize(
    ("topic", "payload", "message"),
    [
        ("s/status/em:0", "{not json", "not JSON"),
        ("s/status/em:0", '{"total_act_power": "lots"}', "em:0.total_act_power is 'lots'"),
        ("s/status/em:0", "[1, 2]", "em:0 status is not an object"),
        ("s/online", "true", "not a Shelly status or event topic"),
        ("s/events/rpc", '{"method": "NotifyStatus"}', "without params"),
    ],
)
def test_shelly_errors(topic: str, payload: str, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_shelly(topic, payload)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{"Time": "x"}', "measures no energy"),
        ('{"ENERGY": {"Yesterday": 1}}', "none of Total"),
        ('{"ENERGY": 5}', "ENERGY is not an object"),
        ("[1]", "not a JSON object"),
        ('{"ENERGY": {"Total": null}}', "ENERGY.Total is None"),
        ('{"ENERGY": {"Power": [1, "x"]}}', "ENERGY.Power is 'x'"),
    ],
)
def test_tasmota_errors(payload: str, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_tasmota(payload)


def test_emonhub_and_esphome_plain_numbers() -> None:
    assert parse_emonhub("emon/emontx4/P1", b"1234.5") == ("P1", 1234.5)
    with pytest.raises(PayloadError, match="is not a number"):
        parse_emonhub("emon/emontx4/P1", b"nan-ish")
    with pytest.raises(PayloadError, match="is not emon/<node>/<key>"):
        parse_emonhub("emon/emontx4", b"1")
    with pytest.raises(PayloadError, match="not finite"):
        parse_emonhub("emon/emontx4/P1", b"inf")
    # ESPHome's default state topic, <node>/sensor/<object id>/state, and its "nan" (esphome
    # components/mqtt: value_accuracy_to_string; NaN while the sensor has no value).
    assert parse_esphome("casa/sensor/energia_importada/state", b"1234.5") == (
        "energia_importada",
        1234.5,
    )
    assert parse_esphome("casa/sensor/potencia/state", b"nan") == ("potencia", None)
    with pytest.raises(PayloadError, match="not <node>/sensor/<name>/state"):
        parse_esphome("casa/binary_sensor/x/state", b"ON")
    esphome = MeterReader(
        MeterSource(
            format=MeterFormat.ESPHOME,
            topic="casa",
            mapping={
                "import_energy": ValueMapping(source="energia_importada", unit="Wh"),
                "power": ValueMapping(source="potencia", unit="W"),
            },
        )
    )
    assert esphome.read("casa/sensor/energia_importada/state", b"1234.5") == {
        "import_energy": 1.2345,
        "counting": "meter",
    }
    assert esphome.read("casa/sensor/potencia/state", b"nan") == {}
    assert esphome.read("casa/sensor/temperatura/state", b"21.5") == {}


def test_generic_json_path_and_units() -> None:
    payload = json.dumps({"meter": {"phases": [{"e": 1500}], "p": 2.5}})
    assert parse_json_path(payload, "meter.phases.0.e", "Wh") == pytest.approx(1.5)
    assert parse_json_path(payload, "meter.p", "kW") == pytest.approx(2500.0)
    with pytest.raises(PayloadError, match=re.escape("no 'q' at 'meter.q'")):
        parse_json_path(payload, "meter.q", "W")
    with pytest.raises(PayloadError, match="unit 'BTU'"):
        parse_json_path(payload, "meter.p", "BTU")


def test_meter_sources_subscribe_and_ask_per_format() -> None:
    shelly = MeterSource(format=MeterFormat.SHELLY, topic="shellyem-1")
    assert shelly.subscriptions == ("shellyem-1/status/+", "shellyem-1/events/rpc")
    assert shelly.request == ("shellyem-1/command", "status_update")
    gen1 = MeterSource(format=MeterFormat.SHELLY_GEN1, topic=GEN1_3EM)
    assert gen1.subscriptions == (f"{GEN1_3EM}/emeter/+/+", f"{GEN1_3EM}/relay/+/+")
    assert gen1.request == (f"{GEN1_3EM}/command", "update")
    tasmota = MeterSource(format=MeterFormat.TASMOTA, topic="enchufe")
    assert tasmota.subscriptions == ("tele/enchufe/SENSOR", "stat/enchufe/STATUS10")
    assert tasmota.request == ("cmnd/enchufe/STATUS", "10")
    emon = MeterSource(
        format=MeterFormat.EMONHUB,
        topic="emontx4",
        mapping={"import_energy": ValueMapping(source="E1", unit="Wh")},
    )
    assert emon.subscriptions == ("emon/emontx4/+",)
    assert emon.request is None
    assert MeterReader(emon).read("emon/emontx4/E1", b"2500") == {
        "import_energy": 2.5,
        "counting": "meter",
    }
    assert MeterReader(emon).read("emon/emontx4/T1", b"21") == {}


def test_json_meter_reads_what_it_can_and_explains_what_it_cannot() -> None:
    meter = MeterSource(
        format=MeterFormat.JSON,
        topic="casa/contador",
        mapping={
            "import_energy": ValueMapping(source="e.in", unit="kWh"),
            "power": ValueMapping(source="p", unit="kW"),
        },
    )
    reader = MeterReader(meter)
    assert reader.read("casa/contador", '{"e": {"in": 7}}') == {
        "import_energy": 7.0,
        "counting": "meter",
    }
    assert reader.read("casa/contador", '{"e": {"in": 7}, "p": 1.5}') == {
        "import_energy": 7.0,
        "counting": "meter",
        "power": 1500.0,
    }
    with pytest.raises(PayloadError, match=r"no 'e' at 'e\.in'.*no 'p' at 'p'"):
        reader.read("casa/contador", '{"x": 1}')


@pytest.mark.parametrize(
    "mapping",
    [
        {},
        {"power": ValueMapping(source="P1", unit="Wh")},
        {"soc": ValueMapping(source="S", unit="%")},
    ],
)
def test_mappings_a_meter_cannot_use_are_refused(mapping: dict[str, ValueMapping]) -> None:
    with pytest.raises(ValueError, match="mapped"):
        MeterSource(format=MeterFormat.EMONHUB, topic="n", mapping=mapping)
