"""The report's SVG charts: well-formed for any numbers a comparison can give."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from ioe_aggregator.sharing.charts import (
    Series,
    bar_chart,
    format_number,
    heat_colour,
    heat_map,
    line_chart,
    nice_ticks,
)

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    """Parse a chart as an XML parser does: it must be well-formed."""
    return ET.fromstring(svg)  # noqa: S314 -- our own output, parsed to check it


def titles(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}title")]


@pytest.mark.parametrize(
    ("top", "ticks"),
    [
        (8123.0, [0, 2000, 4000, 6000, 8000, 10000]),
        (0.7, [0, 0.2, 0.4, 0.6000000000000001, 0.8]),
        (1.0, [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]),
        (0.0, [0.0, 1.0]),
        (math.nan, [0.0, 1.0]),
        (math.inf, [0.0, 1.0]),
    ],
)
def test_nice_ticks_start_at_zero_and_reach_the_top(top: float, ticks: list[float]) -> None:
    assert nice_ticks(top) == pytest.approx(ticks)


def test_numbers_read_the_same_in_spanish_and_english() -> None:
    assert format_number(12701.4, 0) == "12\u202f701"
    assert format_number(2306.94, 2) == "2\u202f306.94"
    assert format_number(0.25) == "0.25"
    assert format_number(12.34) == "12.3"


def test_member_ids_and_labels_are_escaped() -> None:
    svg = bar_chart(
        ["<b>&co", 'say "hi"'],
        [Series("A & B", "#000", [1.0, 2.0])],
        unit="kWh",
        title="<script>",
    )
    root = parse(svg)
    assert "<b>" not in svg
    assert "<script>" not in svg
    assert titles(root)[0] == "<script>"
    assert "<b>&co · A & B: 1 kWh" in titles(root)


@pytest.mark.parametrize(
    "values",
    [[0.0, 0.0, 0.0], [None, None, None], [math.nan, math.inf, -math.inf], [1.0, None, 3.0]],
)
def test_bars_and_lines_take_any_values(values: list[float | None]) -> None:
    categories = ["m-1", "m-2", "m-3"]
    for chart in (bar_chart, line_chart):
        root = parse(chart(categories, [Series("x", "#000", values)], unit="kWh", title="t"))
        drawn = [float(v) for e in root.iter() for k, v in e.attrib.items() if k in {"y", "cy"}]
        assert all(math.isfinite(v) for v in drawn)
        finite = sum(v is not None and math.isfinite(v) for v in values)
        assert len(titles(root)) - 1 == finite  # the chart's own title, then one per mark


def test_no_category_at_all() -> None:
    for chart in (bar_chart, line_chart):
        assert parse(chart([], [Series("x", "#000", [])], unit="kWh", title="empty")) is not None


def test_long_labels_stand_upright_and_get_room() -> None:
    short = parse(bar_chart(["a", "b"], [Series("x", "#000", [1, 2])], unit="kWh", title="t"))
    long = parse(
        bar_chart(
            ["member-with-a-long-name"] * 2, [Series("x", "#000", [1, 2])], unit="kWh", title="t"
        )
    )
    assert not any("rotate" in e.get("transform", "") for e in short.iter(f"{SVG}text"))
    assert any("rotate(-90)" in e.get("transform", "") for e in long.iter(f"{SVG}text"))
    assert float(long.get("height", 0)) > float(short.get("height", 0))


def test_heat_map_of_one_row_with_gaps() -> None:
    values = np.array([[0.1, np.nan, 0.3]])
    root = parse(heat_map(["m-1"], ["0", "1", "2"], values, column_title="h", title="β"))
    cells = [t for t in titles(root) if t.startswith("m-1 · ")]
    assert cells == ["m-1 · 0: 0.100", "m-1 · 2: 0.300"]


def test_heat_map_of_equal_values_and_of_none() -> None:
    same = parse(heat_map(["a", "b"], ["0"], np.array([[0.5], [0.5]]), column_title="h", title="t"))
    assert len([t for t in titles(same) if " · " in t]) == 2
    empty = parse(heat_map(["a"], ["0"], np.array([[np.nan]]), column_title="h", title="t"))
    assert [t for t in titles(empty) if " · " in t] == []


def test_heat_colours_run_from_light_to_dark() -> None:
    assert heat_colour(0) == "#f7fcb9"
    assert heat_colour(1) == "#005a32"
    assert heat_colour(-1) == heat_colour(0)
    assert heat_colour(2) == heat_colour(1)
