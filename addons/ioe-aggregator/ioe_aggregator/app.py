"""The long-running service: the HTTP API, the database and the broker connection together."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import logging
import os
import signal
import socket
import ssl

from aiohttp import web
import aiomqtt

from ioe_aggregator import __version__
from ioe_aggregator.agreements import Agreements
from ioe_aggregator.api import (
    agreements,
    audit,
    auth,
    community,
    distributor,
    errors,
    health,
    members,
    openapi,
    readings,
    results,
    tokens,
)
from ioe_aggregator.broker import BrokerConnection
from ioe_aggregator.config import Config
from ioe_aggregator.datadis.schedule import run_daily
from ioe_aggregator.ingest import Ingest
from ioe_aggregator.ingest.mqtt import MqttIngest
from ioe_aggregator.keys import AGREEMENTS, BROKER, CONFIG, INGEST, REGISTRY, RESULTS, STORE
from ioe_aggregator.members.registry import Registry
from ioe_aggregator.protocol import MAX_PAYLOAD_BYTES
from ioe_aggregator.results import ResultsEngine
from ioe_aggregator.results.service import (
    OFFLINE,
    MemberStatus,
    ResultsService,
    availability_topic,
    discovery_messages,
)
from ioe_aggregator.store import Store, open_store

_LOGGER = logging.getLogger(__name__)


class ListenError(Exception):
    """The API cannot listen where it was told to (port taken, address not on this host)."""


@dataclass(frozen=True, kw_only=True)
class Services:
    """The parts of the service, wired together around one open store."""

    store: Store
    registry: Registry
    agreements: Agreements
    ingest: Ingest
    broker: BrokerConnection
    results: ResultsService


def build_services(config: Config, store: Store) -> Services:
    """Wire the registry, agreements, ingest, broker connection and results around a store."""
    prefix = config.topic_prefix
    registry = Registry(store, config)
    agreements = Agreements(
        store, tz=config.results.timezone, min_months=config.results.agreement_min_months
    )
    ingest = Ingest(store, registry)
    status = MemberStatus(prefix)
    broker = BrokerConnection(
        config.broker,
        # Stable across restarts (the broker keeps the session), distinct between replicas.
        client_id=f"ioe-aggregator-{config.community_id}-{socket.gethostname()}",
        listeners=[MqttIngest(ingest, prefix), status],
        will=aiomqtt.Will(availability_topic(prefix), OFFLINE, qos=1, retain=True),
    )
    discovery_prefix = config.results.discovery_prefix
    results = ResultsService(
        ResultsEngine(store, registry, agreements, config.results),
        broker,
        status,
        ingest.live,
        prefix=prefix,
        discovery={}
        if discovery_prefix is None
        else discovery_messages(
            prefix=prefix,
            discovery_prefix=discovery_prefix,
            community=config.community_id,
            language=config.results.language,
        ),
    )
    broker.announcers.append(results)
    return Services(
        store=store,
        registry=registry,
        agreements=agreements,
        ingest=ingest,
        broker=broker,
        results=results,
    )


def create_app(config: Config, services: Services) -> web.Application:
    """Build the aiohttp application around the service's parts."""
    # Room for the largest readings batch, so that the ingest (not aiohttp) says it is too big.
    app = web.Application(
        middlewares=[errors.errors, auth.authenticate], client_max_size=2 * MAX_PAYLOAD_BYTES
    )
    app[CONFIG] = config
    app[STORE] = services.store
    app[BROKER] = services.broker
    app[REGISTRY] = services.registry
    app[INGEST] = services.ingest
    app[AGREEMENTS] = services.agreements
    app[RESULTS] = services.results
    app[auth.FAILED_LOGINS] = auth.FailedLogins()
    app[auth.SEEN_LOGINS] = set()
    for module in (
        health,
        openapi,
        members,
        tokens,
        readings,
        results,
        agreements,
        community,
        audit,
        distributor,
    ):
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
    services = build_services(config, store)
    runner = web.AppRunner(create_app(config, services), access_log=None)
    tasks: list[asyncio.Task[None]] = []
    try:
        await services.registry.publish_broker_files()
        await runner.setup()
        tasks = [
            asyncio.create_task(services.ingest.run(), name="ingest"),
            asyncio.create_task(services.broker.run(), name="broker"),
            asyncio.create_task(services.results.run(), name="results"),
        ]
        if config.datadis is not None:
            tasks.append(
                asyncio.create_task(run_daily(config, config.datadis, store), name="datadis")
            )
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
            "IoE aggregator %s for community %s on %s://%s:%s (%s database%s, schema v%s)",
            __version__,
            config.community_id,
            "https" if config.api_tls else "http",
            config.http_host,
            config.http_port,
            store.backend,
            " with TimescaleDB" if store.timescaledb else "",
            await store.schema_version(),
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        _LOGGER.info("Stopping")
    finally:
        for task in reversed(tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await runner.cleanup()
        await store.close()
