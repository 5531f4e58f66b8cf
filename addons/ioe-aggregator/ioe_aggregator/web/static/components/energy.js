// A member's consumption against their share of the community plant over a day, a month or a
// year: the totals, the agreements in force and a chart, with the period to choose. The
// control centre's member page and the member's own portal show it.
import { api } from "../api.js";
import { h, replace, announce } from "../dom.js";
import { formatDate, formatNumber, translator } from "../i18n.js";
import { problemOf } from "./message.js";
import { timeChart } from "./chart.js";

const TEXTS = {
  en: {
    energy: "Consumption and share",
    period: "Period",
    "period.day": "Day",
    "period.month": "Month",
    "period.year": "Year",
    date: "Date",
    previous: "Previous",
    next: "Next",
    "previous-label": "Previous {period}",
    "next-label": "Next {period}",
    consumption: "Consumption",
    allocated: "Share allocated",
    "self-consumed": "Self-consumed",
    surplus: "Share not used",
    "self-consumption": "Share used",
    "self-sufficiency": "Consumption covered",
    "chart-title": "Consumption and share, {when}",
    "chart-summary": "{name}, {when}: consumed {consumption} kWh; share allocated {allocated} kWh, of which {self} kWh used at once and {surplus} kWh not used.",
    "hours-known": "Consumption known for {known} of {hours} hours: the figures count only those.",
    "no-energy-title": "No consumption known in this period",
    agreement: "Agreement “{name}” ({from} – {to}): coefficient {coefficient}.",
    "open-ended": "open-ended",
    "point.month": "Month",
    "point.hour": "Hour",
    "point.day": "Day",
  },
  es: {
    energy: "Consumo y reparto",
    period: "Periodo",
    "period.day": "Día",
    "period.month": "Mes",
    "period.year": "Año",
    date: "Fecha",
    previous: "Anterior",
    next: "Siguiente",
    "previous-label": "{period} anterior",
    "next-label": "{period} siguiente",
    consumption: "Consumo",
    allocated: "Parte asignada",
    "self-consumed": "Autoconsumida",
    surplus: "Parte no aprovechada",
    "self-consumption": "Parte aprovechada",
    "self-sufficiency": "Consumo cubierto",
    "chart-title": "Consumo y reparto, {when}",
    "chart-summary": "{name}, {when}: consumió {consumption} kWh; parte asignada {allocated} kWh, de la que aprovechó {self} kWh en el momento y {surplus} kWh no.",
    "hours-known": "Consumo conocido en {known} de {hours} horas: las cifras cuentan solo esas.",
    "no-energy-title": "No se conoce el consumo en este periodo",
    agreement: "Acuerdo «{name}» ({from} – {to}): coeficiente {coefficient}.",
    "open-ended": "sin fin",
    "point.month": "Mes",
    "point.hour": "Hora",
    "point.day": "Día",
  },
};
const t = translator(TEXTS);
const PERIODS = ["day", "month", "year"];
const KWH = { maximumFractionDigits: 2 };

export function kwh(value) {
  return value === null ? "–" : formatNumber(value, KWH);
}

export function percent(value) {
  return value === null ? "–" : formatNumber(value, { style: "percent", maximumFractionDigits: 1 });
}

/** The period as a reader names it, where the community is: a date, a month or a year. */
function periodName(figures) {
  const noon = `${figures.from}T12:00:00Z`;
  if (figures.period === "day") return formatDate(noon, { dateStyle: "full", timeZone: "UTC" });
  if (figures.period === "month") return formatDate(noon, { month: "long", year: "numeric", timeZone: "UTC" });
  return figures.from.slice(0, 4);
}

/** The chart's date formats for a period's points, in the community's time zone, and their name. */
function pointFormats(figures) {
  const timeZone = figures.timezone;
  if (figures.period === "day") {
    return { tick: { hour: "2-digit", minute: "2-digit", timeZone }, moment: { hour: "2-digit", minute: "2-digit", timeZoneName: "short", timeZone }, timeLabel: t("point.hour") };
  }
  if (figures.period === "month") return { tick: { day: "numeric", month: "short", timeZone }, moment: { dateStyle: "medium", timeZone }, timeLabel: t("point.day") };
  return { tick: { month: "short", timeZone }, moment: { month: "long", year: "numeric", timeZone }, timeLabel: t("point.month") };
}

function agreementLine(agreement) {
  const low = formatNumber(agreement.coefficient_min, { maximumFractionDigits: 4 });
  const high = formatNumber(agreement.coefficient_max, { maximumFractionDigits: 4 });
  return h("p", {}, t("agreement", {
    name: agreement.name,
    from: formatDate(`${agreement.valid_from}T12:00:00Z`, { dateStyle: "medium", timeZone: "UTC" }),
    to: agreement.valid_to === null ? t("open-ended") : formatDate(`${agreement.valid_to}T12:00:00Z`, { dateStyle: "medium", timeZone: "UTC" }),
    coefficient: low === high ? low : `${low} – ${high}`,
  }));
}

