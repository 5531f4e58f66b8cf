"""The service's own connection to the community's MQTT broker, kept up with backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from enum import StrEnum
import logging
import re
import ssl
from typing import Protocol

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ioe_aggregator.config import BrokerConfig
from ioe_aggregator.refusals import Kind, Refused

_LOGGER = logging.getLogger(__name__)
BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 60.0
# The broker keeps the aggregator's subscriptions and queues its messages this long while it
# is away (a restart, an upgrade), so that nothing waits for the homes to send it again.
SESSION_EXPIRY_S = 3600


class Listener(Protocol):
    """Something that subscribes to topics and handles what arrives on them."""

    @property
    def subscriptions(self) -> Sequence[str]:
        """The topic filters to subscribe to (QoS 1) at every connection."""

    async def handle(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        """Handle one message; must not raise for a bad message."""


class Announcer(Protocol):
    """Something that publishes at every (re)connection, once subscribed."""

    async def announce(self, client: aiomqtt.Client) -> None:
        """Publish what a fresh connection needs (retained messages, availability)."""


class BrokerUnavailable(Refused):
    """A message cannot be published: the broker is not connected now."""

    def __init__(self, message: str) -> None:
        """Refuse as unavailable, under the code programs know this case by."""
        super().__init__(Kind.UNAVAILABLE, message, code="broker_unavailable")


class BrokerStatus(StrEnum):
    """The state of the broker connection, as /api/health reports it."""

    NOT_CONFIGURED = "not_configured"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class BrokerConnection:
    """Connects to the broker with MQTT v5 and reconnects, doubling the wait up to a minute."""

    def __init__(
        self,
        config: BrokerConfig | None,
        client_id: str,
        listeners: Sequence[Listener] = (),
        *,
        will: aiomqtt.Will | None = None,
    ) -> None:
        """Prepare a connection; ``run`` makes it.

        ``client_id`` must stay the same across restarts (the broker keeps its session) and
        differ between replicas. The broker publishes ``will`` if the connection is lost.
        """
        self._config = config
        self._client_id = client_id
        self.listeners = list(listeners)
        self._will = will
        self.announcers: list[Announcer] = []
        self._live_client: aiomqtt.Client | None = None
        self.status = BrokerStatus.NOT_CONFIGURED if config is None else BrokerStatus.CONNECTING
        self.last_error: str | None = None

    @property
    def waiting(self) -> int:
        """Messages received and not yet read by the listeners (0 when not connected).

        Acknowledged to the broker on arrival, they wait in this process, behind what the
        listeners are handling (the ingest stores up to 1000 batches at once): a figure that
        stays up says the replica falls behind what the homes send.
        """
        client = self._live_client
        return 0 if client is None else len(client.messages)

    @property
    def address(self) -> str | None:
        """The broker's host:port, or None when no broker is configured."""
        return None if self._config is None else f"{self._config.host}:{self._config.port}"

    async def _client(self, config: BrokerConfig) -> aiomqtt.Client:
        tls_context = None
        if config.tls:
            # Loading CA certificates reads files: not on the event loop.
            tls_context = await asyncio.to_thread(
                ssl.create_default_context,
                cafile=str(config.ca_file) if config.ca_file else None,
            )
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        return aiomqtt.Client(
            config.host,
            config.port,
            username=config.username,
            password=config.password,
            identifier=self._client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=properties,
            tls_context=tls_context,
            will=self._will,
        )

    async def run(self) -> None:
        """Stay connected until cancelled."""
        if self._config is None:
            return
        delay = BACKOFF_INITIAL_S
        while True:
            self.status = BrokerStatus.CONNECTING
            try:
                async with await self._client(self._config) as client:
                    for listener in self.listeners:
                        for topic in listener.subscriptions:
                            await _subscribe(client, topic)
                    for announcer in self.announcers:
                        await announcer.announce(client)
                    # Connected means ready: subscribed, so that nothing sent now is missed.
                    self._live_client = client
                    self.status = BrokerStatus.CONNECTED
                    self.last_error = None
                    delay = BACKOFF_INITIAL_S
                    _LOGGER.info("Connected to the MQTT broker at %s", self.address)
                    async for message in client.messages:
                        for listener in self.listeners:
                            await _handle(listener, client, message)
                self.status = BrokerStatus.DISCONNECTED
                self._live_client = None
            except (aiomqtt.MqttError, OSError, ssl.SSLError) as err:
                self._live_client = None
                if self.status is BrokerStatus.CONNECTED or self.last_error != str(err):
                    _LOGGER.warning(
                        "MQTT broker at %s: %s; retrying in %.0f s", self.address, err, delay
                    )
                self.status = BrokerStatus.DISCONNECTED
                self.last_error = str(err)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def publish(self, topic: str, payload: bytes, *, retain: bool = True) -> None:
        """Publish with QoS 1; raise BrokerUnavailable when not connected."""
        client = self._live_client
        if client is None:
            raise BrokerUnavailable(f"not connected to the MQTT broker ({self.last_error})")
        try:
            await client.publish(topic, payload, qos=1, retain=retain)
        except aiomqtt.MqttError as err:
            raise BrokerUnavailable(f"publishing to {topic}: {err}") from err


async def _handle(listener: Listener, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    """Give a message to a listener; what goes wrong there costs this message only."""
    try:
        await listener.handle(client, message)
    except Exception:
        _LOGGER.exception("A message on %s could not be handled", message.topic)


async def _subscribe(client: aiomqtt.Client, topic: str) -> None:
    granted = await client.subscribe(topic, qos=1)
    for code in granted:
        if isinstance(code, ReasonCode) and code.is_failure:
            # The access list does not give the aggregator's login the whole tree. The shared
            # subscription's group is a secret: not in the log.
            shown = re.sub(r"^\$share/[^/]+/", "$share/…/", topic)
            _LOGGER.error("The broker refused the subscription to %s: %s", shown, code)
