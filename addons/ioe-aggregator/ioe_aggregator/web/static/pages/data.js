// The community's data: how complete each member's is (member × day), distributors' files
// uploaded with their line-by-line report, Datadis synced now, each member's month for the
// billing platform (per tariff period, as CSV or JSON), a member's readings as CSV.
import { api, ApiError } from "../api.js";
import { h, replace, announce } from "../dom.js";
import { formatDate, formatDateTime, formatNumber, translator } from "../i18n.js";
import { errorMessage, notice } from "../components/message.js";
import { heatCell, heatDay, heatLegend } from "../components/heat-map.js";

const TEXTS = {
  en: {
    title: "Data",
    completeness: "Completeness",
    "completeness-intro": "The share of each day's quarter hours each member's data covers. Darker is more complete; an empty cell is a day with nothing.",
    from: "From",
    to: "To",
    show: "Show",
    source: "Data of",
    "source.member": "the member's own meter",
    "source.distributor": "the distributor",
    member: "Member",
    cell: "{member}, {day}: {share}",
    "no-members": "No members yet: their data appears here once they send it.",
    upload: "Upload a distributor's file",
    "upload-intro": "A CSV export from the distributor's website or Datadis: each supply point's readings go to the member with that CUPS. Drop it here or choose it.",
    choose: "Choose a file",
    drop: "Drop a CSV file here",
    uploading: "Uploading {name}…",
    report: "{file}: {rows} intervals read ({format})",
    "report-months": "Stored",
    "report-errors": "Lines not read ({count})",
    line: "Line",
    reason: "Reason",
    "reason.of-day": "{cups} on {day}: {reason} (lines {lines})",
    "reason.not_a_date": "“{text}” is not a date (expected dd/mm/yyyy or yyyy/mm/dd)",
    "reason.not_a_calendar_day": "“{text}” is not a day of the calendar",
    "reason.not_a_number": "“{text}” is not a number",
    "reason.not_an_energy": "“{text}” is not an energy (a number of at least 0)",
    "reason.not_a_quality": "“{text}” is not a way of obtaining a value (expected R/E or Real/Estimada)",
    "reason.not_a_season": "“{text}” is not a season flag (expected 1 for summer or 0 for winter)",
    "reason.not_a_cups": "“{text}” is not a CUPS",
    "reason.wrong_field_count": "Expected {expected} fields separated by “;”, found {got}",
    "reason.no_energy": "The line has no energy value",
    "reason.line_too_long": "The line is longer than {max_bytes} bytes",
    "reason.not_an_hour": "“{text}” is not an hour (expected HH:MM or an hour number)",
    "reason.not_a_time_of_day": "“{text}” is not a time of day",
    "reason.past_end_of_day": "“{text}” is past the end of {day}",
    "reason.past_day_length": "{label} is past the end of {day} ({hours} hours)",
    "reason.not_an_interval_end": "{label} on {day} does not end a {minutes}-minute interval",
    "reason.not_on_the_clock": "{label} does not exist on the clock on {day}",
    "reason.appears_twice": "{label} appears twice on {day}",
    "reason.too_many_values": "{count} values for at most {intervals} intervals",
    "reason.day_not_placed": "Not read: its day, {day}, could not be placed",
    "reason.unreadable": "Not read: {detail}",
    month: "Month",
    intervals: "Intervals",
    new: "New",
    changed: "Changed",
    unknown: "Supply points of no member: {list}",
    datadis: "Datadis",
    "datadis-off": "Not configured: set the manager's Datadis user and password in the add-on's options.",
    "datadis-last": "Last sync: {when}.",
    "datadis-never": "No sync yet.",
    "datadis-members": "{authorised} of {count} linked members authorised.",
    "sync-now": "Sync now",
    "sync-started": "The sync has started; it runs in the background.",
    running: "A sync is running.",
    export: "A member's readings as CSV",
    "export-intro": "Every reading of a member in a period, as a spreadsheet opens it. Each export is written to the audit log.",
    download: "Download",
    billing: "Billing",
    "billing-intro": "Each member's month for the billing platform: energy per tariff period (P1, P2, P3 of 2.0TD), the coefficient applied and the surplus compensation, with which source measured it. The CSV opens in a Spanish spreadsheet as it is. Each download is written to the audit log.",
    "file-language": "Headings in",
    "lang.es": "Spanish",
    "lang.en": "English",
    "download-csv": "Download CSV",
    "download-json": "Download JSON",
    "billing-table": "Each member's month",
    consumption: "Consumption",
    "from-grid": "From the grid",
    "self-consumed": "Used of its share",
    surplus: "Surplus",
    compensation: "Compensation",
    "measured-by": "Measured by",
    "measured.own_meter": "own meter",
    "measured.distributor": "distributor",
    "measured.both": "both",
    "measured.none": "no data",
    hours: "Hours known",
    "hours-of": "{known} of {hours}",
    "billing-under-way": "The month is under way: its figures grow until it ends.",
    "billing-no-prices": "No prices for this month: set them in the add-on's options, or have the billing platform post them by period. Until then there is no compensation.",
    "billing-cap": "Without the energy term's price (for some days or all), the compensation is capped at the whole import price, which overstates it.",
  },
  es: {
    title: "Datos",
    completeness: "Completitud",
    "completeness-intro": "La parte de los cuartos de hora de cada día que cubren los datos de cada socio. Más oscuro es más completo; una celda vacía es un día sin nada.",
    from: "Desde",
    to: "Hasta",
    show: "Mostrar",
    source: "Datos de",
    "source.member": "el contador del socio",
    "source.distributor": "la distribuidora",
    member: "Socio",
    cell: "{member}, {day}: {share}",
    "no-members": "Todavía no hay socios: sus datos aparecen aquí cuando los envíen.",
    upload: "Subir un fichero de la distribuidora",
    "upload-intro": "Un CSV exportado de la web de la distribuidora o de Datadis: las lecturas de cada punto de suministro van al socio con ese CUPS. Suéltalo aquí o elígelo.",
    choose: "Elegir un fichero",
    drop: "Suelta aquí un fichero CSV",
    uploading: "Subiendo {name}…",
    report: "{file}: {rows} intervalos leídos ({format})",
    "report-months": "Guardado",
    "report-errors": "Líneas no leídas ({count})",
    line: "Línea",
    reason: "Motivo",
    "reason.of-day": "{cups}, {day}: {reason} (líneas {lines})",
    "reason.not_a_date": "«{text}» no es una fecha (se espera dd/mm/aaaa o aaaa/mm/dd)",
    "reason.not_a_calendar_day": "«{text}» no es un día del calendario",
    "reason.not_a_number": "«{text}» no es un número",
    "reason.not_an_energy": "«{text}» no es una energía (un número igual o mayor que 0)",
    "reason.not_a_quality": "«{text}» no es un método de obtención (se espera R/E o Real/Estimada)",
    "reason.not_a_season": "«{text}» no indica verano o invierno (se espera 1 para verano o 0 para invierno)",
    "reason.not_a_cups": "«{text}» no es un CUPS",
    "reason.wrong_field_count": "Se esperaban {expected} campos separados por «;» y hay {got}",
    "reason.no_energy": "La línea no tiene ningún valor de energía",
    "reason.line_too_long": "La línea tiene más de {max_bytes} bytes",
    "reason.not_an_hour": "«{text}» no es una hora (se espera HH:MM o un número de hora)",
    "reason.not_a_time_of_day": "«{text}» no es una hora del día",
    "reason.past_end_of_day": "«{text}» queda fuera del día {day}",
    "reason.past_day_length": "{label} queda fuera del día {day} (de {hours} horas)",
    "reason.not_an_interval_end": "{label} no cierra un intervalo de {minutes} minutos el día {day}",
    "reason.not_on_the_clock": "{label} no existe en el reloj el día {day}",
    "reason.appears_twice": "{label} aparece dos veces el día {day}",
    "reason.too_many_values": "{count} valores para {intervals} intervalos como mucho",
    "reason.day_not_placed": "No leída: su día, {day}, no ha podido encajarse en el horario",
    "reason.unreadable": "No leída (el motivo, en inglés: {detail})",
    month: "Mes",
    intervals: "Intervalos",
    new: "Nuevos",
    changed: "Cambiados",
    unknown: "Puntos de suministro de ningún socio: {list}",
    datadis: "Datadis",
    "datadis-off": "Sin configurar: indica el usuario y la contraseña de Datadis de la gestora en las opciones del complemento.",
    "datadis-last": "Última sincronización: {when}.",
    "datadis-never": "Todavía no se ha sincronizado.",
    "datadis-members": "{authorised} de {count} socios enlazados han dado autorización.",
    "sync-now": "Sincronizar ahora",
    "sync-started": "La sincronización ha empezado; sigue en segundo plano.",
    running: "Hay una sincronización en marcha.",
    export: "Las lecturas de un socio en CSV",
    "export-intro": "Todas las lecturas de un socio en un periodo, tal como las abre una hoja de cálculo. Cada exportación queda en el registro de auditoría.",
    download: "Descargar",
    billing: "Facturación",
    "billing-intro": "El mes de cada socio para la plataforma de facturación: la energía por periodo tarifario (P1, P2, P3 del 2.0TD), el coeficiente aplicado y la compensación de excedentes, con la fuente que la midió. El CSV se abre tal cual en una hoja de cálculo en español. Cada descarga queda en el registro de auditoría.",
    "file-language": "Encabezados en",
    "lang.es": "español",
    "lang.en": "inglés",
    "download-csv": "Descargar CSV",
    "download-json": "Descargar JSON",
    "billing-table": "El mes de cada socio",
    consumption: "Consumo",
    "from-grid": "De la red",
    "self-consumed": "Aprovechada de su parte",
    surplus: "Excedente",
    compensation: "Compensación",
    "measured-by": "Medido por",
    "measured.own_meter": "contador propio",
    "measured.distributor": "distribuidora",
    "measured.both": "ambos",
    "measured.none": "sin datos",
    hours: "Horas conocidas",
    "hours-of": "{known} de {hours}",
    "billing-under-way": "El mes está en curso: sus cifras crecen hasta que termine.",
    "billing-no-prices": "No hay precios para este mes: ponlos en las opciones del complemento o que la plataforma de facturación los publique por periodo. Hasta entonces no hay compensación.",
    "billing-cap": "Sin el precio del término de energía (algunos días o todos), la compensación se limita al precio completo de la energía importada, lo que la sobrestima.",
  },
};
const t = translator(TEXTS);
const DAY_MS = 86_400_000;

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function problemOf(error) {
  return errorMessage(error instanceof ApiError ? error.describe() : String(error));
}

