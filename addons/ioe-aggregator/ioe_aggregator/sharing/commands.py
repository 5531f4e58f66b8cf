"""``python -m ioe_aggregator sharing …``: compare schemes, write and validate coefficient files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

import pandas as pd

from ioe_aggregator.sharing import coefficient_file, scenarios, schemes as sch
from ioe_aggregator.sharing.calendar import DEFAULT_TZ, hours_of_year
from ioe_aggregator.sharing.compare import Comparison, Period, compare
from ioe_aggregator.sharing.economics import PeriodPrice, Prices
from ioe_aggregator.sharing.fairness import Objective
from ioe_aggregator.sharing.files import (
    InputError,
    align_hours,
    read_consumption,
    read_generation,
    read_member_history,
    read_members,
    read_prices,
)
from ioe_aggregator.sharing.model import Coefficients, Member
from ioe_aggregator.sharing.report_html import documents
from ioe_aggregator.sharing.rules import Rules

EXIT_INVALID = 1
EXIT_INPUT = 2
# Where the 2.0TD periods fall (the peninsula, the Balearic and Canary Islands alike).
PENINSULA = "peninsula"
CEUTA_MELILLA = "ceuta-melilla"


def _add_rules(parser: argparse.ArgumentParser) -> None:
    rules = parser.add_argument_group(
        "the community's rules",
        "kept by optimized-static, optimized-hourly and hourly-profile; every other agreement is "
        "checked against them. Each member's own bounds go in the members file (min_share, "
        "max_share)",
    )
    rules.add_argument(
        "--vulnerable-reserve",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="the members flagged vulnerable hold at least this share of the plant together",
    )
    rules.add_argument("--min-beta", type=float, default=0.0, help="every member's lowest β")
    rules.add_argument("--max-beta", type=float, default=1.0, help="every member's highest β")
    rules.add_argument(
        "--min-investment-factor",
        type=float,
        default=0.0,
        metavar="F",
        help="each β at least F times the member's share of the investment",
    )
    rules.add_argument(
        "--max-investment-factor",
        type=float,
        metavar="F",
        help="each β at most F times the member's share of the investment",
    )
    rules.add_argument(
        "--large-consumer-kwh",
        type=float,
        metavar="KWH",
        help="members using more than this a year (their history, annualised) ...",
    )
    rules.add_argument(
        "--large-consumer-max-beta",
        type=float,
        metavar="SHARE",
        help="... get at most this β",
    )


def _rules(args: argparse.Namespace) -> Rules:
    return Rules(
        vulnerable_reserve=args.vulnerable_reserve,
        min_beta=args.min_beta,
        max_beta=args.max_beta,
        min_investment_factor=args.min_investment_factor,
        max_investment_factor=args.max_investment_factor,
        large_consumer_kwh=args.large_consumer_kwh,
        large_consumer_max_beta=args.large_consumer_max_beta,
    )


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sharing`` command and its sub-commands."""
    sharing = commands.add_parser("sharing", help="compare sharing agreements; coefficient files")
    jobs = sharing.add_subparsers(dest="sharing_command", required=True, metavar="JOB")

    comparing = jobs.add_parser("compare", help="compare schemes on the community's history")
    comparing.add_argument("--members", type=Path, required=True)
    comparing.add_argument("--consumption", type=Path, required=True)
    comparing.add_argument("--generation", type=Path, required=True)
    comparing.add_argument(
        "--schemes", default=",".join(sch.ALL_SCHEMES), help="comma-separated (default: all)"
    )
    comparing.add_argument("--train", type=_period, help="START/END, ISO 8601 (END excluded)")
    comparing.add_argument("--evaluate", type=_period, help="START/END, ISO 8601 (END excluded)")
    comparing.add_argument("--tz", default=DEFAULT_TZ)
    comparing.add_argument(
        "--import-price",
        metavar="EUR_KWH",
        help="what a kWh from the grid costs, all in: one price, or P1,P2,P3 of 2.0TD",
    )
    comparing.add_argument(
        "--import-energy-price",
        metavar="EUR_KWH",
        help="its energy term alone (no tolls, charges or taxes), the surplus compensation's cap",
    )
    comparing.add_argument("--surplus-price", type=float, metavar="EUR_KWH")
    comparing.add_argument(
        "--prices",
        type=Path,
        help="CSV: start (or period),import_eur_kwh,surplus_eur_kwh[,import_energy_eur_kwh]",
    )
    comparing.add_argument(
        "--zone",
        choices=(PENINSULA, CEUTA_MELILLA),
        default=PENINSULA,
        help="where the 2.0TD periods are placed (Ceuta and Melilla: P1 and P2 an hour later)",
    )
    _add_rules(comparing)
    deciding = comparing.add_argument_group("the decision")
    deciding.add_argument(
        "--in-force",
        metavar="SCHEME",
        help="the agreement in force, one of the schemes compared: gains and losses against it",
    )
    deciding.add_argument(
        "--objective",
        choices=[str(o) for o in Objective],
        default=str(Objective.SELF_CONSUMPTION),
        help="what the recommended agreement maximises (default: self-consumption); "
        "savings-no-loss: the most euros with nobody losing more than --max-loss",
    )
    deciding.add_argument(
        "--max-loss",
        type=float,
        metavar="SHARE",
        help="savings-no-loss: the largest share of its savings in force a member may lose "
        "(0.05: 5 %%)",
    )
    comparing.add_argument(
        "--scenarios",
        type=Path,
        metavar="JSON",
        help="what-if scenarios judged on the same history: a JSON list (docs/sharing.md); "
        "a joining member's history file is read from beside it",
    )
    comparing.add_argument("--cau", help="also write the distributor's file for this CAU")
    comparing.add_argument("--year", type=int, help="year of that file (default: the next one)")
    comparing.add_argument("--out", type=Path, required=True)

    writing = jobs.add_parser("coefficients", help="write the distributor's coefficient file")
    writing.add_argument("--members", type=Path, required=True)
    writing.add_argument(
        "--scheme",
        required=True,
        choices=[s for s in sch.ALL_SCHEMES if s not in sch.REFERENCE_SCHEMES],
    )
    writing.add_argument(
        "--consumption", type=Path, help="history (consumption, optimized-static, hourly-profile)"
    )
    writing.add_argument("--generation", type=Path, help="history (optimized-static)")
    writing.add_argument("--year", type=int, required=True)
    writing.add_argument("--cau", required=True)
    writing.add_argument("--hourly", action="store_true", help="one line per member and hour")
    writing.add_argument("--tz", default=DEFAULT_TZ)
    _add_rules(writing)
    writing.add_argument("--out", type=Path, required=True)

    checking = jobs.add_parser("validate", help="check a coefficient file; exit 0 when valid")
    checking.add_argument("file", type=Path)
    checking.add_argument("--members", type=Path, required=True)
    checking.add_argument("--year", type=int, required=True)


