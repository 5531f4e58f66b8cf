"""The TLS the community offers: TLS 1.3, or TLS 1.2 with forward-secret AEAD suites only.

The same choice is made for the API's HTTPS listener and for the broker listener the
aggregator writes (``members/broker_files.py``), in OpenSSL's names.
"""

from __future__ import annotations

from pathlib import Path
import ssl

# TLS 1.2: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305, nothing else (no CBC, no
# RSA key exchange). TLS 1.3 suites are all AEAD.
TLS12_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)
TLS13_SUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"


def server_context(certfile: Path, keyfile: Path) -> ssl.SSLContext:
    """Return a server context with the certificate chain and key (reads the files).

    Raises OSError or ssl.SSLError when they cannot be used.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.load_cert_chain(certfile, keyfile)
    return context
