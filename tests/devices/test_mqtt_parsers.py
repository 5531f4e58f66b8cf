"""MQTT meter payloads as the meters publish them, and every way they can be wrong."""

from __future__ import annotations

import json
import re

import pytest

from custom_components.ioe_community.devices.mqtt_meter import (
    MeterFormat,
    MeterSource,
    ValueMapping,
)
from custom_components.ioe_community.devices.mqtt_parsers import (
    PayloadError,
    parse_emonhub,
    parse_json_path,
    parse_shelly,
    parse_tasmota,
)

PRO_3EM_EM = {
    "id": 0, "a_current": 4.029, "a_voltage": 236.1, "a_act_power": 951.2,
    "b_current": 4.027, "b_voltage": 236.2, "b_act_power": -951.1,
    "c_current": 3.03, "c_voltage": 236.3, "c_act_power": 715.3,
    "total_current": 11.086, "total_act_power": 715.4, "total_aprt_power": 2679.4,
}  # fmt: skip
PRO_3EM_EMDATA = {"id": 0, "total_act": 2390.66, "total_act_ret": 100.15}


def test_shelly_pro_3em_status_topics() -> None:
    assert parse_shelly("shellypro3em-abc/status/em:0", json.dumps(PRO_3EM_EM)) == {
        "power": 715.4,
        "voltage_l1": 236.1,
        "voltage_l2": 236.2,
        "voltage_l3": 236.3,
        "current_l1": 4.029,
        "current_l2": 4.027,
        "current_l3": 3.03,
    }
    energy = parse_shelly("shellypro3em-abc/status/emdata:0", json.dumps(PRO_3EM_EMDATA))
    assert energy == pytest.approx({"import_energy": 2.39066, "export_energy": 0.10015})


def test_shelly_notify_status_and_pro_em_channels() -> None:
    message = {
        "src": "shellyproem50-1",
        "method": "NotifyStatus",
        "params": {
            "ts": 1732440000.1,
            "em1:0": {"id": 0, "act_power": 512.0, "voltage": 231.0, "current": 2.3},
            "em1:1": {"id": 1, "act_power": -1800.0},
            "em1data:0": {"id": 0, "total_act_energy": 150000.0, "total_act_ret_energy": 0.0},
        },
    }
    values = parse_shelly("shellyproem50-1/events/rpc", json.dumps(message))
    assert values == {
        "power": 512.0, "voltage": 231.0, "current": 2.3, "power_1": -1800.0,
        "import_energy": 150.0, "export_energy": 0.0,
    }  # fmt: skip
    other = {"method": "NotifyEvent", "params": {"events": []}}
    assert parse_shelly("shellyproem50-1/events/rpc", json.dumps(other)) == {}
    # After "status_update" every component reports; those that are not meters hold nothing.
    assert parse_shelly("shellyproem50-1/status/sys", '{"uptime": 5}') == {}


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


def test_tasmota_sensor_single_and_three_phase() -> None:
    single = {
        "Time": "2026-11-24T10:15:00",
        "ENERGY": {"TotalStartTime": "2024-01-01T00:00:00", "Total": 1234.567, "Yesterday": 7.1,
                   "Today": 3.2, "Power": 350, "Voltage": 231, "Current": 1.52, "Factor": 0.98},
    }  # fmt: skip
    assert parse_tasmota(json.dumps(single)) == {
        "import_energy": 1234.567, "power": 350.0, "voltage": 231.0, "current": 1.52,
        "power_factor": 0.98, "today_energy": 3.2,
    }  # fmt: skip
    three = {
        "ENERGY": {
            "Total": 10.0,
            "ExportActive": 2.5,
            "Power": [100, 200, -50],
            "Voltage": [230, 231, 232],
        }
    }
    status10 = {"StatusSNS": {"Time": "2026-11-24T10:15:00", "ENERGY": {"Total": 3.5}}}
    assert parse_tasmota(json.dumps(status10)) == {"import_energy": 3.5}
    assert parse_tasmota(json.dumps(three)) == {
        "import_energy": 10.0, "export_energy": 2.5, "power": 250.0,
        "voltage_l1": 230.0, "voltage_l2": 231.0, "voltage_l3": 232.0,
    }  # fmt: skip


