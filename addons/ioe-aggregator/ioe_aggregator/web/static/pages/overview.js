// The community at a glance: its energy now, today and this month, who is online, what needs
// the manager's attention (alerts, data gaps, Datadis).
import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { formatDateTime, formatNumber, formatDate, translator } from "../i18n.js";
import { emptyState } from "../components/empty.js";

const TEXTS = {
  en: {
    title: "Overview",
    now: "Now",
    "now-at": "The community's state at {time}",
    generation: "Plant generation",
    consumption: "Members' consumption",
    import: "From the grid",
    export: "To the grid",
    "self-consumed": "Generation used in the community",
    flow: "Power flow now",
    "flow-text": "The plant gives {generation}; the members take {consumption}: {import} from the grid, {export} to it.",
    today: "Today",
    month: "This month",
    figure: "Figure",
    consumption_kwh: "Members' consumption",
    generation_kwh: "Plant generation",
    import_kwh: "From the grid",
    export_kwh: "To the grid",
    grid_independence: "Consumption not taken from the grid",
    members: "Members",
    online: "online",
    offline: "offline",
    "members-text": "{online} of {active} members online now",
    alerts: "Needs attention",
    "no-alerts": "Nothing needs your attention.",
    "alert.member_silent": "no reading since {since}.",
    "alert.outbox_backlog": "the home has had data waiting to be sent since {since}.",
    "alert.datadis_login_refused": "Datadis refused the community's login ({since}): check the user and password in the add-on's options.",
    gaps: "Data gaps yesterday ({day})",
    "no-gaps": "Every member's meter sent every quarter hour yesterday.",
    datadis: "Datadis",
    "datadis-off": "Not configured: set the manager's Datadis user and password in the add-on's options to fill members' gaps from the distributors.",
    "datadis-text": "{authorised} of {linked} linked members authorised; last sync {last}.",
    "datadis-running": "A sync is running.",
    never: "never",
    "empty-title": "No members yet",
    "empty-text": "A community starts with its members: add the first one and give them their join code.",
    "add-first": "Add the first member",
    "see-data": "See the data",
  },
  es: {
    title: "Resumen",
    now: "Ahora",
    "now-at": "Estado de la comunidad a las {time}",
    generation: "Generación de la planta",
    consumption: "Consumo de los socios",
    import: "De la red",
    export: "A la red",
    "self-consumed": "Generación aprovechada en la comunidad",
    flow: "Flujo de potencia ahora",
    "flow-text": "La planta da {generation}; los socios toman {consumption}: {import} de la red, {export} a la red.",
    today: "Hoy",
    month: "Este mes",
    figure: "Magnitud",
    consumption_kwh: "Consumo de los socios",
    generation_kwh: "Generación de la planta",
    import_kwh: "De la red",
    export_kwh: "A la red",
    grid_independence: "Consumo no tomado de la red",
    members: "Socios",
    online: "conectados",
    offline: "sin conexión",
    "members-text": "{online} de {active} socios conectados ahora",
    alerts: "Requiere atención",
    "no-alerts": "Nada requiere tu atención.",
    "alert.member_silent": "sin lecturas desde {since}.",
    "alert.outbox_backlog": "el hogar tiene datos pendientes de enviar desde {since}.",
    "alert.datadis_login_refused": "Datadis rechazó el acceso de la comunidad ({since}): revisa el usuario y la contraseña en las opciones del complemento.",
    gaps: "Huecos de datos ayer ({day})",
    "no-gaps": "El contador de cada socio envió todos los cuartos de hora de ayer.",
    datadis: "Datadis",
    "datadis-off": "Sin configurar: indica el usuario y la contraseña de Datadis de la gestora en las opciones del complemento para rellenar los huecos con los datos de las distribuidoras.",
    "datadis-text": "{authorised} de {linked} socios enlazados han dado autorización; última sincronización: {last}.",
    "datadis-running": "Hay una sincronización en marcha.",
    never: "nunca",
    "empty-title": "Todavía no hay socios",
    "empty-text": "Una comunidad empieza por sus socios: añade el primero y dale su código de unión.",
    "add-first": "Añadir el primer socio",
    "see-data": "Ver los datos",
  },
};
const t = translator(TEXTS);
const ENERGY = ["consumption_kwh", "generation_kwh", "import_kwh", "export_kwh"];

function watts(value) {
  return value >= 1000
    ? `${formatNumber(value / 1000, { maximumFractionDigits: 1 })} kW`
    : `${formatNumber(value, { maximumFractionDigits: 0 })} W`;
}

function tile(label, value, extra = null) {
  return h("div", { class: "card tile" }, h("p", { class: "tile-label" }, label), h("p", { class: "tile-value" }, value), extra);
}