function totalsOf(totals) {
  const rows = [
    ["consumption", `${kwh(totals.consumption_kwh)} kWh`],
    ["allocated", `${kwh(totals.allocated_kwh)} kWh`],
    ["self-consumed", `${kwh(totals.self_consumed_kwh)} kWh`],
    ["surplus", `${kwh(totals.surplus_kwh)} kWh`],
    ["self-consumption", percent(totals.self_consumption)],
    ["self-sufficiency", percent(totals.self_sufficiency)],
  ];
  return h("dl", { class: "totals" }, rows.map(([key, value]) => h("div", {}, h("dt", {}, t(key)), h("dd", {}, value))));
}

function energyFigures(member, figures, say) {
  const { totals, points } = figures;
  const when = periodName(figures);
  // A plain message, not a notice: notices answer what the user just did.
  const agreements = figures.agreements.length
    ? figures.agreements.map(agreementLine)
    : h("p", { class: "message" }, say.noAgreement);
  if (totals.hours_known === 0) {
    return [agreements, h("div", { class: "empty" }, h("h3", {}, t("no-energy-title")), h("p", {}, say.noEnergy))];
  }
  const chart = timeChart({
    title: t("chart-title", { when }),
    summary: t("chart-summary", { name: member.name, when, consumption: kwh(totals.consumption_kwh), allocated: kwh(totals.allocated_kwh), self: kwh(totals.self_consumed_kwh), surplus: kwh(totals.surplus_kwh) }),
    times: points.map((point) => Date.parse(point.start) / 1000),
    series: [
      { label: t("consumption"), values: points.map((point) => point.consumption_kwh) },
      { label: t("allocated"), values: points.map((point) => point.allocated_kwh) },
      // Green: told apart from the share's orange in both themes.
      { label: t("self-consumed"), values: points.map((point) => point.self_consumed_kwh), color: "--success-color" },
    ],
    unit: "kWh",
    ...pointFormats(figures),
  });
  // The figure is a card of its own elsewhere; inside this card it is part of it.
  chart.classList.remove("card");
  const partial = totals.hours_known < totals.hours ? h("p", { class: "hint" }, t("hours-known", { known: formatNumber(totals.hours_known), hours: formatNumber(totals.hours) })) : null;
  return [totalsOf(totals), partial, agreements, chart];
}

/**
 * The card of `member`'s energy, drawn once its first period (today) is in. `say` holds what
 * the card tells its reader in their words: `intro`, `noEnergy` (no consumption known in the
 * period) and `noAgreement` (text and nodes: what to do without an agreement).
 */
export async function energyCard(member, say) {
  const card = h("section", { class: "card", "aria-labelledby": "energy-title" });
  const body = h("div", {});
  const state = { period: "day", date: null };
  const choices = PERIODS.map((period) =>
    h("label", { class: "check" }, h("input", { type: "radio", name: "energy-period", value: period, checked: period === state.period }), t(`period.${period}`)));
  const dateInput = h("input", { id: "energy-date", type: "date", required: true });
  // Navigation, not a change: text buttons, as the page's actions are the outlined ones.
  const previous = h("button", { type: "button", class: "text" }, h("span", { "aria-hidden": "true" }, "‹\u00a0"), t("previous"));
  const next = h("button", { type: "button", class: "text" }, t("next"), h("span", { "aria-hidden": "true" }, "\u00a0›"));
  let figures = null;
  let asked = 0;

  // `said`: the user asked for the period, and hears which one came. Only the latest answer
  // is drawn: one asked for before may come after it.
  async function load(said = true) {
    const query = new URLSearchParams({ period: state.period });
    if (state.date) query.set("date", state.date);
    const mine = ++asked;
    let found;
    try {
      found = await api(`members/${encodeURIComponent(member.id)}/energy?${query}`);
    } catch (error) {
      if (mine === asked) replace(body, problemOf(error));
      return;
    }
    if (mine !== asked) return;
    figures = found;
    // The day chosen stays chosen from a period to another (a month holds it, and so on).
    state.date ??= figures.from;
    dateInput.value = state.date;
    const name = t(`period.${state.period}`);
    previous.setAttribute("aria-label", t("previous-label", { period: name }));
    next.setAttribute("aria-label", t("next-label", { period: name }));
    replace(body, energyFigures(member, figures, say));
    if (said) announce(t("chart-title", { when: periodName(figures) }));
  }

  for (const choice of choices) {
    choice.querySelector("input").addEventListener("change", (event) => {
      state.period = event.target.value;
      load();
    });
  }
  dateInput.addEventListener("change", () => {
    if (!dateInput.value) return;
    state.date = dateInput.value;
    load();
  });
  previous.addEventListener("click", () => {
    if (!figures) return;
    state.date = figures.previous;
    load();
  });
  next.addEventListener("click", () => {
    if (!figures) return;
    state.date = figures.next;
    load();
  });
  const controls = h(
    "div",
    { class: "period-controls" },
    h("fieldset", { class: "segmented" }, h("legend", {}, t("period")), choices),
    h("div", { class: "period-nav" }, h("div", { class: "field" }, h("label", { for: "energy-date" }, t("date")), dateInput), h("div", {}, previous, next)),
  );
  replace(card, h("h2", { id: "energy-title" }, t("energy")), h("p", { class: "intro" }, say.intro), controls, body);
  await load(false);
  return card;
}

