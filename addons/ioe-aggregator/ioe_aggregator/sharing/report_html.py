"""report.html: one self-contained page, in Spanish and English, a manager can read offline."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

import pandas as pd

from ioe_aggregator.sharing import scenarios
from ioe_aggregator.sharing.calendar import DEFAULT_TZ
from ioe_aggregator.sharing.charts import (
    PALETTE,
    Series,
    bar_chart,
    format_number,
    heat_map,
    line_chart,
)
from ioe_aggregator.sharing.compare import Comparison
from ioe_aggregator.sharing.files import Hours
from ioe_aggregator.sharing.scenarios import Outcome
from ioe_aggregator.sharing.schemes import REFERENCE_SCHEMES

# optimized-hourly's choices in words (Spanish, English).
GRAIN_NAMES = {
    "month": ("mes × tipo de día × hora", "month × day type × hour"),
    "season": ("estación × tipo de día × hora", "season × day type × hour"),
    "season-hour": ("estación × hora", "season × hour"),
}
TARGET_NAMES = {
    "static": ("el óptimo estático", "the static optimum"),
    "profile": ("el perfil de consumo de la clase", "the class's consumption profile"),
}
# The breaches of the rules listed per scheme; report.json has them all.
SHOWN_BREACHES = 5
MEMBER_BARS = (  # (report key, colour, Spanish and English legend)
    ("consumption_kwh", "#9aa5b1", ("Consumo", "Consumption")),
    ("allocated_kwh", "#f2b705", ("Asignado", "Allocated")),
    ("self_consumed_kwh", "#166e54", ("Autoconsumido", "Self-consumed")),
)


def _bilingual(es: str, en: str) -> str:
    return f'{escape(es)} <span class="en">/ {escape(en)}</span>'


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _figure(svg: str, legend: list[tuple[str, str, bool]]) -> str:
    """Wrap a chart with its legend: (colour, label, dashed) per entry, in HTML so it wraps.

    Labels are HTML already (escaped by the caller), as `_bilingual` makes them.
    """
    items = "".join(
        f'<li><span class="swatch{" dashed" if dashed else ""}" '
        f'style="--colour: {colour}"></span>{label}</li>'
        for colour, label, dashed in legend
    )
    return (
        f'<figure class="chart"><div class="scroll">{svg}</div>'
        f'<ul class="legend">{items}</ul></figure>'
    )


def _members_chart(report: dict[str, Any], scheme: str) -> str:
    members = report["schemes"][scheme]["members"]
    ids = list(members)
    series = [
        Series(f"{es} / {en}", colour, [members[i][key] for i in ids])
        for key, colour, (es, en) in MEMBER_BARS
    ]
    svg = bar_chart(ids, series, unit="kWh", title=f"{TEXT['per_member'][0]}: {scheme}")
    return _figure(
        svg,
        [
            (s.colour, _bilingual(*pair), False)
            for s, (_, _, pair) in zip(series, MEMBER_BARS, strict=True)
        ],
    )


def _monthly_chart(report: dict[str, Any]) -> str:
    monthly = {s: r["community"]["monthly"] for s, r in report["schemes"].items()}
    months = sorted({month for by_month in monthly.values() for month in by_month})
    series = [
        Series(
            scheme,
            PALETTE[index % len(PALETTE)],
            [by_month.get(m, {}).get("self_consumed_kwh") for m in months],
            dashed=scheme in REFERENCE_SCHEMES,
        )
        for index, (scheme, by_month) in enumerate(monthly.items())
    ]
    svg = line_chart(months, series, unit="kWh", title=TEXT["monthly"][0])
    return _figure(svg, [(s.colour, escape(s.label), s.dashed) for s in series])


def _heatmap(comparison: Comparison, scheme: str, tz: str) -> str:
    beta = comparison.results[scheme].coefficients.hourly(
        comparison.results[scheme].allocation.consumption_kwh.index
    )
    by_hour = beta.groupby(beta.index.tz_convert(tz).hour).mean().T.reindex(columns=range(24))
    svg = heat_map(
        [str(member) for member in by_hour.index],
        [str(hour) for hour in by_hour.columns],
        by_hour.to_numpy(dtype=float),
        column_title="Hora local / Local hour",
        title=f"{TEXT['heatmap'][0]}: {scheme}",
    )
    return f'<figure class="chart"><div class="scroll">{svg}</div></figure>'


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
    "recommendation": ("Recomendación", "Recommendation"),
    "objective.self-consumption": (
        "el mayor autoconsumo de la comunidad",
        "the most self-consumption for the community",
    ),
    "objective.savings": ("el mayor ahorro de la comunidad", "the most savings for the community"),
    "objective.savings-no-loss": (
        "el mayor ahorro sin que ningún miembro pierda más del {limit} de lo que ahorra con "
        "el reparto vigente",
        "the most savings with no member losing more than {limit} of what it saves under the "
        "agreement in force",
    ),
    "recommend": (
        "Buscando {objective}, el reparto recomendado es «{scheme}»: {kwh} kWh "
        "autoconsumidos en el periodo evaluado.",
        "Aiming for {objective}, the recommended agreement is {scheme}: {kwh} kWh "
        "self-consumed in the evaluated period.",
    ),
    "recommend_money": (
        "La comunidad ahorra {eur} €; los hogares vulnerables se llevan el {vulnerable} "
        "del ahorro.",
        "The community saves {eur} €; the vulnerable households get {vulnerable} of the savings.",
    ),
    "against_in_force": (
        "Frente al reparto vigente («{in_force}»): ganan {gainers} miembros y pierden "
        "{losers}; la mayor pérdida es el {worst} de lo que ahorraba.",
        "Against the agreement in force ({in_force}): {gainers} members gain and {losers} "
        "lose; the largest loss is {worst} of what it saved.",
    ),
    "breaking": (
        "Descartados por no cumplir las reglas de la comunidad: {schemes}.",
        "Left out for breaking the community's rules: {schemes}.",
    ),
    "excluded": (
        "Descartados por el límite de pérdida: {schemes}.",
        "Left out by the loss limit: {schemes}.",
    ),
    "no_recommendation": (
        "Ningún reparto cumple el objetivo: todos hacen perder a algún miembro más del límite "
        "({schemes}).",
        "No agreement meets the objective: each makes some member lose more than the limit "
        "({schemes}).",
    ),
    "no_agreement": (
        "No se ha comparado ningún reparto que pueda firmarse: solo la referencia.",
        "No agreement that can be signed was compared: only the reference.",
    ),
    "recommend_savings": ("La comunidad ahorra {eur} €.", "The community saves {eur} €."),
    "rests_on": (
        "Las cifras se apoyan en {evaluated} horas evaluadas; los repartos que aprenden lo "
        "hicieron con las {trained} horas anteriores (y, al reajustarse, con las que se "
        "iban conociendo). Son una estimación sobre el pasado: el "
        "tiempo y los hábitos de otro año darán otras cifras.",
        "The figures rest on {evaluated} hours judged; the schemes that learn did so on the "
        "{trained} hours before them (and, when re-fitted, on those known by then). They "
        "estimate from the past: another year's weather and habits will give other figures.",
    ),
    "refit": ("Reajustar cada cuatro meses", "Re-fitting every four months"),
    "refit_intro": (
        "Los coeficientes pueden cambiarse cada cuatro meses. Cada reparto que aprende se "
        "recalculó en cada fecha de cambio ({changes}) con todo lo conocido hasta entonces, "
        "y se compara con calcularlo una sola vez al principio.",
        "Coefficients may change every four months. Each scheme that learns was fitted again "
        "on each change date ({changes}) on everything known by then, and is compared with "
        "fitting it once at the start.",
    ),
    "refitted": ("Reajustado (kWh)", "Re-fitted (kWh)"),
    "once": ("Una vez (kWh)", "Once (kWh)"),
    "refitted_eur": ("Reajustado (€)", "Re-fitted (€)"),
    "once_eur": ("Una vez (€)", "Once (€)"),
    "rules": ("Reglas de la comunidad", "The community's rules"),
    "rules_asked": ("Reglas pedidas: {rules}.", "Rules asked for: {rules}."),
    "rules_kept": (
        "«{scheme}» cumple todas las reglas.",
        "{scheme} keeps every rule.",
    ),
    "rules_broken": ("«{scheme}» no las cumple:", "{scheme} breaks them:"),
    "more": ("… y {count} más (en report.json)", "… and {count} more (in report.json)"),
    "breach.lowest": (
        "{member} por debajo de su β mínimo {value} ({rule}) en {hours} de {of} horas",
        "{member} below its lowest β {value} ({rule}) in {hours} of {of} hours",
    ),
    "breach.highest": (
        "{member} por encima de su β máximo {value} ({rule}) en {hours} de {of} horas",
        "{member} above its highest β {value} ({rule}) in {hours} of {of} hours",
    ),
    "breach.reserve": (
        "los socios vulnerables por debajo de su reserva {value} en {hours} de {of} horas",
        "the vulnerable members below their reserve {value} in {hours} of {of} hours",
    ),
    "fairness": ("Equidad: el ahorro de cada miembro", "Fairness: each member's savings"),
    "gini": ("Gini €/€ invertido", "Gini €/€ invested"),
    "range": ("€/€ invertido (mín.–máx.)", "€/€ invested (min–max)"),
    "vulnerable": ("Para vulnerables", "To the vulnerable"),
    "gain_lose": ("Ganan / pierden", "Gain / lose"),
    "worst": ("Mayor pérdida", "Largest loss"),
    "member": ("Miembro", "Member"),
    "savings_by_member": ("Ahorro por miembro", "Savings by member"),
    "per_invested": ("€ por € invertido", "€ per € invested"),
    "per_kwh": ("€ por kWh consumido", "€ per kWh consumed"),
    "change": ("Cambio frente al vigente", "Change against in force"),
    "fairness_note": (
        "Gini: 0 si todos recuperan lo mismo por euro invertido, 1 si uno se lo lleva todo.",
        "Gini: 0 when everyone gets the same back per euro invested, 1 when one gets it all.",
    ),
    "fit": (
        "«optimized-hourly» eligió en su último ajuste, por validación cruzada en semanas "
        "alternas del entrenamiento, clases de {grain} y un peso {blend} del óptimo de cada "
        "clase frente a {target}.",
        "optimized-hourly chose at its last fit, by cross-validation over alternate training "
        "weeks, classes of {grain_en} and a weight {blend} of each class's optimum against "
        "{target_en}.",
    ),
    "fit_short": (
        "«optimized-hourly» no supera a «{other}» en el periodo evaluado ({kwh} kWh menos): "
        "las horas de cada clase en el entrenamiento no bastan para aprender más que un "
        "reparto estable, y el periodo evaluado no repite el de entrenamiento.",
        "optimized-hourly does not beat {other} on the evaluated period ({kwh} kWh less): "
        "each class has too few training hours to learn more than a steady share, and the "
        "evaluated period does not repeat the training one.",
    ),
    "ceiling": (
        "El techo ({ceiling} kWh) es lo máximo que la comunidad podría autoconsumir "
        "sabiendo de antemano el consumo de cada hora; «perfect-foresight» lo alcanza y solo "
        "sirve de referencia: no puede firmarse.",
        "The ceiling ({ceiling} kWh) is the most the community could self-consume "
        "knowing each hour's consumption in advance; perfect-foresight reaches it and is a "
        "reference only: it cannot be signed.",
    ),
    "what_if": ("¿Y si…?", "What if…?"),
    "what_if_intro": (
        "Cada escenario cambia el historial de una forma y vuelve a calcular {schemes} con "
        "las mismas reglas, aprendiendo una sola vez con el periodo de entrenamiento (con las "
        "opciones que eligió el cálculo de hoy) y juzgando en el evaluado: por eso la fila "
        "«hoy» puede diferir de la clasificación, que reajusta cada cuatro meses.",
        "Each scenario changes the history one way and works out {schemes} again under the "
        "same rules, learning once on the training period (with the options today's fit "
        "chose) and judged on the evaluated one: so the «today» row may differ from the "
        "ranking, which re-fits every four months.",
    ),
    "scenario": ("Escenario", "Scenario"),
    "today": ("Hoy, tal como es", "Today, as it is"),
    "scenario.member-joins": (
        "Entra {member_id}: {annual} kWh al año ({source})",
        "{member_id} joins: {annual} kWh a year ({source_en})",
    ),
    "scenario.member-leaves": (
        "Sale {member_id} ({annual} kWh al año)",
        "{member_id} leaves ({annual} kWh a year)",
    ),
    "scenario.plant-grows": (
        "La planta crece {added} kWp (inclinación {tilt}°, azimut {azimuth}°): {kwh} kWh más "
        "al año",
        "The plant grows by {added} kWp (tilt {tilt}°, azimuth {azimuth}°): {kwh} kWh more a year",
    ),
    "scenario.battery": (
        "Batería comunitaria de {capacity} kWh y {power} kW (rendimiento {efficiency}): "
        "devuelve {given} kWh al año, {cycles} ciclos",
        "A community battery of {capacity} kWh and {power} kW ({efficiency} round trip): "
        "gives back {given} kWh a year, {cycles} cycles",
    ),
    "scenario.prices": (
        "Precios: importar × {imports}, excedentes × {surplus}",
        "Prices: imports × {imports}, surplus × {surplus}",
    ),
    "vulnerable_member": (", vulnerable", ", vulnerable"),
    "cannot": ("No puede ser: {error}", "It cannot be: {error}"),
    "movers": (
        "Quién gana y quién pierde más con «{scheme}»:",
        "Who gains and who loses most under {scheme}:",
    ),
    "gains_most": ("ganan más: {members}", "gain most: {members}"),
    "loses_most": ("pierden: {members}", "lose: {members}"),
    "filled": (
        "{hours} horas sin dato, rellenadas con el perfil de REE",
        "{hours} hours without data, filled with REE's profile",
    ),
}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #1d2a33; }
h1, h2 { color: #166e54; } .en { color: #6b7a86; font-weight: normal; }
table { border-collapse: collapse; }
td, th { padding: .3rem .7rem; border-bottom: 1px solid #d9e0e5; text-align: right; }
td:nth-child(2), th:nth-child(2) { text-align: left; }
.named td, .named th { text-align: right; }
.named td:first-child, .named th:first-child { text-align: left; }
/* Wide tables and charts scroll in their own box; a shadow shows on the side with more. */
.table, .scroll { overflow-x: auto;
  background: linear-gradient(to right, #fff 30%, #fff0) left / 2rem 100% no-repeat local,
    linear-gradient(to left, #fff 30%, #fff0) right / 2rem 100% no-repeat local,
    radial-gradient(farthest-side at 0 50%, #0003, #0000) left / .6rem 100% no-repeat scroll,
    radial-gradient(farthest-side at 100% 50%, #0003, #0000) right / .6rem 100% no-repeat scroll; }
.chart { margin: 0 0 1.5rem; } .chart svg { display: block; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .3rem 1.2rem;
  font-size: .9rem; }
.swatch { display: inline-block; width: 1.4rem; height: .7rem; margin-right: .4rem;
  background: var(--colour); vertical-align: middle; }
.swatch.dashed { height: 0; background: none; border-top: 3px dashed var(--colour); }
@media (max-width: 40rem) { body { margin: 1rem; } td, th { padding: .3rem .4rem; } }
.recommendation { border-left: 4px solid #166e54; padding: .2rem 1rem; background: #eef6f2; }
.loss { color: #a4262c; }
.delta { font-size: .85em; color: #4a5863; } .delta.loss { color: #a4262c; }
.what-if td:first-child { min-width: 13rem; max-width: 28rem; text-align: left; }
/* An assembly's handout: A4, the whole width, no scrolling boxes, no table cut in two. */
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; color: #000; }
  .table, .scroll { overflow: visible; background: none; }
  .chart svg { max-width: 100%; height: auto; }
  h2 { break-after: avoid; } table, figure, .recommendation { break-inside: avoid; }
  .recommendation { background: none; }
}
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
            format_number(c["self_consumed_kwh"], 0),
            _percent(c["self_consumption_ratio"]),
            _percent(c["self_sufficiency"]),
            _percent(c["allocation_efficiency"]),
        ]
        if with_money:
            cells.append(_money(c["savings_eur"]))
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return "\n".join(rows)


def _money(value: float | None) -> str:
    return "—" if value is None else f"{format_number(value, 2)}\u00a0€"


def _ratio(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else format_number(value, digits)


def _fit_caveats(report: dict[str, Any]) -> list[str]:
    """Say what optimized-hourly chose and, when it does not beat the simpler schemes, so."""
    schemes = report["schemes"]
    if "optimized-hourly" not in schemes or not schemes["optimized-hourly"]["fit"]:
        return []
    fit = schemes["optimized-hourly"]["fit"]
    es, en = TEXT["fit"]
    grain, target = GRAIN_NAMES[fit["grain"]], TARGET_NAMES[fit["target"]]
    values = {"blend": fit["blend"], "grain": grain[0], "target": target[0]}
    lines = [
        _bilingual(
            es.format(**values),
            en.format(**values, grain_en=grain[1], target_en=target[1]),
        )
    ]
    own = schemes["optimized-hourly"]["community"]["self_consumed_kwh"]
    for other in ("hourly-profile", "optimized-static"):
        theirs = schemes.get(other, {}).get("community", {}).get("self_consumed_kwh")
        if theirs is not None and own < theirs:
            lines.append(_t("fit_short", other=other, kwh=format_number(theirs - own, 0)))
    return lines


def _losses(too_costly: dict[str, dict[str, Any]]) -> str:
    """Return each scheme passed over for a loss, with the member losing most and how much."""
    return ", ".join(
        f"{name} ({found['member_id']}: −{_percent(found['loss_share'])})"
        for name, found in too_costly.items()
    )


def _recommendation(report: dict[str, Any]) -> str:
    chosen = report["recommendation"]
    objective = chosen["objective"]
    aim_es, aim_en = (
        text.format(limit=_percent(chosen["max_loss_share"]))
        for text in TEXT[f"objective.{objective}"]
    )
    scheme = chosen["scheme"]
    if scheme is None:
        line = (
            _t("no_recommendation", schemes=_losses(chosen["too_costly"]))
            if chosen["too_costly"]
            else _t("no_agreement")
        )
        return f'<div class="recommendation"><p>{line}</p></div>'
    figures = report["schemes"][scheme]
    es, en = TEXT["recommend"]
    values = {"scheme": scheme, "kwh": format_number(figures["community"]["self_consumed_kwh"], 0)}
    lines = [
        _bilingual(es.format(objective=aim_es, **values), en.format(objective=aim_en, **values))
    ]
    if (money := figures["fairness"]) is not None:
        eur = format_number(money["savings_eur"], 0)
        vulnerable = money["vulnerable_share_of_savings"]
        lines.append(
            _t("recommend_savings", eur=eur)
            if vulnerable is None
            else _t("recommend_money", eur=eur, vulnerable=_percent(vulnerable))
        )
        if money["in_force"] is not None:
            lines.append(
                _t(
                    "against_in_force",
                    in_force=money["in_force"],
                    gainers=len(money["gainers"]),
                    losers=len(money["losers"]),
                    worst=_percent(money["worst_loss_share"]),
                )
            )
    if breaking := chosen["breaking_rules"]:
        lines.append(_t("breaking", schemes=", ".join(breaking)))
    if too_costly := chosen["too_costly"]:
        lines.append(_t("excluded", schemes=_losses(too_costly)))
    if broken := figures["rules_broken"]:
        lines.append(_t("rules_broken", scheme=scheme) + _breaches(broken))
    lines.append(
        _t(
            "rests_on",
            evaluated=format_number(report["evaluated_on"]["hours"], 0),
            trained=format_number(report["trained_on"]["hours"], 0),
        )
    )
    if report["trained_on_evaluated_period"]:
        lines.append(f"<strong>{_t('same_data')}</strong>")
    paragraphs = "".join(f"<p>{line}</p>" for line in lines)
    return f'<div class="recommendation">{paragraphs}</div>'


def _breaches(broken: list[dict[str, Any]]) -> str:
    """Return each breach of the rules as an item of a list, in both languages."""
    items = "".join(
        "<li>"
        + _t(
            f"breach.{breach['bound']}",
            member=breach["member_id"],
            value=f"{breach['value']:.3g}",
            rule=breach["rule"],
            hours=format_number(breach["hours"], 0),
            of=format_number(breach["of"], 0),
        )
        + "</li>"
        for breach in broken[:SHOWN_BREACHES]
    )
    if len(broken) > SHOWN_BREACHES:
        items += f"<li>{_t('more', count=len(broken) - SHOWN_BREACHES)}</li>"
    return f"<ul>{items}</ul>"


def _rules_section(report: dict[str, Any]) -> str:
    agreements = [s for s in report["schemes"] if report["schemes"][s]["agreement"]]
    lines = []
    if asked := report["rules"]:
        lines.append(_t("rules_asked", rules=", ".join(f"{k} {v:g}" for k, v in asked.items())))
    for scheme in agreements:
        broken = report["schemes"][scheme]["rules_broken"]
        lines.append(
            _t("rules_broken", scheme=scheme) + _breaches(broken)
            if broken
            else _t("rules_kept", scheme=scheme)
        )
    return f"<h2>{_t('rules')}</h2><ul>" + "".join(f"<li>{x}</li>" for x in lines) + "</ul>"


def _refit_section(report: dict[str, Any], tz: str) -> str:
    refits = {s: v["refit"] for s, v in report["schemes"].items() if v.get("refit")}
    if not refits:
        return ""
    changes = next(iter(refits.values()))["changes"]
    days = ", ".join(str(pd.Timestamp(change).tz_convert(tz).date()) for change in changes)
    with_money = next(iter(refits.values()))["refitted_savings_eur"] is not None
    heads = [_t("scheme"), _t("refitted"), _t("once")]
    if with_money:
        heads += [_t("refitted_eur"), _t("once_eur")]
    rows = []
    for scheme, refit in refits.items():
        row = [
            escape(scheme),
            format_number(refit["refitted_kwh"], 0),
            format_number(refit["fitted_once_kwh"], 0),
        ]
        if with_money:
            row += [_money(refit["refitted_savings_eur"]), _money(refit["fitted_once_savings_eur"])]
        rows.append(row)
    return f"<h2>{_t('refit')}</h2><p>{_t('refit_intro', changes=days)}</p>" + _table(heads, rows)


def _table(heads: list[str], rows: list[list[str]], kind: str = "") -> str:
    """Return a table whose first column names its rows (left) and the others are figures."""
    head = "".join(f"<th>{h}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="table"><table class="named {kind}"><tr>{head}</tr>{body}</table></div>'


def _fairness_section(report: dict[str, Any], best: str) -> str:
    agreements = [
        s
        for s in report["schemes"]
        if report["schemes"][s]["agreement"] and report["schemes"][s]["fairness"]
    ]
    if not agreements:
        return ""
    in_force = report["in_force"] is not None
    heads = [_t("scheme"), _t("savings"), _t("gini"), _t("range"), _t("vulnerable")]
    if in_force:
        heads += [_t("gain_lose"), _t("worst")]
    rows = []
    for scheme in agreements:
        found = report["schemes"][scheme]["fairness"]
        low, high = found["min_per_eur_invested"], found["max_per_eur_invested"]
        row = [
            escape(scheme),
            _money(found["savings_eur"]),
            _ratio(found["gini_per_eur_invested"]),
            "—" if low is None else f"{format_number(low, 2)} – {format_number(high, 2)}",
            _percent(found["vulnerable_share_of_savings"]),
        ]
        if in_force:
            row += [
                f"{len(found['gainers'])} / {len(found['losers'])}",
                _percent(found["worst_loss_share"]),
            ]
        rows.append(row)
    member_heads = [_t("member"), _t("savings"), _t("per_invested"), _t("per_kwh")]
    if in_force:
        member_heads.append(_t("change"))
    member_rows = []
    for member_id, figures in report["schemes"][best]["fairness"]["members"].items():
        row = [
            escape(str(member_id)),
            _money(figures["savings_eur"]),
            _ratio(figures["eur_per_eur_invested"], 3),
            _ratio(figures["eur_per_kwh"], 3),
        ]
        if in_force:
            change = figures["change_eur"]
            loss = ' class="loss"' if change is not None and change <= -0.01 else ""
            row.append(f"<span{loss}>{_money(change)}</span>")
        member_rows.append(row)
    return "\n".join(
        [
            f"<h2>{_t('fairness')}</h2>",
            _table(heads, rows),
            f"<p>{_t('fairness_note')}</p>",
            f"<h3>{_t('savings_by_member')}: {escape(best)}</h3>",
            _table(member_heads, member_rows),
        ]
    )


# A joining member's history as the report names it (Spanish, English).
SOURCE_NAMES = {
    "ree-profile": ("perfil de REE", "REE's profile"),
    "history": ("su historial", "its history"),
}
# The members named as gaining or losing most under a scenario.
SHOWN_MOVERS = 3


def _scenario_name(item: dict[str, Any]) -> str:
    """Return what the scenario changes, in both languages, with the name it was given."""
    asked, facts, kind = item["asked"], item["facts"], item["kind"]
    values: dict[str, Any] = {}
    if kind == "member-joins":
        source = SOURCE_NAMES.get(asked["source"], (asked["source"], asked["source"]))
        values = {
            "member_id": asked["member_id"],
            "annual": format_number(facts.get("annual_kwh", asked["annual_kwh"] or 0.0), 0),
            "source": source[0],
            "source_en": source[1],
        }
    elif kind == "member-leaves":
        values = {"member_id": asked["member_id"], "annual": format_number(facts["annual_kwh"], 0)}
    elif kind == "plant-grows":
        values = {
            "added": format_number(asked["added_kwp"]),
            "tilt": format_number(asked["tilt"]),
            "azimuth": format_number(asked["azimuth"]),
            "kwh": format_number(facts.get("added_kwh_year", 0.0), 0),
        }
    elif kind == "battery":
        values = {
            "capacity": format_number(asked["capacity_kwh"]),
            "power": format_number(asked["power_kw"]),
            "efficiency": _percent(asked["round_trip_efficiency"]),
            "given": format_number(facts.get("discharged_kwh_year", 0.0), 0),
            "cycles": format_number(facts.get("cycles_year", 0.0), 0),
        }
    else:
        values = {
            "imports": f"{asked['import_factor']:g}",
            "surplus": f"{asked['surplus_factor']:g}",
        }
    es, en = TEXT[f"scenario.{kind}"]
    text = _bilingual(es.format(**values), en.format(**values))
    if kind == "member-joins" and asked["vulnerable"]:
        text += _t("vulnerable_member")
    if facts.get("hours_filled"):
        text += f"; {_t('filled', hours=format_number(facts['hours_filled'], 0))}"
    name = item["name"]
    return f"<strong>{escape(name)}</strong>: {text}" if name else text


def _with_change(value: float | None, before: float | None, *, money: bool) -> str:
    """Return a scenario's figure with, under it, its change from today's."""
    shown = _money(value) if money else "—" if value is None else format_number(value, 0)
    if value is None or before is None:
        return shown
    delta = value - before
    text = (_money(abs(delta)) if money else format_number(abs(delta), 0)).strip()
    # ± when the change shows as nothing at the figure's precision.
    shows = abs(delta) >= (0.005 if money else 0.5)
    sign = "±" if not shows else "+" if delta > 0 else "−"
    loss = " loss" if shows and delta < 0 else ""
    return f'{shown}<br><span class="delta{loss}">{sign}{text}</span>'


def _movers(members: dict[str, dict[str, Any]], money: bool) -> str:
    """Return the members who gain and who lose most under a scenario."""
    key = "change_savings_eur" if money else "change_self_consumed_kwh"
    moved = sorted(
        (
            (figures[key], member_id)
            for member_id, figures in members.items()
            if figures[key] is not None
        ),
        reverse=True,
    )

    def shown(pairs: list[tuple[float, str]]) -> str:  # escaped where it is shown (`_t`)
        return ", ".join(
            f"{member_id} ({'+' if change > 0 else '−'}"
            f"{_money(abs(change)) if money else format_number(abs(change), 0) + ' kWh'})"
            for change, member_id in pairs
        )

    gains = [pair for pair in moved[:SHOWN_MOVERS] if pair[0] >= 0.005]
    losses = [pair for pair in reversed(moved[-SHOWN_MOVERS:]) if pair[0] <= -0.005]
    parts = []
    if gains:
        parts.append(_t("gains_most", members=shown(gains)))
    if losses:
        parts.append(f'<span class="loss">{_t("loses_most", members=shown(losses))}</span>')
    return "; ".join(parts)


def _scenarios_section(report: dict[str, Any]) -> str:
    what_if = report.get("scenarios")
    if not what_if:
        return ""
    schemes, base = what_if["schemes"], what_if["base"]
    money = base[schemes[0]]["savings_eur"] is not None
    heads = [_t("scenario")]
    for scheme in schemes:
        heads.append(f"{escape(scheme)}: kWh")
        if money:
            heads.append(f"{escape(scheme)}: €")
    rows = [[_t("today")]]
    for scheme in schemes:
        rows[0].append(format_number(base[scheme]["self_consumed_kwh"], 0))
        if money:
            rows[0].append(_money(base[scheme]["savings_eur"]))
    movers = []
    for item in what_if["items"]:
        name = _scenario_name(item)
        if item["error"] is not None:
            error = f'<span class="loss">{_t("cannot", error=item["error"])}</span>'
            rows.append([f"{name}<br>{error}"] + ["—"] * (len(heads) - 1))
            continue
        row = [name]
        for scheme in schemes:
            after, before = item["schemes"][scheme], base[scheme]
            row.append(
                _with_change(after["self_consumed_kwh"], before["self_consumed_kwh"], money=False)
            )
            if money:
                row.append(_with_change(after["savings_eur"], before["savings_eur"], money=True))
        rows.append(row)
        if moved := _movers(item["members"], money):
            movers.append(f"<li>{name}: {moved}</li>")
    intro = _t("what_if_intro", schemes=" / ".join(f"«{s}»" for s in schemes))
    section = [f"<h2>{_t('what_if')}</h2><p>{intro}</p>", _table(heads, rows, kind="what-if")]
    if movers:
        section.append(f"<p>{_t('movers', scheme=schemes[0])}</p><ul>{''.join(movers)}</ul>")
    return "\n".join(section)


def render_html(comparison: Comparison, report: dict[str, Any], tz: str = DEFAULT_TZ) -> str:
    """Return the page, printable on A4 for an assembly.

    Recommendation, ranking, rules, fairness, member bars, monthly self-consumption, β
    heat-map, caveats.
    """
    ranking = list(report["schemes"])
    agreements = [s for s in ranking if report["schemes"][s]["agreement"]]
    best = report["recommendation"]["scheme"] or (agreements[0] if agreements else ranking[0])
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
    caveats = [
        _t("periods", **periods),
        _t("ceiling", ceiling=format_number(report["ceiling_kwh"], 0)),
    ]
    if report["trained_on_evaluated_period"]:
        caveats.insert(0, f"<strong>{_t('same_data')}</strong>")
    if report["compensation_cap"] == "import_price":
        caveats.append(_t("cap_at_import_price"))
    if missing := report.get("member_hours_missing"):
        listed = ", ".join(f"{member} ({hours})" for member, hours in missing.items())
        caveats.append(_t("missing", members=listed))
    caveats.extend(_fit_caveats(report))
    if night := report.get("hours_night_without_generation"):
        caveats.append(_t("night", hours=night))
    hours = format_number(report["period"]["hours"], 0)
    sections = [
        f"<h1>{_t('title')}</h1>",
        f"<p>{_t('summary', members=len(comparison.members), hours=hours)}</p>",
        f"<h2>{_t('recommendation')}</h2>{_recommendation(report)}",
        f"<h2>{_t('ranking')}</h2>",
        '<div class="table"><table><tr>' + "".join(f"<th>{h}</th>" for h in heads) + "</tr>",
        _ranking_rows(report, with_money=with_money) + "</table></div>",
        _rules_section(report),
        _fairness_section(report, best),
        _refit_section(report, tz),
        _scenarios_section(report),
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
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(TEXT['title'][0])} / {escape(TEXT['title'][1])}</title>\n"
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def documents(
    comparison: Comparison,
    hours: Hours,
    warnings: list[str],
    tz: str = DEFAULT_TZ,
    outcomes: Sequence[Outcome] = (),
) -> tuple[dict[str, Any], str]:
    """Return report.json's document and report.html for a comparison run on ``hours``.

    The document says how many hours the inputs lost (`align_hours`) and the inputs' warnings;
    with ``outcomes``, what each what-if scenario gave (`scenarios.to_report`).
    """
    report = comparison.to_report()
    report["scenarios"] = scenarios.to_report(comparison, outcomes) if outcomes else None
    report["hours_dropped_incomplete"] = hours.dropped
    report["hours_night_without_generation"] = hours.night
    report["member_hours_missing"] = hours.missing
    report["warnings"] = warnings
    return report, render_html(comparison, report, tz)
