"""The display's settings, in the store's settings: whether it is on, and the community's logo.

The logo is an image the manager uploads: PNG, JPEG or WebP (recognised by its first bytes, not
by what the upload says it is; never SVG, which can carry scripts), at most ``MAX_LOGO_BYTES``.
Every change is audited in the same transaction. ``KeptSettings`` keeps them in memory.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
import hashlib
import json

from ioe_aggregator import audit
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.store import Store
from ioe_aggregator.store.readings import PUT_SETTING

ENABLED_SETTING = "public_display_enabled"
LOGO_SETTING = "public_display_logo"
MAX_LOGO_BYTES = 256 * 1024
_SELECT = "SELECT key, value FROM settings WHERE key = ? OR key = ?"
_DELETE = "DELETE FROM settings WHERE key = ?"
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


@dataclass(frozen=True, slots=True)
class Logo:
    """An uploaded logo: its type, its bytes and a short hash of them (its URL's version)."""

    content_type: str
    body: bytes

    @property
    def version(self) -> str:
        """A short hash of the image: a new logo gets a new URL."""
        return hashlib.sha256(self.body).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class DisplaySettings:
    """Whether the display is on, and its logo (None: none uploaded)."""

    enabled: bool
    logo: Logo | None


def image_type(body: bytes) -> str:
    """Return the type of a PNG, JPEG or WebP image; refuse anything else, or too large."""
    if len(body) > MAX_LOGO_BYTES:
        raise Refused(
            Kind.TOO_LARGE,
            f"the logo is {len(body) // 1024} KiB: at most {MAX_LOGO_BYTES // 1024} KiB",
            code="logo_too_large",
        )
    for signature, content_type in _SIGNATURES:
        if body.startswith(signature):
            return content_type
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "image/webp"
    raise Refused(Kind.INVALID, "the logo must be a PNG, JPEG or WebP image", code="logo_type")


async def display_settings(store: Store) -> DisplaySettings:
    """Return the display's settings as stored (off, without a logo, until changed)."""
    async with store.transaction() as tx:
        rows = {
            str(k): str(v) for k, v in await tx.execute(_SELECT, (ENABLED_SETTING, LOGO_SETTING))
        }
    logo = None
    if (stored := rows.get(LOGO_SETTING)) is not None:
        found = json.loads(stored)
        logo = Logo(found["type"], base64.b64decode(found["data"]))
    return DisplaySettings(enabled=rows.get(ENABLED_SETTING) == "on", logo=logo)


class KeptSettings:
    """The display's settings in memory, so that a public request reads nothing for them.

    Read from the store at the first use; replaced (``reload``) by the routes that change them,
    their only writers.
    """

    def __init__(self, store: Store) -> None:
        """Keep the settings of ``store``."""
        self._store = store
        self._kept: DisplaySettings | None = None

    async def get(self) -> DisplaySettings:
        """Return the settings, read from the store only the first time."""
        if self._kept is None:
            found = await display_settings(self._store)
            # A change read meanwhile (``reload``) is newer: it stands.
            if self._kept is None:
                self._kept = found
        return self._kept

    async def reload(self) -> DisplaySettings:
        """Read the settings again after a change; return them."""
        self._kept = await display_settings(self._store)
        return self._kept


async def switch(store: Store, actor: str, *, enabled: bool) -> None:
    """Switch the display on or off, audited."""
    async with store.transaction() as tx:
        await tx.execute(PUT_SETTING, (ENABLED_SETTING, "on" if enabled else "off"))
        await audit.record(tx, actor, audit.Action.DISPLAY_CHANGED, "display", {"enabled": enabled})


async def put_logo(store: Store, actor: str, body: bytes) -> Logo:
    """Keep an uploaded logo (checked: ``image_type``), audited; return it."""
    logo = Logo(image_type(body), body)
    stored = json.dumps({"type": logo.content_type, "data": base64.b64encode(body).decode()})
    async with store.transaction() as tx:
        await tx.execute(PUT_SETTING, (LOGO_SETTING, stored))
        await audit.record(
            tx,
            actor,
            audit.Action.DISPLAY_CHANGED,
            "display",
            {"logo": logo.content_type, "bytes": len(body)},
        )
    return logo


async def remove_logo(store: Store, actor: str) -> None:
    """Remove the logo, audited."""
    async with store.transaction() as tx:
        await tx.execute(_DELETE, (LOGO_SETTING,))
        await audit.record(tx, actor, audit.Action.DISPLAY_CHANGED, "display", {"logo": None})
