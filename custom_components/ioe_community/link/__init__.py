"""The community link, free of Home Assistant: protocol messages, persistent outbox, MQTT client."""
