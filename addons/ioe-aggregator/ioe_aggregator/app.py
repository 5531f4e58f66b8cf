"""The long-running service: the HTTP API, the database and the broker connection together."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
import logging
import os
import signal
import ssl

from aiohttp import web
import aiomqtt

from ioe_aggregator import __version__
from ioe_aggregator.agreements import Agreements
from ioe_aggregator.agreements.comparisons import Comparisons
from ioe_aggregator.api import (
    agreements,
    audit,
    auth,
    billing,
    broker_hook,
    community,
    comparisons,
    completeness,
    control,
    datadis,
    distributor,
    emoncms,
    errors,
    health,
    member_data,
    members,
    metrics,
    openapi,
    overview,
    peers,
    portal,
    prices,
    provider,
    public,
    readings,
    results,
    session,
    sync,
    tokens,
    users,
    validation,
    webhooks,
)
from ioe_aggregator.auth import sessions
from ioe_aggregator.broker import BrokerConnection
from ioe_aggregator.config import Config
from ioe_aggregator.datadis.runs import SyncRuns
from ioe_aggregator.datadis.schedule import run_daily
from ioe_aggregator.emoncms.imports import Imports
from ioe_aggregator.ingest.mqtt import MqttIngest
from ioe_aggregator.ingest.status import MemberStatus
from ioe_aggregator.ingest.writer import Ingest
from ioe_aggregator.keys import (
    AGREEMENTS,
    BROKER,
    COMPARISONS,
    CONFIG,
    DATADIS_RUNS,
    EMONCMS_IMPORTS,
    INGEST,
    REGISTRY,
    REPLICAS,
    RESULTS,
    STATUS,
    STORE,
    SUPERVISOR,
)
from ioe_aggregator.members.broker_accounts import BrokerAccounts
from ioe_aggregator.members.registry import Registry
from ioe_aggregator.protocol.codec import MAX_PAYLOAD_BYTES
from ioe_aggregator.public.figures import PublicFigures
from ioe_aggregator.public.settings import KeptSettings
from ioe_aggregator.replicas import Replicas, replicas_for
from ioe_aggregator.results.discovery import OFFLINE, availability_topic, discovery_messages
from ioe_aggregator.results.engine import ResultsEngine
from ioe_aggregator.results.publisher import ResultsPublisher
from ioe_aggregator.results.signal_history import SignalHistory
from ioe_aggregator.store import Store, open_store
from ioe_aggregator.store.retention import keep_raw_readings
from ioe_aggregator.supervisor import Supervisor
from ioe_aggregator.tls import server_context
from ioe_aggregator.web import pages, portal_page
from ioe_aggregator.webhooks.dispatch import Dispatcher

_LOGGER = logging.getLogger(__name__)


class ListenError(Exception):
    """The API cannot listen where it was told to (port taken, address not on this host)."""


@dataclass(frozen=True, kw_only=True)
class Services:
    """The parts of the service, wired together around one open store."""

    store: Store
    registry: Registry
    agreements: Agreements
    comparisons: Comparisons
    ingest: Ingest
    broker: BrokerConnection
    results: ResultsPublisher
    status: MemberStatus
    datadis_runs: SyncRuns
    emoncms_imports: Imports
    supervisor: Supervisor
    replicas: Replicas
    csrf_key: str


# The tasks only the leading replica runs (``replicas.py``), in the order they start.
LEADER_TASKS = ("comparisons", "webhooks", "datadis", "retention")


@dataclass(frozen=True)
class ScheduledWork:
    """The leading replica's work: comparison jobs, webhooks, Datadis, the raw readings kept.

    Publishing the results is the leader's too: the results task runs on every replica (each
    computes what its API shows) and publishes only while its replica leads.
    """

    config: Config
    services: Services

    async def lead(self) -> None:
        """Fail what the last leader left unfinished, then start the leader's tasks."""
        services, config = self.services, self.config
        await services.comparisons.fail_unfinished()
        await services.emoncms_imports.fail_unfinished()
        services.datadis_runs.lead()
        supervisor = services.supervisor
        supervisor.start("comparisons", services.comparisons.run())
        dispatcher = Dispatcher(
            services.store,
            community=config.community_id,
            zone=config.results.zone,
            replicas=services.replicas,
            first_retry_s=config.webhook_retry_s,
        )
        supervisor.start("webhooks", dispatcher.run())
        if config.datadis is not None:
            supervisor.start(
                "datadis",
                run_daily(
                    config.datadis,
                    services.store,
                    services.registry,
                    services.datadis_runs,
                    on_stored=services.results.publish_results_soon,
                ),
            )
        if config.raw_readings_days:
            supervisor.start(
                "retention", keep_raw_readings(services.store, config.raw_readings_days)
            )
        services.results.lead()

    async def follow(self) -> None:
        """Stop the leader's tasks (another replica leads now, or the service stops)."""
        for name in reversed(LEADER_TASKS):
            await self.services.supervisor.cancel(name)
        self.services.datadis_runs.follow()


