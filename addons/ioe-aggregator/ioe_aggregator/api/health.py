"""``GET /api/health``: is the service doing its work, and can it reach its database and broker."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ioe_aggregator import __version__
from ioe_aggregator.keys import BROKER, CONFIG, INGEST, REPLICAS, STORE, SUPERVISOR
from ioe_aggregator.store import StoreError

routes = web.RouteTableDef()


@routes.get("/api/health")
async def health(request: web.Request) -> web.Response:
    """Report version, tasks, database, this replica (and which one leads), broker and ingest.

    503 when the service cannot do its work: the database does not answer, one of its tasks
    is not running, or the ingest's last write failed (a full disk answers a ping but takes
    nothing): a supervisor or load balancer can act on the status code alone. A broker that
    is down is reported but does not fail the check, since the API keeps working without it.

    Over HTTPS (the listener open to homes and the internet) only the status and the version
    are given: the rest (addresses, errors, traffic) is for the manager, through ingress.
    """
    app = request.app
    store = app[STORE]
    broker = app[BROKER]
    ingest = app[INGEST]
    replicas = app[REPLICAS]
    problems = []
    database: dict[str, str] = {"backend": store.backend, "status": "ok"}
    replica: dict[str, Any] = {
        "replica": replicas.replica,
        "name": replicas.name,
        "leading": replicas.leading,
        "term": replicas.term if replicas.leading else None,
    }
    try:
        await store.ping()
        replica |= {"leader": await replicas.leader(), "replicas": sorted(await replicas.alive())}
    except StoreError as err:
        database = {"backend": store.backend, "status": "error", "error": str(err)}
        problems.append("database")
    tasks = {name: state.as_dict() for name, state in app[SUPERVISOR].states().items()}
    problems += [f"task {name}" for name, state in tasks.items() if not state["running"]]
    last_write = ingest.last_write
    if last_write is not None and last_write.error is not None:
        problems.append("ingest")
    body = {
        "status": "error" if problems else "ok",
        "problems": problems,
        "version": __version__,
        "community": app[CONFIG].community_id,
        "tasks": tasks,
        "database": database,
        "replica": replica,
        "broker": {
            "status": broker.status.value,
            "address": broker.address,
            "error": broker.last_error,
        },
        "ingest": {
            **ingest.counters.as_dict(),
            "last_write": None if last_write is None else last_write.as_dict(),
        },
    }
    if request.secure:
        body = {"status": body["status"], "version": __version__}
    return web.json_response(body, status=503 if problems else 200)
