"""MQTT payloads as real meters publish them, each with where it was found.

Quoted as published (whitespace aside); numbers changed only where a test needs a second
message of the same device, and then said so at the test.
"""

from __future__ import annotations

import json
from typing import Final

# Shelly Pro 3EM, "triphase" profile, firmware 1.6.1: Home Assistant core,
# tests/components/shelly/fixtures/pro_3em.json (em:0 and emdata:0 of its status).
PRO_3EM_EM: Final = {
    "a_act_power": 2166.2, "a_aprt_power": 2175.9, "a_current": 9.592, "a_freq": 49.9,
    "a_pf": 0.99, "a_voltage": 227.0, "b_act_power": 3.6, "b_aprt_power": 10.1,
    "b_current": 0.044, "b_freq": 49.9, "b_pf": 0.36, "b_voltage": 230.0, "c_act_power": 244.0,
    "c_aprt_power": 339.7, "c_current": 1.479, "c_freq": 49.9, "c_pf": 0.72, "c_voltage": 230.2,
    "id": 0, "n_current": None, "total_act_power": 2413.825, "total_aprt_power": 2525.779,
    "total_current": 11.116, "user_calibrated_phase": [],
}  # fmt: skip
PRO_3EM_EMDATA: Final = {
    "a_total_act_energy": 3105576.42, "a_total_act_ret_energy": 0.0,
    "b_total_act_energy": 195765.72, "b_total_act_ret_energy": 0.0,
    "c_total_act_energy": 2114072.05, "c_total_act_ret_energy": 0.0,
    "id": 0, "total_act": 5415414.19, "total_act_ret": 0.0,
}  # fmt: skip

# Shelly Pro EM-50, second clamp: evcc-io/evcc#12385 (its Shelly.GetStatus).
PRO_EM_EM1_1: Final = {
    "id": 1, "current": 22.780, "voltage": 224.6, "act_power": 5080.3, "aprt_power": 5142.4,
    "pf": 0.99, "freq": 50.0, "calibration": "factory",
}  # fmt: skip
PRO_EM_EM1DATA_1: Final = {"id": 1, "total_act_energy": 6644.90, "total_act_ret_energy": 2595.26}

# Shelly 3EM-63 Gen3 in the "monophase" profile, MQTT status of its third channel:
# ioBroker/ioBroker.shelly#1540.
EM63_TOPIC: Final = "shelly3em63g3-48f6eead1a8c/status/em1:2"
EM63_EM1_2: Final = (
    '{"id":2,"current":1.246,"voltage":228.5,"act_power":219.4,"aprt_power":284.8,"pf":0.77,'
    '"freq":50.0,"calibration":"factory"}'
)

# Shelly EM Gen3 NotifyStatus (only what changed, plus ts): a third-party test file quoted in
# the research notes of issue 19.
EM_GEN3_NOTIFY: Final = (
    '{"src":"shellyemg3-dcb4d9c564f4","dst":"shellyemg3/events","method":"NotifyStatus",'
    '"params":{"ts":1788820998.37,"em1:0":{"id":0,"current":16.714,"act_power":-1899.8,'
    '"voltage":117.6}}}'
)

# Shelly Plus 2PM switch status over MQTT: ioBroker/ioBroker.shelly#813.
PLUS_2PM_SWITCH_0: Final = (
    '{"id":0, "source":"init", "output":false, "apower":0.0, "voltage":230.8, "freq":50.0, '
    '"current":0.000, "pf":0.00, "aenergy":{"total":123.585,"by_minute":[0.000,0.000,0.000],'
    '"minute_ts":1698999959},"temperature":{"tC":44.9, "tF":112.9}}'
)
# Shelly Plus 1 (no power metering): ALLTERCO/shelly-script-examples PR #4.
PLUS_1_SWITCH_0: Final = '{"id":0,"source":"init","output":false,"temperature":{"tC":33,"tF":91.5}}'
# Another component's notification from the same kind of log (ioBroker.shelly#813).
MQTT_CONNECTED_NOTIFY: Final = (
    '{"src":"shelly1pmmini-348518e0c114","dst":"shelly1pmmini-Sat/events",'
    '"method":"NotifyStatus","params":{"ts":1698999957.05,"mqtt":{"connected":true}}}'
)

