// Control, read-only: the signal the community advises its homes with (now and its history),
// and which homes control their battery or charger locally, in which mode. Control stays at
// home: nothing here commands a device.
import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { formatDate, formatDateTime, formatNumber, translator } from "../i18n.js";
import { emptyState } from "../components/empty.js";
import { errorMessage } from "../components/message.js";
import { timeChart } from "../components/chart.js";

const TEXTS = {
  en: {
    title: "Control",
    intro: "Control stays at home: the community only advises. Every minute the aggregator sends all homes a signal; each home's own automations decide what to do with it. Here you see the signal and what the homes say they do.",
    now: "Signal now",
    "kind.surplus": "Surplus",
    "kind.normal": "Normal",
    "kind.deficit": "Deficit",
    "means.surplus": "The plant gives {balance} more than the members take from the grid. Homes with local control can charge batteries and cars now, from the community's energy.",
    "means.normal": "Generation and consumption are within {threshold} of each other. Homes go on as usual.",
    "means.deficit": "The members take {balance} more from the grid than the plant gives. Homes with local control can use their batteries and put off charging.",
    "computed-at": "Computed at {time}, valid until {until}.",
    history: "Signal history",
    period: "Period",
    "days-1": "Today",
    "days-7": "Last 7 days",
    "days-30": "Last 30 days",
    "days-365": "Last year",
    "chart-title": "The community signal, {from} to {to}",
    signal: "Signal",
    "history-summary": "{from} to {to}: surplus {surplus}, normal {normal}, deficit {deficit}; changes of the signal: {changes}.",
    "no-history": "No signal was recorded in these days: the aggregator records it from its first start with this version.",
    hours: "{hours} h",
    minutes: "{minutes} min",
    "recorded-since": "The aggregator has recorded the signal since {time}.",
    homes: "Homes' local control",
    "modes-title": "Modes in use",
    device: "Device",
    mode: "Mode",
    devices: "Devices",
    member: "Member",
    control: "Local control",
    online: "online",
    offline: "offline",
    unknown: "link not known",
    "not-reported": "Not reported",
    "nothing-local": "Nothing controlled locally",
    reported: "reported {time}",
    since: "since {time}",
    "homes-summary": "{reporting} of {members} homes report local control.",
    "empty-title": "No home reports local control yet",
    "empty-text": "Homes report it once their household enables local control of a battery or charger in the IoE Community integration in Home Assistant. Then each home's devices and modes appear here.",
    "kind-battery": "Battery",
    "kind-charger": "Charger",
    "mode.battery.native": "Native (the battery's own)",
    "mode.battery.use_my_share": "Use my share",
    "mode.battery.valley": "Valley hours",
    "mode.battery.reserve": "Reserve",
    "mode.battery.manual": "Manual",
    "mode.charger.off": "Off",
    "mode.charger.now": "Now",
    "mode.charger.surplus": "On surplus",
    "mode.charger.min_surplus": "Minimum + surplus",
    "mode.charger.plan": "Plan",
  },
  es: {
    title: "Control",
    intro: "El control se queda en casa: la comunidad solo aconseja. Cada minuto el agregador envía una señal a todos los hogares; las automatizaciones de cada hogar deciden qué hacer con ella. Aquí ves la señal y lo que los hogares dicen que hacen.",
    now: "Señal ahora",
    "kind.surplus": "Excedente",
    "kind.normal": "Normal",
    "kind.deficit": "Déficit",
    "means.surplus": "La planta da {balance} más de lo que los socios toman de la red. Los hogares con control local pueden cargar baterías y coches ahora, con la energía de la comunidad.",
    "means.normal": "La generación y el consumo están a menos de {threshold} entre sí. Los hogares siguen como siempre.",
    "means.deficit": "Los socios toman de la red {balance} más de lo que da la planta. Los hogares con control local pueden tirar de sus baterías y aplazar las cargas.",
    "computed-at": "Calculada a las {time}, válida hasta las {until}.",
    history: "Historial de la señal",
    period: "Periodo",
    "days-1": "Hoy",
    "days-7": "Últimos 7 días",
    "days-30": "Últimos 30 días",
    "days-365": "Último año",
    "chart-title": "La señal de la comunidad, del {from} al {to}",
    signal: "Señal",
    "history-summary": "Del {from} al {to}: excedente {surplus}, normal {normal}, déficit {deficit}; cambios de la señal: {changes}.",
    "no-history": "No se registró ninguna señal en estos días: el agregador la registra desde su primer arranque con esta versión.",
    hours: "{hours} h",
    minutes: "{minutes} min",
    "recorded-since": "El agregador registra la señal desde el {time}.",
    homes: "Control local de los hogares",
    "modes-title": "Modos en uso",
    device: "Equipo",
    mode: "Modo",
    devices: "Equipos",
    member: "Socio",
    control: "Control local",
    online: "conectado",
    offline: "sin conexión",
    unknown: "conexión desconocida",
    "not-reported": "Sin informar",
    "nothing-local": "Nada bajo control local",
    reported: "informado {time}",
    since: "desde {time}",
    "homes-summary": "{reporting} de {members} hogares informan de su control local.",
    "empty-title": "Ningún hogar informa todavía de control local",
    "empty-text": "Los hogares lo informan cuando activan el control local de una batería o un cargador en la integración IoE Community de Home Assistant. Entonces aparecen aquí los equipos y modos de cada hogar.",
    "kind-battery": "Batería",
    "kind-charger": "Cargador",
    "mode.battery.native": "Nativo (el de la batería)",
    "mode.battery.use_my_share": "Usar mi reparto",
    "mode.battery.valley": "Horas valle",
    "mode.battery.reserve": "Reserva",
    "mode.battery.manual": "Manual",
    "mode.charger.off": "Apagado",
    "mode.charger.now": "Ahora",
    "mode.charger.surplus": "Con excedente",
    "mode.charger.min_surplus": "Mínimo + excedente",
    "mode.charger.plan": "Planificado",
  },
};
const t = translator(TEXTS);
// The chart's levels: surplus above, deficit below.
const LEVELS = { surplus: 1, normal: 0, deficit: -1 };
const PERIODS = [1, 7, 30, 365];
const DEFAULT_DAYS = 7;

