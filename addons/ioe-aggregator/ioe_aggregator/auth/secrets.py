"""Secrets the aggregator hands out, and the only form in which it keeps them: hashed.

API tokens are ``ioe_<id>_<secret>``: the id finds the token, the secret's SHA-256 proves it.
The secret is 192 random bits, so a plain hash is enough; comparisons take constant time.
Broker passwords are kept as Mosquitto keeps them (PBKDF2-SHA512, ``$7$`` format), so that
the broker's password file is written from the database without ever knowing a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

TOKEN_PREFIX = "ioe"  # noqa: S105 - a name, not a secret
_TOKEN = re.compile(r"^ioe_(?P<id>[a-z0-9]{12})_(?P<secret>[A-Za-z0-9_-]{32})$")
# Broker passwords are random too (as strong as the tokens): stretching only protects weak
# passwords, and the broker pays for every iteration at each login.
MOSQUITTO_ITERATIONS = 1000
_MOSQUITTO_SALT_BYTES = 12
_MOSQUITTO_PARTS = 5  # '', '7', iterations, salt, hash


def new_token() -> tuple[str, str, str]:
    """Return a new token as (id, the token to hand out, the hash to store)."""
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24)
    return token_id, f"{TOKEN_PREFIX}_{token_id}_{secret}", _digest(secret)


def split_token(token: str) -> tuple[str, str] | None:
    """Return (id, secret) of a token as presented, or None when it is not shaped like one."""
    match = _TOKEN.fullmatch(token)
    return None if match is None else (match["id"], match["secret"])


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_matches(secret: str, stored_hash: str) -> bool:
    """Whether a presented secret is the one whose hash is stored (constant time)."""
    return hmac.compare_digest(_digest(secret), stored_hash)


def new_password() -> str:
    """Return a new broker password (192 random bits, URL-safe characters)."""
    return secrets.token_urlsafe(24)


def mosquitto_hash(password: str, *, salt: bytes | None = None) -> str:
    """Return ``$7$<iterations>$<salt>$<hash>``: a password as Mosquitto's file holds it."""
    salt = salt if salt is not None else secrets.token_bytes(_MOSQUITTO_SALT_BYTES)
    derived = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, MOSQUITTO_ITERATIONS)
    return "$".join(
        (
            "",
            "7",
            str(MOSQUITTO_ITERATIONS),
            base64.b64encode(salt).decode(),
            base64.b64encode(derived).decode(),
        )
    )


def mosquitto_matches(password: str, stored_hash: str) -> bool:
    """Whether a password is the one a ``$7$`` hash was made from (constant-time comparison).

    For the broker's HTTP authentication hook, which checks what Mosquitto would; a hash that
    is not a ``$7$`` one matches nothing.
    """
    parts = stored_hash.split("$")
    if len(parts) != _MOSQUITTO_PARTS or parts[:2] != ["", "7"]:
        return False
    try:
        iterations = int(parts[2]) if parts[2].isascii() else 0
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
        derived = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    except ValueError:  # not a number, not base64, no iterations
        return False
    return hmac.compare_digest(derived, expected)
