"""Read the comparison's CSV inputs and write its outputs.

Inputs (UTF-8, comma-separated, a header line):
- members: ``member_id,cups,contracted_power_kw,investment_eur,vulnerable``, optionally
  followed by ``min_share`` and/or ``max_share`` (fractions of the plant; empty: no bound)
- consumption: ``member_id,start,kwh``; generation: ``start,kwh``;
  prices: ``start,import_eur_kwh,surplus_eur_kwh[,import_energy_eur_kwh]`` hourly, or the same
  with ``period`` (P1, P2, P3 of 2.0TD) instead of ``start``.
``start`` is ISO 8601 with its UTC offset; intervals are 1 hour or 15 minutes (inferred) and
15-minute data is summed into hours, an hour counting only when all four quarters are there.
Every problem is reported with its file and line, all of them at once.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
import math
from pathlib import Path
import re
from zoneinfo import ZoneInfo

import pandas as pd
from stdnum.es import cups as stdnum_cups

from ioe_aggregator.distributor.csv_files import open_csv
from ioe_aggregator.distributor.model import IMPORT, SELF_CONSUMPTION
from ioe_aggregator.distributor.rows import supply_point
from ioe_aggregator.refusals import Refused
from ioe_aggregator.sharing.economics import Prices
from ioe_aggregator.sharing.model import Member

_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
PRICE_COLUMNS = ("import_eur_kwh", "surplus_eur_kwh")
# The members file's optional bounds on each member's β (fractions of the plant).
SHARE_COLUMNS = ("min_share", "max_share")
ENERGY_PRICE = "import_energy_eur_kwh"
_PERIODS = {"P1": 1, "P2": 2, "P3": 3}
# How far below 0 net generation may go, as a share of its highest value, and be read as an
# inverter's standby consumption (as 0) rather than refused.
STANDBY_SHARE = 0.02
HOUR = pd.Timedelta(hours=1)
QUARTER = pd.Timedelta(minutes=15)


class InputError(ValueError):
    """An input file has problems; ``problems`` lists each with its file and line."""

    def __init__(self, problems: list[str]) -> None:
        """Keep every problem; the message shows the first few."""
        self.problems = problems
        shown = "\n  ".join(problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) in the input:\n  {shown}{more}")


@dataclass(frozen=True, kw_only=True)
class _Rows:
    path: Path
    rows: list[tuple[int, dict[str, str]]]


def _read(
    path: Path,
    columns: tuple[str, ...],
    problems: list[str],
    optional: tuple[str, ...] = (),
) -> _Rows:
    """Read a CSV whose header is ``columns`` followed by any of ``optional``, in order."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.DictReader(file)
            header = tuple(name.strip() for name in reader.fieldnames or ())
            extra = header[len(columns) :]
            if header[: len(columns)] != columns or extra != tuple(
                name for name in optional if name in extra
            ):
                expected = ",".join(columns) + "".join(f"[,{name}]" for name in optional)
                problems.append(f"{path}:1: expected the header {expected}, got {','.join(header)}")
                return _Rows(path=path, rows=[])
            rows = []
            for number, row in enumerate(reader, start=2):
                if None in row or any(value is None for value in row.values()):
                    problems.append(f"{path}:{number}: expected {len(columns)} fields")
                    continue
                rows.append((number, {k.strip(): v.strip() for k, v in row.items()}))
            return _Rows(path=path, rows=rows)
    except (OSError, UnicodeDecodeError) as err:
        problems.append(f"{path}: cannot read: {err}")
        return _Rows(path=path, rows=[])


def _number(
    text: str, where: str, what: str, problems: list[str], *, minimum: float | None = 0.0
) -> float | None:
    try:
        value = float(text)
    except ValueError:
        problems.append(f"{where}: {what} {text!r} is not a number")
        return None
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        problems.append(f"{where}: {what} {text!r} must be a number ≥ {minimum}")
        return None
    return value


def _start(text: str, where: str, problems: list[str]) -> pd.Timestamp | None:
    if not _OFFSET.search(text):
        problems.append(
            f"{where}: start {text!r} needs its UTC offset (e.g. 2025-01-01T00:00:00+01:00)"
        )
        return None
    try:
        return pd.Timestamp(text).tz_convert("UTC")
    except ValueError:
        problems.append(f"{where}: start {text!r} is not an ISO 8601 time")
        return None