function watts(value) {
  const magnitude = Math.abs(value);
  return magnitude >= 1000
    ? `${formatNumber(magnitude / 1000, { maximumFractionDigits: 1 })} kW`
    : `${formatNumber(magnitude, { maximumFractionDigits: 0 })} W`;
}

function signalCard(control) {
  const { signal } = control;
  return h(
    "section",
    { class: `card signal signal-${signal.kind}`, "aria-labelledby": "now-title" },
    h("h2", { id: "now-title" }, t("now")),
    h("p", { class: "signal-kind" }, t(`kind.${signal.kind}`)),
    h("p", { class: "signal-means" }, t(`means.${signal.kind}`, { balance: watts(control.balance_w), threshold: watts(control.threshold_w) })),
    h("p", { class: "intro" }, t("computed-at", { time: formatDateTime(signal.ts), until: formatDateTime(signal.valid_until) })),
  );
}

/** The day (YYYY-MM-DD) `days` before `day`: calendar arithmetic, in no time zone. */
function dayBefore(day, days) {
  return new Date(Date.parse(`${day}T00:00:00Z`) - days * 86400000).toISOString().slice(0, 10);
}

/** Seconds each kind held between `start` and `end` (epoch seconds), and the steps to draw. */
function spans(history, start, end) {
  const held = { surplus: 0, normal: 0, deficit: 0 };
  const times = [];
  const values = [];
  history.forEach((change, index) => {
    const from = Math.max(Date.parse(change.start) / 1000, start);
    const next = index + 1 < history.length ? Date.parse(history[index + 1].start) / 1000 : end;
    held[change.kind] += Math.max(Math.min(next, end) - from, 0);
    times.push(from);
    values.push(LEVELS[change.kind]);
  });
  // The last kind holds until now: its step is drawn to the end.
  if (history.length) {
    times.push(end);
    values.push(values[values.length - 1]);
  }
  return { held, times, values };
}

function duration(seconds) {
  return seconds < 3600
    ? t("minutes", { minutes: formatNumber(Math.round(seconds / 60)) })
    : t("hours", { hours: formatNumber(seconds / 3600, { maximumFractionDigits: 1 }) });
}

function historyChart(control) {
  const { history } = control;
  const day = (text) => formatDate(`${text}T12:00:00Z`, { dateStyle: "medium", timeZone: "UTC" });
  const dates = { from: day(control.from), to: day(control.to) };
  if (history.length === 0) return h("p", {}, t("no-history"));
  const start = Date.parse(control.start) / 1000;
  const end = Math.min(Date.parse(control.at), Date.parse(control.end)) / 1000;
  const { held, times, values } = spans(history, start, end);
  const changes = history.filter((change, index) => index > 0 && change.kind !== history[index - 1].kind).length;
  const summary = t("history-summary", { ...dates, surplus: duration(held.surplus), normal: duration(held.normal), deficit: duration(held.deficit), changes: formatNumber(changes) });
  const first = Date.parse(history[0].start) / 1000;
  const chart = timeChart({
    title: t("chart-title", dates),
    summary,
    times,
    series: [{ label: t("signal"), values }],
    levels: Object.entries(LEVELS).map(([kind, value]) => ({ value, label: t(`kind.${kind}`) })),
    span: [start, end],
  });
  // Said in words too: a signal recorded for a few minutes is a line too short to see.
  return [chart, h("p", { class: "intro" }, summary, first > start ? [" ", t("recorded-since", { time: formatDateTime(first * 1000) })] : null)];
}

