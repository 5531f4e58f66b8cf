// The household's own page: their share now and the agreement it comes from, this month in
// kWh and €, their consumption against their share over a day, month or year, the months of
// a year, the community's totals (only those enough homes make up), and all their data.
import { api } from "../api.js";
import { h, replace, announce } from "../dom.js";
import { formatDate, formatNumber, translator } from "../i18n.js";
import { energyCard, kwh, percent } from "../components/energy.js";
import { portalProblem } from "./sign-in.js";

const TEXTS = {
  en: {
    hello: "Hello, {name}",
    "link-until": "Your personal link works until {date}.",
    now: "Your share",
    coefficient: "Your share of the plant now",
    "coefficient-none": "No agreement in force",
    agreement: "Agreement in force",
    "agreement-line": "“{name}”: {scheme}, since {from}.",
    "no-agreement": "No sharing agreement is in force now, so the plant's energy is not shared yet.",
    measured: "Your consumption comes from",
    "source.own_meter": "Your own meter (through Home Assistant), last reading {when}.",
    "source.distributor": "Your distributor's meter, through Datadis, latest data {when}.",
    "source.both": "Your own meter (last reading {own}); where it has gaps, your distributor's data through Datadis.",
    "source.none": "No data of your consumption has arrived yet.",
    month: "This month",
    "month-self": "Solar energy you used",
    "month-savings": "Saved on your bill",
    "month-savings-none": "Not calculated: your community has not set its prices.",
    "energy-intro": "What you consumed against your share of the community plant's generation (your share × the generation), and how much of your share you used at once: that part is what lowers your bill.",
    "no-energy": "No consumption of yours is known for this period. Choose another one.",
    "energy-no-agreement": "No sharing agreement was in force in this period, so no solar energy was shared.",
    year: "Month by month",
    "year-intro": "Each month's consumption, your share, the part you used and what it saved you (at your community's prices). Months without data are left out.",
    "previous-year": "Previous year",
    "next-year": "Next year",
    "year-empty": "No consumption of yours is known in {year}.",
    "month-col": "Month",
    consumption: "Consumption (kWh)",
    allocated: "Your share (kWh)",
    "self-consumed": "Used (kWh)",
    savings: "Saved (€)",
    total: "Total",
    community: "Your community this month",
    "community-intro": "Totals of all the homes together. A figure appears only when at least 5 homes made it up, so that nobody's own can be read from it.",
    "c.generation_kwh": "Solar generation",
    "c.consumption_kwh": "Homes' consumption",
    "c.grid_independence": "Consumption not taken from the grid",
    "c.members": "Homes sending data",
    withheld: "Fewer than 5 homes contributed",
    data: "Your data",
    "data-intro": "Everything your community keeps about you, to keep or take elsewhere: your record and supply point, your readings, every hour's consumption against your share, the agreements and your shares over time, your Datadis link and your access links (never their secrets).",
    "download-json": "All my data (JSON)",
    "download-csv": "My hours (CSV, for spreadsheets)",
    "download-readings": "My meter readings, last 12 months (CSV)",
    "scheme.equal": "the same share for every home",
    "scheme.power": "shares by contracted power",
    "scheme.investment": "shares by what each home invested",
    "scheme.consumption": "shares by consumption",
    "scheme.optimized-static": "fixed shares fitted to the homes' consumption",
    "scheme.hourly-profile": "shares that change hour by hour",
  },
  es: {
    hello: "Hola, {name}",
    "link-until": "Tu enlace personal funciona hasta el {date}.",
    now: "Tu parte",
    coefficient: "Tu parte de la planta ahora",
    "coefficient-none": "Ningún acuerdo en vigor",
    agreement: "Acuerdo en vigor",
    "agreement-line": "«{name}»: {scheme}, desde el {from}.",
    "no-agreement": "Ahora no hay ningún acuerdo de reparto en vigor, así que la energía de la planta aún no se reparte.",
    measured: "Tu consumo viene de",
    "source.own_meter": "Tu propio contador (a través de Home Assistant), última lectura {when}.",
    "source.distributor": "El contador de tu distribuidora, a través de Datadis, últimos datos {when}.",
    "source.both": "Tu propio contador (última lectura {own}); donde tiene huecos, los datos de tu distribuidora a través de Datadis.",
    "source.none": "Todavía no ha llegado ningún dato de tu consumo.",
    month: "Este mes",
    "month-self": "Energía solar que aprovechaste",
    "month-savings": "Ahorro en tu factura",
    "month-savings-none": "Sin calcular: tu comunidad no ha indicado sus precios.",
    "energy-intro": "Lo que consumiste frente a tu parte de la generación de la planta comunitaria (tu parte × la generación), y cuánto de tu parte aprovechaste en el momento: esa parte es la que baja tu factura.",
    "no-energy": "No se conoce tu consumo en este periodo. Elige otro.",
    "energy-no-agreement": "En este periodo no había ningún acuerdo de reparto en vigor, así que no se repartió energía solar.",
    year: "Mes a mes",
    "year-intro": "El consumo de cada mes, tu parte, lo que aprovechaste y lo que te ahorró (a los precios de tu comunidad). Los meses sin datos no aparecen.",
    "previous-year": "Año anterior",
    "next-year": "Año siguiente",
    "year-empty": "No se conoce tu consumo en {year}.",
    "month-col": "Mes",
    consumption: "Consumo (kWh)",
    allocated: "Tu parte (kWh)",
    "self-consumed": "Aprovechada (kWh)",
    savings: "Ahorro (€)",
    total: "Total",
    community: "Tu comunidad este mes",
    "community-intro": "Totales de todos los hogares juntos. Una cifra solo aparece si la forman al menos 5 hogares, para que no se pueda leer en ella la de nadie.",
    "c.generation_kwh": "Generación solar",
    "c.consumption_kwh": "Consumo de los hogares",
    "c.grid_independence": "Consumo no tomado de la red",
    "c.members": "Hogares que envían datos",
    withheld: "Menos de 5 hogares contribuyeron",
    data: "Tus datos",
    "data-intro": "Todo lo que tu comunidad guarda de ti, para conservarlo o llevarlo a otro sitio: tu ficha y punto de suministro, tus lecturas, el consumo de cada hora frente a tu parte, los acuerdos y tus partes a lo largo del tiempo, tu vínculo con Datadis y tus enlaces de acceso (nunca sus secretos).",
    "download-json": "Todos mis datos (JSON)",
    "download-csv": "Mis horas (CSV, para hojas de cálculo)",
    "download-readings": "Mis lecturas del contador, últimos 12 meses (CSV)",
    "scheme.equal": "la misma parte para cada hogar",
    "scheme.power": "partes según la potencia contratada",
    "scheme.investment": "partes según lo que invirtió cada hogar",
    "scheme.consumption": "partes según el consumo",
    "scheme.optimized-static": "partes fijas ajustadas al consumo de los hogares",
    "scheme.hourly-profile": "partes que cambian hora a hora",
  },
};
const t = translator(TEXTS);
const EUR = { style: "currency", currency: "EUR" };
const DAY = { dateStyle: "long", timeZone: "UTC" };
const COMMUNITY_FIGURES = ["generation_kwh", "consumption_kwh"];