function dateField(id, label, value) {
  const input = h("input", { id, type: "date", value, required: true });
  return [h("div", { class: "field" }, h("label", { for: id }, label), input), input];
}

// Completeness ---------------------------------------------------------------------------

async function completenessCard() {
  const card = h("section", { class: "card", "aria-labelledby": "completeness-title" });
  const today = new Date();
  const [fromField, from] = dateField("completeness-from", t("from"), isoDay(new Date(today - 30 * DAY_MS)));
  const [toField, to] = dateField("completeness-to", t("to"), isoDay(new Date(today - DAY_MS)));
  const source = h("select", { id: "completeness-source" },
    ["member", "distributor"].map((one) => h("option", { value: one }, t(`source.${one}`))));
  const body = h("div", {});
  const status = h("div", {});

  async function draw() {
    replace(status);
    let found;
    try {
      found = await api(`completeness?from=${from.value}&to=${to.value}`);
    } catch (error) {
      replace(status, problemOf(error));
      return;
    }
    if (found.members.length === 0) {
      replace(body, h("p", {}, t("no-members")));
      return;
    }
    const days = found.days;
    const heading = h("tr", {}, h("th", { scope: "col" }, t("member")), days.map(heatDay));
    const rows = found.members.map((row) =>
      h("tr", {}, h("th", { scope: "row" }, h("a", { href: `#/members/${encodeURIComponent(row.member)}` }, row.member)),
        days.map((day, index) => heatCell(row.fractions[source.value][index], (share) => t("cell", { member: row.member, day: formatDate(`${day}T12:00:00Z`), share })))));
    replace(
      body,
      h("div", { class: "table-scroll heat-map", tabindex: 0, role: "region", "aria-label": t("completeness") },
        h("table", {}, h("caption", { class: "visually-hidden" }, `${t("completeness")}: ${t(`source.${source.value}`)}`),
          h("thead", {}, heading), h("tbody", {}, rows))),
      heatLegend(),
    );
  }
  const form = h("form", { class: "filters" }, fromField, toField,
    h("div", { class: "field" }, h("label", { for: "completeness-source" }, t("source")), source),
    h("div", { class: "field field-button" }, h("button", { type: "submit", class: "secondary" }, t("show"))));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    draw();
  });
  source.addEventListener("change", draw);
  replace(card, h("h2", { id: "completeness-title" }, t("completeness")), h("p", { class: "intro" }, t("completeness-intro")), form, status, body);
  await draw();
  return card;
}

