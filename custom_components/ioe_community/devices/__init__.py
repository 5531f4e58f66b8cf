"""Device access that knows nothing of Home Assistant: Modbus clients, register profiles, MQTT meter parsers."""