# The store's settings that keep the broker side unguessable: the shared subscription's group
# (a member that joined the group would take part of every member's readings) and the suffix
# of the broker client id (a member using it would knock the aggregator off).
SHARE_GROUP_SETTING = "mqtt_share_group"
CLIENT_ID_SETTING = "mqtt_client_id_suffix"


async def build_services(config: Config, store: Store, replicas: Replicas) -> Services:
    """Wire the registry, agreements, ingest, broker connection and results around a store.

    ``replicas``: this process among those serving the database (``replicas_for``).
    """
    prefix = config.topic_prefix
    registry = Registry(store, config.members)
    agreements = Agreements(
        store, tz=config.results.timezone, min_months=config.results.agreement_min_months
    )
    comparisons = Comparisons(
        store,
        registry,
        agreements,
        prices=config.results.prices,
        replicas=replicas,
        site=config.results.plant_site,
    )
    ingest = Ingest(
        store,
        registry,
        quota_rows=config.members.quota_rows,
        batches_per_s=config.members.batches_per_s,
        replicas=replicas,
    )
    status = MemberStatus(prefix)
    group = await store.secret_setting(SHARE_GROUP_SETTING)
    suffix = await store.secret_setting(CLIENT_ID_SETTING)
    broker = BrokerConnection(
        config.broker,
        # Stable across restarts (the broker keeps the session), distinct between replicas,
        # and known to nobody else.
        client_id=f"ioe-aggregator-{config.community_id}-{replicas.name}-{suffix}",
        listeners=[MqttIngest(ingest, prefix, share_group=f"ioe-{group}"), status],
        will=aiomqtt.Will(availability_topic(prefix), OFFLINE, qos=1, retain=True),
    )
    discovery_prefix = config.results.discovery_prefix
    results = ResultsPublisher(
        ResultsEngine(store, registry, agreements, config.results),
        broker,
        status,
        ingest.live,
        SignalHistory(store),
        replicas=replicas,
        prefix=prefix,
        discovery={}
        if discovery_prefix is None
        else discovery_messages(
            prefix=prefix,
            discovery_prefix=discovery_prefix,
            community=config.community_id,
            name=config.results.community_name,
            language=config.results.language,
        ),
    )
    broker.announcers.append(results)
    broker.listeners.append(results)
    emoncms_imports = Imports(
        store,
        registry,
        config.results.zone,
        config.emoncms_dir,
        replicas=replicas,
        on_stored=results.publish_results_soon,
    )
    return Services(
        store=store,
        registry=registry,
        agreements=agreements,
        comparisons=comparisons,
        ingest=ingest,
        broker=broker,
        results=results,
        status=status,
        datadis_runs=SyncRuns(replicas),
        emoncms_imports=emoncms_imports,
        supervisor=Supervisor(),
        replicas=replicas,
        csrf_key=await store.secret_setting(sessions.CSRF_KEY_SETTING),
    )


def create_app(config: Config, services: Services) -> web.Application:
    """Build the aiohttp application around the service's parts."""
    # Room for the largest readings batch, so that the ingest (not aiohttp) says it is too big.
    app = web.Application(
        middlewares=[peers.ingress_only, errors.errors, auth.authenticate, validation.validate],
        client_max_size=2 * MAX_PAYLOAD_BYTES,
    )
    app[CONFIG] = config
    app[STORE] = services.store
    app[BROKER] = services.broker
    app[REGISTRY] = services.registry
    app[INGEST] = services.ingest
    app[AGREEMENTS] = services.agreements
    app[COMPARISONS] = services.comparisons
    app[RESULTS] = services.results
    app[SUPERVISOR] = services.supervisor
    app[STATUS] = services.status
    app[DATADIS_RUNS] = services.datadis_runs
    app[EMONCMS_IMPORTS] = services.emoncms_imports
    app[REPLICAS] = services.replicas
    app[auth.FAILED_LOGINS] = auth.FailedLogins()
    app[auth.SEEN_LOGINS] = set()
    app[auth.CSRF_KEY] = services.csrf_key
    app[session.SIGNING_IN] = Counter()
    app[public.FIGURES] = PublicFigures(config, services.registry, services.results)
    app[public.RATE_LIMITS] = public.RateLimit()
    app[public.SETTINGS] = KeptSettings(services.store)
    app.on_startup.append(public.start_figures)
    app.on_cleanup.append(public.stop_figures)
    app.on_cleanup.append(lambda app: app[EMONCMS_IMPORTS].stop())
    for module in (
        health,
        metrics,
        openapi,
        members,
        tokens,
        readings,
        results,
        agreements,
        comparisons,
        overview,
        control,
        community,
        completeness,
        datadis,
        audit,
        distributor,
        emoncms,
        session,
        users,
        member_data,
        billing,
        prices,
        sync,
        webhooks,
        portal,
        public,
        provider,
        broker_hook,
        pages,
        portal_page,
    ):
        app.add_routes(module.routes)
    return app


