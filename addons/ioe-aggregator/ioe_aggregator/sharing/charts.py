"""The sharing report's charts, drawn as plain SVG: no plotting library, nothing to fetch.

Each function takes the numbers to draw and returns one ``<svg>`` element whose text is text
(searchable, translatable, sharp at any zoom). Sizes are in SVG user units; the page scales the
drawing to its column. Every mark carries a ``<title>`` with its exact value, which browsers show
on hover and screen readers read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
import math

import numpy as np
from numpy.typing import NDArray

# Okabe–Ito: told apart with every common colour-vision deficiency.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000")
# Light yellow to dark green, the heat-map's scale (its lowest value to its highest).
HEAT_LOW = (247, 252, 185)
HEAT_HIGH = (0, 90, 50)
AXIS = "#6b7a86"
GRID = "#d9e0e5"
FONT = 'font-family="system-ui, sans-serif" font-size="12" fill="#1d2a33"'
# Room around the plotting area for the axes' labels.
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 26, 28
LABEL_ROOM = 7.5  # width of one character of an axis label, rotated or not
PLOT_HEIGHT = 220.0  # of bars and lines, from 0 to the highest tick


@dataclass(frozen=True)
class Series:
    """One line or one set of bars: its legend label, colour and values (None: no value)."""

    label: str
    colour: str
    values: Sequence[float | None]
    dashed: bool = False


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Return round axis ticks from 0 to at least ``top`` (steps of 1, 2 or 5 × 10ⁿ)."""
    if not math.isfinite(top) or top <= 0:
        return [0.0, 1.0]
    rough = top / count
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def format_number(value: float, digits: int | None = None) -> str:
    """Format a figure alike in Spanish and English: thin-space thousands, a point for decimals.

    Without ``digits``, as many as a figure of its size needs (none from 100 up).
    """
    if digits is None:
        digits = 0 if abs(value) >= 100 or value == int(value) else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f}".replace(",", "\u202f")


def _finite(values: Sequence[float | None]) -> list[float | None]:
    """Return the values with anything not a finite number as no value."""
    return [v if v is not None and math.isfinite(v) else None for v in values]


def _open(width: float, height: float, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" {FONT}>'
        f"<title>{escape(title)}</title>"
    )


def _value_axis(ticks: list[float], x0: float, x1: float, y_of: dict[float, float]) -> str:
    parts = []
    for tick in ticks:
        y = y_of[tick]
        parts.append(f'<line x1="{x0}" x2="{x1:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(
            f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}">'
            f"{format_number(tick)}</text>"
        )
    return "".join(parts)


def _value_frame(
    series: Sequence[Series], width: float, unit: str
) -> tuple[list[list[float | None]], float, str]:
    """Return the series' drawable values, the height of one unit, and the value axis drawn."""
    values = [_finite(one.values) for one in series]
    top = max((v for column in values for v in column if v is not None), default=0.0)
    ticks = nice_ticks(top)
    scale = PLOT_HEIGHT / ticks[-1]
    y_of = {tick: TOP + PLOT_HEIGHT - tick * scale for tick in ticks}
    return values, scale, _value_axis(ticks, LEFT, width - RIGHT, y_of) + _unit_label(unit)


def _unit_label(unit: str) -> str:
    """Name the value axis's unit above its highest tick."""
    return (
        f'<text x="{LEFT - 6}" y="{TOP - 12}" text-anchor="end" fill="{AXIS}">{escape(unit)}</text>'
    )


def _category_labels(labels: Sequence[str], x_of: Sequence[float], y: float) -> str:
    """Write category labels under the axis, turned upright when they would overlap."""
    spacing = (x_of[1] - x_of[0]) if len(x_of) > 1 else math.inf
    upright = max((len(label) for label in labels), default=0) * LABEL_ROOM + 6 > spacing
    parts = []
    for label, x in zip(labels, x_of, strict=True):
        if upright:
            parts.append(
                f'<text transform="translate({x:.1f} {y}) rotate(-90)" text-anchor="end" '
                f'dominant-baseline="middle" fill="{AXIS}">{escape(label)}</text>'
            )
        else:
            parts.append(
                f'<text x="{x:.1f}" y="{y + 10}" text-anchor="middle" fill="{AXIS}">'
                f"{escape(label)}</text>"
            )
    return "".join(parts)


def _label_room(labels: Sequence[str], spacing: float) -> float:
    longest = max((len(label) for label in labels), default=0) * LABEL_ROOM
    return longest + 8 if longest + 6 > spacing else BOTTOM


