"""Members online or not: the status each home keeps retained (its last will says offline)."""

from __future__ import annotations

import logging
import re

import aiomqtt

from ioe_aggregator.protocol.codec import ProtocolError, decode
from ioe_aggregator.protocol.messages import MessageKind

_LOGGER = logging.getLogger(__name__)


class MemberStatus:
    """Listens to every member's retained status (its home's last will says offline)."""

    def __init__(self, prefix: str) -> None:
        """Listen under a community's topic prefix."""
        self._prefix = prefix
        self._topic = re.compile(rf"^{re.escape(prefix)}/m/(?P<member>[^/]+)/status$")
        self.online: set[str] = set()

    @property
    def subscriptions(self) -> list[str]:
        """Every replica follows every member's status."""
        return [f"{self._prefix}/m/+/status"]

    async def handle(self, _client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        """Record a member's state; a bad status is logged and leaves the state as it was."""
        match = self._topic.match(str(message.topic))
        if match is None:
            return
        member = match["member"]
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        if not payload:
            # A retained status being cleared: nothing is known any more.
            self.online.discard(member)
            return
        try:
            status = decode(bytes(payload), MessageKind.STATUS)
        except ProtocolError as err:
            _LOGGER.warning("Ignored a status of %s: %s", member, err)
            return
        if status["state"] == "online":
            self.online.add(member)
        else:
            self.online.discard(member)
