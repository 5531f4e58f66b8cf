"""The shares of an agreement (β in millionths), from a registry scheme, coefficients or a file.

Shares are kept in millionths, rounded by largest remainder, exactly as the distributor's
coefficient file states them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
import zlib

import numpy as np

from ioe_aggregator.members.registry import Member
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.sharing import coefficient_file, schemes
from ioe_aggregator.sharing.coefficient_file import CoefficientFileError
from ioe_aggregator.sharing.model import Member as SharingMember

# Schemes the registry alone defines (no history needed).
REGISTRY_SCHEMES = ("equal", "power", "investment")
# The years a coefficient file is checked for.
MIN_YEAR, MAX_YEAR = 2000, 2100
# Problems of a coefficient file quoted in the refusal; the rest are counted.
MAX_PROBLEMS_SHOWN = 10
# The largest coefficient file read once inflated: a year of hours for about 230 supply points
# (a file of 32 bytes a line); more than any one plant's community.
MAX_FILE_BYTES = 64 * 1024 * 1024
GZIP = ".gz"


def file_content(file: Mapping[str, Any]) -> tuple[str, bytes]:
    """Return the name and bytes of a coefficient file given as ``{name, content_base64}``.

    An hourly file is large (about 30 bytes an hour for each supply point): one named
    ``….txt.gz`` is gzip-compressed, and read inflated, under its name without ``.gz``.
    """
    name = str(file["name"])
    try:
        content = base64.b64decode(file["content_base64"], validate=True)
    except (binascii.Error, ValueError) as err:
        raise Refused(Kind.INVALID, f"file: content_base64 is not base64: {err}") from err
    if not name.endswith(GZIP):
        return name, content
    inflate = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        inflated = inflate.decompress(content, MAX_FILE_BYTES)
    except zlib.error as err:
        raise Refused(Kind.INVALID, f"file: {name} is not gzip: {err}") from err
    if inflate.unconsumed_tail:
        raise Refused(Kind.TOO_LARGE, f"file: {name} inflates to more than {MAX_FILE_BYTES} bytes")
    if not inflate.eof or inflate.unused_data:
        raise Refused(Kind.INVALID, f"file: {name} is not one whole gzip file")
    return name.removesuffix(GZIP), inflated


@dataclass(frozen=True, kw_only=True)
class Shares:
    """β in millionths: by member (static, ``hour`` 0) or by (member, hour of ``year``)."""

    scheme: str
    units: Mapping[tuple[str, int], int]
    year: int | None = None

    @property
    def hourly(self) -> bool:
        """Whether β change by the hour."""
        return self.year is not None


def rounded_shares(scheme: str, beta: Mapping[str, float]) -> Shares:
    """Return static shares of β (summing to 1) in millionths that sum to exactly 1."""
    ids = list(beta)
    try:
        units = coefficient_file.largest_remainder(np.array([beta[i] for i in ids]))[0]
    except CoefficientFileError as err:
        raise Refused(Kind.INVALID, f"coefficients: {err}") from err
    return Shares(scheme=scheme, units={(i, 0): int(u) for i, u in zip(ids, units, strict=True)})


def sharing_members(members: Sequence[Member]) -> list[SharingMember]:
    """Return the active members as the sharing engine knows them."""
    return [
        SharingMember(
            member_id=m.id,
            cups=m.cups,
            contracted_power_kw=m.contracted_kw,
            investment_eur=m.investment_share,
            vulnerable=m.vulnerable,
        )
        for m in members
        if m.active
    ]


def shares_from_coefficients(beta: Mapping[str, float], members: Sequence[Member]) -> Shares:
    """Return static shares from β by member id (every member named must be active)."""
    active = {m.id for m in members if m.active}
    if unknown := sorted(set(beta) - active):
        raise Refused(Kind.INVALID, f"not active members: {', '.join(unknown)}")
    if not beta:
        raise Refused(Kind.INVALID, "coefficients: give at least one member's β")
    return rounded_shares("static", beta)


def shares_from_comparison(
    scheme: str, beta: Mapping[str, float], members: Sequence[Member]
) -> Shares:
    """Return static shares of a scheme as a comparison computed them (every member active)."""
    active = {m.id for m in members if m.active}
    if gone := sorted(set(beta) - active):
        raise Refused(
            Kind.CONFLICT,
            f"members no longer active since the comparison: {', '.join(gone)}; run it again",
            code="members_changed",
        )
    return rounded_shares(scheme, beta)


def shares_from_scheme(scheme: str, members: Sequence[Member]) -> Shares:
    """Return static shares by a criterion of the registry: equal, power or investment."""
    if scheme not in REGISTRY_SCHEMES:
        raise Refused(
            Kind.INVALID, f"scheme {scheme!r}: choose one of {', '.join(REGISTRY_SCHEMES)}"
        )
    active = sharing_members(members)
    if not active:
        raise Refused(Kind.INVALID, "the community has no active members yet")
    try:
        beta = schemes.build(scheme, active, history_kwh=None).values
    except ValueError as err:
        raise Refused(Kind.INVALID, f"scheme {scheme}: {err}") from err
    return rounded_shares(scheme, beta.to_dict())


def shares_from_file(content: bytes, file_name: str, members: Sequence[Member]) -> Shares:
    """Return the shares of a distributor coefficient file ``{CAU}_{YYYY}.txt``."""
    year = coefficient_file.year_of(file_name)
    if year is None:
        raise Refused(Kind.INVALID, f"{file_name!r}: the file should be named CAU_YYYY.txt")
    # By supply point: the file writes 22 characters, a member may be registered with 20.
    by_point = {m.cups[:20]: m.id for m in members if m.active}
    read, found = coefficient_file.parse(
        content, name=file_name, members_cups=set(by_point), year=year
    )
    if problems := coefficient_file.errors(found):
        shown = "; ".join(str(p) for p in problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        raise Refused(
            Kind.INVALID,
            f"{file_name}: {shown}" + (f" (and {more} more problems)" if more > 0 else ""),
        )
    units = {(by_point[code[:20]], hour): share for (code, hour), share in read.shares.items()}
    if read.hourly:
        return Shares(scheme="hourly-file", units=units, year=year)
    return Shares(scheme="static-file", units=units)


def check_file(
    content: bytes, file_name: str, members: Sequence[Member], year: int | None
) -> dict[str, Any]:
    """Return what ``sharing validate`` finds in a coefficient file, as data; store nothing.

    The year is the file name's unless given; the file is checked against the active members.
    """
    year = year or coefficient_file.year_of(file_name)
    if year is None or not MIN_YEAR <= year <= MAX_YEAR:
        raise Refused(
            Kind.INVALID,
            f"{file_name!r}: name the file CAU_YYYY.txt or give its year "
            f"({MIN_YEAR} to {MAX_YEAR})",
            code="no_year",
        )
    read, problems = coefficient_file.parse(
        content, name=file_name, members_cups={m.cups for m in members if m.active}, year=year
    )
    return {
        "name": file_name,
        "year": year,
        "valid": not coefficient_file.errors(problems),
        "kind": "hourly" if read.hourly else "static",
        "problems": [
            {"line": p.line, "message": p.message, "warning": p.warning} for p in problems
        ],
    }
