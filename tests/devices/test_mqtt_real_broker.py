"""MQTT meter payloads through the real Mosquitto (TLS, password login), parsed on arrival."""

from __future__ import annotations

import json
import queue
import ssl

import paho.mqtt.client as paho
import pytest

from custom_components.ioe_community.devices.mqtt_parsers import parse_shelly, parse_tasmota
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
        values = {}
        for _ in sent:
            topic, payload = received.get(timeout=10)
            parsed = (
                parse_tasmota(payload)
                if topic.startswith("tele/")
                else parse_shelly(topic, payload)
            )
            values[topic] = parsed
    finally:
        for mqtt in (publisher, subscriber):
            mqtt.loop_stop()
            mqtt.disconnect()

    assert values["shellypro3em-home/status/emdata:0"] == pytest.approx(
        {"import_energy": 2.39066, "export_energy": 0.10015}
    )
    assert values["tele/enchufe/SENSOR"] == {"import_energy": 12.5, "power": 85.0}
