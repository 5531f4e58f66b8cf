// One member: their record, new credentials (rotate) or the end of their access (revoke),
// their access link to the member's portal, their consumption against their share of the
// plant (a day, month or year), how complete their data is, their meter against the
// distributor's, and their recent readings.
import { api } from "../api.js";
import { h, replace, announce } from "../dom.js";
import { formatDate, formatNumber, translator } from "../i18n.js";
import { confirm } from "../components/dialog.js";
import { emptyState } from "../components/empty.js";
import { notice, problemOf } from "../components/message.js";
import { showJoinCode } from "../components/join-code.js";
import { timeChart } from "../components/chart.js";
import { energyCard, kwh } from "../components/energy.js";
import { portalLinkCard } from "../components/portal-link.js";
import { heatCell, heatDay, heatLegend, sharePercent } from "../components/heat-map.js";
import { withMemberTexts } from "./members-texts.js";

const TEXTS = withMemberTexts({
  en: {
    back: "All members",
    record: "Record",
    rotate: "New join code",
    "rotate-title": "Give {name} a new join code?",
    "rotate-text": "Their home stops sending data until the household pastes the new code. Do it when the code was lost or may have leaked.",
    "rotate-action": "Make a new code",
    revoke: "Revoke",
    "revoke-title": "Revoke {name}?",
    "revoke-text": "Their home can no longer send data or read results. Their data is kept. This cannot be undone: to come back they are added again with a new id.",
    "revoke-action": "Revoke the member",
    "revoked-done": "{name} was revoked.",
    readings: "Grid import, last 14 days",
    "readings-summary": "Energy taken from the grid by {name} each quarter hour over the last 14 days: {count} readings, {total} kWh in all.",
    "import": "Grid import",
    "no-readings-title": "No readings from this home yet",
    "no-readings": "They appear once the household has pasted the join code in Home Assistant and its meter sends data.",
    "energy-intro": "What this member consumed against their share of the community plant's generation (their coefficient × the generation), and how much of that share they used at once.",
    "no-energy": "Nothing measured this member's consumption whole in any hour of the period. Choose another period, or check their data below.",
    "no-agreement": "No agreement was in force in this period, so nothing of the plant's generation was allocated. Adopt one on the Agreements page.",
    "go-agreements": "Go to the agreements",
    completeness: "Data completeness, last 30 days",
    "completeness-intro": "The share of each day's quarter hours present, from the member's own meter and from the distributor.",
    "completeness-summary": "Complete days: {own} of {days} from the own meter, {distributor} of {days} from the distributor.",
    "source.member": "Own meter",
    "source.distributor": "Distributor",
    source: "Source",
    cell: "{source}, {day}: {share}",
    reconciliation: "Own meter against the distributor",
    "reconciliation-intro": "Energy from the grid per month, over the hours both measured whole. A difference over 2 % is more than two meters' accuracy explains: check the meter or the supply point.",
    month: "Month",
    "own-kwh": "Own meter (kWh)",
    "distributor-kwh": "Distributor (kWh)",
    "difference-kwh": "Difference (kWh)",
    difference: "Difference",
    "hours-both": "Hours compared",
    check: "Check",
    "check-flagged": "Differs",
    "check-ok": "Agrees",
    "check-none": "Nothing to compare",
    "no-datadis-title": "Datadis is not linked for this member",
    "no-datadis": "Without the distributor's data there is nothing to compare their meter with. Ask them to authorise the community in Datadis, or upload the distributor's CSV export on the Data page.",
    "no-distributor-title": "No distributor data yet",
    "no-distributor": "Datadis is linked but has sent nothing for the last 12 months yet. Sync it on the Data page.",
    "go-data": "Go to the data",
  },
  es: {
    back: "Todos los socios",
    record: "Ficha",
    rotate: "Nuevo código de unión",
    "rotate-title": "¿Dar a {name} un nuevo código de unión?",
    "rotate-text": "Su hogar deja de enviar datos hasta que pegue el nuevo código. Hazlo si el código se perdió o puede haberse filtrado.",
    "rotate-action": "Crear un nuevo código",
    revoke: "Dar de baja",
    "revoke-title": "¿Dar de baja a {name}?",
    "revoke-text": "Su hogar ya no podrá enviar datos ni leer resultados. Sus datos se conservan. No se puede deshacer: para volver se le añade de nuevo con otro id.",
    "revoke-action": "Dar de baja al socio",
    "revoked-done": "{name} ha sido dado de baja.",
    readings: "Consumo de la red, últimos 14 días",
    "readings-summary": "Energía tomada de la red por {name} cada cuarto de hora en los últimos 14 días: {count} lecturas, {total} kWh en total.",
    "import": "Consumo de la red",
    "no-readings-title": "Todavía no hay lecturas de este hogar",
    "no-readings": "Aparecen cuando el hogar pega el código de unión en Home Assistant y su contador envía datos.",
    "energy-intro": "Lo que consumió este socio frente a su parte de la generación de la planta comunitaria (su coeficiente × la generación), y cuánto de esa parte aprovechó en el momento.",
    "no-energy": "Nada midió entero el consumo de este socio en ninguna hora del periodo. Elige otro periodo o revisa sus datos más abajo.",
    "no-agreement": "No había ningún acuerdo en vigor en este periodo, así que no se asignó nada de la generación de la planta. Adopta uno en la página de Acuerdos.",
    "go-agreements": "Ir a los acuerdos",
    completeness: "Completitud de los datos, últimos 30 días",
    "completeness-intro": "La parte de los cuartos de hora de cada día presentes, del contador propio del socio y de la distribuidora.",
    "completeness-summary": "Días completos: {own} de {days} del contador propio, {distributor} de {days} de la distribuidora.",
    "source.member": "Contador propio",
    "source.distributor": "Distribuidora",
    source: "Fuente",
    cell: "{source}, {day}: {share}",
    reconciliation: "Contador propio frente a la distribuidora",
    "reconciliation-intro": "Energía tomada de la red por mes, en las horas que ambos midieron enteras. Una diferencia de más del 2 % es más de lo que explica la precisión de dos contadores: revisa el contador o el punto de suministro.",
    month: "Mes",
    "own-kwh": "Contador propio (kWh)",
    "distributor-kwh": "Distribuidora (kWh)",
    "difference-kwh": "Diferencia (kWh)",
    difference: "Diferencia",
    "hours-both": "Horas comparadas",
    check: "Revisión",
    "check-flagged": "Difiere",
    "check-ok": "Coincide",
    "check-none": "Nada que comparar",
    "no-datadis-title": "Datadis no está vinculado para este socio",
    "no-datadis": "Sin los datos de la distribuidora no hay con qué comparar su contador. Pídele que autorice a la comunidad en Datadis, o sube el CSV exportado de la distribuidora en la página de Datos.",
    "no-distributor-title": "Todavía no hay datos de la distribuidora",
    "no-distributor": "Datadis está vinculado pero aún no ha enviado nada de los últimos 12 meses. Sincronízalo en la página de Datos.",
    "go-data": "Ir a los datos",
  },
});
const t = translator(TEXTS);
const DAY_MS = 86_400_000;
const KWH = { maximumFractionDigits: 2 };
const SOURCES = ["member", "distributor"];

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function record(member) {
  const rows = [
    ["id", member.id],
    ["name", member.name],
    ["cups", member.cups],
    ["contracted_kw", formatNumber(member.contracted_kw, { maximumFractionDigits: 2 })],
    ["investment_share", formatNumber(member.investment_share, { style: "percent", maximumFractionDigits: 1 })],
    ["plant_kw", formatNumber(member.plant_kw, { maximumFractionDigits: 2 })],
    ["created", formatDate(member.created)],
    ["status", member.revoked === null ? t("active") : t("revoked", { date: formatDate(member.revoked) })],
  ];
  return h(
    "section",
    { class: "card", "aria-labelledby": "record-title" },
    h("h2", { id: "record-title" }, t("record")),
    h("dl", { class: "record" }, rows.map(([key, value]) => [h("dt", {}, t(key)), h("dd", {}, value)])),
  );
}

