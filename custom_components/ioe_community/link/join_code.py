"""The join code: everything a home needs to join the community, in one string to paste.

``IOE1-`` followed by the URL-safe base64 (no padding) of a zlib-compressed JSON object:
community id, member id, topic prefix, broker host and port, the broker's CA certificate
(PEM, or null when a public CA signs the broker), the member's MQTT password, its API token,
the API's address (or null), the member's supply point (CUPS; absent from codes made before
it was added, which a home refuses: it could not tell whose code it was given), the
community's name (absent when the manager gave none) and the member's broker login (absent
when it is the member id). Optional fields left empty are not written, and fields a newer
version adds are ignored, so homes and servers of different versions read each other's codes.
``docs/protocol.md`` describes it for other implementations.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict, dataclass, fields
import json
import zlib

PREFIX = "IOE1-"


class JoinCodeError(ValueError):
    """The text is not a join code (cut short when copied, or from another system)."""


@dataclass(frozen=True, kw_only=True)
class JoinCode:
    """What a join code holds."""

    community: str
    member: str
    topic_prefix: str
    broker_host: str
    broker_port: int
    ca_certificate: str | None
    mqtt_password: str
    api_token: str
    api_url: str | None
    cups: str | None = None
    community_name: str | None = None
    # The member's broker login when it is not its member id (``member@community``).
    mqtt_username: str | None = None


def encode(code: JoinCode) -> str:
    """Return the join code's text."""
    omitted = {
        field.name
        for field in fields(JoinCode)
        if field.default is None and getattr(code, field.name) is None
    }
    written = {name: value for name, value in asdict(code).items() if name not in omitted}
    packed = zlib.compress(json.dumps(written, separators=(",", ":")).encode(), 9)
    return PREFIX + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode(text: str) -> JoinCode:
    """Return what a join code holds; raise JoinCodeError when the text is not one."""
    text = "".join(text.split())  # line breaks and spaces picked up when copying
    if not text.startswith(PREFIX):
        raise JoinCodeError(f"a join code starts with {PREFIX}")
    body = text.removeprefix(PREFIX)
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        held = json.loads(zlib.decompress(packed))
        known = {field.name for field in fields(JoinCode)}
        return JoinCode(**{name: value for name, value in held.items() if name in known})
    except (AttributeError, binascii.Error, zlib.error, ValueError, TypeError) as err:
        raise JoinCodeError("the join code is incomplete or damaged; copy it again") from err