/** A moment as the API takes it: UTC, to the second. */
function utc(date) {
  return date.toISOString().replace(/\.\d+Z$/, "Z");
}

/** A section of the page: its heading (`name`-title), an introduction, and what it holds. */
function card(name, title, intro, ...children) {
  return h(
    "section",
    { class: "card", "aria-labelledby": `${name}-title` },
    h("h2", { id: `${name}-title` }, title),
    intro ? h("p", { class: "intro" }, intro) : null,
    ...children,
  );
}

function euros(value) {
  return value === null ? "–" : formatNumber(value, EUR);
}

function schemeName(scheme) {
  const key = `scheme.${scheme}`;
  return t(key) === key ? scheme : t(key);
}

function tile(label, value, id) {
  return h("div", { class: "tile" }, h("p", { class: "tile-label", id }, label), h("p", { class: "tile-value", "aria-labelledby": id }, value));
}

function sourceLine(latest) {
  const when = (value) => formatDate(value, { dateStyle: "medium", timeStyle: "short" });
  if (latest.own_meter && latest.distributor) return t("source.both", { own: when(latest.own_meter) });
  if (latest.own_meter) return t("source.own_meter", { when: when(latest.own_meter) });
  if (latest.distributor) return t("source.distributor", { when: when(latest.distributor) });
  return t("source.none");
}