// Upload ---------------------------------------------------------------------------------

/** A line's reason in the reader's language, from its code and parameters; else its message. */
function reasonOf(error) {
  const key = `reason.${error.code}`;
  if (!error.code || !(key in TEXTS.en)) return error.message;
  const params = {};
  for (const [name, value] of Object.entries(error.params ?? {})) {
    params[name] = name === "day" ? formatDate(`${value}T12:00:00Z`) : typeof value === "number" ? formatNumber(value) : value;
  }
  const reason = t(key, params);
  return "lines" in params ? t("reason.of-day", { ...params, reason }) : reason;
}

function reportOf(report) {
  const months = report.months.length
    ? h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": t("report-months") },
        h("table", {}, h("caption", {}, t("report-months")),
          h("thead", {}, h("tr", {}, ["member", "month", "intervals", "new", "changed"].map((key) => h("th", { scope: "col" }, t(key))))),
          h("tbody", {}, report.months.map((month) => h("tr", {}, h("td", {}, month.member), h("td", {}, month.month),
            h("td", { class: "numeric" }, formatNumber(month.intervals)), h("td", { class: "numeric" }, formatNumber(month.new)),
            h("td", { class: "numeric" }, formatNumber(month.changed)))))))
    : null;
  const errors = report.errors_total
    ? h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": t("report-errors", { count: report.errors_total }) },
        h("table", { class: "line-errors" }, h("caption", {}, t("report-errors", { count: report.errors_total })),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("line")), h("th", { scope: "col" }, t("reason")))),
          h("tbody", {}, report.errors.map((error) => h("tr", {}, h("td", { class: "numeric" }, error.line), h("td", {}, reasonOf(error)))))))
    : null;
  const unknown = Object.keys(report.unknown_cups ?? {});
  return h("div", { class: "upload-report" },
    (report.errors_total ? errorMessage : notice)(t("report", { file: report.file, rows: formatNumber(report.rows), format: report.format })),
    unknown.length ? h("p", {}, t("unknown", { list: unknown.join(", ") })) : null,
    months, errors);
}

