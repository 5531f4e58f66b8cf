"""A webhook receiver for the tests: a real HTTP server that checks what it is sent.

It verifies each request as the Standard Webhooks specification tells a receiver to, written
here from the specification rather than from the service's code: the three headers present,
the timestamp within five minutes of its clock, and one ``v1,`` signature equal to the
base64 HMAC-SHA256, keyed by the base64 after ``whsec_``, of ``{id}.{timestamp}.{body}``.
It answers 200, or what the test tells it to (a status, or to close the connection unanswered).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
import hashlib
import hmac
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import threading
import time
from typing import Any

TOLERANCE_S = 300


@dataclass(frozen=True)
class Received:
    """One request: its event id, the status answered, its body parsed, its check."""

    event: str
    status: int
    body: dict[str, Any]
    verified: bool
    headers: dict[str, str]


def verified(secret: str, headers: dict[str, str], body: bytes, now: float) -> bool:
    """Return whether a delivery is authentic (see the module)."""
    try:
        event, sent = headers["webhook-id"], headers["webhook-timestamp"]
        signatures = headers["webhook-signature"].split()
    except KeyError:
        return False
    if abs(now - int(sent)) > TOLERANCE_S:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{event}.{sent}.".encode() + body, hashlib.sha256).digest()
    expected = base64.b64encode(mac).decode()
    return any(
        version == "v1" and hmac.compare_digest(value, expected)
        for version, _, value in (one.partition(",") for one in signatures)
    )


class Receiver:
    """The server, on ``port`` of the loopback, from ``start`` to ``stop``."""

    def __init__(self, port: int, clock: Callable[[], float] = time.time) -> None:
        """Listen (once started) on ``port``; ``clock`` is the time signatures are checked at."""
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hooks/erp?token=kept-out-of-logs"
        self.secret = ""
        self.answer = 200
        self.received: list[Received] = []
        self._clock = clock
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        """Start answering."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append(
                    Received(
                        event=headers.get("webhook-id", ""),
                        status=receiver.answer,
                        body=json.loads(body),
                        verified=verified(receiver.secret, headers, body, receiver._clock()),
                        headers=headers,
                    )
                )
                self.send_response(receiver.answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop answering: connections are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def delivered(self) -> list[Received]:
        """Return the requests answered 2xx, in the order they came."""
        return [r for r in self.received if 200 <= r.status < 300]
