"""The service's own connection to the community's MQTT broker, kept up with backoff."""

from __future__ import annotations

import asyncio
from enum import StrEnum
import logging
import ssl
import uuid

import aiomqtt

from ioe_aggregator.config import BrokerConfig

_LOGGER = logging.getLogger(__name__)
BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 60.0


class BrokerStatus(StrEnum):
    """The state of the broker connection, as /api/health reports it."""

    NOT_CONFIGURED = "not_configured"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class BrokerConnection:
    """Connects to the broker with MQTT v5 and reconnects, doubling the wait up to a minute."""

    def __init__(self, config: BrokerConfig | None, client_id: str) -> None:
        """Prepare a connection; ``run`` makes it."""
        self._config = config
        self._client_id = client_id
        self.status = BrokerStatus.NOT_CONFIGURED if config is None else BrokerStatus.CONNECTING
        self.last_error: str | None = None

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
        return aiomqtt.Client(
            config.host,
            config.port,
            username=config.username,
            password=config.password,
            identifier=f"{self._client_id}-{uuid.uuid4().hex[:8]}",
            protocol=aiomqtt.ProtocolVersion.V5,
            tls_context=tls_context,
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
                    self.status = BrokerStatus.CONNECTED
                    self.last_error = None
                    delay = BACKOFF_INITIAL_S
                    _LOGGER.info("Connected to the MQTT broker at %s", self.address)
                    # No subscriptions yet: iterating only waits for the connection to drop.
                    async for _message in client.messages:
                        pass
                self.status = BrokerStatus.DISCONNECTED
            except (aiomqtt.MqttError, OSError, ssl.SSLError) as err:
                if self.status is BrokerStatus.CONNECTED or self.last_error != str(err):
                    _LOGGER.warning(
                        "MQTT broker at %s: %s; retrying in %.0f s", self.address, err, delay
                    )
                self.status = BrokerStatus.DISCONNECTED
                self.last_error = str(err)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)
