"""Members online or not: the status each home keeps retained (its last will says offline).

Besides who is online (what the results count), each member's last status is kept with when
its state last changed as the aggregator saw it (a retained status read at start counts from
then: the message holds no time), the batches its home's outbox held then, and the devices the
home said it controls locally, in which mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
import logging
import re

import aiomqtt

from ioe_aggregator.protocol.codec import ControlledDevice, ProtocolError, decode_status

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class LinkState:
    """A member's last status: online or not since when, its outbox's backlog if told.

    ``control``: the devices its home last said it controls locally, and when it said so
    (``control_seen``); None while no status of the home has told.
    """

    online: bool
    since: datetime
    backlog: int | None
    seen: datetime
    control: tuple[ControlledDevice, ...] | None
    control_seen: datetime | None


class MemberStatus:
    """Listens to every member's retained status (its home's last will says offline)."""

    def __init__(self, prefix: str) -> None:
        """Listen under a community's topic prefix."""
        self._prefix = prefix
        self._topic = re.compile(rf"^{re.escape(prefix)}/m/(?P<member>[^/]+)/status$")
        self.online: set[str] = set()
        self.states: dict[str, LinkState] = {}

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
            self.states.pop(member, None)
            return
        try:
            status = decode_status(bytes(payload))
        except ProtocolError as err:
            _LOGGER.warning("Ignored a status of %s: %s", member, err)
            return
        online = status.online
        if online:
            self.online.add(member)
        else:
            self.online.discard(member)
        now = datetime.now(UTC)
        known = self.states.get(member)
        control, control_seen = status.control, None if status.control is None else now
        if control is None and known is not None:
            # A status that does not tell (the last will) leaves the last report standing:
            # local control goes on without the link.
            control, control_seen = known.control, known.control_seen
        self.states[member] = LinkState(
            online=online,
            since=known.since if known is not None and known.online == online else now,
            backlog=status.backlog,
            seen=now,
            control=control,
            control_seen=control_seen,
        )