// Completeness -----------------------------------------------------------------------------

async function completenessCard(member) {
  const today = new Date();
  const from = isoDay(new Date(today - 30 * DAY_MS));
  const to = isoDay(new Date(today - DAY_MS));
  const card = h("section", { class: "card", "aria-labelledby": "completeness-title" }, h("h2", { id: "completeness-title" }, t("completeness")));
  let found;
  try {
    found = await api(`completeness?from=${from}&to=${to}&member=${encodeURIComponent(member.id)}`);
  } catch (error) {
    card.append(problemOf(error));
    return card;
  }
  const { fractions } = found.members[0];
  const whole = (source) => fractions[source].filter((share) => share >= 1).length;
  const rows = SOURCES.map((source) =>
    h("tr", {}, h("th", { scope: "row" }, t(`source.${source}`)),
      found.days.map((day, index) => heatCell(fractions[source][index], (share) => t("cell", { source: t(`source.${source}`), day: formatDate(`${day}T12:00:00Z`), share })))));
  card.append(
    h("p", { class: "intro" }, t("completeness-intro")),
    h("p", {}, t("completeness-summary", { own: whole("member"), distributor: whole("distributor"), days: found.days.length })),
    h("div", { class: "table-scroll heat-map", tabindex: 0, role: "region", "aria-label": t("completeness") },
      h("table", {}, h("caption", { class: "visually-hidden" }, t("completeness")),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("source")), found.days.map(heatDay))), h("tbody", {}, rows))),
    heatLegend(),
  );
  return card;
}