function uploadCard() {
  const status = h("div", { "aria-live": "polite" });
  const input = h("input", { id: "upload-file", type: "file", accept: ".csv,text/csv", class: "visually-hidden" });
  const zone = h("label", { for: "upload-file", class: "drop-zone" }, h("span", { class: "button secondary" }, t("choose")), h("span", {}, t("drop")));

  async function send(file) {
    replace(status, notice(t("uploading", { name: file.name })));
    try {
      const report = await api(`distributor/csv?name=${encodeURIComponent(file.name)}`, { method: "POST", file });
      replace(status, reportOf(report));
      announce(t("report", { file: report.file, rows: report.rows, format: report.format }));
    } catch (error) {
      replace(status, problemOf(error));
    }
  }
  input.addEventListener("change", () => input.files[0] && send(input.files[0]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const file = event.dataTransfer?.files[0];
    if (file) send(file);
  });
  return h("section", { class: "card", "aria-labelledby": "upload-title" },
    h("h2", { id: "upload-title" }, t("upload")), h("p", { class: "intro" }, t("upload-intro")), input, zone, status);
}

// Datadis ---------------------------------------------------------------------------------

async function datadisCard(canManage) {
  const card = h("section", { class: "card", "aria-labelledby": "datadis-title" });
  const status = h("div", {});
  async function draw() {
    const datadis = await api("datadis");
    const button = h("button", { type: "button", class: "secondary", disabled: Boolean(datadis.running) }, t("sync-now"));
    button.addEventListener("click", async () => {
      try {
        await api("datadis/sync", { method: "POST" });
        replace(status, notice(t("sync-started")));
        await draw();
      } catch (error) {
        replace(status, problemOf(error));
      }
    });
    const lines = datadis.configured
      ? [
          h("p", {}, datadis.last_sync ? t("datadis-last", { when: formatDateTime(datadis.last_sync.finished_at ?? datadis.last_sync.started_at) }) : t("datadis-never")),
          h("p", {}, t("datadis-members", { authorised: datadis.members.filter((m) => m.authorised).length, count: datadis.members.length })),
          datadis.running ? h("p", { role: "status" }, t("running")) : null,
        ]
      : [h("p", {}, t("datadis-off"))];
    replace(card, h("div", { class: "page-header" }, h("h2", { id: "datadis-title" }, t("datadis")), datadis.configured && canManage ? button : null), status, lines);
  }
  await draw();
  return card;
}

