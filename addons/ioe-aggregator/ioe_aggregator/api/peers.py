"""Who is on the other end: the ingress proxy, or a home or system over HTTPS.

On Home Assistant the add-on's plain HTTP port is its ingress port, which only the
Supervisor's ingress proxy should reach (the add-on's network is shared with other add-ons).
With ``ingress_proxy`` set, a plain HTTP request from any other address is refused, and a
request the proxy forwards is the user's: Home Assistant appends the address it saw to
``X-Forwarded-For``, then the Supervisor appends Home Assistant's own. The user's address is
the last entry outside the Supervisor's network; the entries before it are whatever the
browser (or a proxy in front of Home Assistant) claimed, and are not believed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import ipaddress
import logging

from aiohttp import web

from ioe_aggregator.api.errors import error
from ioe_aggregator.keys import CONFIG

_LOGGER = logging.getLogger(__name__)
# The Supervisor's internal network (hassio): the ingress proxy, Home Assistant, the add-ons.
SUPERVISOR_NETWORK = ipaddress.ip_network("172.30.32.0/23")

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def through_ingress(request: web.Request) -> bool:
    """Whether a request came from the ingress proxy (and so its user headers are believed)."""
    proxy = request.app[CONFIG].ingress_proxy
    return proxy is not None and not request.secure and request.remote == proxy


def client_address(request: web.Request) -> str:
    """Return the address of the person or system behind a request."""
    if through_ingress(request):
        for entry in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
            try:
                address = ipaddress.ip_address(entry.strip())
            except ValueError:
                break
            if address not in SUPERVISOR_NETWORK:
                return str(address)
    return request.remote or "unknown"


@web.middleware
async def ingress_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse plain HTTP from anything but the ingress proxy, when one is configured."""
    proxy = request.app[CONFIG].ingress_proxy
    if proxy is not None and not request.secure and request.remote != proxy:
        _LOGGER.warning(
            "Refused plain HTTP from %s: only the ingress proxy (%s) may use this port; "
            "homes and other systems use HTTPS",
            request.remote,
            proxy,
        )
        return error(403, "https_required", "use the HTTPS port (plain HTTP is for ingress)")
    return await handler(request)