function nowSection(now) {
  const share = `${formatNumber(now.self_consumed_share * 100, { maximumFractionDigits: 0 })} %`;
  const values = {
    generation: watts(now.generation_w),
    consumption: watts(now.consumption_w),
    import: watts(now.import_w),
    export: watts(now.export_w),
  };
  return h(
    "section",
    { "aria-labelledby": "now-title" },
    h("h2", { id: "now-title" }, t("now")),
    h("p", { class: "intro" }, t("now-at", { time: formatDateTime(now.at) })),
    h(
      "div",
      { class: "tiles" },
      tile(t("generation"), values.generation),
      tile(t("consumption"), values.consumption),
      tile(t("import"), values.import),
      tile(t("export"), values.export),
      tile(t("self-consumed"), share, h("meter", { min: 0, max: 1, value: now.self_consumed_share, "aria-label": t("self-consumed") })),
    ),
    h("p", { class: "flow-text" }, h("strong", {}, `${t("flow")}: `), t("flow-text", values)),
  );
}

function energyTable(today, month) {
  const kwh = (value) => (value === null ? "—" : `${formatNumber(value, { maximumFractionDigits: 1 })} kWh`);
  const share = (value) => (value === null ? "—" : `${formatNumber(value * 100, { maximumFractionDigits: 0 })} %`);
  const row = (key, format) =>
    h("tr", {}, h("th", { scope: "row" }, t(key)), h("td", { class: "numeric" }, format(today[key])), h("td", { class: "numeric" }, format(month[key])));
  return h(
    "section",
    { class: "card", "aria-labelledby": "energy-title" },
    h("h2", { id: "energy-title" }, `${t("today")} · ${t("month")}`),
    h(
      "div",
      { class: "table-scroll", tabindex: 0, role: "region", "aria-labelledby": "energy-title" },
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("figure")), h("th", { scope: "col", class: "numeric" }, t("today")), h("th", { scope: "col", class: "numeric" }, t("month")))),
        h("tbody", {}, ENERGY.map((key) => row(key, kwh)), row("grid_independence", share)),
      ),
    ),
  );
}

function alertsCard(alerts) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "alerts-title" },
    h("h2", { id: "alerts-title" }, t("alerts")),
    alerts.length === 0
      ? h("p", {}, t("no-alerts"))
      : h(
          "ul",
          { class: "alerts" },
          alerts.map((alert) =>
            h(
              "li",
              { class: "message error" },
              alert.member ? [h("a", { href: `#/members/${encodeURIComponent(alert.member)}` }, alert.member), ": "] : null,
              t(`alert.${alert.kind}`, { since: formatDateTime(alert.since) }),
            ),
          ),
        ),
  );
}

function membersCard(members, gaps) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "members-title" },
    h("h2", { id: "members-title" }, t("members")),
    h("p", {}, t("members-text", members)),
    h("h3", {}, t("gaps", { day: formatDate(`${gaps.day}T12:00:00Z`) })),
    gaps.members.length === 0
      ? h("p", {}, t("no-gaps"))
      : h("ul", { class: "inline-list" }, gaps.members.map((id) => h("li", {}, h("a", { href: `#/members/${encodeURIComponent(id)}` }, id)))),
    h("p", {}, h("a", { href: "#/data" }, t("see-data"))),
  );
}

function datadisCard(datadis) {
  let text;
  if (!datadis.configured) text = t("datadis-off");
  else
    text = t("datadis-text", {
      authorised: datadis.members_authorised,
      linked: datadis.members_linked,
      last: datadis.last_sync ? formatDateTime(datadis.last_sync) : t("never"),
    });
  return h(
    "section",
    { class: "card", "aria-labelledby": "datadis-title" },
    h("h2", { id: "datadis-title" }, t("datadis")),
    h("p", {}, text),
    datadis.running ? h("p", { role: "status" }, t("datadis-running")) : null,
  );
}

export async function render(main, _params, session) {
  const members = await api("members");
  if (members.length === 0) {
    const canAdd = session.permissions.includes("manage");
    replace(
      main,
      h("h1", {}, t("title")),
      emptyState({
        title: t("empty-title"),
        text: t("empty-text"),
        action: canAdd ? h("a", { class: "button primary", href: "#/members?add" }, t("add-first")) : null,
      }),
    );
    return;
  }
  const overview = await api("community/overview");
  replace(
    main,
    h("h1", {}, t("title")),
    overview.alerts.length ? alertsCard(overview.alerts) : null,
    overview.now ? nowSection(overview.now) : null,
    energyTable(overview.today, overview.month),
    h("div", { class: "columns" }, membersCard(overview.members, overview.data_gaps), datadisCard(overview.datadis), overview.alerts.length ? null : alertsCard([])),
  );
}