/** The member's coefficient this hour: today's point that holds now (null: none holds). */
function coefficientNow(today) {
  const now = Date.now();
  const point = today.points.findLast((one) => Date.parse(one.start) <= now);
  return point?.coefficient ?? null;
}

/**
 * The share now and this month, from today's figures and the year's months (the API's, where
 * the community is: today's local day names its month).
 */
function shareCard(today, months) {
  const agreement = today.agreements.at(-1) ?? null;
  const since = agreement ? formatDate(`${agreement.valid_from}T12:00:00Z`, DAY) : null;
  const coefficient = coefficientNow(today);
  const month = months.months.find((one) => one.month === today.from.slice(0, 7)) ?? { self_consumed_kwh: null, savings_eur: null };
  return card(
    "share",
    t("now"),
    null,
    h(
      "div",
      { class: "tiles" },
      tile(t("coefficient"), coefficient === null ? t("coefficient-none") : percent(coefficient), "coefficient-label"),
      tile(t("month-self"), month.self_consumed_kwh === null ? "–" : `${kwh(month.self_consumed_kwh)} kWh`, "month-self-label"),
      tile(t("month-savings"), euros(month.savings_eur), "month-savings-label"),
    ),
    months.prices === null ? h("p", { class: "hint" }, t("month-savings-none")) : null,
    h("h3", {}, t("agreement")),
    h("p", { class: "agreement-in-force" }, agreement ? t("agreement-line", { name: agreement.name, scheme: schemeName(agreement.scheme), from: since }) : t("no-agreement")),
    h("h3", {}, t("measured")),
    h("p", { class: "data-source" }, sourceLine(months.latest_reading)),
  );
}

function monthName(month) {
  return formatDate(`${month}-15T12:00:00Z`, { month: "long", timeZone: "UTC" });
}

/** The year's months with data (the others would only be rows of dashes), and their total. */
function monthsTable(found) {
  const known = found.months.filter((month) => month.hours_known > 0);
  if (known.length === 0) return h("p", { class: "empty" }, t("year-empty", { year: found.year }));
  const columns = ["consumption_kwh", "allocated_kwh", "self_consumed_kwh"];
  const numeric = (text, label) => h("td", { class: "numeric", "data-label": label }, text);
  const labels = [t("consumption"), t("allocated"), t("self-consumed"), t("savings")];
  const row = (head, figures) =>
    h("tr", {}, head, columns.map((column, index) => numeric(kwh(figures[column]), labels[index])), numeric(figures.savings_eur === null ? "–" : formatNumber(figures.savings_eur, { minimumFractionDigits: 2, maximumFractionDigits: 2 }), labels[3]));
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "region", "aria-labelledby": "year-caption" },
    h(
      "table",
      { class: "stacked" },
      h("caption", { id: "year-caption", class: "table-caption" }, String(found.year)),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("month-col")), labels.map((label) => h("th", { scope: "col", class: "numeric" }, label)))),
      h("tbody", {}, known.map((month) => row(h("th", { scope: "row" }, monthName(month.month)), month))),
      h("tfoot", {}, row(h("th", { scope: "row" }, t("total")), found.totals)),
    ),
  );
}

