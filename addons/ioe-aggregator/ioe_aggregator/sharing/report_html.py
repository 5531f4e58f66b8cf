"""report.html: one self-contained page, in Spanish and English, a manager can read offline."""

from __future__ import annotations

from html import escape
import io
from typing import Any

import matplotlib as mpl

mpl.use("Agg")  # no display: render to SVG only
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ioe_aggregator.sharing.calendar import DEFAULT_TZ
from ioe_aggregator.sharing.compare import Comparison
from ioe_aggregator.sharing.schemes import REFERENCE_SCHEMES

mpl.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, searchable
COLOURS = {"consumption": "#9aa5b1", "allocated": "#f2b705", "self_consumed": "#166e54"}


def _svg(figure: plt.Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _bilingual(es: str, en: str) -> str:
    return f'{escape(es)} <span class="en">/ {escape(en)}</span>'


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _members_chart(report: dict[str, Any], scheme: str) -> str:
    members = report["schemes"][scheme]["members"]
    ids = list(members)
    x = np.arange(len(ids))
    width = 0.28
    figure, axes = plt.subplots(figsize=(max(6.0, 0.45 * len(ids)), 3.2))
    for offset, key, label in (
        (-width, "consumption_kwh", "Consumo / Consumption"),
        (0.0, "allocated_kwh", "Asignado / Allocated"),
        (width, "self_consumed_kwh", "Autoconsumido / Self-consumed"),
    ):
        values = [members[i][key] or 0.0 for i in ids]
        colour = COLOURS[key.removesuffix("_kwh")]
        axes.bar(x + offset, values, width, label=label, color=colour)
    axes.set_xticks(x, ids, rotation=90 if len(ids) > 12 else 0, fontsize=7)
    axes.set_ylabel("kWh")
    axes.legend(fontsize=7, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def _monthly_chart(report: dict[str, Any]) -> str:
    figure, axes = plt.subplots(figsize=(7.5, 3.2))
    months: list[str] = []
    for scheme, result in report["schemes"].items():
        monthly = result["community"]["monthly"]
        months = list(monthly)
        used = [monthly[month]["self_consumed_kwh"] for month in months]
        style = ":" if scheme in REFERENCE_SCHEMES else "-"
        axes.plot(range(len(months)), used, style, marker="o", markersize=3, label=scheme)
    axes.set_xticks(range(len(months)), months, rotation=45, fontsize=7)
    axes.set_ylabel("kWh")
    axes.legend(fontsize=7, frameon=False, ncol=2)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def _heatmap(comparison: Comparison, scheme: str, tz: str) -> str:
    beta = comparison.results[scheme].coefficients.hourly(
        comparison.results[scheme].allocation.consumption_kwh.index
    )
    by_hour = beta.groupby(beta.index.tz_convert(tz).hour).mean().T
    figure, axes = plt.subplots(figsize=(7.5, max(2.0, 0.18 * len(by_hour) + 1)))
    image = axes.imshow(by_hour.to_numpy(), aspect="auto", cmap="YlGn", interpolation="nearest")
    axes.set_xticks(range(24), [str(h) for h in range(24)], fontsize=6)
    axes.set_yticks(range(len(by_hour)), by_hour.index, fontsize=6)
    axes.set_xlabel("Hora local / Local hour")
    figure.colorbar(image, ax=axes, label="β")
    return _svg(figure)


# Every sentence of the page, Spanish first: (es, en) templates for str.format.
TEXT = {
    "title": ("Comparativa de coeficientes de reparto", "Sharing agreement comparison"),
    "summary": (
        "{members} miembros, {hours} horas evaluadas.",
        "{members} members, {hours} hours evaluated.",
    ),
    "ranking": ("Clasificación", "Ranking"),
    "scheme": ("Reparto", "Scheme"),
    "self_consumed": ("Autoconsumo (kWh)", "Self-consumed (kWh)"),
    "ratio": ("Aprovechamiento", "Self-consumption"),
    "sufficiency": ("Autosuficiencia", "Self-sufficiency"),
    "efficiency": ("Eficiencia", "Efficiency"),
    "savings": ("Ahorro", "Savings"),
    "reference": ("referencia", "reference"),
    "per_member": ("Por miembro", "Per member"),
    "monthly": ("Autoconsumo mensual por reparto", "Monthly self-consumption by scheme"),
    "heatmap": ("β horario medio por hora", "Mean hourly β by hour of day"),
    "caveats": ("A tener en cuenta", "Caveats"),
    "same_data": (
        "No hay histórico suficiente: los repartos se entrenaron y evaluaron con los mismos "
        "datos, lo que favorece a los que aprenden del histórico.",
        "Not enough history: schemes were trained and evaluated on the same data, which "
        "flatters the ones that learn from history.",
    ),
    "periods": (
        "Los repartos que aprenden del histórico se calcularon con {train} y se evaluaron "
        "con {evaluate}.",
        "Schemes that learn from history were trained on {train} and evaluated on {evaluate}.",
    ),
    "missing": (
        "Horas sin consumo, descontadas solo de las cifras de cada miembro: {members}.",
        "Hours without consumption, left out of each member's own figures only: {members}.",
    ),
    "night": (
        "{hours} horas sin dato de generación antes de la primera o después de la última "
        "producción del día se han leído como 0 (noche).",
        "{hours} hours without a generation value before the day's first or after its last "
        "production were read as 0 (night).",
    ),
    "cap_at_import_price": (
        "Sin precio de la energía sola, la compensación de excedentes se ha limitado al coste "
        "total de lo importado (con peajes y cargos): el ahorro queda sobrestimado. Da "
        "--import-energy-price para limitarla al término de energía, como la factura.",
        "Without an energy-only price the surplus compensation was capped at the whole cost of "
        "the imports (tolls and charges included): savings are overstated. Give "
        "--import-energy-price to cap it at the energy term, as the bill does.",
    ),
    "ceiling": (
        "El techo ({ceiling:,.0f} kWh) es lo máximo que la comunidad podría autoconsumir "
        "sabiendo de antemano el consumo de cada hora; «perfect-foresight» lo alcanza y solo "
        "sirve de referencia: no puede firmarse.",
        "The ceiling ({ceiling:,.0f} kWh) is the most the community could self-consume "
        "knowing each hour's consumption in advance; perfect-foresight reaches it and is a "
        "reference only: it cannot be signed.",
    ),
}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #1d2a33; }
h1, h2 { color: #166e54; } .en { color: #6b7a86; font-weight: normal; }
table { border-collapse: collapse; }
td, th { padding: .3rem .7rem; border-bottom: 1px solid #d9e0e5; text-align: right; }
td:nth-child(2), th:nth-child(2) { text-align: left; } svg { max-width: 100%; height: auto; }
"""


def _t(key: str, **values: Any) -> str:
    es, en = TEXT[key]
    return _bilingual(es.format(**values), en.format(**values))


def _span(period: dict[str, Any], tz: str) -> str:
    """Return the period's first and last local days (its end is exclusive)."""
    first = pd.Timestamp(period["start"]).tz_convert(tz).date()
    last = (pd.Timestamp(period["end"]) - pd.Timedelta(hours=1)).tz_convert(tz).date()
    return f"{first} – {last}"


def _ranking_rows(report: dict[str, Any], *, with_money: bool) -> str:
    rows = []
    for position, scheme in enumerate(report["schemes"], start=1):
        c = report["schemes"][scheme]["community"]
        reference = f" <em>({_t('reference')})</em>" if scheme in REFERENCE_SCHEMES else ""
        cells = [
            str(position),
            escape(scheme) + reference,
            f"{c['self_consumed_kwh']:,.0f}",
            _percent(c["self_consumption_ratio"]),
            _percent(c["self_sufficiency"]),
            _percent(c["allocation_efficiency"]),
        ]
        if with_money:
            cells.append(f"{c['savings_eur']:,.2f} €")
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return "\n".join(rows)


def render_html(comparison: Comparison, report: dict[str, Any], tz: str = DEFAULT_TZ) -> str:
    """Return the page: ranking, member bars, monthly self-consumption, β heat-map, caveats."""
    ranking = list(report["schemes"])
    agreements = [s for s in ranking if report["schemes"][s]["agreement"]]
    best = agreements[0] if agreements else ranking[0]
    hourly = [s for s in agreements if report["schemes"][s]["kind"] == "hourly"]
    with_money = "savings_eur" in report["schemes"][best]["community"]
    heads = [
        "#",
        *(_t(k) for k in ("scheme", "self_consumed", "ratio", "sufficiency", "efficiency")),
    ]
    if with_money:
        heads.append(_t("savings"))
    periods = {
        "train": _span(report["trained_on"], tz),
        "evaluate": _span(report["evaluated_on"], tz),
    }
    caveats = [_t("periods", **periods), _t("ceiling", ceiling=report["ceiling_kwh"])]
    if report["trained_on_evaluated_period"]:
        caveats.insert(0, f"<strong>{_t('same_data')}</strong>")
    if report["compensation_cap"] == "import_price":
        caveats.append(_t("cap_at_import_price"))
    if missing := report.get("member_hours_missing"):
        listed = ", ".join(f"{member} ({hours})" for member, hours in missing.items())
        caveats.append(_t("missing", members=listed))
    if night := report.get("hours_night_without_generation"):
        caveats.append(_t("night", hours=night))
    sections = [
        f"<h1>{_t('title')}</h1>",
        f"<p>{_t('summary', members=len(comparison.members), hours=report['period']['hours'])}</p>",
        f"<h2>{_t('ranking')}</h2>",
        "<table><tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr>",
        _ranking_rows(report, with_money=with_money) + "</table>",
        f"<h2>{_t('per_member')}: {escape(best)}</h2>{_members_chart(report, best)}",
        f"<h2>{_t('monthly')}</h2>{_monthly_chart(report)}",
    ]
    if hourly:
        sections.append(
            f"<h2>{_t('heatmap')}: {escape(hourly[0])}</h2>{_heatmap(comparison, hourly[0], tz)}"
        )
    sections.append(f"<h2>{_t('caveats')}</h2><ul>")
    sections.extend(f"<li>{caveat}</li>" for caveat in caveats)
    sections.append("</ul>")
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="es"><head><meta charset="utf-8">\n'
        f"<title>{escape(TEXT['title'][0])} / {escape(TEXT['title'][1])}</title>\n"
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )
