"""The coefficient file the distributor needs: ``{CAU}_{YYYY}.txt``.

Static: one line per member, ``CUPS;0,250000``. Hourly: one line per member and hour,
``CUPS;HHHH;0,071200``, HHHH being the 1-based elapsed local hour of the year (8760, or 8784
in leap years). Shares have a comma and exactly six decimals, and every hour sums to exactly
1,000000: rounding is by largest remainder, never by pushing the difference onto one member.

The CUPS is written whole, 22 characters: the supply point's 20 and its boundary suffix
(distributors, i-DE at least, refuse the 20 alone). A member registered with 22 characters keeps
its own suffix; one registered with 20 gets ``0F``, the usual one. Files are checked supply point
by supply point (the first 20 characters), so a distributor's own file validates against members
registered either way; a 20-character CUPS in a file is a warning.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
import re
from typing import Final

import numpy as np
from numpy.typing import NDArray
import pandas as pd
from stdnum.es import cups as stdnum_cups

DECIMALS: Final = 6
UNITS: Final = 10**DECIMALS  # 1,000000 in millionths
_SHARE = re.compile(r"^(0|1),(\d{6})$")
_HOUR = re.compile(r"^\d{4}$")
# The boundary suffix a 20-character CUPS gets in a file: a digit and the point's kind.
DEFAULT_SUFFIX: Final = "0F"
_POINT = 20
# A CAU is the CUPS of the installation's point followed by "A" and three digits (check).
_CAU = re.compile(r"^(?P<cups>ES\d{16}[A-Z]{2}(?:\d[FPRCXYZ])?)A(?P<number>\d{3})$")
_FILE_NAME = re.compile(r"(?P<cau>.+)_(?P<year>\d{4})\.txt")


class CoefficientFileError(ValueError):
    """The file cannot be written as asked (bad CAU, β that do not sum to 1, …)."""


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One problem found in a coefficient file."""

    line: int | None
    message: str
    # A file with warnings only is valid: a distributor may still take it.
    warning: bool = False

    def __str__(self) -> str:
        """Format as ``line N: message`` (or the message alone for the whole file)."""
        text = f"warning: {self.message}" if self.warning else self.message
        return f"line {self.line}: {text}" if self.line else text


def errors(problems: list[Problem]) -> list[Problem]:
    """Return the problems that make a file invalid (its warnings left out)."""
    return [problem for problem in problems if not problem.warning]


def full_cups(cups: str) -> str:
    """Return a CUPS as the file writes it: 22 characters, the boundary suffix included."""
    code = stdnum_cups.compact(cups)
    return code if len(code) > _POINT else code + DEFAULT_SUFFIX


def largest_remainder(beta: NDArray[np.float64]) -> NDArray[np.int64]:
    """Round each row of β (summing to 1) to millionths that sum to exactly ``UNITS``.

    Each member gets the floor of its share; the millionths left over go, one each, to the
    members with the largest remainders (ties: the earlier member). Shares stay ≥ 0.
    """
    beta = np.atleast_2d(np.asarray(beta, dtype=float))
    if (beta < 0).any():
        raise CoefficientFileError("coefficients must not be negative")
    sums = beta.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-9):
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise CoefficientFileError(f"coefficients of row {worst} sum to {sums[worst]!r}, not 1")
    scaled = beta * UNITS
    units: NDArray[np.int64] = np.floor(scaled).astype(np.int64)
    remainder = scaled - units
    left: NDArray[np.int64] = UNITS - units.sum(axis=1)
    order = np.argsort(-remainder, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(beta.shape[1])[None, :], axis=1)
    return units + (ranks < left[:, None])


def format_share(units: int) -> str:
    """Format millionths as the file writes them: ``71200`` → ``0,071200``."""
    return f"{units // UNITS},{units % UNITS:0{DECIMALS}d}"