def read_members(path: Path) -> list[Member]:
    """Read the members file; raise InputError listing every bad line."""
    problems: list[str] = []
    table = _read(
        path,
        ("member_id", "cups", "contracted_power_kw", "investment_eur", "vulnerable"),
        problems,
        optional=SHARE_COLUMNS,
    )
    members: list[Member] = []
    seen: dict[str, int] = {}
    for number, row in table.rows:
        where = f"{path}:{number}"
        member_id = row["member_id"]
        if not member_id:
            problems.append(f"{where}: member_id is empty")
            continue
        if member_id in seen:
            problems.append(f"{where}: member {member_id} is already on line {seen[member_id]}")
            continue
        seen[member_id] = number
        if not stdnum_cups.is_valid(row["cups"]):
            problems.append(f"{where}: CUPS {row['cups']!r} is not valid")
            continue
        power = _number(row["contracted_power_kw"], where, "contracted_power_kw", problems)
        investment = _number(row["investment_eur"], where, "investment_eur", problems)
        vulnerable = row["vulnerable"].lower()
        if vulnerable not in {"true", "false"}:
            problems.append(f"{where}: vulnerable {row['vulnerable']!r} must be true or false")
            continue
        shares: dict[str, float] = {}
        for column in SHARE_COLUMNS:
            if not row.get(column):
                continue
            share = _number(row[column], where, column, problems)
            if share is not None and share > 1:
                problems.append(f"{where}: {column} {share:g} is a fraction of the plant (0–1)")
            elif share is not None:
                shares[column] = share
        if (
            power is None
            or investment is None
            or len(shares) < sum(bool(row.get(column)) for column in SHARE_COLUMNS)
        ):
            continue
        members.append(
            Member(
                member_id=member_id,
                cups=stdnum_cups.compact(row["cups"]),
                contracted_power_kw=power,
                investment_eur=investment,
                vulnerable=vulnerable == "true",
                min_share=shares.get("min_share", 0.0),
                max_share=shares.get("max_share", 1.0),
            )
        )
    if not members and not problems:
        problems.append(f"{path}: no members")
    if problems:
        raise InputError(problems)
    return members


def _to_hours(series: pd.Series, where: str, problems: list[str]) -> pd.Series | None:
    """Sum one meter's intervals into hours; NaN where an hour is incomplete."""
    series = series.sort_index()
    steps = series.index.to_series().diff().dropna()
    step = steps.mode().iloc[0] if len(steps) else HOUR
    if step not in (HOUR, QUARTER):
        problems.append(f"{where}: intervals of {step} (only 1 hour or 15 minutes)")
        return None
    misaligned = series.index[(series.index - series.index.floor(step)) != pd.Timedelta(0)]
    if len(misaligned):
        problems.append(f"{where}: start {misaligned[0].isoformat()} is not on a {step} boundary")
        return None
    if step == HOUR:
        return series
    grouped = series.resample("h")
    return grouped.sum().where(grouped.count() == 4)


def read_consumption(path: Path, members: list[Member]) -> pd.DataFrame:
    """Read consumption (kWh) into hours × member ids; raise InputError listing every bad line."""
    problems: list[str] = []
    table = _read(path, ("member_id", "start", "kwh"), problems)
    known = {m.member_id for m in members}
    values: dict[str, dict[pd.Timestamp, float]] = {m.member_id: {} for m in members}
    for number, row in table.rows:
        where = f"{path}:{number}"
        if row["member_id"] not in known:
            problems.append(f"{where}: member {row['member_id']!r} is not in the members file")
            continue
        start = _start(row["start"], where, problems)
        kwh = _number(row["kwh"], where, "kwh", problems)
        if start is None or kwh is None:
            continue
        if start in values[row["member_id"]]:
            problems.append(f"{where}: a second value for {row['member_id']} at {row['start']}")
            continue
        values[row["member_id"]][start] = kwh
    columns = {}
    for member_id, readings in values.items():
        if not readings:
            problems.append(f"{path}: no consumption for member {member_id}")
            continue
        hourly = _to_hours(pd.Series(readings, dtype=float), f"{path} ({member_id})", problems)
        if hourly is not None:
            columns[member_id] = hourly
    if problems:
        raise InputError(problems)
    return pd.DataFrame(columns).rename_axis("start")


