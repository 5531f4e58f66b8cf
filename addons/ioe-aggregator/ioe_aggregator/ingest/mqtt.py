"""The broker side of the ingest: which topics the aggregator listens to, and what it answers."""

from __future__ import annotations

import logging
import re

import aiomqtt

from ioe_aggregator.ingest import Ingest, Refused

_LOGGER = logging.getLogger(__name__)
# Replicas share the readings: each batch reaches one of them.
SHARE_GROUP = "ioe-aggregator"


class MqttIngest:
    """Subscribes to every member's readings and acknowledges each stored batch."""

    def __init__(self, ingest: Ingest, prefix: str) -> None:
        """Listen under a community's topic prefix."""
        self._ingest = ingest
        self._prefix = prefix
        self._readings = re.compile(rf"^{re.escape(prefix)}/m/(?P<member>[^/]+)/readings$")

    @property
    def subscriptions(self) -> list[str]:
        """The topic filters to subscribe to at every (re)connection."""
        return [f"$share/{SHARE_GROUP}/{self._prefix}/m/+/readings"]

    async def handle(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        """Store a batch and acknowledge it; ignore what is not a readings topic."""
        match = self._readings.match(str(message.topic))
        if match is None:
            return
        member = match["member"]
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""

        try:
            ack = await self._ingest.receive(member, bytes(payload), via="mqtt")
        except Refused:
            return
        await client.publish(f"{self._prefix}/m/{member}/ack", ack, qos=1)
