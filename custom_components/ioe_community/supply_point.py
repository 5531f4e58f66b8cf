"""The home's supply point: its CUPS, the identity the distributor and the community know it by."""

from __future__ import annotations

from stdnum.es import cups as stdnum_cups
from stdnum.exceptions import InvalidChecksum, ValidationError


class InvalidCups(ValueError):
    """The text is not a valid CUPS (length, format or check letters)."""


class CupsCheckLettersError(InvalidCups):
    """The CUPS has the right form, but its two check letters do not match its digits."""


def normalize_cups(value: str) -> str:
    """Return the CUPS in its compact upper-case form, or raise InvalidCups.

    Households copy the CUPS from a bill, so spaces, dashes and lower case are accepted.
    """
    try:
        return stdnum_cups.validate(value)
    except InvalidChecksum as err:
        raise CupsCheckLettersError(str(err)) from err
    except ValidationError as err:
        raise InvalidCups(str(err)) from err