def read_member_history(path: Path, member: Member, tz: str) -> tuple[pd.Series, str]:
    """Read one member's hourly consumption (kWh, UTC hours) and say what kind of file it was.

    The file is a consumption file of the comparison's own kind (``member_id,start,kwh``: the
    kind ``"history"``) or a distributor's export of the member's supply point, as Datadis or
    the distributor's website gives it (the kind is the export's family, ``"datadis"``…): its
    imports and, where the supply point has its own panels, what they covered.
    """
    try:
        with path.open("rb") as file:
            head = file.readline().decode("utf-8-sig", errors="replace")
            if head.strip().lower().startswith("member_id"):
                return read_consumption(path, [member])[member.member_id], "history"
            if not member.cups:
                raise InputError(
                    [f"{path}: a distributor's export: give the member's cups to find its lines"]
                )
            file.seek(0)
            export = open_csv(file, ZoneInfo(tz))
            point = supply_point(member.cups)
            # Each interval's start and kWh (imports, and what own panels covered).
            kwh = {
                pd.Timestamp(row.start): row.kwh.get(IMPORT, 0.0)
                + row.kwh.get(SELF_CONSUMPTION, 0.0)
                for month in export.months()
                for row in month
                if supply_point(row.cups) == point
            }
    except OSError as err:
        raise InputError([f"{path}: cannot read it: {err.strerror}"]) from None
    except Refused as err:
        raise InputError([f"{path}: {err}"]) from None
    problems = [f"{path}:{error.line}: {error.message}" for error in export.errors.first()]
    if not kwh:
        problems.append(f"{path}: no line for the supply point {member.cups}")
    hourly = None
    if not problems:
        series = pd.Series(kwh, dtype=float)
        series.index = pd.DatetimeIndex(series.index).tz_convert("UTC")
        hourly = _to_hours(series, f"{path} ({member.cups})", problems)
    if problems or hourly is None:
        raise InputError(problems)
    return hourly, str(export.format)


def read_series(
    path: Path, columns: tuple[str, ...], *, minimum: float | None = 0.0
) -> pd.DataFrame:
    """Read ``start`` and numeric columns (generation, prices) into a UTC-indexed frame.

    Energies are at least ``minimum``; prices may be negative.
    """
    problems: list[str] = []
    table = _read(path, ("start", *columns), problems)
    values: dict[pd.Timestamp, list[float]] = {}
    for number, row in table.rows:
        where = f"{path}:{number}"
        start = _start(row["start"], where, problems)
        # Surplus prices can be negative (ESIOS 1739); energies only as far as ``minimum``.
        numbers = [
            _number(row[c], where, c, problems, minimum=None if c.endswith("eur_kwh") else minimum)
            for c in columns
        ]
        if start is None or None in numbers:
            continue
        if start in values:
            problems.append(f"{where}: a second value at {row['start']}")
            continue
        values[start] = [n for n in numbers if n is not None]
    if not values and not problems:
        problems.append(f"{path}: no data")
    if problems:
        raise InputError(problems)
    return pd.DataFrame.from_dict(values, orient="index", columns=list(columns)).sort_index()


def read_generation(path: Path) -> tuple[pd.Series, list[str]]:
    """Read the plant's net generation (kWh) into an hourly UTC series (15-minute data summed).

    Returns the series and warnings (slightly negative values read as 0, `_standby`).
    """
    problems: list[str] = []
    warnings: list[str] = []
    values = _standby(read_series(path, ("kwh",), minimum=None)["kwh"], str(path), warnings)
    hourly = _to_hours(values, str(path), problems)
    if hourly is None:
        raise InputError(problems)
    return hourly, warnings


def read_prices(
    path: Path, index: pd.DatetimeIndex, *, tz: str, ceuta_melilla: bool = False
) -> Prices:
    """Read prices (EUR/kWh): hourly (``start,…``) or by 2.0TD period (``period,…``, P1–P3).

    The columns are ``import_eur_kwh,surplus_eur_kwh``, and optionally
    ``import_energy_eur_kwh`` (the energy term, the compensation's cap). Periods are placed on
    ``index`` in ``tz``, as they are in Ceuta and Melilla with ``ceuta_melilla``.
    """
    problems: list[str] = []
    header = _header(path, problems)
    if problems:
        raise InputError(problems)
    columns = PRICE_COLUMNS + ((ENERGY_PRICE,) if ENERGY_PRICE in header else ())
    if header[:1] != ("period",):
        frame = read_series(path, columns)
        return Prices(
            import_eur_kwh=frame.import_eur_kwh,
            surplus_eur_kwh=frame.surplus_eur_kwh,
            import_energy_eur_kwh=frame.get(ENERGY_PRICE),
        )
    by_column = _period_prices(path, columns)
    return Prices.by_period_20td(
        index,
        by_column["import_eur_kwh"],
        by_column["surplus_eur_kwh"],
        tz,
        import_energy_eur_kwh=by_column.get(ENERGY_PRICE),
        ceuta_melilla=ceuta_melilla,
    )


