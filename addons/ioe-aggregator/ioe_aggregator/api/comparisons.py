"""``/api/v1/comparisons``: sharing comparisons as background jobs, their reports, adoption.

Reading needs the read permission; starting one and adopting a scheme, manage.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from ioe_aggregator.agreements.comparisons import ComparisonRequest
from ioe_aggregator.api.auth import require
from ioe_aggregator.api.formats import day, month
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.keys import COMPARISONS
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.sharing import schemes as sch

routes = web.RouteTableDef()


def _month(text: str, name: str) -> date:
    try:
        return month(text)
    except ValueError as err:
        raise Refused(Kind.INVALID, f"{name}: {err}", code="bad_month") from None


@routes.post("/api/v1/comparisons")
async def start_comparison(request: web.Request) -> web.Response:
    """Queue a comparison of sharing schemes on the community's history (manage)."""
    caller = require(request, Permission.MANAGE)
    body = await json_body(request)
    prices = body.get("prices") or {}
    asked = ComparisonRequest(
        first_month=_month(body["period"]["first"], "period.first"),
        last_month=_month(body["period"]["last"], "period.last"),
        schemes=tuple(body.get("schemes", sch.ALL_SCHEMES)),
        import_eur_kwh=prices.get("import_eur_kwh"),
        surplus_eur_kwh=prices.get("surplus_eur_kwh"),
        rules=body.get("rules", {}),
        scenarios=tuple(body.get("scenarios") or ()),
        **{key: value for key, value in (body.get("decision") or {}).items() if value is not None},
    )
    job = await request.app[COMPARISONS].start(asked, actor=caller.actor)
    return web.json_response(job.as_dict(), status=202)


@routes.get("/api/v1/comparisons")
async def list_comparisons(request: web.Request) -> web.Response:
    """List the comparison jobs, the newest first (read)."""
    require(request, Permission.READ)
    return web.json_response([job.as_dict() for job in await request.app[COMPARISONS].all()])


@routes.get("/api/v1/comparisons/{comparison}")
async def show_comparison(request: web.Request) -> web.Response:
    """Return a comparison job: its state and progress, and once done its summary (read)."""
    require(request, Permission.READ)
    job = await request.app[COMPARISONS].get(request.match_info["comparison"])
    return web.json_response(job.as_dict())


@routes.get("/api/v1/comparisons/{comparison}/report")
async def comparison_report(request: web.Request) -> web.Response:
    """Return a done comparison's report as one self-contained HTML page (read)."""
    require(request, Permission.READ)
    _document, page = await request.app[COMPARISONS].report(request.match_info["comparison"])
    return web.Response(text=page, content_type="text/html")


@routes.get("/api/v1/comparisons/{comparison}/report.json")
async def comparison_report_json(request: web.Request) -> web.Response:
    """Return a done comparison's report.json, as ``sharing compare`` writes it (read)."""
    require(request, Permission.READ)
    document, _page = await request.app[COMPARISONS].report(request.match_info["comparison"])
    return web.Response(text=document, content_type="application/json")


@routes.post("/api/v1/comparisons/{comparison}/adopt")
async def adopt_comparison(request: web.Request) -> web.Response:
    """Record a compared static scheme's β as the agreement from a day (manage)."""
    caller = require(request, Permission.MANAGE)
    body = await json_body(request)
    agreement = await request.app[COMPARISONS].adopt(
        request.match_info["comparison"],
        body["scheme"],
        body["name"],
        valid_from=day(body["valid_from"]),
        actor=caller.actor,
    )
    return web.json_response(agreement.as_dict(), status=201)