def _period(text: str) -> Period:
    try:
        start, end = text.split("/")
        period = Period(start=pd.Timestamp(start), end=pd.Timestamp(end))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not START/END: {err}") from None
    if period.start.tzinfo is None or period.end.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: both ends need a UTC offset")
    if period.end <= period.start:
        raise argparse.ArgumentTypeError(f"{text!r}: END must come after START")
    return Period(start=period.start.tz_convert("UTC"), end=period.end.tz_convert("UTC"))


def run(args: argparse.Namespace) -> int:
    """Run the chosen sharing job; return the exit code."""
    try:
        if args.sharing_command == "compare":
            return _compare(args)
        if args.sharing_command == "coefficients":
            return _coefficients(args)
        return _validate(args)
    except InputError as err:
        print(f"ioe-aggregator: {err}", file=sys.stderr)
        return EXIT_INPUT
    except (ValueError, coefficient_file.CoefficientFileError) as err:
        print(f"ioe-aggregator: {err}", file=sys.stderr)
        return EXIT_INPUT


def _prices(args: argparse.Namespace, index: pd.DatetimeIndex) -> Prices | None:
    ceuta_melilla = args.zone == CEUTA_MELILLA
    given = (args.import_price, args.surplus_price, args.import_energy_price)
    if args.prices is not None:
        if any(price is not None for price in given):
            raise ValueError("give either --prices or --import-price/--surplus-price, not both")
        return read_prices(args.prices, index, tz=args.tz, ceuta_melilla=ceuta_melilla)
    if (args.import_price is None) != (args.surplus_price is None):
        raise ValueError("--import-price and --surplus-price go together")
    if args.import_price is None:
        if args.import_energy_price is not None:
            raise ValueError("--import-energy-price goes with --import-price")
        return None
    return Prices.by_period_20td(
        index,
        _price(args.import_price, "--import-price"),
        args.surplus_price,
        args.tz,
        import_energy_eur_kwh=None
        if args.import_energy_price is None
        else _price(args.import_energy_price, "--import-energy-price"),
        ceuta_melilla=ceuta_melilla,
    )