def file_name(cau: str, year: int) -> str:
    """Return ``{CAU}_{YYYY}.txt`` after checking the CAU."""
    match = _CAU.fullmatch(cau)
    if match is None or not stdnum_cups.is_valid(match["cups"]):
        raise CoefficientFileError(f"{cau!r} is not a CAU (a valid CUPS, 'A' and three digits)")
    return f"{cau}_{year}.txt"


def content(shares: Mapping[tuple[str, int], int]) -> bytes:
    """Return a file's content: millionths by (CUPS, hour), hour 0 for a static share.

    Lines come in the mapping's order, each CUPS written whole (`full_cups`), CRLF-ended.
    """
    lines = [
        f"{full_cups(code)};{format_share(units)}"
        if hour == 0
        else f"{full_cups(code)};{hour:04d};{format_share(units)}"
        for (code, hour), units in shares.items()
    ]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def write_static(directory: Path, cau: str, year: int, cups: pd.Series) -> Path:
    """Write a static file: ``cups`` maps each member's CUPS to its β."""
    units = largest_remainder(cups.to_numpy()[None, :])[0]
    shares = {(code, 0): int(u) for code, u in zip(cups.index, units, strict=True)}
    return _write(directory / file_name(cau, year), shares)


def write_hourly(directory: Path, cau: str, year: int, beta: pd.DataFrame) -> Path:
    """Write an hourly file: ``beta`` has one row per hour of the year, one column per CUPS."""
    hours = len(beta)
    if hours not in (8760, 8784):
        raise CoefficientFileError(f"an hourly file needs 8760 or 8784 hours, got {hours}")
    units = largest_remainder(beta.to_numpy())
    shares = {
        (code, hour): int(units[hour - 1, column])
        for column, code in enumerate(beta.columns)
        for hour in range(1, hours + 1)
    }
    return _write(directory / file_name(cau, year), shares)


