"""The broker side of the ingest: which topics the aggregator listens to, and what it answers."""

from __future__ import annotations

import asyncio
import logging
import re

import aiomqtt

from ioe_aggregator.ingest.writer import Ingest
from ioe_aggregator.refusals import Refused

_LOGGER = logging.getLogger(__name__)
# Batches being stored at once; beyond this, the next message waits in the connection's queue
# (``ioe_aggregator_broker_messages_waiting``).
MAX_IN_FLIGHT = 1000


class MqttIngest:
    """Subscribes to every member's readings and acknowledges each stored batch."""

    def __init__(self, ingest: Ingest, prefix: str, *, share_group: str) -> None:
        """Listen under a community's topic prefix, in the replicas' shared subscription.

        Replicas share the readings: each batch reaches one of them. ``share_group`` must be
        the same for every replica and known to nobody else: a member that joined the group
        would take its share of every member's readings.
        """
        self._ingest = ingest
        self._prefix = prefix
        self._share_group = share_group
        self._readings = re.compile(rf"^{re.escape(prefix)}/m/(?P<member>[^/]+)/readings$")
        self._room = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def subscriptions(self) -> list[str]:
        """The topic filters to subscribe to at every (re)connection."""
        return [f"$share/{self._share_group}/{self._prefix}/m/+/readings"]

    async def handle(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        """Start storing a batch (acknowledged when stored); ignore other topics.

        Returns at once, so that the next message is decoded while this one waits for the
        writer's next transaction.
        """
        match = self._readings.match(str(message.topic))
        if match is None:
            return
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        await self._room.acquire()
        task = asyncio.create_task(self._store_and_ack(client, match["member"], bytes(payload)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _store_and_ack(self, client: aiomqtt.Client, member: str, payload: bytes) -> None:
        try:
            ack = await self._ingest.receive(member, payload, via="mqtt")
            await client.publish(f"{self._prefix}/m/{member}/ack", ack, qos=1)
        except Refused:
            pass
        except aiomqtt.MqttError as err:
            # Stored, but the ack is lost with the connection: the home sends the batch again
            # and gets its ack then (storing it again changes nothing).
            _LOGGER.warning("Could not acknowledge a batch of %s: %s", member, err)
        except Exception:
            # A bug must cost this batch (the home sends it again), never the listener.
            _LOGGER.exception("Storing a batch of %s failed", member)
        finally:
            self._room.release()