# Shelly EM Gen1 plain topics: enesbcs/shellyteacher4domo#5.
GEN1_EM: Final = "shellies/shellyem-123456789012"
GEN1_EM_MESSAGES: Final = (
    (f"{GEN1_EM}/emeter/0/power", "611.53"),
    (f"{GEN1_EM}/emeter/0/reactive_power", "382.27"),
    (f"{GEN1_EM}/emeter/0/voltage", "238.85"),
    (f"{GEN1_EM}/emeter/0/total", "1891.9"),
    (f"{GEN1_EM}/emeter/0/total_returned", "0"),
    (f"{GEN1_EM}/emeter/1/power", "0"),
)
# Shelly 3EM Gen1, phase A's counters and voltage: ioBroker/ioBroker.shelly#912.
GEN1_3EM: Final = "shellies/shellyem3-485519D6FEC7"
GEN1_3EM_PHASE_A: Final = (
    (f"{GEN1_3EM}/emeter/0/total", "10533.1"),
    (f"{GEN1_3EM}/emeter/0/total_returned", "427.7"),
    (f"{GEN1_3EM}/emeter/0/voltage", "231.84"),
)

# Shelly 3EM running Tasmota 12.1.1, SetOption129 0: arendst/Tasmota#17178 ("the 'Total' energy
# counter runs backwards when energy is exported").
TASMOTA_3EM_NET: Final = (
    '{"Time":"2022-11-24T13:04:03","ENERGY":{"TotalStartTime":"2022-11-22T13:42:58",'
    '"Total":0.00627,"Yesterday":-0.00006,"Today":0.00634,"ExportActive":[0.02465,0.00001,'
    '0.00001],"Period":[0.0,0.0,0.0],"Power":[-0.2,0.0,0.0],"ApparentPower":[3.2,0.0,0.0],'
    '"ReactivePower":[3.2,0.0,0.0],"Factor":[-0.05,0.00,0.00],"Frequency":[49.96,48.85,136.83],'
    '"Voltage":[236.9,0.1,0.1],"Current":[0.013,0.014,0.013],"CurrentNeutral":0.011}}'
)
# Shelly 3EM running Tasmota, SetOption129 1, with the daily balanced counters:
# arendst/Tasmota#22579 (custom FullTopic home/%topic%/tele).
TASMOTA_3EM_PHASES: Final = (
    '{"Time":"2024-12-02T15:53:56","ENERGY":{"TotalStartTime":"2024-11-30T13:18:05",'
    '"Total":[9.588,22.732,0.005],"Yesterday":[1.513,10.905,-0.002],'
    '"Today":[5.285,7.902,0.005],"TodaySumImport":0.165,"TodaySumExport":0.002,'
    '"ExportActive":[8.196,0.000,0.012],"Period":[2.9,3.9,0.0],"Power":[176.0,232.1,-0.1],'
    '"ApparentPower":[550.6,426.4,3.5],"ReactivePower":[521.7,357.7,3.4],'
    '"Factor":[0.32,0.54,-0.01],"Frequency":[50,50,50],"Voltage":[251,251,251],'
    '"Current":[2.211,1.711,0.014],"CurrentNeutral":0.011}}'
)
# A PZEM-004T on Tasmota (consumption only): arendst/Tasmota#5373.
TASMOTA_PZEM: Final = (
    '{"Time":"2019-03-01T12:48:40","ENERGY":{"TotalStartTime":"2019-02-26T10:14:20",'
    '"Total":13.797,"Yesterday":4.916,"Today":8.881,"Period":6,"Power":2109,'
    '"ApparentPower":2960,"ReactivePower":2077,"Factor":0.71,"Voltage":227,"Current":13.070}}'
)
# A two-channel device (Shelly 2.5 on Tasmota, Status 8): its lists are channels, its voltage
# one value. evcc-io/evcc#5732 quotes "ApparentPower":[149,0] and "Power":[7,0]; the other
# fields follow the ADE7953 driver (two channels, common voltage and frequency).
TASMOTA_TWO_CHANNELS: Final = (
    '{"StatusSNS":{"Time":"2023-01-10T10:00:00","ENERGY":{"TotalStartTime":"2022-12-01T09:00:00",'
    '"Total":[1.204,0.517],"Yesterday":[0.100,0.050],"Today":[0.200,0.100],"Power":[7,0],'
    '"ApparentPower":[149,0],"Voltage":231,"Frequency":50,"Current":[0.645,0.000]}}}'
)


def tasmota_total(payload: str, **changes: object) -> str:
    """Return a Tasmota message with some ENERGY fields changed (a later message)."""
    message = json.loads(payload)
    energy = message["StatusSNS"]["ENERGY"] if "StatusSNS" in message else message["ENERGY"]
    energy |= changes
    return json.dumps(message)