def _price(text: str, option: str) -> PeriodPrice:
    """Return one price (``0.15``) or three, for P1, P2 and P3 (``0.25,0.15,0.08``)."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"{option} {text!r}: give a price in EUR/kWh, or P1,P2,P3") from None
    if len(values) == 1:
        return values[0]
    if len(values) == 3:
        return dict(enumerate(values, start=1))
    raise ValueError(f"{option} {text!r}: give one price, or three (P1,P2,P3)")


def _compare(args: argparse.Namespace) -> int:
    members = read_members(args.members)
    generation, warnings = read_generation(args.generation)
    hours = align_hours(read_consumption(args.consumption, members), generation, args.tz)
    consumption, generation = hours.consumption, hours.generation
    if consumption.empty:
        raise ValueError("no hour has both generation and a member's consumption")
    for warning in warnings:
        print(f"ioe-aggregator: warning: {warning}", file=sys.stderr)
    schemes = [s.strip() for s in args.schemes.split(",") if s.strip()]
    prices = _prices(args, consumption.index)
    inputs = scenarios.Inputs(
        members=tuple(members),
        consumption_kwh=consumption,
        generation_kwh=generation,
        prices=prices,
    )
    asked = _scenarios(args.scenarios, args.tz)
    # Refused before the comparison's work, as every other input.
    scenarios.check(asked, inputs)
    comparison = compare(
        members,
        consumption,
        generation,
        schemes=schemes,
        train=args.train,
        evaluate=args.evaluate,
        prices=prices,
        tz=args.tz,
        rules=_rules(args),
        in_force=args.in_force,
        objective=Objective(args.objective),
        max_loss_share=args.max_loss,
    )
    outcomes = scenarios.what_if(comparison, inputs, asked, tz=args.tz) if asked else []
    report, html = documents(comparison, hours, warnings, args.tz, outcomes)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    (args.out / "report.html").write_text(html, encoding="utf-8")
    _write_agreements(comparison, args)
    judged = report["period"]["hours"]
    print(f"Compared {len(schemes)} schemes over {judged} hours: {args.out / 'report.html'}")
    return 0


def _scenarios(path: Path | None, tz: str) -> list[scenarios.Scenario]:
    """Read the scenarios file; a joining member's history is a file named beside it."""
    if path is None:
        return []
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError([f"{path}: cannot read it: {err.strerror}"]) from None
    except json.JSONDecodeError as err:
        raise InputError([f"{path}:{err.lineno}: not JSON: {err.msg}"]) from None

    def history(member: Member, where: str) -> tuple[pd.Series, str]:
        return read_member_history(path.parent / where, member, tz)

    try:
        return scenarios.parse(document, history=history)
    except ValueError as err:
        raise InputError([f"{path}: {err}"]) from None