// Reconciliation ---------------------------------------------------------------------------

function checkOf(month) {
  if (month.hours_both === 0) return t("check-none");
  return month.flagged ? h("span", { class: "danger-text" }, t("check-flagged")) : t("check-ok");
}

async function reconciliationCard(member) {
  const card = h("section", { class: "card", "aria-labelledby": "reconciliation-title" }, h("h2", { id: "reconciliation-title" }, t("reconciliation")));
  const now = new Date();
  const last = now.toISOString().slice(0, 7);
  const first = isoDay(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 11, 1))).slice(0, 7);
  const id = encodeURIComponent(member.id);
  let months;
  let status;
  try {
    [months, status] = await Promise.all([api(`reconciliation?from=${first}&to=${last}&member=${id}`), api("members/status")]);
  } catch (error) {
    card.append(problemOf(error));
    return card;
  }
  const datadis = status.members.find((one) => one.member === member.id)?.datadis ?? null;
  if (!months.some((month) => month.hours_distributor > 0)) {
    const [title, text] = datadis === null ? ["no-datadis-title", "no-datadis"] : ["no-distributor-title", "no-distributor"];
    card.classList.add("empty");
    card.append(h("h3", {}, t(title)), h("p", {}, t(text)), h("a", { href: "#/data" }, t("go-data")));
    return card;
  }
  const headings = ["month", "own-kwh", "distributor-kwh", "difference-kwh", "difference", "hours-both", "check"];
  card.append(
    h("p", { class: "intro" }, t("reconciliation-intro")),
    h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": t("reconciliation") },
      h("table", { class: "stacked" },
        h("caption", { class: "visually-hidden" }, t("reconciliation")),
        h("thead", {}, h("tr", {}, headings.map((key, index) => h("th", { scope: "col", class: index && index < 6 ? "numeric" : null }, t(key))))),
        h("tbody", {}, months.map((month) => {
          const cells = [
            kwh(month.member_kwh),
            kwh(month.distributor_kwh),
            formatNumber(month.difference_kwh, { ...KWH, signDisplay: "exceptZero" }),
            month.difference === null ? "–" : formatNumber(month.difference, { style: "percent", maximumFractionDigits: 1, signDisplay: "exceptZero" }),
            formatNumber(month.hours_both),
          ];
          // Each cell says what it is on a phone, where the table's head is hidden.
          return h("tr", {},
            h("th", { scope: "row" }, formatDate(`${month.month}-15T12:00:00Z`, { month: "long", year: "numeric", timeZone: "UTC" })),
            cells.map((cell, index) => h("td", { class: "numeric", "data-label": t(headings[index + 1]) }, cell)),
            h("td", { "data-label": t("check") }, checkOf(month)));
        }))),
    ),
  );
  return card;
}

