"""Errors as the API gives them: a status, a stable code for programs, a message for people."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from ioe_aggregator.refusals import Kind, Refused

# The one place a refusal's kind becomes an HTTP status.
STATUS = {
    Kind.INVALID: 400,
    Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404,
    Kind.CONFLICT: 409,
    Kind.TOO_LARGE: 413,
    Kind.TOO_MANY: 429,
    Kind.UPSTREAM: 502,
    Kind.UNAVAILABLE: 503,
    Kind.QUOTA: 507,
}


def error(
    status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Return the JSON error ``{"error": code, "message": message}``."""
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


@web.middleware
async def errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn a refusal into its JSON answer, and aiohttp's own 404/405 into the same shape."""
    try:
        return await handler(request)
    except Refused as err:
        return error(STATUS[err.kind], err.code, str(err))
    except web.HTTPNotFound:
        return error(404, "not_found", f"no such resource: {request.path}")
    except web.HTTPMethodNotAllowed as err:
        return error(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed here",
            headers={"Allow": ", ".join(sorted(err.allowed_methods))},
        )