async def _start_site(site: web.TCPSite, where: str) -> None:
    try:
        await site.start()
    except OSError as err:
        reason = os.strerror(err.errno) if err.errno else str(err)
        raise ListenError(f"cannot listen on {where}: {reason}") from err


async def _listen(config: Config, runner: web.AppRunner) -> list[str]:
    """Open the HTTPS listener, when configured, then the plain one; return their URLs.

    In this order, a client that found the plain port open finds the HTTPS one open too.
    """
    urls = []
    if (https := config.https) is not None:
        try:
            context = await asyncio.to_thread(server_context, https.certfile, https.keyfile)
        except (OSError, ssl.SSLError) as err:
            raise ListenError(
                f"cannot use the API certificate {https.certfile} and key {https.keyfile}: {err}"
            ) from err
        await _start_site(
            web.TCPSite(runner, config.http_host, https.port, ssl_context=context),
            f"{config.http_host}:{https.port}",
        )
        urls.append(f"https://{config.http_host}:{https.port}")
    await _start_site(
        web.TCPSite(runner, config.http_host, config.http_port),
        f"{config.http_host}:{config.http_port}",
    )
    return [f"http://{config.http_host}:{config.http_port}", *urls]


async def serve(config: Config) -> None:
    """Run the service until SIGINT or SIGTERM, then stop cleanly.

    Raises TaskEnded when one of its tasks ended on its own (the service then stops too), and
    ReplicaRefused when another process serves the same SQLite database.
    """
    store = await open_store(config.database_url, zone=config.results.zone)
    runner: web.AppRunner | None = None
    supervisor: Supervisor | None = None
    replicas: Replicas | None = None
    try:
        replicas = await replicas_for(store, config.database_url, config.replica_name)
        services = await build_services(config, store, replicas)
        supervisor = services.supervisor
        runner = web.AppRunner(create_app(config, services), access_log=None)
        await BrokerAccounts(store, config.members.accounts).publish()
        await runner.setup()
        supervisor.start("ingest", services.ingest.run())
        if config.broker is not None:
            supervisor.start("broker", services.broker.run())
        # Before the results: stopping in reverse order, the leader says offline first.
        supervisor.start("replicas", replicas.run(ScheduledWork(config, services)))
        supervisor.start("results", services.results.run())
        supervisor.start("failed-logins", auth.write_failed_logins(runner.app))
        await _settled(replicas, supervisor)
        urls = await _listen(config, runner)
        _LOGGER.info(
            "IoE aggregator %s for community %s on %s (%s database%s, schema v%s; replica %s, %s)",
            __version__,
            config.community_id,
            " and ".join(urls),
            store.backend,
            " with TimescaleDB" if store.timescaledb else "",
            await store.schema_version(),
            replicas.replica,
            "leading the scheduled work" if replicas.leading else "another replica leads",
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        stopped = asyncio.create_task(stop.wait())
        failed = asyncio.create_task(supervisor.wait_for_failure())
        await asyncio.wait((stopped, failed), return_when=asyncio.FIRST_COMPLETED)
        for waiter in (stopped, failed):
            waiter.cancel()
        if failed.done() and not failed.cancelled():
            raise failed.result()
        _LOGGER.info("Stopping")
    finally:
        if supervisor is not None:
            await supervisor.stop()
        if runner is not None:
            await runner.cleanup()
        if replicas is not None:
            replicas.close()
        await store.close()


async def _settled(replicas: Replicas, supervisor: Supervisor) -> None:
    """Wait until the replica has tried to lead once (or a task ended meanwhile)."""
    settled = asyncio.create_task(replicas.settled.wait())
    failed = asyncio.create_task(supervisor.wait_for_failure())
    await asyncio.wait((settled, failed), return_when=asyncio.FIRST_COMPLETED)
    settled.cancel()
    if failed.done():
        raise failed.result()
    failed.cancel()
