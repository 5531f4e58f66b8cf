"""The long-running service: the HTTP API, the database and the broker connection together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import ssl

from aiohttp import web

from ioe_aggregator import __version__
from ioe_aggregator.api import (
    audit,
    auth,
    community,
    errors,
    health,
    members,
    openapi,
    readings,
    tokens,
)
from ioe_aggregator.broker import BrokerConnection
from ioe_aggregator.config import Config
from ioe_aggregator.ingest import Ingest
from ioe_aggregator.ingest.mqtt import MqttIngest
from ioe_aggregator.keys import BROKER, CONFIG, INGEST, REGISTRY, STORE
from ioe_aggregator.members.registry import Registry
from ioe_aggregator.protocol import MAX_PAYLOAD_BYTES
from ioe_aggregator.store import Store, open_store

_LOGGER = logging.getLogger(__name__)


class ListenError(Exception):
    """The API cannot listen where it was told to (port taken, address not on this host)."""


def create_app(
    config: Config, store: Store, broker: BrokerConnection, registry: Registry, ingest: Ingest
) -> web.Application:
    """Build the aiohttp application around an open store, the broker, registry and ingest."""
    # Room for the largest readings batch, so that the ingest (not aiohttp) says it is too big.
    app = web.Application(
        middlewares=[errors.errors, auth.authenticate], client_max_size=2 * MAX_PAYLOAD_BYTES
    )
    app[CONFIG] = config
    app[STORE] = store
    app[BROKER] = broker
    app[REGISTRY] = registry
    app[INGEST] = ingest
    app[auth.FAILED_LOGINS] = auth.FailedLogins()
    app[auth.SEEN_LOGINS] = set()
    for module in (health, openapi, members, tokens, readings, community, audit):
        app.add_routes(module.routes)
    return app


async def _tls(config: Config) -> ssl.SSLContext | None:
    """Return the API's TLS context, or None to serve plain HTTP (behind ingress)."""
    if config.api_tls is None:
        return None
    certfile, keyfile = config.api_tls
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        await asyncio.to_thread(context.load_cert_chain, certfile, keyfile)
    except (OSError, ssl.SSLError) as err:
        raise ListenError(
            f"cannot use the API certificate {certfile} and key {keyfile}: {err}"
        ) from err
    return context


async def serve(config: Config) -> None:
    """Run the service until SIGINT or SIGTERM, then stop cleanly."""
    store = await open_store(config.database_url)
    registry = Registry(store, config)
    ingest = Ingest(store, registry)
    broker = BrokerConnection(
        config.broker,
        # Stable across restarts (the broker keeps the session), distinct between replicas.
        client_id=f"ioe-aggregator-{config.community_id}-{socket.gethostname()}",
        listeners=[MqttIngest(ingest, config.topic_prefix)],
    )
    runner = web.AppRunner(create_app(config, store, broker, registry, ingest), access_log=None)
    broker_task: asyncio.Task[None] | None = None
    ingest_task: asyncio.Task[None] | None = None
    try:
        await registry.publish_broker_files()
        await runner.setup()
        ingest_task = asyncio.create_task(ingest.run(), name="ingest")
        broker_task = asyncio.create_task(broker.run(), name="broker")
        site = web.TCPSite(
            runner, config.http_host, config.http_port, ssl_context=await _tls(config)
        )
        try:
            await site.start()
        except OSError as err:
            reason = os.strerror(err.errno) if err.errno else str(err)
            raise ListenError(
                f"cannot listen on {config.http_host}:{config.http_port}: {reason}"
            ) from err
        _LOGGER.info(
            "IoE aggregator %s for community %s listening on %s://%s:%s (%s database, schema v%s)",
            __version__,
            config.community_id,
            "https" if config.api_tls else "http",
            config.http_host,
            config.http_port,
            store.backend,
            await store.schema_version(),
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        _LOGGER.info("Stopping")
    finally:
        for task in (broker_task, ingest_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await runner.cleanup()
        await store.close()
