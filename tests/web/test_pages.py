"""The shell and its static files as the service serves them: types, caching, headers."""

from __future__ import annotations

import http.client
import re

import pytest

from ioe_aggregator.web.pages import SECURITY_HEADERS, assets
from tests.community import StartAggregator, call

pytestmark = pytest.mark.usefixtures("allow_local_sockets")


def _raw_get(port: int, path: str) -> int:
    """GET a path exactly as written (no client tidies up its dots)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    status = connection.getresponse().status
    connection.close()
    return status


def test_the_shell_and_its_files(start_aggregator: StartAggregator) -> None:
    _service, port = start_aggregator(community_id="molinos")
    base = f"http://127.0.0.1:{port}"
    shell = call(base, "GET", "/")
    assert shell.status == 200
    assert shell.headers["Content-Type"] == "text/html; charset=utf-8"
    assert shell.headers["Cache-Control"] == "no-cache"
    for name, value in SECURITY_HEADERS.items():
        assert shell.headers[name] == value
    policy = shell.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'self'" in policy  # Home Assistant's ingress frame may hold it
    assert "unsafe-inline" not in policy
    assert "X-Frame-Options" not in shell.headers
    html = shell.body.decode()
    # Relative URLs only (ingress puts a prefix in front), each naming the files' version.
    urls = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert urls
    assert all(url.startswith(f"static/{assets().version}/") for url in urls), urls
    assert "<script>" not in html

    expected = {
        "app.js": "text/javascript; charset=utf-8",
        "style.css": "text/css; charset=utf-8",
        "icon.svg": "image/svg+xml; charset=utf-8",
        "vendor/uplot/uPlot.iife.min.js": "text/javascript; charset=utf-8",
        "vendor/uplot/LICENSE": "text/plain; charset=utf-8",
    }
    for path, content_type in expected.items():
        answer = call(base, "GET", f"/static/{assets().version}/{path}")
        assert answer.status == 200, path
        assert answer.headers["Content-Type"] == content_type
        assert "immutable" in answer.headers["Cache-Control"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    # An older version's URL still gets today's file, but not to keep.
    older = call(base, "GET", "/static/000000000000/app.js")
    assert older.status == 200
    assert older.headers["Cache-Control"] == "no-cache"


def test_nothing_outside_the_static_files_is_served(start_aggregator: StartAggregator) -> None:
    _service, port = start_aggregator(community_id="molinos")
    version = assets().version
    for path in (
        "/static/../x",
        f"/static/{version}/../pages.py",
        f"/static/{version}/%2e%2e/pages.py",
        f"/static/{version}/..%2f..%2fapp.py",
        f"/static/{version}/__init__.py",
        f"/static/{version}/",
        f"/static/{version}/nothing.js",
        "/shell.html",
    ):
        assert _raw_get(port, path) == 404, path