function yearCard(member, first) {
  const body = h("div", {});
  let year = first.year;
  const previous = h("button", { type: "button", class: "text" }, h("span", { "aria-hidden": "true" }, "‹\u00a0"), t("previous-year"));
  const next = h("button", { type: "button", class: "text", disabled: true }, t("next-year"), h("span", { "aria-hidden": "true" }, "\u00a0›"));
  const show = async (wanted) => {
    try {
      const found = wanted === first.year ? first : await api(`members/${encodeURIComponent(member)}/months?year=${wanted}`);
      year = wanted;
      next.disabled = year >= first.year;
      replace(body, monthsTable(found));
      announce(String(year));
    } catch (error) {
      replace(body, portalProblem(error));
    }
  };
  previous.addEventListener("click", () => show(year - 1));
  next.addEventListener("click", () => show(year + 1));
  replace(body, monthsTable(first));
  return card("year", t("year"), t("year-intro"), h("div", { class: "period-nav" }, previous, next), body);
}

function communityCard(kpis) {
  // A figure withheld (too few homes) says so; one that is unknown (nothing consumed) is "–".
  const shown = (name, text) => (kpis.withheld.includes(name) ? null : text);
  const rows = [
    ...COMMUNITY_FIGURES.map((name) => [name, shown(name, `${kwh(kpis[name])} kWh`)]),
    ["grid_independence", shown("grid_independence", percent(kpis.grid_independence))],
    ["members", formatNumber(kpis.members_contributing)],
  ];
  return card(
    "community",
    t("community"),
    t("community-intro"),
    h(
      "dl",
      { class: "totals community-figures" },
      rows.map(([name, value]) => h("div", {}, h("dt", {}, t(`c.${name}`)), h("dd", { class: value === null ? "withheld" : null }, value ?? t("withheld")))),
    ),
  );
}

function dataCard(member) {
  const id = encodeURIComponent(member);
  const end = new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000);
  const start = new Date(end.getTime() - 365 * 86_400_000);
  const readings = new URLSearchParams({ start: utc(start), end: utc(end) });
  const link = (href, text) => h("li", {}, h("a", { class: "button secondary", href, download: "" }, text));
  return card(
    "data",
    t("data"),
    t("data-intro"),
    h(
      "ul",
      { class: "downloads" },
      link(`api/v1/members/${id}/data.json`, t("download-json")),
      link(`api/v1/members/${id}/data.csv`, t("download-csv")),
      link(`api/v1/members/${id}/export.csv?${readings}`, t("download-readings")),
    ),
  );
}

/** The start of this month where the household is (their community's month, in Spain). */
function monthStart() {
  const now = new Date();
  return utc(new Date(now.getFullYear(), now.getMonth(), 1));
}

/** Show the signed-in member's page in `main`. */
export async function showHome(main, session) {
  const member = session.member.id;
  const id = encodeURIComponent(member);
  const now = utc(new Date());
  let found;
  try {
    found = await Promise.all([
      api(`members/${id}/energy?period=day`),
      api(`members/${id}/months`),
      api(`community/kpis?start=${monthStart()}&end=${now}`),
      energyCard(session.member, {
        intro: t("energy-intro"),
        noEnergy: t("no-energy"),
        noAgreement: t("energy-no-agreement"),
      }),
    ]);
  } catch (error) {
    replace(main, portalProblem(error));
    return;
  }
  const [today, months, kpis, energy] = found;
  replace(
    main,
    h(
      "div",
      { class: "page-header" },
      h("h1", {}, t("hello", { name: session.member.name })),
      h("p", { class: "hint link-until" }, t("link-until", { date: formatDate(session.link.expires, { dateStyle: "long" }) })),
    ),
    shareCard(today, months),
    energy,
    yearCard(member, months),
    communityCard(kpis),
    dataCard(member),
  );
}
