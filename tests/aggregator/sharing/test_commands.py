"""``python -m ioe_aggregator sharing …`` end to end on files, as a manager runs it."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

import pandas as pd
import pytest

from ioe_aggregator.cli import main
from ioe_aggregator.sharing.schemes import ALL_SCHEMES
from ioe_dev.synthetic import cups, make_community, write_csv

from .conftest import hours

CAU = "ES0021000000000001RKA001"
KPI_KEYS = {
    "allocated_kwh", "consumption_kwh", "self_consumed_kwh", "surplus_kwh", "import_kwh",
    "self_consumption_ratio", "self_sufficiency",
}  # fmt: skip


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_csv(make_community(4, seed=3), tmp_path_factory.mktemp("community"))


# Judge the whole year (of a fixed-formula scheme, which learns nothing): the tests of how
# inputs are read look at every hour.
WHOLE_YEAR = ("--evaluate", "2025-01-01T00:00:00+01:00/2026-01-01T00:00:00+01:00")


def run(*args: str | Path) -> int:
    return main(["sharing", *map(str, args)])


def test_compare_writes_report_html_and_agreements(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = run(
        "compare", "--members", inputs["members"], "--consumption", inputs["consumption"],
        "--generation", inputs["generation"], "--evaluate",
        "2025-07-01T00:00:00+02:00/2026-01-01T00:00:00+01:00",
        "--import-price", "0.15", "--surplus-price", "0.05", "--cau", CAU, "--out", out,
    )  # fmt: skip

    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert report["period"]["hours"] == 184 * 24 + 1  # July to December, one autumn hour more
    assert report["trained_on"]["hours"] == 181 * 24 - 1  # January to June, one spring hour short
    assert report["trained_on_evaluated_period"] is False
    assert set(report["schemes"]) == set(ALL_SCHEMES)
    best = report["schemes"]["optimized-static"]
    assert KPI_KEYS | {
        "generation_kwh",
        "allocation_efficiency",
        "savings_eur",
        "compensation_eur",
    } <= set(best["community"])
    for member in best["members"].values():
        assert KPI_KEYS | {"coefficient", "savings_eur", "compensation_eur"} <= set(member)
        months = member["monthly"]
        assert list(months) == [f"2025-{m:02d}" for m in range(7, 13)]
        assert sum(m["self_consumed_kwh"] for m in months.values()) == pytest.approx(
            member["self_consumed_kwh"]
        )
        assert sum(m["savings_eur"] for m in months.values()) == pytest.approx(
            member["savings_eur"]
        )
    community_months = best["community"]["monthly"]
    assert sum(m["import_kwh"] for m in community_months.values()) == pytest.approx(
        best["community"]["import_kwh"]
    )
    assert "coefficient" not in report["schemes"]["hourly-profile"]["members"]["m-0001"]
    ceiling = report["ceiling_kwh"]
    for name, scheme in report["schemes"].items():
        assert scheme["community"]["self_consumed_kwh"] <= ceiling + 1e-6, name
    assert report["schemes"]["perfect-foresight"]["community"][
        "allocation_efficiency"
    ] == pytest.approx(1)
    html = (out / "report.html").read_text()
    assert "<svg" in html
    # Self-contained: nothing to fetch (XML namespace names are identifiers, not fetched).
    assert not re.search(r"""(src|href)=["']?(https?:|//)|<link|<script""", html)
    assert "Clasificación" in html
    assert "Ranking" in html
    for scheme in (
        "equal",
        "power",
        "investment",
        "consumption",
        "optimized-static",
        "hourly-profile",
        "optimized-hourly",
    ):
        assert (out / "coefficients" / scheme / "coefficients.csv").exists()
        assert (out / "coefficients" / scheme / f"{CAU}_2026.txt").exists()
    assert not (out / "coefficients" / "perfect-foresight").exists()


