// One member: their record, new credentials (rotate) or the end of their access (revoke),
// and their recent readings. Their figures (share, completeness, Datadis) come later.
import { api, ApiError } from "../api.js";
import { h, replace, announce } from "../dom.js";
import { formatDate, formatNumber, translator } from "../i18n.js";
import { confirm } from "../components/dialog.js";
import { emptyState } from "../components/empty.js";
import { errorMessage, notice } from "../components/message.js";
import { showJoinCode } from "../components/join-code.js";
import { timeChart } from "../components/chart.js";
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
    figures: "Share and completeness",
    "figures-later": "This member's share of the community's generation, their data completeness and the Datadis comparison will appear here.",
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
    figures: "Reparto y completitud",
    "figures-later": "Aquí aparecerán la parte de la generación de la comunidad de este socio, la completitud de sus datos y la comparación con Datadis.",
  },
});
const t = translator(TEXTS);
const DAY_MS = 86_400_000;

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
      replace(status, errorMessage(error instanceof ApiError ? error.describe() : String(error)));
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
  replace(
    main,
    h("p", { class: "breadcrumb" }, h("a", { href: "#/members" }, t("back"))),
    h("div", { class: "page-header" }, h("h1", {}, member.name), actions),
    status,
    h("div", { class: "columns" }, record(member), h("section", { class: "card empty", "aria-labelledby": "figures-title" }, h("h2", { id: "figures-title" }, t("figures")), h("p", {}, t("figures-later")))),
    await readingsChart(member),
  );
}