// Readings ---------------------------------------------------------------------------------

async function readingsChart(member) {
  const end = new Date(Math.ceil(Date.now() / 900_000) * 900_000);
  const start = new Date(end.getTime() - 14 * DAY_MS);
  const query = new URLSearchParams({ start: start.toISOString().replace(/\.\d+Z$/, "Z"), end: end.toISOString().replace(/\.\d+Z$/, "Z") });
  const readings = (await api(`members/${encodeURIComponent(member.id)}/readings?${query}`)).filter(
    (reading) => reading.quantity === "import_kwh" && reading.meter === "grid",
  );
  if (readings.length === 0) return emptyState({ title: t("no-readings-title"), text: t("no-readings") });
  const times = readings.map((reading) => Date.parse(reading.start) / 1000);
  const values = readings.map((reading) => reading.value_kwh);
  const total = values.reduce((sum, value) => sum + value, 0);
  return timeChart({
    title: t("readings"),
    summary: t("readings-summary", { name: member.name, count: formatNumber(readings.length), total: formatNumber(total, { maximumFractionDigits: 1 }) }),
    times,
    series: [{ label: t("import"), values }],
    unit: "kWh",
  });
}

export async function render(main, params, session) {
  const member = await api(`members/${encodeURIComponent(params.id)}`);
  const canManage = session.permissions.includes("manage");
  const status = h("div", {});
  const act = async (action) => {
    const name = member.name;
    const yes = await confirm({ title: t(`${action}-title`, { name }), text: t(`${action}-text`), action: t(`${action}-action`), danger: action === "revoke" });
    if (!yes) return;
    try {
      const answer = await api(`members/${encodeURIComponent(member.id)}/${action}`, { method: "POST" });
      if (action === "rotate") {
        showJoinCode({ name, code: answer.join_code, qrSvg: answer.join_code_qr_svg });
      } else {
        await render(main, params, session);
        replace(main.querySelector(".status-area"), notice(t("revoked-done", { name })));
        announce(t("revoked-done", { name }));
      }
    } catch (error) {
      replace(status, problemOf(error));
    }
  };
  const actions =
    canManage && member.revoked === null
      ? h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "secondary", onclick: () => act("rotate") }, t("rotate")),
          h("button", { type: "button", class: "danger", onclick: () => act("revoke") }, t("revoke")),
        )
      : null;
  status.classList.add("status-area");
  const [portal, completeness, energy, reconciliation, readings] = await Promise.all([
    portalLinkCard(member, canManage),
    completenessCard(member),
    energyCard(member, {
      intro: t("energy-intro"),
      noEnergy: t("no-energy"),
      noAgreement: [t("no-agreement"), " ", h("a", { href: "#/agreements" }, t("go-agreements"))],
    }),
    reconciliationCard(member),
    readingsChart(member),
  ]);
  replace(
    main,
    h("p", { class: "breadcrumb" }, h("a", { href: "#/members" }, t("back"))),
    h("div", { class: "page-header" }, h("h1", {}, member.name), actions),
    status,
    record(member),
    portal,
    energy,
    completeness,
    reconciliation,
    readings,
  );
  // The latest days are the ones to see first.
  for (const strip of main.querySelectorAll(".heat-map")) strip.scrollLeft = strip.scrollWidth;
}
