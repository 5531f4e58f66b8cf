"""The home's supply point: its CUPS, the identity the distributor and the community know it by."""

from __future__ import annotations

from stdnum.es import cups as stdnum_cups
from stdnum.exceptions import ValidationError


class InvalidCups(ValueError):
    """The text is not a valid CUPS (length, format or check letters)."""


def normalize_cups(value: str) -> str:
    """Return the CUPS in its compact upper-case form, or raise InvalidCups.

    Households copy the CUPS from a bill, so spaces, dashes and lower case are accepted.
    """
    try:
        return stdnum_cups.validate(value)
    except ValidationError as err:
        raise InvalidCups(str(err)) from err
