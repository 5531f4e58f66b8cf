"""Refusals: what the aggregator will not do, and why, as the API and the command line say it.

Every part raises the one ``Refused``; the API's error middleware answers each kind with its
HTTP status (``api/errors.py``), the command line with its exit code (``cli.py``).
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """Why a request is refused."""

    INVALID = "invalid"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    TOO_LARGE = "too_large"
    # A member's data would pass its quota.
    QUOTA = "quota"
    # Something the request needs (the database, the broker) does not answer now.
    UNAVAILABLE = "unavailable"
    # Another server the request reads from (an emoncms to migrate from) failed or refused it.
    UPSTREAM = "upstream"
    # More requests than the sender is allowed in a while: later, they are taken.
    TOO_MANY = "too_many"


class Refused(Exception):
    """A request refused: its kind, a stable code for programs and a reason for people."""

    def __init__(self, kind: Kind, message: str, *, code: str | None = None) -> None:
        """Keep the kind and the code (the kind's own unless a finer one is given)."""
        super().__init__(message)
        self.kind = kind
        self.code = code or kind.value