function historySection(control, days, reload) {
  const select = h(
    "select",
    { id: "history-days", onchange: () => reload(Number(select.value)) },
    PERIODS.map((period) => h("option", { value: period, selected: period === days }, t(`days-${period}`))),
  );
  return h(
    "section",
    { "aria-labelledby": "history-title" },
    h("h2", { id: "history-title" }, t("history")),
    h("div", { class: "filters" }, h("div", { class: "field" }, h("label", { for: "history-days" }, t("period")), select)),
    h("div", { id: "history-body" }, historyChart(control)),
  );
}

function modeName(device) {
  return t(`mode.${device.kind}.${device.mode}`);
}

function modesTable(reporting) {
  const counts = new Map();
  for (const home of reporting)
    for (const device of home.control.devices) {
      const key = `${device.kind}.${device.mode}`;
      counts.set(key, { device, count: (counts.get(key)?.count ?? 0) + 1 });
    }
  if (counts.size === 0) return null;
  const rows = [...counts.values()].sort((a, b) => b.count - a.count);
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "region", "aria-labelledby": "modes-heading" },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("device")), h("th", { scope: "col" }, t("mode")), h("th", { scope: "col", class: "numeric" }, t("devices")))),
      h(
        "tbody",
        {},
        rows.map(({ device, count }) =>
          h("tr", {}, h("td", {}, t(`kind-${device.kind}`)), h("th", { scope: "row" }, modeName(device)), h("td", { class: "numeric" }, formatNumber(count))),
        ),
      ),
    ),
  );
}

function controlCell(control) {
  if (control === null) return h("td", { class: "muted" }, t("not-reported"));
  if (control.devices.length === 0) return h("td", {}, t("nothing-local"), h("div", { class: "hint" }, t("reported", { time: formatDateTime(control.reported_at) })));
  return h(
    "td",
    {},
    h(
      "ul",
      { class: "devices" },
      control.devices.map((device) =>
        h(
          "li",
          {},
          h("span", { class: "badge" }, t(`kind-${device.kind}`)),
          " ",
          h("strong", {}, modeName(device)),
          h("span", { class: "hint" }, ` · ${device.id}`, device.since ? ` · ${t("since", { time: formatDateTime(device.since) })}` : null),
        ),
      ),
    ),
    h("div", { class: "hint" }, t("reported", { time: formatDateTime(control.reported_at) })),
  );
}

function homesTable(members) {
  const link = (online) => (online === null ? t("unknown") : online ? t("online") : t("offline"));
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "region", "aria-labelledby": "homes-title" },
    h(
      "table",
      { class: "homes" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("member")), h("th", { scope: "col" }, t("control")))),
      h(
        "tbody",
        {},
        members.map((home) =>
          h(
            "tr",
            {},
            h(
              "th",
              { scope: "row" },
              h("a", { href: `#/members/${encodeURIComponent(home.member)}` }, home.name),
              h("div", { class: "hint" }, home.member, " · ", h("span", { class: `badge${home.online ? " active" : ""}` }, link(home.online))),
            ),
            controlCell(home.control),
          ),
        ),
      ),
    ),
  );
}

function homesSection(members) {
  const reporting = members.filter((home) => home.control !== null);
  const title = h("h2", { id: "homes-title" }, t("homes"));
  if (reporting.length === 0) return h("section", { "aria-labelledby": "homes-title" }, title, emptyState({ title: t("empty-title"), text: t("empty-text") }));
  return h(
    "section",
    { "aria-labelledby": "homes-title" },
    title,
    h("p", { class: "intro" }, t("homes-summary", { reporting: formatNumber(reporting.length), members: formatNumber(members.length) })),
    h("section", { class: "card", "aria-labelledby": "modes-heading" }, h("h3", { id: "modes-heading" }, t("modes-title")), modesTable(reporting) ?? h("p", {}, t("nothing-local"))),
    h("section", { class: "card" }, homesTable(members)),
  );
}

export async function render(main) {
  // The API's default: the last week, to today in the community's time zone.
  const control = await api("control");
  const reload = async (days) => {
    const body = main.querySelector("#history-body");
    try {
      replace(body, historyChart(await api(`control?from=${dayBefore(control.to, days - 1)}&to=${control.to}`)));
    } catch (error) {
      replace(body, errorMessage(error.describe?.() ?? String(error)));
    }
  };
  replace(
    main,
    h("h1", {}, t("title")),
    h("p", { class: "intro" }, t("intro")),
    signalCard(control),
    historySection(control, DEFAULT_DAYS, reload),
    homesSection(control.members),
  );
}
