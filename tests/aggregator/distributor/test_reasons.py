"""Why a line is not read: each kind of bad line has a stable code and its parameters."""

from __future__ import annotations

from datetime import date, timedelta
import io
import json
from pathlib import Path
from typing import Any

import pytest

from ioe_aggregator.distributor.csv_files import MAX_LINE_BYTES, open_csv
from ioe_aggregator.distributor.reasons import ENGLISH, LineProblem, english
from ioe_aggregator.distributor.rows import LineError
from ioe_aggregator.distributor.timeline import TimelineError, place_day

from .conftest import MADRID

FIXTURES = Path(__file__).parent / "fixtures"
A = "ES0021000000000001RK"
HEADER = "CUPS;Fecha;Hora;AE_kWh;AS_kWh\n"


def reasons(data: bytes) -> list[tuple[int, str, dict[str, Any]]]:
    """Return each line not read as (line, code, params), checking its English message."""
    parsed = open_csv(io.BytesIO(data), MADRID)
    for _ in parsed.months():
        pass
    errors = parsed.errors.first()
    for error in errors:
        assert error.message == english(error.code, error.params)
    return [(error.line, error.code, dict(error.params)) for error in errors]


def test_the_broken_files_lines_each_have_a_code_and_parameters() -> None:
    day = {"cups": A, "day": "2025-06-03", "lines": "13, 14, 15"}

    assert reasons((FIXTURES / "broken.csv").read_bytes()) == [
        (3, "wrong_field_count", {"expected": 7, "got": 6}),
        (4, "not_a_number", {"text": "abc"}),
        (5, "not_an_energy", {"text": "-0,100"}),
        (6, "not_a_calendar_day", {"text": "31/06/2025"}),
        (7, "past_end_of_day", {"text": "26", "day": "2025-06-02"}),
        (8, "not_a_quality", {"text": "X"}),
        (9, "not_a_cups", {"text": "NOT-A-CUPS"}),
        (11, "no_energy", {}),
        (13, "appears_twice", {"label": "01:00"} | day),
        (14, "day_not_placed", {"day": "2025-06-03"}),
        (15, "day_not_placed", {"day": "2025-06-03"}),
    ]


@pytest.mark.parametrize(
    ("line", "code", "params"),
    [
        (f"{A};2025-13;1;0,1;0", "not_a_date", {"text": "2025-13"}),
        (f"{A};02/06/2025;una;0,1;0", "not_an_hour", {"text": "una"}),
        (f"{A};02/06/2025;01:75;0,1;0", "not_a_time_of_day", {"text": "01:75"}),
        (f"{A};02/06/2025;1;0,1;0;0;0", "wrong_field_count", {"expected": 5, "got": 7}),
        ("x" * (MAX_LINE_BYTES + 1), "line_too_long", {"max_bytes": MAX_LINE_BYTES}),
    ],
)
def test_a_bad_line_has_its_code(line: str, code: str, params: dict[str, Any]) -> None:
    data = HEADER + f"{A};02/06/2025;1;0,1;0\n" + line + "\n"

    assert reasons(data.encode()) == [(3, code, params)]


def test_a_season_flag_that_is_none() -> None:
    lines = (FIXTURES / "ide_october.csv").read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace(";1;P3;", ";X;P3;")  # 02:00, summer time

    found = reasons("".join(lines).encode())

    assert found[0] == (3, "not_a_season", {"text": "X"})
    assert len(found) == 1


def test_a_label_that_ends_no_interval_names_its_day() -> None:
    data = HEADER + f"{A};02/06/2025;01:00;0,1;0\n{A};02/06/2025;01:10;0,1;0\n"

    assert reasons(data.encode()) == [
        (
            2,
            "not_an_interval_end",
            {"label": "01:10", "day": "2025-06-02", "minutes": 15, "cups": A} | {"lines": "2, 3"},
        ),
        (3, "day_not_placed", {"day": "2025-06-02"}),
    ]


def test_a_day_of_more_values_than_intervals_names_its_day() -> None:
    data = HEADER + f"{A};02/06/2025;7;0,1;0\n" * 30

    found = reasons(data.encode())

    assert found[0] == (
        2,
        "too_many_values",
        {"count": 30, "intervals": 25, "cups": A, "day": "2025-06-02", "lines": "2, 3, 4, 5, 6, …"},
    )
    assert found[1:] == [(line, "day_not_placed", {"day": "2025-06-02"}) for line in range(3, 32)]


@pytest.mark.parametrize(
    ("day", "labels", "code", "params"),
    [
        (date(2026, 1, 15), [25 * 60], "past_day_length", {"label": "25:00", "hours": 24}),
        (date(2026, 3, 29), [25 * 60], "not_on_the_clock", {"label": "25:00"}),
        (date(2026, 1, 15), [60, 60], "appears_twice", {"label": "01:00"}),
    ],
)
def test_the_timeline_names_its_reasons(
    day: date, labels: list[int], code: str, params: dict[str, Any]
) -> None:
    with pytest.raises(TimelineError) as raised:
        place_day(day, labels, timedelta(hours=1), MADRID)

    assert (raised.value.code, raised.value.params) == (code, params | {"day": str(day)})
    assert str(raised.value) == english(code, raised.value.params)


def test_every_code_has_an_english_sentence_and_a_day_wraps_it() -> None:
    problem = LineProblem("appears_twice", label="01:00", day="2025-06-03")
    day = problem.of_day(A, "2025-06-03", "13, 14")

    assert str(problem) == "01:00 appears twice on 2025-06-03"
    assert str(day) == f"{A} on 2025-06-03: 01:00 appears twice on 2025-06-03 (lines 13, 14)"
    assert (day.code, problem.params) == ("appears_twice", {"label": "01:00", "day": "2025-06-03"})
    assert all(code.isidentifier() and code.islower() for code in ENGLISH)


def test_the_api_document_lists_every_code() -> None:
    document = Path(__file__).parents[3] / "addons/ioe-aggregator/ioe_aggregator/api/openapi.json"
    report = json.loads(document.read_text())["components"]["schemas"]["ImportReport"]
    codes = report["properties"]["errors"]["items"]["properties"]["code"]["enum"]

    assert codes == sorted(ENGLISH)


def test_a_reason_without_a_code_is_reported_as_it_is() -> None:
    # No reader raises one today; a line that did would be told, not stop the import.
    error = LineError.of(7, ValueError("month must be in 1..12"))
    assert (error.code, error.params, error.message) == (
        "unreadable",
        {"detail": "month must be in 1..12"},
        "month must be in 1..12",
    )