def _write_agreements(comparison: Comparison, args: argparse.Namespace) -> None:
    """Write each agreement's β as CSV and, with --cau, as the distributor's file."""
    cups = {m.member_id: m.cups for m in comparison.members}
    year = args.year or comparison.evaluated_on.end.tz_convert(args.tz).year + (
        0 if comparison.evaluated_on.end.tz_convert(args.tz).dayofyear == 1 else 1
    )
    for name, result in comparison.results.items():
        if name in sch.REFERENCE_SCHEMES:
            continue
        directory = args.out / "coefficients" / name
        directory.mkdir(parents=True, exist_ok=True)
        if result.agreement is not None:
            values = result.agreement.values
            table = pd.DataFrame({"cups": [cups[i] for i in values.index], "coefficient": values})
            table.rename_axis("member_id").to_csv(directory / "coefficients.csv")
        else:
            result.coefficients.values.rename(columns=cups).to_csv(directory / "coefficients.csv")
        if args.cau:
            coefficients = result.agreement
            if coefficients is None:
                # Hourly β were given for the judged hours: the file's year is learnt from the
                # judged data, the latest there is.
                coefficients = sch.build(
                    name,
                    comparison.members,
                    history_kwh=result.allocation.consumption_kwh,
                    history_generation_kwh=result.allocation.generation_kwh,
                    target_index=hours_of_year(year, args.tz),
                    tz=args.tz,
                    rules=_rules(args),
                )
            _write_file(
                directory,
                coefficients,
                members=comparison.members,
                cau=args.cau,
                year=year,
                tz=args.tz,
                hourly=False,
            )


def _write_file(
    directory: Path,
    coefficients: Coefficients,
    *,
    members: list[Member],
    cau: str,
    year: int,
    tz: str,
    hourly: bool,
) -> Path:
    """Write the distributor's file; hourly when asked or when β vary by hour."""
    cups = {m.member_id: m.cups for m in members}
    if isinstance(coefficients.values, pd.Series) and not hourly:
        return coefficient_file.write_static(
            directory, cau, year, coefficients.values.rename(index=cups)
        )
    beta = coefficients.hourly(hours_of_year(year, tz)).rename(columns=cups)
    return coefficient_file.write_hourly(directory, cau, year, beta)


def _coefficients(args: argparse.Namespace) -> int:
    if args.scheme in sch.TRAINED_SCHEMES and args.consumption is None:
        raise ValueError(f"--scheme {args.scheme} learns from history: give --consumption")
    if args.scheme == "optimized-static" and args.generation is None:
        raise ValueError("--scheme optimized-static needs --generation too")
    members = read_members(args.members)
    history = read_consumption(args.consumption, members) if args.consumption else None
    generation = None
    if args.generation:
        generation, warnings = read_generation(args.generation)
        for warning in warnings:
            print(f"ioe-aggregator: warning: {warning}", file=sys.stderr)
    if history is not None and generation is not None:
        hours = align_hours(history, generation, args.tz)
        history, generation = hours.consumption, hours.generation
    rules = _rules(args)
    coefficients = sch.build(
        args.scheme,
        members,
        history_kwh=history,
        history_generation_kwh=generation,
        target_index=hours_of_year(args.year, args.tz),
        tz=args.tz,
        rules=rules,
    )
    # A scheme that does not keep the rules (a fixed formula) may still break them: no file then.
    limits = rules.limits(members, history)
    if broken := limits.breaches(coefficients.hourly(hours_of_year(args.year, args.tz)).to_numpy()):
        raise ValueError(
            f"the scheme {args.scheme} breaks the community's rules: "
            + "; ".join(map(str, broken[:10]))
        )
    path = _write_file(
        args.out,
        coefficients,
        members=members,
        cau=args.cau,
        year=args.year,
        tz=args.tz,
        hourly=args.hourly,
    )
    print(f"Wrote {path}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    members = read_members(args.members)
    try:
        _, problems = coefficient_file.read(
            args.file, members_cups={m.cups for m in members}, year=args.year
        )
    except OSError as err:
        print(f"ioe-aggregator: cannot read {args.file}: {err.strerror}", file=sys.stderr)
        return EXIT_INPUT
    for problem in problems:
        print(f"{args.file.name}: {problem}", file=sys.stderr)
    if invalid := coefficient_file.errors(problems):
        print(f"{args.file.name}: {len(invalid)} problem(s)", file=sys.stderr)
        return EXIT_INVALID
    print(f"{args.file.name}: valid")
    return 0