// Billing ----------------------------------------------------------------------------------

const KWH = { maximumFractionDigits: 1 };
const EUR = { style: "currency", currency: "EUR" };

function lastMonth() {
  const today = new Date();
  const first = new Date(Date.UTC(today.getFullYear(), today.getMonth() - 1, 1));
  return first.toISOString().slice(0, 7);
}

function billingTable(found) {
  const headings = [["member", false], ["consumption", true], ["from-grid", true], ["self-consumed", true], ["surplus", true], ["compensation", true], ["measured-by", false], ["hours", true]];
  const kwh = (value) => (value === null ? "–" : `${formatNumber(value, KWH)} kWh`);
  return h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": t("billing-table") },
    h("table", { class: "stacked" },
      h("caption", { class: "visually-hidden" }, t("billing-table")),
      h("thead", {}, h("tr", {}, headings.map(([key, numeric]) => h("th", { scope: "col", class: numeric ? "numeric" : null }, t(key))))),
      h("tbody", {}, found.members.map((bill) => {
        const total = bill.total;
        const cells = [
          kwh(total.consumption_kwh),
          kwh(total.import_kwh),
          kwh(total.self_consumed_kwh),
          kwh(total.surplus_kwh),
          total.compensation_eur === null ? "–" : formatNumber(total.compensation_eur, EUR),
        ];
        return h("tr", {},
          h("th", { scope: "row" }, h("a", { href: `#/members/${encodeURIComponent(bill.member)}` }, `${bill.member} · ${bill.name}`)),
          cells.map((cell, index) => h("td", { class: "numeric", "data-label": t(headings[index + 1][0]) }, cell)),
          h("td", { "data-label": t("measured-by") }, t(`measured.${total.measured_by ?? "none"}`)),
          h("td", { class: "numeric", "data-label": t("hours") }, t("hours-of", { known: formatNumber(total.hours_known), hours: formatNumber(total.hours) })));
      }))));
}

