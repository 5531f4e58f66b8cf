"""``/api/v1/agreements``: the sharing agreements and their validity (read; changes: manage)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from aiohttp import web

from ioe_aggregator.agreements import (
    Shares,
    check_file,
    file_content,
    shares_from_coefficients,
    shares_from_file,
    shares_from_scheme,
)
from ioe_aggregator.api.auth import require
from ioe_aggregator.api.formats import day
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.auth.users import names_of_people
from ioe_aggregator.keys import AGREEMENTS, REGISTRY, RESULTS, STORE

routes = web.RouteTableDef()


def _day(body: dict[str, Any], name: str) -> date | None:
    value = body.get(name)
    return None if value is None else day(value)


async def _shares(request: web.Request, body: dict[str, Any]) -> Shares:
    """Return the shares of the body's scheme, coefficients or file (exactly one is given)."""
    members = await request.app[REGISTRY].members()
    if "scheme" in body:
        return shares_from_scheme(body["scheme"], members)
    if "coefficients" in body:
        beta = {member: float(value) for member, value in body["coefficients"].items()}
        return shares_from_coefficients(beta, members)
    # Inflating and reading a year of hours is work: not on the event loop.
    name, content = await asyncio.to_thread(file_content, body["file"])
    return await asyncio.to_thread(shares_from_file, content, name, members)


@routes.get("/api/v1/agreements")
async def list_agreements(request: web.Request) -> web.Response:
    """List every agreement, by first day (read)."""
    require(request, Permission.READ)
    found = await request.app[AGREEMENTS].all()
    async with request.app[STORE].transaction() as tx:
        names = await names_of_people(tx)
    return web.json_response(
        [
            {**agreement.as_dict(), "created_by_name": names.get(agreement.created_by or "")}
            for agreement in found
        ]
    )


@routes.post("/api/v1/agreements")
async def add_agreement(request: web.Request) -> web.Response:
    """Record an agreement from a scheme, coefficients or a coefficient file (manage)."""
    token = require(request, Permission.MANAGE)
    body = await json_body(request)
    shares = await _shares(request, body)
    agreement = await request.app[AGREEMENTS].add(
        body["name"],
        shares,
        valid_from=day(body["valid_from"]),
        valid_to=_day(body, "valid_to"),
        actor=token.actor,
    )
    # The members' coefficients and forecasts follow the change at once.
    request.app[RESULTS].publish_results_soon()
    return web.json_response(agreement.as_dict(), status=201)


@routes.get("/api/v1/agreements/{agreement}")
async def show_agreement(request: web.Request) -> web.Response:
    """Return an agreement with its coefficients (read)."""
    require(request, Permission.READ)
    found = await request.app[AGREEMENTS].coefficients(request.match_info["agreement"])
    return web.json_response(found)


@routes.patch("/api/v1/agreements/{agreement}")
async def change_agreement(request: web.Request) -> web.Response:
    """Set an agreement's last day, or null to make it open-ended (manage)."""
    token = require(request, Permission.MANAGE)
    body = await json_body(request)
    agreement = await request.app[AGREEMENTS].end(
        request.match_info["agreement"], _day(body, "valid_to"), actor=token.actor
    )
    # The members' coefficients and forecasts follow the change at once.
    request.app[RESULTS].publish_results_soon()
    return web.json_response(agreement.as_dict())


@routes.delete("/api/v1/agreements/{agreement}")
async def remove_agreement(request: web.Request) -> web.Response:
    """Delete an agreement that has not started yet (manage)."""
    token = require(request, Permission.MANAGE)
    agreement = await request.app[AGREEMENTS].remove(
        request.match_info["agreement"], actor=token.actor
    )
    # The members' coefficients and forecasts follow the change at once.
    request.app[RESULTS].publish_results_soon()
    return web.json_response(agreement.as_dict())


@routes.get("/api/v1/agreements/{agreement}/coefficient-file")
async def agreement_coefficient_file(request: web.Request) -> web.Response:
    """Return the distributor's coefficient file of an agreement, CAU_YYYY.txt (read)."""
    require(request, Permission.READ)
    cups = {member.id: member.cups for member in await request.app[REGISTRY].members()}
    year = request.query.get("year")
    name, content = await request.app[AGREEMENTS].coefficient_file(
        request.match_info["agreement"],
        cups,
        cau=request.query["cau"],
        year=None if year is None else int(year),
    )
    return web.Response(
        body=content,
        content_type="text/plain",
        charset="ascii",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.post("/api/v1/coefficient-files/validate")
async def validate_coefficient_file(request: web.Request) -> web.Response:
    """Check a coefficient file against the members, as ``sharing validate`` does (read)."""
    require(request, Permission.READ)
    body = await json_body(request)
    members = await request.app[REGISTRY].members()
    # A whole number, which JSON may write 2027.0.
    year = None if body.get("year") is None else int(body["year"])
    name, content = await asyncio.to_thread(file_content, body)
    return web.json_response(await asyncio.to_thread(check_file, content, name, members, year))