def test_one_year_is_learnt_on_eight_months_and_judged_on_the_last_four(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    code = run(
        "compare", "--members", inputs["members"], "--consumption", inputs["consumption"],
        "--generation", inputs["generation"], "--schemes", "equal,optimized-static",
        "--out", tmp_path,
    )  # fmt: skip
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["trained_on_evaluated_period"] is False
    assert report["evaluated_on"]["start"] == "2025-08-31T22:00:00+00:00"  # 1 September local
    assert "savings_eur" not in report["schemes"]["equal"]["community"]  # no prices given
    html = (tmp_path / "report.html").read_text()
    assert "same data" not in html
    assert "trained on 2025-01-01 – 2025-08-31 and evaluated on 2025-09-01 – 2025-12-31" in html
    best, equal = (
        report["schemes"][s]["community"]["self_consumed_kwh"]
        for s in ("optimized-static", "equal")
    )
    assert best >= equal


def test_trained_on_the_period_it_is_judged_on_says_so(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    code = run(
        "compare", "--members", inputs["members"], "--consumption", inputs["consumption"],
        "--generation", inputs["generation"], "--schemes", "equal,optimized-static",
        "--train", WHOLE_YEAR[1], *WHOLE_YEAR, "--out", tmp_path,
    )  # fmt: skip
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["trained_on_evaluated_period"] is True
    html = (tmp_path / "report.html").read_text()
    assert "los mismos datos" in html
    assert "same data" in html
    assert "trained on 2025-01-01 – 2025-12-31" in html  # local days, end included


def test_coefficients_then_validate(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("coefficients", "--members", inputs["members"], "--scheme", "power",
               "--year", "2024", "--cau", CAU, "--hourly", "--out", tmp_path)  # fmt: skip
    assert code == 0
    path = tmp_path / f"{CAU}_2024.txt"
    assert len(path.read_text().splitlines()) == 4 * 8784

    assert run("validate", path, "--members", inputs["members"], "--year", "2024") == 0
    assert "valid" in capsys.readouterr().out

    lines = path.read_text().splitlines()
    lines[5] = lines[5][:-6] + "999999"
    path.write_text("\n".join(lines))
    assert run("validate", path, "--members", inputs["members"], "--year", "2024") == 1
    errors = capsys.readouterr().err
    assert "hour 0006 sum to" in errors
    assert "line " in errors


def test_learning_scheme_needs_history(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("coefficients", "--members", inputs["members"], "--scheme", "hourly-profile",
               "--year", "2026", "--cau", CAU, "--out", tmp_path)  # fmt: skip
    assert code == 2
    assert "give --consumption" in capsys.readouterr().err


def test_the_decision_rests_on_rules_euros_and_the_agreement_in_force(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code = run(
        "compare", "--members", inputs["members"], "--consumption", inputs["consumption"],
        "--generation", inputs["generation"], "--schemes", "power,equal,optimized-static",
        "--import-price", "0.2", "--surplus-price", "0.05", "--min-beta", "0.2",
        "--in-force", "power", "--objective", "savings-no-loss", "--max-loss", "1",
        "--out", out,
    )  # fmt: skip

    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["rules"] == {"min_beta": 0.2}
    assert report["in_force"] == "power"
    # power gives m-0004 0.18: it breaks the rule, and is passed over for it.
    assert report["schemes"]["power"]["rules_broken"][0]["member_id"] == "m-0004"
    assert report["schemes"]["optimized-static"]["rules_broken"] == []
    chosen = report["recommendation"]
    assert chosen["objective"] == "savings-no-loss"
    assert chosen["breaking_rules"] == ["power"]
    assert chosen["scheme"] in {"equal", "optimized-static"}
    fairness = report["schemes"][chosen["scheme"]]["fairness"]
    assert fairness["in_force"] == "power"
    assert sum(m["savings_eur"] for m in fairness["members"].values()) == pytest.approx(
        report["schemes"][chosen["scheme"]]["community"]["savings_eur"]
    )
    assert report["schemes"]["power"]["fairness"]["losers"] == []  # against itself
    html = (out / "report.html").read_text()
    for words in ("Recomendación", "Recommendation", "Equidad", "Fairness", "m-0004 por debajo"):
        assert words in html


def test_a_file_that_breaks_the_rules_is_not_written(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Four members by contracted power (3 × 0.27, 0.18): one is below 0.2; power keeps no rule.
    code = run("coefficients", "--members", inputs["members"], "--scheme", "power",
               "--year", "2026", "--cau", CAU, "--min-beta", "0.2", "--out", tmp_path)  # fmt: skip
    assert code == 2
    assert re.search(
        r"the scheme power breaks the community's rules: m-0004: beyond its lowest β 0\.2 "
        r"\(min_beta\) in 8760 of 8760 hours",
        capsys.readouterr().err,
    )
    assert list(tmp_path.iterdir()) == []  # no file that breaks the bounds
    # Rules it happens to keep: written.
    code = run("coefficients", "--members", inputs["members"], "--scheme", "power",
               "--year", "2026", "--cau", CAU, "--min-beta", "0.1", "--out", tmp_path)  # fmt: skip
    assert code == 0


def test_optimized_static_file_keeps_the_rules(inputs: dict[str, Path], tmp_path: Path) -> None:
    code = run("coefficients", "--members", inputs["members"], "--scheme", "optimized-static",
               "--consumption", inputs["consumption"], "--generation", inputs["generation"],
               "--year", "2026", "--cau", CAU, "--min-beta", "0.15", "--out", tmp_path)  # fmt: skip
    assert code == 0
    shares = [line.split(";")[1] for line in (tmp_path / f"{CAU}_2026.txt").read_text().split()]
    assert min(float(share.replace(",", ".")) for share in shares) >= 0.15 - 1e-6


def test_hourly_profile_file_from_history(inputs: dict[str, Path], tmp_path: Path) -> None:
    code = run("coefficients", "--members", inputs["members"], "--scheme", "hourly-profile",
               "--consumption", inputs["consumption"], "--year", "2026", "--cau", CAU,
               "--max-beta", "0.3", "--out", tmp_path)  # fmt: skip
    assert code == 0
    shares = [line.split(";")[2] for line in (tmp_path / f"{CAU}_2026.txt").read_text().split()]
    assert max(shares) <= "0,300000"
    assert (
        run(
            "validate",
            tmp_path / f"{CAU}_2026.txt",
            "--members",
            inputs["members"],
            "--year",
            "2026",
        )
        == 0
    )


@pytest.mark.parametrize(
    ("file", "content", "expected"),
    [
        (
            "members",
            "member_id,cups\nm-1,ES0021000000000001RK\n",
            "expected the header member_id,cups,contracted_power_kw",
        ),
        (
            "members",
            "member_id,cups,contracted_power_kw,investment_eur,vulnerable\nm-1,ES0021000000000001RA,3.3,0,false\n",
            ":2: CUPS 'ES0021000000000001RA' is not valid",
        ),
        (
            "members",
            "member_id,cups,contracted_power_kw,investment_eur,vulnerable\nm-1,ES0021000000000001RK,tres,0,false\n",
            ":2: contracted_power_kw 'tres' is not a number",
        ),
        (
            "members",
            "member_id,cups,contracted_power_kw,investment_eur,vulnerable\nm-1,ES0021000000000001RK,3.3,0,si\n",
            ":2: vulnerable 'si' must be true or false",
        ),
        (
            "consumption",
            "member_id,start,kwh\nm-0001,2025-01-01T00:00:00,0.4\n",
            ":2: start '2025-01-01T00:00:00' needs its UTC offset",
        ),
        (
            "consumption",
            "member_id,start,kwh\nm-0009,2025-01-01T00:00:00+01:00,0.4\n",
            ":2: member 'm-0009' is not in the members file",
        ),
        (
            "consumption",
            "member_id,start,kwh\nm-0001,2025-01-01T00:00:00+01:00,-1\n",
            ":2: kwh '-1' must be a number ≥ 0",
        ),
        (
            "consumption",
            "member_id,start,kwh\nm-0001,2025-01-01T00:00:00+01:00\n",
            ":2: expected 3 fields",
        ),
        (
            "generation",
            "start,kwh\n2025-01-01T00:00:00+01:00,1\n2025-01-01T00:00:00+01:00,2\n",
            ":3: a second value at",
        ),
        (
            "generation",
            "start,kwh\nmañana+01:00,1\n",
            ":2: start 'mañana+01:00' is not an ISO 8601 time",
        ),
    ],
)
def test_bad_input_is_named_with_its_line(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    file: str, content: str, expected: str,
) -> None:  # fmt: skip
    broken = tmp_path / f"{file}.csv"
    broken.write_text(content)
    paths = {**inputs, file: broken}

    code = run("compare", "--members", paths["members"], "--consumption", paths["consumption"],
               "--generation", paths["generation"], "--out", tmp_path / "out")  # fmt: skip

    assert code == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "out" / "report.json").exists()


def as_quarter_hours(path: Path, drop: list[int] | None = None) -> None:
    """Rewrite an hourly CSV as four quarter-hours per hour (a quarter of each energy each)."""
    hourly = pd.read_csv(path)
    quarters = hourly.loc[hourly.index.repeat(4)].copy()
    starts = pd.to_datetime(quarters.start, utc=True) + pd.to_timedelta(
        [0, 15, 30, 45] * len(hourly), unit="min"
    )
    quarters["start"] = [t.tz_convert("Europe/Madrid").isoformat() for t in starts]
    quarters["kwh"] = quarters.kwh / 4
    quarters.drop(quarters.index[drop or []]).to_csv(path, index=False)


def test_quarter_hours_are_summed_and_an_incomplete_hour_left_to_its_member(
    tmp_path: Path,
) -> None:
    community = make_community(2, seed=5)
    paths = write_csv(community, tmp_path)
    # One quarter missing in the first member's first hour.
    as_quarter_hours(paths["consumption"], drop=[1])

    code = run("compare", "--members", paths["members"], "--consumption", paths["consumption"],
               "--generation", paths["generation"], "--schemes", "equal", *WHOLE_YEAR,
               "--out", tmp_path / "out")  # fmt: skip

    assert code == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    first = community.consumption_kwh.columns[0]
    # The hour is judged for the other member: only the first loses it.
    assert report["hours_dropped_incomplete"] == 0
    assert report["member_hours_missing"] == {first: 1}
    assert report["period"]["hours"] == 8760
    rounded = community.consumption_kwh.round(4)
    expected = rounded.to_numpy().sum() - rounded[first].iloc[0]
    assert report["schemes"]["equal"]["community"]["consumption_kwh"] == pytest.approx(
        expected, rel=1e-6
    )


def test_unknown_scheme_is_named(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("compare", "--members", inputs["members"], "--consumption", inputs["consumption"],
               "--generation", inputs["generation"], "--schemes", "equal,fair",
               "--out", tmp_path / "out")  # fmt: skip

    assert code == 2
    assert "unknown schemes ['fair']" in capsys.readouterr().err
    assert not (tmp_path / "out" / "report.json").exists()


def test_quarter_hour_generation_is_summed_into_hours(tmp_path: Path) -> None:
    community = make_community(2, seed=5)
    paths = write_csv(community, tmp_path)
    as_quarter_hours(paths["generation"])

    code = run("compare", "--members", paths["members"], "--consumption", paths["consumption"],
               "--generation", paths["generation"], "--schemes", "equal", *WHOLE_YEAR,
               "--out", tmp_path / "out")  # fmt: skip

    assert code == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    expected = community.generation_kwh.round(4).sum()
    assert report["schemes"]["equal"]["community"]["generation_kwh"] == pytest.approx(expected)


def compare_savings(inputs: dict[str, Path], out: Path, *prices: str | Path) -> dict[str, float]:
    """Run a comparison of equal sharing with ``prices``; return the community's money."""
    code = run("compare", "--members", inputs["members"], "--consumption", inputs["consumption"],
               "--generation", inputs["generation"], "--schemes", "equal", *prices,
               "--out", out)  # fmt: skip
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    community = report["schemes"]["equal"]["community"]
    return {
        "savings_eur": community["savings_eur"],
        "compensation_eur": community["compensation_eur"],
        "cap": report["compensation_cap"],
    }


def test_prices_by_period_zone_and_energy_term(inputs: dict[str, Path], tmp_path: Path) -> None:
    surplus = ("--surplus-price", "0.05")
    flat = compare_savings(inputs, tmp_path / "flat", "--import-price", "0.15", *surplus)
    energy = compare_savings(
        inputs, tmp_path / "energy", "--import-price", "0.15", "--import-energy-price", "0.01",
        *surplus,
    )  # fmt: skip
    periods = ("--import-price", "0.25,0.15,0.08", *surplus)
    by_period = compare_savings(inputs, tmp_path / "periods", *periods)
    ceuta = compare_savings(inputs, tmp_path / "ceuta", *periods, "--zone", "ceuta-melilla")
    prices = tmp_path / "prices.csv"
    prices.write_text(
        "period,import_eur_kwh,surplus_eur_kwh,import_energy_eur_kwh\n"
        "P1,0.25,0.05,0.12\nP2,0.15,0.05,0.09\nP3,0.08,0.05,0.06\n"
    )
    from_file = compare_savings(inputs, tmp_path / "file", "--prices", prices)

    assert flat["cap"] == by_period["cap"] == "import_price"
    assert energy["cap"] == from_file["cap"] == "energy_term"
    # A lower cap can only lower the compensation; the zone moves money between periods.
    assert energy["compensation_eur"] < flat["compensation_eur"]
    assert by_period["savings_eur"] != flat["savings_eur"]
    assert ceuta["savings_eur"] != by_period["savings_eur"]
    html = (tmp_path / "flat" / "report.html").read_text()
    assert "savings are overstated" in html
    assert "savings are overstated" not in (tmp_path / "energy" / "report.html").read_text()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--import-price", "0.2,0.1", "--surplus-price", "0.05"], "give one price, or three"),
        (["--import-price", "cheap", "--surplus-price", "0.05"], "give a price in EUR/kWh"),
        (["--import-energy-price", "0.05"], "--import-energy-price goes with --import-price"),
        # A decision that cannot be made, refused before any work.
        (["--objective", "savings"], "the objective savings weighs euros: give the prices"),
        (
            ["--import-price", "0.2", "--surplus-price", "0.05", "--objective", "savings-no-loss"],
            "needs the agreement in force and the largest share",
        ),
        (["--in-force", "investment"], "the agreement in force, investment, must be among"),
        (["--min-beta", "0.3"], "the lowest β add up to 1.2, more than the whole plant (min_beta)"),
    ],
)
def test_bad_prices_and_decisions_are_named(
    inputs: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    code = run("compare", "--members", inputs["members"], "--consumption", inputs["consumption"],
               "--generation", inputs["generation"], "--schemes", "equal,optimized-static",
               *arguments, "--out", tmp_path / "out")  # fmt: skip
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_prices_file_by_period_names_its_bad_lines(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text("period,import_eur_kwh,surplus_eur_kwh\nP1,0.25,0.05\nP4,0.1,0.05\n")
    code = run("compare", "--members", inputs["members"], "--consumption", inputs["consumption"],
               "--generation", inputs["generation"], "--schemes", "equal", "--prices", prices,
               "--out", tmp_path / "out")  # fmt: skip
    assert code == 2
    assert "prices.csv:3: period 'P4' is not P1, P2 or P3, once each" in capsys.readouterr().err


def compare_report(paths: dict[str, Path], out: Path, *options: str) -> dict[str, Any]:
    code = run("compare", "--members", paths["members"], "--consumption", paths["consumption"],
               "--generation", paths["generation"], "--schemes", "equal", "--import-price",
               "0.15", "--surplus-price", "0.05", *WHOLE_YEAR, *options, "--out", out)  # fmt: skip
    assert code == 0
    return json.loads((out / "report.json").read_text())


def test_a_generation_file_of_producing_hours_only_keeps_the_nights(tmp_path: Path) -> None:
    paths = write_csv(make_community(3, seed=7), tmp_path / "full")
    full = compare_report(paths, tmp_path / "full-out")
    generation = pd.read_csv(paths["generation"])
    producing = generation[generation.kwh > 0]
    sparse = dict(paths, generation=tmp_path / "producing.csv")
    producing.to_csv(sparse["generation"], index=False)

    report = compare_report(sparse, tmp_path / "sparse-out")

    assert report["hours_night_without_generation"] == len(generation) - len(producing)
    assert report["hours_dropped_incomplete"] == 0
    assert report["period"]["hours"] == full["period"]["hours"]
    # Night imports count toward the compensation's cap as before: the same money.
    for key in ("savings_eur", "compensation_eur", "self_consumed_kwh", "import_kwh"):
        assert report["schemes"]["equal"]["community"][key] == pytest.approx(
            full["schemes"]["equal"]["community"][key]
        )


def test_a_daytime_gap_in_generation_is_dropped_not_read_as_zero(tmp_path: Path) -> None:
    paths = write_csv(make_community(3, seed=7), tmp_path)
    generation = pd.read_csv(paths["generation"])
    noon = generation.index[(generation.kwh > 0)][5]  # an hour between two productions
    generation.drop(index=noon).to_csv(paths["generation"], index=False)

    report = compare_report(paths, tmp_path / "out")

    assert report["hours_dropped_incomplete"] == 1


def test_one_members_missing_half_year_leaves_the_others_whole(tmp_path: Path) -> None:
    community = make_community(3, seed=7)
    paths = write_csv(community, tmp_path / "full")
    full = compare_report(paths, tmp_path / "full-out")
    consumption = pd.read_csv(paths["consumption"])
    absent = community.consumption_kwh.columns[0]
    first_half = consumption.start < "2025-07"
    gap = dict(paths, consumption=tmp_path / "gap.csv")
    consumption[~(first_half & (consumption.member_id == absent))].to_csv(
        gap["consumption"], index=False
    )

    report = compare_report(gap, tmp_path / "gap-out")

    missing = int((first_half & (consumption.member_id == absent)).sum())
    assert report["member_hours_missing"] == {absent: missing}
    assert report["period"]["hours"] == full["period"]["hours"]
    members, members_full = (r["schemes"]["equal"]["members"] for r in (report, full))
    for other in community.consumption_kwh.columns[1:]:
        for key in ("self_consumed_kwh", "savings_eur", "self_sufficiency"):
            assert members[other][key] == pytest.approx(members_full[other][key])
    assert members[absent]["consumption_kwh"] < members_full[absent]["consumption_kwh"]
    html = (tmp_path / "gap-out" / "report.html").read_text()
    assert f"left out of each member&#x27;s own figures only: {absent} ({missing})" in html


def test_standby_below_zero_is_read_as_zero_and_more_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = write_csv(make_community(2, seed=7), tmp_path)
    generation = pd.read_csv(paths["generation"])
    night = generation.index[generation.kwh == 0]
    generation.loc[night[:10], "kwh"] = -0.004  # a few watts of standby
    generation.to_csv(paths["generation"], index=False)

    report = compare_report(paths, tmp_path / "out")

    assert report["warnings"] == [
        f"{paths['generation']}: 10 slightly negative values (down to -0.004 kWh, an "
        "inverter's standby) read as 0"
    ]
    assert "warning: " in capsys.readouterr().err
    generation.loc[night[20], "kwh"] = -25.0
    generation.to_csv(paths["generation"], index=False)
    code = run("compare", "--members", paths["members"], "--consumption", paths["consumption"],
               "--generation", paths["generation"], "--schemes", "equal",
               "--out", tmp_path / "refused")  # fmt: skip
    assert code == 2
    assert "-25.0 kWh at" in capsys.readouterr().err


def datadis_export(path: Path, cups: str, kwh: pd.Series, tz: str = "Europe/Madrid") -> None:
    """Write ``kwh`` (UTC hours) as the Datadis website exports a supply point's consumption.

    The shape is that of tests/aggregator/distributor/fixtures/datadis_october.csv (the new
    Datadis web export: ``;``, day ``YYYY/MM/DD``, hour-ending ``HH:00``, comma decimals,
    ``Real``); days without a clock change only.
    """
    local = kwh.index.tz_convert(tz)
    lines = [
        "CUPS;Fecha;Hora;consumo_kWh;metodoObtencion;energiaVertida_kWh;"
        "energiaGenerada_kWh;energiaAutoconsumida_kWh"
    ]
    lines += [
        f"{cups};{moment:%Y/%m/%d};{moment.hour + 1:02d}:00;{value:.3f}".replace(".", ",")
        + ";Real;0,000;0,000;0,000"
        for moment, value in zip(local, kwh.to_numpy(), strict=True)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_what_if_a_member_joins_from_its_datadis_export_and_a_battery_is_added(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    newcomer = cups(999)
    index = pd.date_range(
        "2025-04-01", "2025-10-20", freq="h", tz="Europe/Madrid", inclusive="left"
    )
    history = pd.Series(0.4, index=index.tz_convert("UTC"))
    datadis_export(tmp_path / "newcomer.csv", newcomer, history)
    (tmp_path / "what-if.json").write_text(
        json.dumps(
            [
                {"kind": "member-joins", "name": "The bakery", "member_id": "bakery",
                 "cups": newcomer, "history": "newcomer.csv"},
                {"kind": "battery", "capacity_kwh": 10, "power_kw": 5},
                {"kind": "member-leaves", "member_id": "m-0001"},
            ]
        )
    )  # fmt: skip
    out = tmp_path / "out"
    code = run(
        "compare", "--members", inputs["members"], "--consumption", inputs["consumption"],
        "--generation", inputs["generation"], "--schemes", "power,optimized-static",
        "--import-price", "0.2", "--surplus-price", "0.05", "--in-force", "power",
        "--scenarios", tmp_path / "what-if.json", "--out", out,
    )  # fmt: skip

    assert code == 0
    scenarios = json.loads((out / "report.json").read_text())["scenarios"]
    assert scenarios["schemes"] == ["optimized-static", "power"]
    joins, battery, leaves = scenarios["items"]
    assert joins["asked"]["source"] == "datadis"
    # 4,632 hours read at 0.4 kWh; the rest of the year filled with REE's shape at that level.
    assert joins["facts"]["hours_filled"] == 8760 - len(index)
    assert joins["facts"]["annual_kwh"] == pytest.approx(0.4 * 8760, rel=0.1)
    assert battery["facts"]["discharged_kwh_year"] > 0
    assert "m-0001" not in leaves["members"]
    html = (out / "report.html").read_text()
    for words in ("¿Y si…?", "The bakery", "Entra bakery", "bakery joins", "Batería comunitaria"):
        assert words in html


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[{", "what-if.json:1: not JSON"),
        ('[{"kind": "battery", "capacity_kwh": 10}]', "scenario 1 (battery): power_kw is missing"),
        (
            '[{"kind": "member-joins", "member_id": "n", "cups": "ES0021000000000999ZX", '
            '"history": "missing.csv"}]',
            "missing.csv: cannot read it",
        ),
        ('[{"kind": "member-leaves", "member_id": "m-0099"}]', "member m-0099 leaving: no such"),
        (
            '[{"kind": "member-joins", "member_id": "n", "history": "export.csv"}]',
            "export.csv: a distributor's export: give the member's cups to find its lines",
        ),
        ('[{"kind": "prices", "import_factor": 2}]', "the comparison has no prices"),
    ],
)
def test_scenarios_that_cannot_be_are_named_and_nothing_is_written(
    inputs: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    document: str,
    message: str,
) -> None:
    (tmp_path / "what-if.json").write_text(document)
    datadis_export(tmp_path / "export.csv", cups(5), pd.Series(0.4, index=hours(48)))
    code = run("compare", "--members", inputs["members"], "--consumption", inputs["consumption"],
               "--generation", inputs["generation"], "--schemes", "equal",
               "--scenarios", tmp_path / "what-if.json", "--out", tmp_path / "out")  # fmt: skip
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