def _write(path: Path, shares: Mapping[tuple[str, int], int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content(shares))
    return path


@dataclass(frozen=True, kw_only=True)
class CoefficientFile:
    """A coefficient file as read: millionths by (CUPS, hour); hour 0 for a static file."""

    hourly: bool
    shares: dict[tuple[str, int], int]

    def to_frame(self) -> pd.DataFrame:
        """Return β as a DataFrame: hours as rows (one row ``0`` when static), CUPS as columns."""
        series = pd.Series(self.shares, dtype=float) / UNITS
        return series.unstack(level=0).sort_index()


def _parse_line(  # noqa: PLR0911 - one return per check, in the order a reader fixes them
    line: str, number: int, hours_in_year: int, members_cups: set[str]
) -> tuple[str, int, int] | Problem:
    """Return (CUPS, hour, millionths) of one line (hour 0 when static), or its problem."""
    fields = [field.strip() for field in line.split(";")]
    if len(fields) not in (2, 3):
        return Problem(line=number, message=f"expected CUPS;SHARE or CUPS;HOUR;SHARE, got {line!r}")
    code, share_text = fields[0], fields[-1]
    hour = 0
    if len(fields) == 3:
        if not _HOUR.fullmatch(fields[1]):
            return Problem(line=number, message=f"hour {fields[1]!r} is not 4 digits")
        hour = int(fields[1])
        if not 1 <= hour <= hours_in_year:
            return Problem(
                line=number, message=f"hour {hour:04d} is outside 0001-{hours_in_year:04d}"
            )
    match = _SHARE.fullmatch(share_text)
    units = int(match[1]) * UNITS + int(match[2]) if match else -1
    if match is None or units > UNITS:
        return Problem(
            line=number,
            message=(
                f"share {share_text!r} is not a number 0,000000-1,000000 "
                "with a comma and 6 decimals"
            ),
        )
    if not stdnum_cups.is_valid(code):
        return Problem(line=number, message=f"CUPS {code!r} is not valid")
    if code[:_POINT] not in members_cups:
        return Problem(line=number, message=f"CUPS {code} is not a member of the community")
    return code, hour, units


def year_of(name: str) -> int | None:
    """Return the year a coefficient file's name ``{CAU}_{YYYY}.txt`` gives, or None."""
    named = _FILE_NAME.fullmatch(name)
    return int(named["year"]) if named else None


def read(path: Path, *, members_cups: set[str], year: int) -> tuple[CoefficientFile, list[Problem]]:
    """Read and check a coefficient file; return what it holds and every problem found."""
    return parse(path.read_bytes(), name=path.name, members_cups=members_cups, year=year)


def parse(
    content: bytes, *, name: str, members_cups: set[str], year: int
) -> tuple[CoefficientFile, list[Problem]]:
    """Check a coefficient file's content and name; return what it holds and every problem.

    Checks: the name, line format, share format (comma, six decimals), CUPS validity and
    membership (by supply point), duplicates, a consistent kind (static or hourly), hours within
    the year, missing hours, and sums of exactly 1,000000 per hour; warns of CUPS without their
    boundary suffix. Accepts CRLF or LF. ``members_cups`` may hold 20 or 22 characters.
    """
    problems: list[Problem] = []
    named = _FILE_NAME.fullmatch(name)
    if named is None or int(named["year"]) != year or _CAU.fullmatch(named["cau"]) is None:
        problems.append(Problem(line=None, message=f"the file should be named CAU_{year}.txt"))
    hours_in_year = 8784 if pd.Timestamp(year=year, month=1, day=1).is_leap_year else 8760
    members_points = {code[:_POINT] for code in members_cups}
    shares: dict[tuple[str, int], int] = {}
    points: dict[tuple[str, int], str] = {}
    short: dict[str, int] = {}  # 20-character CUPS → their first line
    last_line: dict[int, int] = {}
    hourly: bool | None = None
    text = content.decode("utf-8-sig", errors="replace")
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        parsed = _parse_line(raw.strip(), number, hours_in_year, members_points)
        if isinstance(parsed, Problem):
            problems.append(parsed)
            continue
        code, hour, units = parsed
        if hourly is None:
            hourly = hour > 0
        elif hourly != (hour > 0):
            problems.append(Problem(line=number, message="mixes static and hourly lines"))
            continue
        if (code[:_POINT], hour) in points:
            where = f" for hour {hour:04d}" if hour else ""
            problems.append(Problem(line=number, message=f"CUPS {code} appears twice{where}"))
            continue
        points[code[:_POINT], hour] = code
        shares[(code, hour)] = units
        last_line[hour] = number
        if len(code) == _POINT:
            short.setdefault(code, number)
    result = CoefficientFile(hourly=bool(hourly), shares=shares)
    problems.extend(_check_totals(result, last_line, hours_in_year))
    problems.extend(
        Problem(
            line=line,
            message=(
                f"CUPS {code} has 20 characters: distributors need its 22 (with the boundary "
                f"suffix, as {full_cups(code)})"
            ),
            warning=True,
        )
        for code, line in short.items()
    )
    return result, problems


def _check_totals(
    result: CoefficientFile, last_line: dict[int, int], hours_in_year: int
) -> list[Problem]:
    if not result.shares:
        return [Problem(line=None, message="the file has no coefficients")]
    problems = []
    totals: dict[int, int] = defaultdict(int)
    cups_by_hour: dict[int, set[str]] = defaultdict(set)
    for (code, hour), units in result.shares.items():
        totals[hour] += units
        cups_by_hour[hour].add(code)
    if result.hourly:
        everyone = set().union(*cups_by_hour.values())
        for hour in range(1, hours_in_year + 1):
            if hour not in totals:
                problems.append(Problem(line=None, message=f"hour {hour:04d} is missing"))
            elif absent := everyone - cups_by_hour[hour]:
                problems.append(
                    Problem(
                        line=None,
                        message=f"hour {hour:04d} has no line for {', '.join(sorted(absent))}",
                    )
                )
    for hour, total in sorted(totals.items()):
        if total != UNITS:
            where = f"hour {hour:04d}" if result.hourly else "the coefficients"
            problems.append(
                Problem(
                    line=last_line[hour],
                    message=f"{where} sum to {format_share(total)}, not 1,000000",
                )
            )
    return problems
