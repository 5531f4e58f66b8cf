"""The string formats the API's document names, as the API reads them: date-time and date.

JSON Schema's ``date-time`` is RFC 3339's: a date, ``T``, a time with seconds, and the zone
(``Z`` or ``±hh:mm``); ``date`` is ``YYYY-MM-DD``. Both must also be real moments and days.
The same functions check a request against the document and read the value in the handler, so
the two never disagree.
"""

from __future__ import annotations

from datetime import date, datetime
import re

from jsonschema import FormatChecker

_EXAMPLE = "2026-11-24T00:00:00Z"
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?")
_ZONE = re.compile(r"[Zz]|[+-][0-9]{2}:[0-9]{2}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def moment(text: str) -> datetime:
    """Return an RFC 3339 date-time as a datetime with its zone; raise ValueError saying why not."""
    expected = f"expected a UTC date-time such as {_EXAMPLE}"
    shape = _TIME.match(text)
    if shape is None:
        raise ValueError(f"{text!r} is not an ISO 8601 time: {expected}")
    if not text[shape.end() :]:
        raise ValueError(f"{text!r}: give the time zone (Z for UTC): {expected}")
    if not _ZONE.fullmatch(text, shape.end()):
        raise ValueError(f"{text!r} is not an ISO 8601 time: {expected}")
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time: {expected}") from None


def day(text: str) -> date:
    """Return a ``YYYY-MM-DD`` date; raise ValueError saying why not."""
    try:
        if _DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)")


def month(text: str) -> date:
    """Return a ``YYYY-MM`` month as its first day; raise ValueError saying why not."""
    try:
        return datetime.strptime(text, "%Y-%m").date()  # noqa: DTZ007 - a calendar month
    except ValueError:
        raise ValueError(f"expected a month as YYYY-MM, got {text!r}") from None


# Only the formats above are asserted; the document's others are descriptions.
CHECKER = FormatChecker(formats=())


@CHECKER.checks("date-time", raises=ValueError)
def _is_moment(value: object) -> bool:
    if isinstance(value, str):
        moment(value)
    return True


@CHECKER.checks("date", raises=ValueError)
def _is_day(value: object) -> bool:
    if isinstance(value, str):
        day(value)
    return True