def _header(path: Path, problems: list[str]) -> tuple[str, ...]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            return tuple(name.strip() for name in next(csv.reader(file), []))
    except (OSError, UnicodeDecodeError) as err:
        problems.append(f"{path}: cannot read: {err}")
        return ()


def _period_prices(path: Path, columns: tuple[str, ...]) -> dict[str, dict[int, float]]:
    """Read ``period,…`` prices: one line for each of P1, P2 and P3."""
    problems: list[str] = []
    table = _read(path, ("period", *columns), problems)
    prices: dict[str, dict[int, float]] = {column: {} for column in columns}
    for number, row in table.rows:
        where = f"{path}:{number}"
        period = _PERIODS.get(row["period"].upper())
        if period is None or period in prices[columns[0]]:
            problems.append(f"{where}: period {row['period']!r} is not P1, P2 or P3, once each")
            continue
        for column in columns:
            value = _number(row[column], where, column, problems, minimum=None)
            if value is not None:
                prices[column][period] = value
    if not problems and any(len(by_period) != len(_PERIODS) for by_period in prices.values()):
        problems.append(f"{path}: give a line for each of P1, P2 and P3")
    if problems:
        raise InputError(problems)
    return prices


@dataclass(frozen=True, kw_only=True)
class Hours:
    """Consumption and generation on the hours a comparison can judge, and what was left out.

    ``consumption`` keeps NaN where a member has no value: that member's hour is left out of
    its figures, and only of its own (``missing``). ``night`` counts the hours without a
    generation value read as 0 (before the day's first or after its last production);
    ``dropped`` the hours without generation, or without any member's consumption.
    """

    consumption: pd.DataFrame
    generation: pd.Series
    dropped: int
    night: int
    missing: dict[str, int]


def align_hours(consumption_kwh: pd.DataFrame, generation_kwh: pd.Series, tz: str) -> Hours:
    """Put consumption and generation on one index of hours, judging each member on its own.

    A generation file may list only the hours that produced: an hour without a value before
    the first or after the last production of its local day is night, read as 0. A day without
    any generation value, and an hour between two productions without one, stay unknown and are
    dropped, as are hours where no member's consumption is known.
    """
    index = consumption_kwh.index.union(generation_kwh.index)
    consumption = consumption_kwh.reindex(index)
    generation = generation_kwh.reindex(index)
    night = _night(generation, tz) & generation.isna()
    generation = generation.mask(night, 0.0)
    known = generation.notna() & consumption.notna().any(axis=1)
    kept = consumption[known]
    return Hours(
        consumption=kept,
        generation=generation[known],
        dropped=int((~known).sum()),
        night=int((night & known).sum()),
        missing={str(k): int(v) for k, v in kept.isna().sum().items() if v},
    )


def _night(generation: pd.Series, tz: str) -> pd.Series:
    """Whether each hour comes before its local day's first production or after its last."""
    day = generation.index.tz_convert(tz).normalize()
    producing = generation.gt(0)
    order = pd.Series(range(len(generation)), index=generation.index)
    first = order.where(producing).groupby(day).transform("min")
    last = order.where(producing).groupby(day).transform("max")
    listed = generation.notna().groupby(day).transform("any")
    # A day with values but no production (rain) is night all day; one with none is unknown.
    return listed & ((order < first) | (order > last) | first.isna())


def _standby(generation: pd.Series, where: str, warnings: list[str]) -> pd.Series:
    """Read slightly negative net generation (the inverter's standby at night) as 0.

    A value below 0 by at most STANDBY_SHARE of the highest one is standby, and read as 0
    with a warning; anything more negative is no plant's net generation, and refused.
    """
    negative = generation[generation < 0]
    if negative.empty:
        return generation
    allowed = STANDBY_SHARE * max(float(generation.max()), 0.0)
    beyond = negative[negative < -allowed]
    if not beyond.empty:
        raise InputError(
            [
                f"{where}: {value} kWh at {start.isoformat()} is below 0 by more than an "
                f"inverter's standby ({allowed:.3f} kWh, {STANDBY_SHARE:.0%} of the highest value)"
                for start, value in beyond.head(20).items()
            ]
        )
    warnings.append(
        f"{where}: {len(negative)} slightly negative values (down to {negative.min()} kWh, an "
        "inverter's standby) read as 0"
    )
    return generation.clip(lower=0.0)
