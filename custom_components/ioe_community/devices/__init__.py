"""Device access free of Home Assistant: Modbus clients, register profiles, MQTT meter parsers."""
