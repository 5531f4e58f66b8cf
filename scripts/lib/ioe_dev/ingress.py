"""A local stand-in for Home Assistant's ingress proxy, as the control centre's tests meet it.

Home Assistant serves an add-on's page at ``/api/hassio_ingress/<token>/…`` and the Supervisor
forwards each request to the add-on's ingress port with the prefix stripped, naming the Home
Assistant user who made it (``X-Remote-User-Id``, ``-Name``, ``-Display-Name``), the prefix
(``X-Ingress-Path``) and the addresses it came through (``X-Forwarded-For``: the browser's as
Home Assistant saw it, then Home Assistant's). This proxy does the same for one user, from
127.0.0.1: point the aggregator's ``ingress_proxy`` at that address. Headers a browser sends
under those names are dropped, as the Supervisor drops them.

``python -m ioe_dev.ingress --port N --target PORT --user ID NAME "DISPLAY NAME"`` runs one.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import ClientSession, ClientTimeout, hdrs, web

PREFIX = "/api/hassio_ingress/"
# What the proxy sets itself, so never passes on from the browser; and hop-by-hop headers.
_OWN = frozenset(
    name.lower()
    for name in (
        "X-Remote-User-Id", "X-Remote-User-Name", "X-Remote-User-Display-Name",
        "X-Ingress-Path", "X-Forwarded-For", hdrs.HOST, hdrs.CONNECTION, hdrs.TRANSFER_ENCODING,
        hdrs.CONTENT_LENGTH, hdrs.KEEP_ALIVE, hdrs.UPGRADE,
    )
)  # fmt: skip
SESSION = web.AppKey("session", ClientSession)
# Home Assistant's own address, as the Supervisor appends it.
HOME_ASSISTANT = "172.30.32.1"


@dataclass(frozen=True)
class HomeAssistantUser:
    """The user Home Assistant signed in, as the Supervisor names them."""

    id: str
    name: str
    display_name: str


def make_app(target: str, token: str, user: HomeAssistantUser) -> web.Application:
    """Return the proxy: ``/api/hassio_ingress/<token>/PATH`` → ``target/PATH`` as ``user``."""
    prefix = f"{PREFIX}{token}"

    async def forward(request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _OWN}
        headers.update(
            {
                "X-Remote-User-Id": user.id,
                "X-Remote-User-Name": user.name,
                "X-Remote-User-Display-Name": user.display_name,
                "X-Ingress-Path": prefix,
                "X-Forwarded-For": f"{request.remote}, {HOME_ASSISTANT}",
            }
        )
        session: ClientSession = request.app[SESSION]
        async with session.request(
            request.method,
            f"{target}/{path}",
            params=request.query,
            headers=headers,
            data=await request.read(),
            allow_redirects=False,
        ) as answer:
            body = await answer.read()
            passed = {k: v for k, v in answer.headers.items() if k.lower() not in _OWN}
            passed.pop(hdrs.CONTENT_ENCODING, None)
            return web.Response(status=answer.status, body=body, headers=passed)

    async def session_context(app: web.Application) -> AsyncIterator[None]:
        async with ClientSession(timeout=ClientTimeout(total=120), auto_decompress=True) as session:
            app[SESSION] = session
            yield

    app = web.Application(client_max_size=128 * 1024 * 1024)
    app.cleanup_ctx.append(session_context)
    app.router.add_route("*", prefix + "/{path:.*}", forward)
    return app


def main() -> None:
    """Serve the proxy until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m ioe_dev.ingress", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", type=int, required=True, help="the add-on's ingress port")
    parser.add_argument("--token", default="ioe-test-token")
    parser.add_argument("--user", nargs=3, metavar=("ID", "NAME", "DISPLAY_NAME"), required=True)
    args = parser.parse_args()
    app = make_app(f"http://127.0.0.1:{args.target}", args.token, HomeAssistantUser(*args.user))
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
