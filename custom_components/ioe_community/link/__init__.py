"""The community link, free of Home Assistant: protocol messages, the persistent outbox, the MQTT client."""
