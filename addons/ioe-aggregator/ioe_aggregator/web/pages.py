"""``/`` and ``/static/<version>/…``: the control centre's shell and its files.

Every URL in the shell is relative, so the same files work at ``http://host:port/`` and under
Home Assistant's ingress (``/api/hassio_ingress/<token>/``, a prefix the Supervisor strips before
the request reaches us). The static files are read once and served from memory: only the files
the package holds can be named, so no path can reach outside it. Their URLs carry a hash of
them all: the shell is never cached, the files are cached for good.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import functools
import hashlib
from importlib import resources
from importlib.resources.abc import Traversable

from aiohttp import web

routes = web.RouteTableDef()

_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".html": "text/html",
}
# Files served as they are named in npm packages (LICENSE) are read as text.
_PLAIN = "text/plain"
SECURITY_HEADERS = {
    # Scripts and styles only from our own files; inline SVG images (the join code's QR) as
    # data: URLs; framed only by the same origin (Home Assistant's page around ingress).
    "Content-Security-Policy": "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        )
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# The public display may be framed by any site (an embed on the community's or the town's web):
# it has no sign-in, no form and nothing to click that changes anything, so there is nothing to
# trick a visitor into doing; otherwise the control centre's policy.
DISPLAY_HEADERS = SECURITY_HEADERS | {
    "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"].replace(
        "frame-ancestors 'self'", "frame-ancestors *"
    )
}
_FOREVER = "public, max-age=31536000, immutable"
_VERSION_PLACEHOLDER = "{{version}}"


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One file of ``static/``, as served."""

    body: bytes
    content_type: str
    charset: str | None


@dataclass(frozen=True, slots=True)
class Assets:
    """The static files by relative path, the pages, and the hash their URLs carry.

    ``shell``: the control centre's page; ``portal``: the members' portal's; ``display``: the
    public display's.
    """

    files: Mapping[str, StaticFile]
    shell: bytes
    portal: bytes
    display: bytes
    version: str


def _walk(folder: Traversable, prefix: str = "") -> dict[str, bytes]:
    found = {}
    for entry in folder.iterdir():
        if entry.name.startswith((".", "__")):
            continue
        if entry.is_dir():
            found.update(_walk(entry, f"{prefix}{entry.name}/"))
        else:
            found[prefix + entry.name] = entry.read_bytes()
    return found


@functools.cache
def assets() -> Assets:
    """Read the package's static files once; return them with their version."""
    package = resources.files(__package__)
    raw = _walk(package / "static")
    digest = hashlib.sha256()
    files = {}
    for path in sorted(raw):
        digest.update(path.encode() + b"\0" + raw[path] + b"\0")
        suffix = path[path.rfind(".") :] if "." in path.rpartition("/")[2] else ""
        content_type = _TYPES.get(suffix, _PLAIN)
        textual = content_type.startswith("text/") or content_type.endswith(("json", "xml"))
        files[path] = StaticFile(raw[path], content_type, "utf-8" if textual else None)
    version = digest.hexdigest()[:12]

    def page(name: str) -> bytes:
        text = (package / name).read_text(encoding="utf-8")
        return text.replace(_VERSION_PLACEHOLDER, version).encode()

    return Assets(files, page("shell.html"), page("portal.html"), page("display.html"), version)


def _secured(response: web.Response, headers: Mapping[str, str] = SECURITY_HEADERS) -> web.Response:
    response.headers.update(headers)
    return response


def html_page(body: bytes, headers: Mapping[str, str] = SECURITY_HEADERS) -> web.Response:
    """Return a page, never cached (it names the files' current version), with ``headers``."""
    response = web.Response(body=body, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-cache"
    return _secured(response, headers)


@routes.get("/")
async def shell(_request: web.Request) -> web.Response:
    """Return the control centre's page (always fresh: it names the files' current version)."""
    return html_page(assets().shell)


@routes.get("/static/{version}/{path:.+}")
async def static(request: web.Request) -> web.Response:
    """Return one of the static files; 404 for anything else.

    A page loaded before an upgrade may still ask for an older version: it gets today's file,
    not cached, rather than an error.
    """
    found = assets()
    file = found.files.get(request.match_info["path"])
    if file is None:
        raise web.HTTPNotFound
    response = web.Response(body=file.body, content_type=file.content_type, charset=file.charset)
    current = request.match_info["version"] == found.version
    response.headers["Cache-Control"] = _FOREVER if current else "no-cache"
    return _secured(response)
