"""``GET /api/v1/metrics``: the service's own figures, in Prometheus' text format (viewer).

What a platform's monitoring needs to see each replica at work without reading its logs: is it
up, does it lead, are its tasks running, can it reach its database and broker, what has its
ingest stored and refused, what is waiting (webhook deliveries, comparisons), when were the
results last published, and the process's memory and CPU. Counters count since the process
started (Prometheus' ``rate`` copes with restarts); gauges are read at each scrape.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
import os
from pathlib import Path
import resource
import time

from aiohttp import web

from ioe_aggregator import __version__
from ioe_aggregator.api.auth import require
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.broker import BrokerStatus
from ioe_aggregator.keys import BROKER, CONFIG, INGEST, REPLICAS, RESULTS, STATUS, STORE, SUPERVISOR
from ioe_aggregator.store import StoreError

routes = web.RouteTableDef()
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PENDING_DELIVERIES = "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'"
COMPARISONS_BY_STATE = "SELECT state, COUNT(*) FROM comparisons GROUP BY state"
DATABASE_TIMEOUT_S = 3.0
_STARTED_S = time.time()
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")

type Labels = Mapping[str, str]


class Exposition:
    """Metrics written in the text format, each with its help and type once."""

    def __init__(self) -> None:
        """Start empty."""
        self._lines: list[str] = []

    def add(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Iterable[tuple[Labels, float]],
    ) -> None:
        """Add a metric (``kind``: counter or gauge) and its samples."""
        self._lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for labels, value in samples:
            shown = ",".join(f'{key}="{_escaped(label)}"' for key, label in labels.items())
            self._lines.append(
                f"{name}{{{shown}}} {_number(value)}" if shown else f"{name} {_number(value)}"
            )

    def text(self) -> str:
        """Return the exposition, one line each, ending with a newline."""
        return "\n".join(self._lines) + "\n"


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _one(value: float) -> list[tuple[Labels, float]]:
    return [({}, value)]


def _process(metrics: Exposition) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    metrics.add(
        "process_cpu_seconds_total",
        "counter",
        "CPU time the process has used (user and system).",
        _one(usage.ru_utime + usage.ru_stime),
    )
    statm = Path("/proc/self/statm").read_text().split()
    metrics.add(
        "process_resident_memory_bytes",
        "gauge",
        "The process's resident memory.",
        _one(int(statm[1]) * _PAGE_BYTES),
    )
    metrics.add(
        "process_open_fds",
        "gauge",
        "File descriptors the process holds open.",
        _one(sum(1 for _fd in Path("/proc/self/fd").iterdir())),
    )
    metrics.add(
        "process_start_time_seconds",
        "gauge",
        "When the process started (Unix time).",
        _one(_STARTED_S),
    )


@routes.get("/api/v1/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Return this replica's metrics (read: a viewer's token is what Prometheus scrapes with)."""
    require(request, Permission.READ)
    app = request.app
    config, replicas, ingest = app[CONFIG], app[REPLICAS], app[INGEST]
    exposition = Exposition()
    exposition.add(
        "ioe_aggregator_info",
        "gauge",
        "The service: version, community, database and replica (always 1).",
        [
            (
                {
                    "version": __version__,
                    "community": config.community_id,
                    "backend": app[STORE].backend,
                    "replica": replicas.replica,
                    "name": replicas.name,
                },
                1,
            )
        ],
    )
    exposition.add(
        "ioe_aggregator_leader",
        "gauge",
        "1 while this replica leads the scheduled work (results, Datadis, comparisons, webhooks).",
        _one(replicas.leading),
    )
    exposition.add(
        "ioe_aggregator_task_running",
        "gauge",
        "1 while the named task runs (a task that ends stops the service).",
        [({"task": name}, state.running) for name, state in app[SUPERVISOR].states().items()],
    )
    exposition.add(
        "ioe_aggregator_broker_connected",
        "gauge",
        "1 while connected to the MQTT broker.",
        _one(app[BROKER].status is BrokerStatus.CONNECTED),
    )
    exposition.add(
        "ioe_aggregator_broker_messages_waiting",
        "gauge",
        "Messages received from the broker waiting to be read, behind the batches being "
        "stored (up to 1000 at once): one that stays up says this replica falls behind.",
        _one(app[BROKER].waiting),
    )
    counters = ingest.counters
    exposition.add(
        "ioe_aggregator_batches_stored_total",
        "counter",
        "Readings batches stored and acknowledged.",
        _one(counters.batches),
    )
    exposition.add(
        "ioe_aggregator_readings_total",
        "counter",
        "Readings in stored batches: new, changed (a corrected value) or unchanged (sent again).",
        [
            ({"outcome": "new"}, counters.readings_new),
            ({"outcome": "changed"}, counters.readings_changed),
            ({"outcome": "unchanged"}, counters.readings_unchanged),
        ],
    )
    exposition.add(
        "ioe_aggregator_batches_refused_total",
        "counter",
        "Readings batches refused, by reason.",
        [({"reason": reason}, count) for reason, count in sorted(counters.refused.items())],
    )
    exposition.add(
        "ioe_aggregator_readings_left_out_total",
        "counter",
        "Readings left out of stored batches, by reason.",
        [({"reason": r}, count) for r, count in sorted(counters.readings_refused.items())],
    )
    exposition.add(
        "ioe_aggregator_live_left_out_total",
        "counter",
        "Live reports left out of the community's figures (their batch stored), by reason.",
        [({"reason": r}, count) for r, count in sorted(counters.live_refused.items())],
    )
    last_write = ingest.last_write
    exposition.add(
        "ioe_aggregator_ingest_write_ok",
        "gauge",
        "0 while the ingest's last write failed (a full disk, the database away).",
        _one(last_write is None or last_write.error is None),
    )
    exposition.add(
        "ioe_aggregator_members_online",
        "gauge",
        "Members whose home says it is online.",
        _one(len(app[STATUS].online)),
    )
    latest = app[RESULTS].latest
    exposition.add(
        "ioe_aggregator_results_computed_timestamp_seconds",
        "gauge",
        "When the community's results were last computed (Unix time; published if leading).",
        [] if latest is None else _one(latest.computed_at.timestamp()),
    )
    try:
        # A scrape is answered in time even when the database is away: it says so.
        async with asyncio.timeout(DATABASE_TIMEOUT_S):
            async with app[STORE].transaction() as tx:
                pending = await tx.execute(PENDING_DELIVERIES)
                jobs = await tx.execute(COMPARISONS_BY_STATE)
            alive = len(await replicas.alive())
            kept_from = await app[STORE].kept_from()
    except StoreError, TimeoutError:
        database_up = 0
    else:
        database_up = 1
        exposition.add(
            "ioe_aggregator_webhook_deliveries_pending",
            "gauge",
            "Webhook deliveries waiting to be sent or retried.",
            _one(int(pending[0][0])),
        )
        exposition.add(
            "ioe_aggregator_comparisons",
            "gauge",
            "Comparison jobs by state.",
            [({"state": str(state)}, int(count)) for state, count in jobs],
        )
        exposition.add(
            "ioe_aggregator_replicas",
            "gauge",
            "Replicas serving the database now (this one included).",
            _one(alive),
        )
        exposition.add(
            "ioe_aggregator_readings_kept_from_timestamp_seconds",
            "gauge",
            "Raw readings starting before this are not stored any more, and are deleted at "
            "the next run (Unix time; none: all are kept).",
            [] if kept_from is None else _one(kept_from.timestamp()),
        )
    exposition.add(
        "ioe_aggregator_database_up",
        "gauge",
        "1 when the database answered this scrape.",
        _one(database_up),
    )
    _process(exposition)
    return web.Response(body=exposition.text().encode(), headers={"Content-Type": CONTENT_TYPE})
