"""MQTT meter payloads through the real Mosquitto (TLS, password login), parsed on arrival."""

from __future__ import annotations

import json
import queue
import ssl

import paho.mqtt.client as paho

from custom_components.ioe_community.devices.mqtt_meter import MeterFormat, MeterReader, MeterSource
from ioe_dev.mosquitto import Broker
from tests.conftest import AGGREGATOR_PASSWORD, AGGREGATOR_USER


def client(broker: Broker, name: str) -> paho.Client:
    mqtt = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=name)
    mqtt.tls_set(ca_certs=str(broker.ca_file), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    mqtt.username_pw_set(AGGREGATOR_USER, AGGREGATOR_PASSWORD)
    mqtt.connect(broker.host, broker.port)
    return mqtt


def test_meter_messages_through_mosquitto(mosquitto: Broker) -> None:
    received: queue.Queue[tuple[str, bytes]] = queue.Queue()
    subscriber = client(mosquitto, "home")
    subscriber.on_message = lambda _c, _u, message: received.put((message.topic, message.payload))
    subscriber.subscribe([("shellypro3em-home/status/+", 1), ("tele/enchufe/SENSOR", 1)])
    subscriber.loop_start()
    publisher = client(mosquitto, "meters")
    publisher.loop_start()
    try:
        # Retained, so they arrive even if the subscription is not in place yet.
        sent = [
            (
                "shellypro3em-home/status/emdata:0",
                {"id": 0, "total_act": 2390.66, "total_act_ret": 100.15},
            ),
            ("tele/enchufe/SENSOR", {"ENERGY": {"Total": 12.5, "Power": 85}}),
        ]
        for topic, body in sent:
            publisher.publish(topic, json.dumps(body), qos=1, retain=True).wait_for_publish(5)
        readers = {
            "tele/enchufe/SENSOR": MeterReader(
                MeterSource(format=MeterFormat.TASMOTA, topic="enchufe")
            ),
            "shellypro3em-home/status/emdata:0": MeterReader(
                MeterSource(format=MeterFormat.SHELLY, topic="shellypro3em-home")
            ),
        }
        values = {}
        for _ in sent:
            topic, payload = received.get(timeout=10)
            values[topic] = readers[topic].read(topic, payload)
    finally:
        for mqtt in (publisher, subscriber):
            mqtt.loop_stop()
            mqtt.disconnect()

    # The first message of a meter whose energies are counted from its net is the baseline.
    assert values["shellypro3em-home/status/emdata:0"] == {
        "import_energy": 0.0,
        "export_energy": 0.0,
        "counting": "phase_balanced",
    }
    assert values["tele/enchufe/SENSOR"] == {
        "power": 85.0,
        "net_energy": 12.5,
        "import_energy": 0.0,
        "export_energy": 0.0,
        "counting": "net_counter",
    }
