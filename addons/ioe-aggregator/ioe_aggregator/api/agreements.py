"""``/api/v1/agreements``: the sharing agreements and their validity (admin)."""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Any

from aiohttp import web

from ioe_aggregator.agreements import (
    AgreementError,
    Shares,
    shares_from_coefficients,
    shares_from_file,
    shares_from_scheme,
)
from ioe_aggregator.api.auth import require
from ioe_aggregator.api.errors import ApiError
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.auth.tokens import Scope
from ioe_aggregator.keys import AGREEMENTS, REGISTRY

routes = web.RouteTableDef()
_STATUS = {"invalid": 400, "not_found": 404, "conflict": 409}


def agreement_error(err: AgreementError) -> ApiError:
    """Return the API's answer to a refused agreement change."""
    return ApiError(_STATUS[err.kind], err.kind, str(err))


def _day(body: dict[str, Any], name: str) -> date | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as err:
        raise ApiError(400, "invalid", f"{name}: {value!r} is not a date (YYYY-MM-DD)") from err


async def _shares(request: web.Request, body: dict[str, Any]) -> Shares:
    given = [key for key in ("scheme", "coefficients", "file") if key in body]
    if len(given) != 1:
        raise ApiError(400, "invalid", "give exactly one of scheme, coefficients or file")
    members = await request.app[REGISTRY].members()
    if "scheme" in body:
        return shares_from_scheme(str(body["scheme"]), members)
    if "coefficients" in body:
        beta = body["coefficients"]
        if not isinstance(beta, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in beta.values()
        ):
            raise ApiError(400, "invalid", "coefficients: expected {member id: number}")
        return shares_from_coefficients({str(k): float(v) for k, v in beta.items()}, members)
    file = body["file"]
    if not isinstance(file, dict) or not {"name", "content_base64"} <= set(file):
        raise ApiError(400, "invalid", "file: expected {name, content_base64}")
    try:
        content = base64.b64decode(str(file["content_base64"]), validate=True)
    except (binascii.Error, ValueError) as err:
        raise ApiError(400, "invalid", f"file: content_base64 is not base64: {err}") from err
    return shares_from_file(content, str(file["name"]), members)


@routes.get("/api/v1/agreements")
async def list_agreements(request: web.Request) -> web.Response:
    """List every agreement, by first day (admin)."""
    require(request, Scope.ADMIN)
    found = await request.app[AGREEMENTS].all()
    return web.json_response([agreement.as_dict() for agreement in found])


@routes.post("/api/v1/agreements")
async def add_agreement(request: web.Request) -> web.Response:
    """Record an agreement from a scheme, coefficients or a coefficient file (admin)."""
    token = require(request, Scope.ADMIN)
    body = await json_body(request)
    valid_from = _day(body, "valid_from")
    if valid_from is None or "name" not in body:
        raise ApiError(400, "invalid", "name and valid_from are required")
    try:
        shares = await _shares(request, body)
        agreement = await request.app[AGREEMENTS].add(
            str(body["name"]),
            shares,
            valid_from=valid_from,
            valid_to=_day(body, "valid_to"),
            actor=token.actor,
        )
    except AgreementError as err:
        raise agreement_error(err) from err
    return web.json_response(agreement.as_dict(), status=201)


@routes.get("/api/v1/agreements/{agreement}")
async def show_agreement(request: web.Request) -> web.Response:
    """Return an agreement with its coefficients (admin)."""
    require(request, Scope.ADMIN)
    try:
        found = await request.app[AGREEMENTS].coefficients(request.match_info["agreement"])
    except AgreementError as err:
        raise agreement_error(err) from err
    return web.json_response(found)


@routes.patch("/api/v1/agreements/{agreement}")
async def change_agreement(request: web.Request) -> web.Response:
    """Set an agreement's last day, or null to make it open-ended (admin)."""
    token = require(request, Scope.ADMIN)
    body = await json_body(request)
    if set(body) != {"valid_to"}:
        raise ApiError(400, "invalid", "only valid_to can change")
    try:
        agreement = await request.app[AGREEMENTS].end(
            request.match_info["agreement"], _day(body, "valid_to"), actor=token.actor
        )
    except AgreementError as err:
        raise agreement_error(err) from err
    return web.json_response(agreement.as_dict())


@routes.delete("/api/v1/agreements/{agreement}")
async def remove_agreement(request: web.Request) -> web.Response:
    """Delete an agreement that has not started yet (admin)."""
    token = require(request, Scope.ADMIN)
    try:
        agreement = await request.app[AGREEMENTS].remove(
            request.match_info["agreement"], actor=token.actor
        )
    except AgreementError as err:
        raise agreement_error(err) from err
    return web.json_response(agreement.as_dict())