async function billingCard() {
  const card = h("section", { class: "card", "aria-labelledby": "billing-title" });
  const month = h("input", { id: "billing-month", type: "month", value: lastMonth(), max: new Date().toISOString().slice(0, 7), required: true });
  const language = h("select", { id: "billing-language" }, ["es", "en"].map((one) => h("option", { value: one }, t(`lang.${one}`))));
  const csvLink = h("a", { class: "button secondary", download: "" }, t("download-csv"));
  const jsonLink = h("a", { class: "button secondary", download: "" }, t("download-json"));
  const status = h("div", {});
  const body = h("div", {});

  async function draw() {
    const chosen = month.value;
    csvLink.setAttribute("href", `api/v1/billing/${chosen}/export.csv?lang=${language.value}`);
    jsonLink.setAttribute("href", `api/v1/billing/${chosen}/export.json`);
    replace(status);
    let found;
    try {
      // Every page: a large community has more members than one page holds.
      found = await api(`billing/${chosen}?limit=500`);
      for (let next = found.next; next !== null; ) {
        const page = await api(`billing/${chosen}?limit=500&after=${encodeURIComponent(next)}`);
        found.members.push(...page.members);
        next = page.next;
      }
    } catch (error) {
      replace(body);
      replace(status, problemOf(error));
      return;
    }
    if (month.value !== chosen) return; // another month was asked for meanwhile
    const notes = [];
    if (!found.month_over) notes.push(t("billing-under-way"));
    if (found.prices === null) notes.push(t("billing-no-prices"));
    else if (found.prices.compensation_cap !== "energy_term") notes.push(t("billing-cap"));
    replace(body,
      notes.map((text) => h("p", { class: "hint" }, text)),
      found.members.length === 0 ? h("p", {}, t("no-members")) : billingTable(found));
  }
  month.addEventListener("change", () => { if (month.checkValidity()) draw(); });
  language.addEventListener("change", () => csvLink.setAttribute("href", `api/v1/billing/${month.value}/export.csv?lang=${language.value}`));
  replace(card,
    h("h2", { id: "billing-title" }, t("billing")), h("p", { class: "intro" }, t("billing-intro")),
    h("div", { class: "filters" },
      h("div", { class: "field" }, h("label", { for: "billing-month" }, t("month")), month),
      h("div", { class: "field" }, h("label", { for: "billing-language" }, t("file-language")), language),
      h("div", { class: "field field-button downloads" }, csvLink, jsonLink)),
    status, body);
  await draw();
  return card;
}

// Export ----------------------------------------------------------------------------------

async function exportCard() {
  const members = await api("members");
  const today = new Date();
  const member = h("select", { id: "export-member" }, members.map((one) => h("option", { value: one.id }, `${one.id} · ${one.name}`)));
  const [fromField, from] = dateField("export-from", t("from"), isoDay(new Date(today - 30 * DAY_MS)));
  const [toField, to] = dateField("export-to", t("to"), isoDay(today));
  const link = h("a", { class: "button secondary", download: "" }, t("download"));
  const update = () => {
    const start = `${from.value}T00:00:00Z`;
    const end = `${to.value}T00:00:00Z`;
    link.setAttribute("href", `api/v1/members/${encodeURIComponent(member.value)}/export.csv?start=${start}&end=${end}`);
  };
  for (const input of [member, from, to]) input.addEventListener("change", update);
  update();
  return h("section", { class: "card", "aria-labelledby": "export-title" },
    h("h2", { id: "export-title" }, t("export")), h("p", { class: "intro" }, t("export-intro")),
    members.length === 0 ? h("p", {}, t("no-members")) : h("div", { class: "filters" },
      h("div", { class: "field" }, h("label", { for: "export-member" }, t("member")), member), fromField, toField,
      h("div", { class: "field field-button" }, link)));
}

export async function render(main, _params, session) {
  const canManage = session.permissions.includes("manage");
  const [completeness, datadis, billing, exported] = await Promise.all([completenessCard(), datadisCard(canManage), billingCard(), exportCard()]);
  replace(main, h("h1", {}, t("title")), completeness, canManage ? uploadCard() : null, datadis, billing, exported);
}
