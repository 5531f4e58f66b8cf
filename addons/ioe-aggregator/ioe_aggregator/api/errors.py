"""Errors as the API gives them: a status, a stable code for programs, a message for people."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web


class ApiError(Exception):
    """Raised by a handler to answer with an error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        """Keep the HTTP status and the error's code with the message."""
        super().__init__(message)
        self.status = status
        self.code = code


def error(
    status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Return the JSON error ``{"error": code, "message": message}``."""
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


@web.middleware
async def errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn ApiError into its JSON answer, and aiohttp's own 404/405 into the same shape."""
    try:
        return await handler(request)
    except ApiError as err:
        return error(err.status, err.code, str(err))
    except web.HTTPNotFound:
        return error(404, "not_found", f"no such resource: {request.path}")
    except web.HTTPMethodNotAllowed as err:
        return error(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed here",
            headers={"Allow": ", ".join(sorted(err.allowed_methods))},
        )