def test_tasmota_lists_per_phase_are_not_all_summed() -> None:
    # A Shelly 3EM on Tasmota with SetOption129 1, verbatim (arendst/Tasmota#22579): energies
    # and powers per phase add up, power factors and voltages do not.
    payload = (
        '{"Time":"2024-12-02T15:53:56","ENERGY":{"TotalStartTime":"2024-11-30T13:18:05",'
        '"Total":[9.588,22.732,0.005],"Yesterday":[1.513,10.905,-0.002],'
        '"Today":[5.285,7.902,0.005],"TodaySumImport":0.165,"TodaySumExport":0.002,'
        '"ExportActive":[8.196,0.000,0.012],"Period":[2.9,3.9,0.0],"Power":[176.0,232.1,-0.1],'
        '"ApparentPower":[550.6,426.4,3.5],"ReactivePower":[521.7,357.7,3.4],'
        '"Factor":[0.32,0.54,-0.01],"Frequency":[50,50,50],"Voltage":[251,251,251],'
        '"Current":[2.211,1.711,0.014],"CurrentNeutral":0.011}}'
    )
    values = parse_tasmota(payload)
    assert values["import_energy"] == pytest.approx(9.588 + 22.732 + 0.005)
    assert values["power"] == pytest.approx(176.0 + 232.1 - 0.1)
    assert [values[f"power_factor_l{n}"] for n in (1, 2, 3)] == [0.32, 0.54, -0.01]
    assert "power_factor" not in values
    assert [values[f"voltage_l{n}"] for n in (1, 2, 3)] == [251.0, 251.0, 251.0]


def test_tasmota_before_8_3_1_2_lists_tariffs_after_the_total() -> None:
    # Tasmota's release notes, v8.3.1.2: "Total":[33.736,11.717,16.978] became "Total":33.736
    # with "TotalTariff":[11.717,16.978]; the old form comes with a single Today.
    old = '{"ENERGY":{"Total":[33.736,11.717,16.978],"Yesterday":1.2,"Today":0.4,"Power":120}}'
    assert parse_tasmota(old)["import_energy"] == 33.736
    new = '{"ENERGY":{"Total":33.736,"TotalTariff":[11.717,16.978],"Today":0.4,"Power":120}}'
    assert parse_tasmota(new)["import_energy"] == 33.736


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{"Time": "x"}', "no ENERGY object"),
        ('{"ENERGY": {"Yesterday": 1}}', "none of Total"),
        ('{"ENERGY": {"Total": null}}', "ENERGY.Total is None"),
        ('{"ENERGY": {"Power": [1, "x"]}}', "ENERGY.Power is 'x'"),
    ],
)
def test_tasmota_errors(payload: str, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_tasmota(payload)


def test_emonhub() -> None:
    assert parse_emonhub("emon/emontx4/P1", b"1234.5") == ("emontx4", "P1", 1234.5)
    with pytest.raises(PayloadError, match="is not a number"):
        parse_emonhub("emon/emontx4/P1", b"nan-ish")
    with pytest.raises(PayloadError, match="is not emon/<node>/<key>"):
        parse_emonhub("emon/emontx4", b"1")
    with pytest.raises(PayloadError, match="not finite"):
        parse_emonhub("emon/emontx4/P1", b"inf")


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
    assert emon.parse("emon/emontx4/E1", b"2500") == {"import_energy": 2.5}
    assert emon.parse("emon/emontx4/T1", b"21") == {}


def test_json_meter_reads_what_it_can_and_explains_what_it_cannot() -> None:
    meter = MeterSource(
        format=MeterFormat.JSON,
        topic="casa/contador",
        mapping={
            "import_energy": ValueMapping(source="e.in", unit="kWh"),
            "power": ValueMapping(source="p", unit="kW"),
        },
    )
    assert meter.parse("casa/contador", '{"e": {"in": 7}}') == {"import_energy": 7.0}
    assert meter.parse("casa/contador", '{"e": {"in": 7}, "p": 1.5}') == {
        "import_energy": 7.0,
        "power": 1500.0,
    }
    with pytest.raises(PayloadError, match=r"no 'e' at 'e\.in'.*no 'p' at 'p'"):
        meter.parse("casa/contador", '{"x": 1}')


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