def bar_chart(categories: Sequence[str], series: Sequence[Series], *, unit: str, title: str) -> str:
    """Return grouped bars: one group per category, one bar per series, a value axis in ``unit``."""
    group = max(36.0, 10.0 * len(series) + 14)
    width = LEFT + RIGHT + group * max(len(categories), 1)
    height = TOP + PLOT_HEIGHT + _label_room(categories, group)
    values, scale, axis = _value_frame(series, width, unit)
    base = TOP + PLOT_HEIGHT
    bar = (group - 14) / max(len(series), 1)
    parts = [_open(width, height, title), axis]
    centres = [LEFT + group * (i + 0.5) for i in range(len(categories))]
    for index, (one, column) in enumerate(zip(series, values, strict=True)):
        for category, centre, value in zip(categories, centres, column, strict=True):
            if value is None:
                continue
            x = centre - (group - 14) / 2 + index * bar
            tall = max(value, 0.0) * scale
            parts.append(
                f'<rect x="{x:.1f}" y="{base - tall:.1f}" width="{bar - 1:.1f}" '
                f'height="{tall:.1f}" fill="{one.colour}"><title>{escape(category)} · '
                f"{escape(one.label)}: {format_number(value)} {escape(unit)}</title></rect>"
            )
    parts.append(
        f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{base}" y2="{base}" stroke="{AXIS}"/>'
    )
    parts.append(_category_labels(categories, centres, base + 6))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    categories: Sequence[str], series: Sequence[Series], *, unit: str, title: str
) -> str:
    """Return one line per series over the categories (dashed series: references)."""
    step = 64.0
    width = LEFT + RIGHT + step * max(len(categories), 1)
    height = TOP + PLOT_HEIGHT + _label_room(categories, step)
    values, scale, axis = _value_frame(series, width, unit)
    base = TOP + PLOT_HEIGHT
    xs = [LEFT + step * (i + 0.5) for i in range(len(categories))]
    parts = [_open(width, height, title), axis]
    for one, column in zip(series, values, strict=True):
        points = [
            (x, base - value * scale, category, value)
            for x, category, value in zip(xs, categories, column, strict=True)
            if value is not None
        ]
        dash = ' stroke-dasharray="5 4"' if one.dashed else ""
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{one.colour}" stroke-width="2"{dash}/>'
        )
        parts.extend(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{one.colour}"><title>'
            f"{escape(one.label)} · {escape(category)}: {format_number(value)} {escape(unit)}"
            "</title></circle>"
            for x, y, category, value in points
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{base}" y2="{base}" stroke="{AXIS}"/>'
    )
    parts.append(_category_labels(categories, xs, base + 6))
    parts.append("</svg>")
    return "".join(parts)


def heat_colour(share: float) -> str:
    """Return the heat-map's colour for ``share`` in [0, 1] of its value range."""
    share = min(max(share, 0.0), 1.0)
    rgb = (round(lo + (hi - lo) * share) for lo, hi in zip(HEAT_LOW, HEAT_HIGH, strict=True))
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def heat_map(
    rows: Sequence[str],
    columns: Sequence[str],
    values: NDArray[np.float64],
    *,
    column_title: str,
    title: str,
) -> str:
    """Return a grid of ``values`` (rows × columns) shaded from lowest to highest, with its scale.

    ``values`` holds NaN where there is no value; those cells stay blank.
    """
    cell_w, cell_h = 26.0, 18.0
    left = max(LEFT, max((len(r) for r in rows), default=0) * LABEL_ROOM + 10)
    strip_h = max(cell_h * len(rows), 60.0)
    width = left + cell_w * len(columns) + 70
    height = TOP + strip_h + 44
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = high - low or 1.0
    parts = [_open(width, height, title)]
    for r, row in enumerate(rows):
        y = TOP + r * cell_h
        parts.append(
            f'<text x="{left - 6}" y="{y + cell_h / 2 + 4:.1f}" text-anchor="end" '
            f'fill="{AXIS}">{escape(row)}</text>'
        )
        for c, column in enumerate(columns):
            value = float(values[r, c])
            if not math.isfinite(value):
                continue
            parts.append(
                f'<rect x="{left + c * cell_w:.1f}" y="{y:.1f}" width="{cell_w - 1}" '
                f'height="{cell_h - 1}" fill="{heat_colour((value - low) / span)}"><title>'
                f"{escape(row)} · {escape(column)}: {value:.3f}</title></rect>"
            )
    bottom = TOP + cell_h * len(rows)
    for c, column in enumerate(columns):
        parts.append(
            f'<text x="{left + (c + 0.5) * cell_w:.1f}" y="{bottom + 14}" '
            f'text-anchor="middle" fill="{AXIS}">{escape(column)}</text>'
        )
    parts.append(
        f'<text x="{left + cell_w * len(columns) / 2:.1f}" y="{bottom + 34}" '
        f'text-anchor="middle" fill="{AXIS}">{escape(column_title)}</text>'
    )
    # The scale: a vertical strip from the highest value (top) to the lowest.
    strip_x = left + cell_w * len(columns) + 16
    parts.append(
        '<defs><linearGradient id="heat-scale" x1="0" x2="0" y1="1" y2="0">'
        f'<stop offset="0" stop-color="{heat_colour(0)}"/>'
        f'<stop offset="1" stop-color="{heat_colour(1)}"/></linearGradient></defs>'
        f'<rect x="{strip_x:.1f}" y="{TOP}" width="12" height="{strip_h:.1f}" '
        'fill="url(#heat-scale)"/>'
        f'<text x="{strip_x + 16:.1f}" y="{TOP + 10}" fill="{AXIS}">{high:.2f}</text>'
        f'<text x="{strip_x + 16:.1f}" y="{TOP + strip_h:.1f}" fill="{AXIS}">{low:.2f}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
