"""People's passwords, hashed with scrypt: memory-hard, in Python's standard library.

The parameters are OWASP's minimum for scrypt (N = 2^17, r = 8, p = 1: 128 MiB and a few
tenths of a second a hash), stored with each hash so that stronger ones can come later
without breaking the old. One hash is computed at a time, off the event loop: a burst of
logins waits its turn instead of taking the machine's memory.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets

LOG2_N = 17
BLOCK_SIZE = 8
PARALLELISM = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_LENGTH = 12
MAX_LENGTH = 256
_PREFIX = "scrypt"
_LOCK = asyncio.Lock()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=2 * 128 * n * r * p, dklen=HASH_BYTES
    )


def weakness(password: str) -> str | None:
    """Return why a new password is refused, or None when it will do."""
    if len(password) < MIN_LENGTH:
        return f"a password has at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    if len(set(password)) < 4:
        return "a password needs more than a few different characters"
    return None


async def hash_password(password: str) -> str:
    """Return the stored form of a password: ``scrypt$log2N$r$p$salt$hash``."""
    salt = secrets.token_bytes(SALT_BYTES)
    async with _LOCK:
        digest = await asyncio.to_thread(_scrypt, password, salt, LOG2_N, BLOCK_SIZE, PARALLELISM)
    return "$".join(
        (_PREFIX, str(LOG2_N), str(BLOCK_SIZE), str(PARALLELISM), _b64(salt), _b64(digest))
    )


# Compared against when the user is unknown, so that both paths take the same time.
_NOBODY = "$".join(
    (_PREFIX, str(LOG2_N), str(BLOCK_SIZE), str(PARALLELISM), _b64(b"\0" * 16), _b64(b"\0" * 32))
)


async def password_matches(password: str, stored: str | None) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (None: nobody's: False)."""
    prefix, log2_n, r, p, salt, digest = (stored or _NOBODY).split("$")
    if prefix != _PREFIX:
        return False
    async with _LOCK:
        computed = await asyncio.to_thread(
            _scrypt, password, base64.b64decode(salt), int(log2_n), int(r), int(p)
        )
    return hmac.compare_digest(computed, base64.b64decode(digest)) and stored is not None
