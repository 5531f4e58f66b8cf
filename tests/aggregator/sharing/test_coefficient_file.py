"""The distributor's coefficient file: rounding, round trip, and every error the validator names."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
import numpy as np
import pandas as pd
import pytest

from ioe_aggregator.sharing import coefficient_file as cf
from ioe_aggregator.sharing.calendar import hours_of_year

from .conftest import member

MEMBERS = [member("a"), member("b"), member("c")]
CUPS = [m.cups for m in MEMBERS]
# As the file writes them: the boundary suffix "0F" after the 20 characters.
FULL = [code + "0F" for code in CUPS]
CAU = f"{CUPS[0]}A001"


def test_largest_remainder_by_hand() -> None:
    assert cf.largest_remainder(np.array([1 / 3, 1 / 3, 1 / 3])).tolist() == [
        [333334, 333333, 333333]
    ]
    # The leftover millionth goes to the largest remainder, not to the first member.
    assert cf.largest_remainder(np.array([0.1000001, 0.4999994, 0.4000005])).tolist() == [
        [100000, 499999, 400001]
    ]


@settings(max_examples=300, deadline=None)
@given(arrays(float, st.tuples(st.integers(1, 5), st.integers(1, 40)), elements=st.floats(0, 1)))
def test_rounded_rows_sum_to_exactly_one(raw: np.ndarray) -> None:
    raw = raw + 1e-9  # rows of zeros are not coefficients
    beta = raw / raw.sum(axis=1, keepdims=True)

    units = cf.largest_remainder(beta)

    assert (units.sum(axis=1) == cf.UNITS).all()
    assert (units >= 0).all()
    assert (np.abs(units - beta * cf.UNITS) < 1).all()


def test_refuses_coefficients_that_do_not_sum_to_one() -> None:
    with pytest.raises(cf.CoefficientFileError, match="sum to"):
        cf.largest_remainder(np.array([0.5, 0.4]))


def test_refuses_a_bad_cau(tmp_path: Path) -> None:
    with pytest.raises(cf.CoefficientFileError, match="is not a CAU"):
        cf.write_static(
            tmp_path, "ES0021000000000001XXA001", 2025, pd.Series([1.0], index=CUPS[:1])
        )


def test_static_round_trip(tmp_path: Path) -> None:
    beta = pd.Series([0.25, 0.5, 0.25], index=CUPS)

    path = cf.write_static(tmp_path, CAU, 2025, beta)

    assert path.name == f"{CAU}_2025.txt"
    assert path.read_bytes().split(b"\r\n")[0] == f"{FULL[0]};0,250000".encode()
    read, problems = cf.read(path, members_cups=set(CUPS), year=2025)
    assert problems == []
    assert not read.hourly
    assert read.to_frame().iloc[0].to_dict() == pytest.approx(
        beta.rename(index=dict(zip(CUPS, FULL, strict=True))).to_dict()
    )


@pytest.mark.parametrize(("year", "hours"), [(2025, 8760), (2024, 8784)])
def test_hourly_round_trip(tmp_path: Path, year: int, hours: int) -> None:
    index = hours_of_year(year)
    rng = np.random.default_rng(year)
    raw = rng.random((len(index), 3))
    beta = pd.DataFrame(raw / raw.sum(axis=1, keepdims=True), index=index, columns=CUPS)

    path = cf.write_hourly(tmp_path, CAU, year, beta)

    lines = path.read_text().splitlines()
    assert len(lines) == 3 * hours
    assert lines[0].startswith(f"{FULL[0]};0001;")
    assert lines[hours - 1].startswith(f"{FULL[0]};{hours:04d};")
    read, problems = cf.read(path, members_cups=set(CUPS), year=year)
    assert problems == []
    frame = read.to_frame()
    assert len(frame) == hours
    np.testing.assert_allclose(frame[FULL].to_numpy(), beta.to_numpy(), atol=1e-6)


def test_hourly_needs_a_whole_year(tmp_path: Path) -> None:
    beta = pd.DataFrame({CUPS[0]: [1.0] * 24})
    with pytest.raises(cf.CoefficientFileError, match="8760 or 8784 hours"):
        cf.write_hourly(tmp_path, CAU, 2025, beta)


def problems_in(tmp_path: Path, text: str, year: int = 2025) -> list[str]:
    """Return the errors of a file (its warnings left out)."""
    path = tmp_path / f"{CAU}_{year}.txt"
    path.write_bytes(text.encode())
    return [str(p) for p in cf.errors(cf.read(path, members_cups=set(CUPS), year=year)[1])]


def test_supply_points_match_whatever_the_length_of_their_cups(tmp_path: Path) -> None:
    # A distributor's file has 22 characters; members registered with 20 or 22 match it.
    path = tmp_path / f"{CAU}_2025.txt"
    path.write_text(f"{FULL[0]};0,500000\r\n{FULL[1]};0,250000\r\n{CUPS[2]};0,250000\r\n")

    for members in (set(CUPS), set(FULL)):
        _, problems = cf.read(path, members_cups=members, year=2025)
        assert [str(p) for p in problems] == [
            f"line 3: warning: CUPS {CUPS[2]} has 20 characters: distributors need its 22 "
            f"(with the boundary suffix, as {FULL[2]})"
        ]
        assert cf.errors(problems) == []
    # One supply point twice, once with its suffix and once without, is twice.
    text = f"{FULL[0]};0,500000\r\n{CUPS[0]};0,500000\r\n"
    assert f"line 2: CUPS {CUPS[0]} appears twice" in problems_in(tmp_path, text)


def test_a_member_registered_with_22_characters_keeps_its_suffix(tmp_path: Path) -> None:
    own = CUPS[1] + "1P"
    path = cf.write_static(tmp_path, CAU, 2025, pd.Series([0.5, 0.5], index=[CUPS[0], own]))

    assert path.read_text().splitlines() == [f"{FULL[0]};0,500000", f"{own};0,500000"]


def test_lf_and_crlf_are_both_accepted(tmp_path: Path) -> None:
    body = [f"{CUPS[0]};0,500000", f"{CUPS[1]};0,250000", f"{CUPS[2]};0,250000"]
    assert problems_in(tmp_path, "\n".join(body) + "\n") == []
    assert problems_in(tmp_path, "\r\n".join(body)) == []


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            ["{0};0,500000", "{1};0,400000", "{2};0,050000"],
            "line 3: the coefficients sum to 0,950000, not 1,000000",
        ),
        (
            ["{0};0,500000", "ES0021000000000001RK;0,500000"],
            "line 2: CUPS ES0021000000000001RK is not a member",
        ),
        (
            ["{0};0,500000", "ES0021000000000001RA;0,500000"],
            "line 2: CUPS 'ES0021000000000001RA' is not valid",
        ),
        (["{0};0,500000", "{0};0,500000"], "line 2: CUPS {0} appears twice"),
        (["{0};0.500000", "{1};0,500000"], "line 1: share '0.500000' is not a number"),
        (["{0};0,5", "{1};0,500000"], "line 1: share '0,5' is not a number"),
        (["{0};1,500000"], "line 1: share '1,500000' is not a number"),
        (["{0}"], "line 1: expected CUPS;SHARE or CUPS;HOUR;SHARE"),
        (["{0};0,500000", "{1};0001;0,500000"], "line 2: mixes static and hourly lines"),
        ([], "the file has no coefficients"),
    ],
)
def test_static_file_errors_are_named_with_their_line(
    tmp_path: Path, lines: list[str], expected: str
) -> None:
    text = "\r\n".join(line.format(*CUPS) for line in lines)
    expected = expected.format(*CUPS)
    assert any(expected in problem for problem in problems_in(tmp_path, text))


def hourly_text(hours: int = 8760, skip: int | None = None, extra: str = "") -> str:
    lines = []
    for code, share in zip(CUPS, ("0,500000", "0,250000", "0,250000"), strict=True):
        lines += [f"{code};{h:04d};{share}" for h in range(1, hours + 1) if h != skip]
    return "\n".join(lines) + "\n" + extra


def test_hourly_errors(tmp_path: Path) -> None:
    assert problems_in(tmp_path, hourly_text()) == []
    assert problems_in(tmp_path, hourly_text(8784), year=2024) == []

    missing = problems_in(tmp_path, hourly_text(skip=42))
    assert "hour 0042 is missing" in missing

    partial = problems_in(tmp_path, hourly_text().replace(f"{CUPS[2]};0100;0,250000\n", ""))
    assert f"hour 0100 has no line for {CUPS[2]}" in partial
    assert any("hour 0100 sum to 0,750000, not 1,000000" in p for p in partial)

    beyond = problems_in(tmp_path, hourly_text(8784))
    assert any("hour 8761 is outside 0001-8760" in p for p in beyond)

    bad_hour = problems_in(tmp_path, hourly_text(extra=f"{CUPS[0]};12;0,100000\n"))
    assert f"line {3 * 8760 + 1}: hour '12' is not 4 digits" in bad_hour


@settings(max_examples=60, deadline=None)
@given(arrays(float, 3, elements=st.floats(0.001, 1)))
def test_any_written_static_file_validates(
    tmp_path_factory: pytest.TempPathFactory, raw: np.ndarray
) -> None:
    directory = tmp_path_factory.mktemp("files")
    path = cf.write_static(directory, CAU, 2025, pd.Series(raw / raw.sum(), index=CUPS))
    _, problems = cf.read(path, members_cups=set(CUPS), year=2025)
    assert problems == []
