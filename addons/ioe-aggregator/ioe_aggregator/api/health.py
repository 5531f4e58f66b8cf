"""``GET /api/health``: is the service up, and can it reach its database and broker."""

from __future__ import annotations

from aiohttp import web

from ioe_aggregator import __version__
from ioe_aggregator.keys import BROKER, CONFIG, INGEST, STORE
from ioe_aggregator.store import StoreError

routes = web.RouteTableDef()


@routes.get("/api/health")
async def health(request: web.Request) -> web.Response:
    """Report version, database and broker state.

    200 while the database answers, 503 when it does not: a supervisor or load balancer can
    act on the status code alone. A broker that is down is reported but does not fail the
    check, since the API keeps working without it.
    """
    app = request.app
    store = app[STORE]
    broker = app[BROKER]
    database: dict[str, str] = {"backend": store.backend, "status": "ok"}
    try:
        await store.ping()
    except StoreError as err:
        database = {"backend": store.backend, "status": "error", "error": str(err)}
    body = {
        "status": "ok" if database["status"] == "ok" else "error",
        "version": __version__,
        "community": app[CONFIG].community_id,
        "database": database,
        "broker": {
            "status": broker.status.value,
            "address": broker.address,
            "error": broker.last_error,
        },
        "ingest": app[INGEST].counters.as_dict(),
    }
    return web.json_response(body, status=200 if body["status"] == "ok" else 503)
