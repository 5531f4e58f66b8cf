"""Where the API and the broker listen, and the TLS they accept.

Homes reach the API on its own HTTPS listener; the plain HTTP port is the add-on's ingress port
and, with ``ingress_proxy`` set, serves the Supervisor's ingress proxy only. Both the API and
the broker listener the aggregator writes offer TLS 1.3, and TLS 1.2 with AEAD suites only.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl

import pytest

from ioe_aggregator.config import ConfigError, load_config
from tests.community import Community, StartAggregator, call, get_json, start_service

# Every test here talks to the real local servers it starts.
pytestmark = pytest.mark.usefixtures("allow_local_sockets")

# Offering TLS 1.1 (to see it refused) is deprecated in the client too.
OLD_TLS = pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1:DeprecationWarning")
# A second loopback address: "another machine" for the listener's address checks.
ELSEWHERE = "127.0.0.2"


def _client(ca_file: str, *, version: ssl.TLSVersion, ciphers: str | None = None) -> ssl.SSLContext:
    """Return a client context that offers exactly ``version`` (and ``ciphers``, for ≤ 1.2)."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = context.maximum_version = version
    # Let the client offer what today's defaults forbid: the server must be the one refusing.
    context.set_ciphers(f"{ciphers or 'DEFAULT'}:@SECLEVEL=0")
    return context


def _handshake(port: int, context: ssl.SSLContext) -> str:
    """Return the negotiated TLS version and suite, or raise ssl.SSLError when refused."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        version, cipher = tls.version(), tls.cipher()
    return f"{version} {cipher[0] if cipher else ''}"


OFFERS: dict[str, tuple[ssl.TLSVersion, str | None, bool]] = {
    "tls1.3": (ssl.TLSVersion.TLSv1_3, None, True),
    "tls1.2-aead": (ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-GCM-SHA256", True),
    "tls1.2-chacha": (ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-CHACHA20-POLY1305", True),
    "tls1.2-cbc": (ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA", False),
    "tls1.2-cbc-sha256": (ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA256", False),
    "tls1.1": (ssl.TLSVersion.TLSv1_1, None, False),
}


def _check_offers(port: int, ca_file: str) -> None:
    for name, (version, ciphers, accepted) in OFFERS.items():
        context = _client(ca_file, version=version, ciphers=ciphers)
        if accepted:
            assert _handshake(port, context), name
        else:
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                _handshake(port, context)


@OLD_TLS
def test_the_api_offers_only_aead_tls(
    community: Community, start_aggregator: StartAggregator
) -> None:
    start_service(community, start_aggregator)

    _check_offers(community.options["https_port"], community.options["mqtt_ca_file"])


@OLD_TLS
def test_the_broker_listener_offers_only_aead_tls(community: Community) -> None:
    _check_offers(community.broker.port, str(community.broker.ca_file))


def _plain_get(port: int, path: str, source: str) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0)
    )
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_plain_http_serves_only_the_ingress_proxy(
    community: Community, start_aggregator: StartAggregator
) -> None:
    _service, port = start_aggregator(**community.options, ingress_proxy="127.0.0.1")
    https = community.options["public_api_url"]
    context = ssl.create_default_context(cafile=community.options["mqtt_ca_file"])

    from_proxy = _plain_get(port, "/api/health", "127.0.0.1")
    from_elsewhere = _plain_get(port, "/api/health", ELSEWHERE)
    over_https = call(https, "GET", "/api/health", context=context)

    assert from_proxy[0] == 200
    assert from_elsewhere == (
        403,
        {"error": "https_required", "message": "use the HTTPS port (plain HTTP is for ingress)"},
    )
    assert over_https.status == 200
    with pytest.raises((OSError, http.client.HTTPException)):
        get_json(https.replace("https://", "http://") + "/api/health")


def test_an_http_public_api_address_is_refused() -> None:
    """The join code's API address carries the member's token: never in clear."""
    with pytest.raises(ConfigError, match="PUBLIC_API_URL: expected an https:// address"):
        load_config(None, {"IOE_AGGREGATOR_PUBLIC_API_URL": "http://192.0.2.1:8099"})
