// Agreements: the one in force and their history, sharing comparisons run as background jobs
// (progress, ranking, report, adoption), and the distributor's coefficient files.
import { api, ApiError } from "../api.js";
import { announce, h, replace } from "../dom.js";
import { formatDate, formatDateTime, formatNumber, translator } from "../i18n.js";
import { openDialog } from "../components/dialog.js";
import { errorMessage, notice } from "../components/message.js";

// The engine's schemes (the API's schema lists them); the reference last.
const SCHEMES = ["equal", "power", "investment", "consumption", "optimized-static", "hourly-profile", "optimized-hourly", "perfect-foresight"];
const OBJECTIVES = ["self-consumption", "savings", "savings-no-loss"];
const RULES = [
  "min_beta",
  "max_beta",
  "vulnerable_reserve",
  "min_investment_factor",
  "max_investment_factor",
  "large_consumer_kwh",
  "large_consumer_max_beta",
];
// Rules that are shares of the plant (0–1); the others are factors or kWh.
const SHARE_RULES = new Set(["min_beta", "max_beta", "vulnerable_reserve", "large_consumer_max_beta"]);
// A CAU: a CUPS (20 or 22 characters), "A" and three digits; the API checks the CUPS' letters.
const CAU = /^ES\d{16}[A-Z]{2}(\d[A-Z])?A\d{3}$/;
const POLL_MS = 1000;

const TEXTS = {
  en: {
    title: "Agreements",
    "in-force": "Agreement in force",
    "none-in-force": "No agreement is in force today: the plant's energy is not shared. Run a comparison below and adopt a scheme, or record an agreement with the command line.",
    "in-force-text": "“{name}” ({scheme}) since {from}, {until}.",
    "open-end": "with no end date",
    next: "Next: “{name}” from {from}.",
    you: "{name} (you)",
    "job-title-one": "Comparison of {month}",
    "until-day": "until {to}",
    history: "History",
    "no-agreements": "No agreement recorded yet.",
    name: "Name",
    scheme: "Scheme",
    from: "From",
    to: "To",
    "created-by": "Recorded by",
    comparison: "Comparison",
    open: "Open end",
    "kind.static": "fixed β",
    "kind.hourly": "hourly β {year}",
    "scheme.equal": "Equal shares",
    "scheme.power": "By contracted power",
    "scheme.investment": "By investment",
    "scheme.consumption": "By consumption",
    "scheme.optimized-static": "Optimised fixed β",
    "scheme.hourly-profile": "Hourly profile",
    "scheme.optimized-hourly": "Optimised hourly β",
    decision: "The decision",
    "decision-hint": "The recommended agreement is the best by this objective among those that keep the rules; the full report shows each member's euros.",
    "in-force": "Agreement in force",
    "in-force-none": "None",
    objective: "Objective",
    "objective.self-consumption": "Most self-consumption",
    "objective.savings": "Most savings for the community",
    "objective.savings-no-loss": "Most savings, nobody losing more than…",
    "max-loss": "Largest loss a member may take (%)",
    "need-in-force": "This objective needs the agreement in force and the largest loss.",
    "error.bad_decision": "The decision cannot be made: the agreement in force must be one of the schemes compared, and the objective without losses needs it and the largest loss.",
    "scheme.perfect-foresight": "Perfect foresight (reference)",
    run: "Run a comparison",
    "run-intro": "Compares sharing schemes on the community's measured history. It runs in the background; you can leave the page.",
    "first-month": "First month",
    "last-month": "Last month",
    schemes: "Schemes",
    prices: "Prices (€/kWh)",
    "prices-hint": "Leave both empty to use the configured prices.",
    "import-price": "Energy bought",
    "surplus-price": "Surplus paid",
    configured: "configured",
    rules: "Community rules (kept by the optimised and hourly-profile schemes; the others are checked against them)",
    "rule.min_beta": "Smallest share β (0–1)",
    "rule.max_beta": "Largest share β (0–1)",
    "rule.vulnerable_reserve": "Vulnerable members together at least (0–1)",
    "rule.min_investment_factor": "β at least × share of the investment",
    "rule.max_investment_factor": "β at most × share of the investment",
    "rule.large_consumer_kwh": "Large consumer above (kWh a year)",
    "rule.large_consumer_max_beta": "Large consumer's largest β (0–1)",
    start: "Start the comparison",
    "need-scheme": "Choose at least one scheme.",
    "need-both-prices": "Give both prices, or neither.",
    "job-title": "Comparison of {first} to {last}",
    "state.queued": "Waiting to start",
    "state.running": "Running",
    "state.done": "Done",
    "state.failed": "Failed",
    progress: "Progress of the comparison",
    failed: "The comparison failed: {error}",
    ranking: "Ranking",
    rank: "#",
    "self-consumed": "Self-consumed (kWh)",
    "self-sufficiency": "Self-sufficiency",
    savings: "Savings (€)",
    winner: "Recommended",
    reference: "reference",
    report: "Open the full report",
    "new-tab": "(opens in a new tab)",
    adopt: "Adopt",
    "adopt-scheme": "Adopt {scheme}",
    "adopt-title": "Adopt “{scheme}” as the agreement",
    "adopt-text": "Its β as this comparison computed them become the agreement from the day you choose; the agreement in force ends the day before.",
    "valid-from": "Valid from",
    adopted: "“{name}” is the agreement from {from}.",
    "min-months": "Coefficients may change every {months} months at most: the earliest day is {date}.",
    past: "Past comparisons",
    "no-comparisons": "No comparison yet.",
    created: "Started",
    period: "Period",
    state: "State",
    show: "Show",
    "show-job": "Show the comparison of {created}",
    file: "Coefficient file",
    "file-intro": "The file the distributor needs (CAU_YYYY.txt), for an agreement and the installation's CAU.",
    agreement: "Agreement",
    cau: "CAU of the installation",
    "cau-hint": "The CUPS of the installation followed by A and three digits, e.g. ES0021000000000001JNA001.",
    "cau-invalid": "Type a whole CAU to get the file.",
    year: "Year (optional)",
    download: "Download {name}",
    check: "Check a coefficient file",
    "check-intro": "Checks a file against the community's members before you send it to the distributor. Nothing is stored.",
    "check-file": "File (CAU_YYYY.txt)",
    "check-year": "Year (if the name does not say it)",
    "check-button": "Check",
    "need-file": "Choose a file first.",
    valid: "{name} is valid ({kind}).",
    invalid: "{name} has problems:",
    "valid-warnings": "{name} is valid ({kind}), with warnings:",
    line: "Line {line}",
    "whole-file": "The whole file",
    warning: "warning",
    "error.bad_month": "A month is not valid: {message}",
    "error.bad_period": "The period is not valid: the last month comes before the first, or is more than 36 months after it.",
    "error.unknown_scheme": "Unknown scheme: {message}",
    "error.bad_rules": "The community rules are not valid: a share goes from 0 to 1, and a large consumer needs both its kWh and its largest β.",
    "error.no_history": "There is no history for that period: it needs the members' consumption and a registered plant's generation.",
    "error.not_done": "The comparison has not finished.",
    "error.not_adoptable": "Only a fixed-β scheme can be adopted from a comparison.",
    "error.bad_year": "That year does not match the agreement.",
    "error.bad_cau": "That is not a CAU: a valid CUPS, A and three digits.",
    "error.no_year": "Name the file CAU_YYYY.txt or give its year.",
    "error.members_changed": "The members changed since the comparison: run it again. ({message})",
    "error.conflict": "It clashes with another agreement: {message}",
    "gain-lose": "Members gaining / losing",
    "worst-loss": "Largest loss",
    "breaks-rules": "breaks the rules",
    "what-if": "What if…?",
    "what-if-hint": "Fill in the questions you want answered: each is worked out on the same history with the recommended agreement and the one in force. Leave the rest empty.",
    "join-kwh": "A household joins, using (kWh a year)",
    "join-name": "Its name in the report",
    "join-default": "A new household",
    "join-investment": "Its share of the investment (%)",
    "join-power": "Its contracted power (kW)",
    typical: "a typical member's",
    "plant-azimuth": "The plant's panels facing (azimuth °)",
    "plant-tilt": "The plant's panels' tilt (°)",
    "join-vulnerable": "Vulnerable household",
    "leaves": "A member leaves",
    "leaves-none": "Nobody",
    "grow-kwp": "The plant grows by (kWp)",
    "plant-kwp": "The plant today (kWp)",
    "grow-azimuth": "New panels facing (azimuth °, 180 south)",
    "grow-tilt": "New panels' tilt (°)",
    "battery-kwh": "A community battery of (kWh)",
    "battery-kw": "Its power (kW)",
    "prices-import": "Energy bought dearer by (%)",
    "prices-surplus": "Surplus paid more by (%)",
    "need-plant-kwp": "To add panels, give the plant's power today.",
    "need-battery-power": "Give both the battery's capacity and its power.",
    "error.bad_scenarios": "A what-if question is not valid: {message}",
    "error.no_site": "To add panels facing another way than the plant's, set the plant's latitude and longitude in the add-on's options (or leave their orientation empty).",
    scenario: "What if",
    today: "Today, as it is",
    "scenario.member-joins": "{name} joins: {kwh} kWh a year",
    "scenario.member-leaves": "{member} leaves ({kwh} kWh a year)",
    "scenario.plant-grows": "The plant grows by {kwp} kWp: {kwh} kWh more a year",
    "scenario.battery": "A {kwh} kWh, {kw} kW battery: gives back {given} kWh a year",
    "scenario.prices": "Prices: energy bought × {imports}, surplus × {surplus}",
    "scenario-cannot": "It cannot be: {error}",
    "what-if-note": "Figures of “{scheme}”, learnt once on the training months; the change against today is under each. The full report shows the agreement in force and who gains and who loses.",
  },
  es: {
    title: "Acuerdos",
    "in-force": "Acuerdo vigente",
    "none-in-force": "Hoy no hay ningún acuerdo vigente: la energía de la planta no se reparte. Ejecuta una comparación más abajo y adopta un reparto, o registra un acuerdo con la línea de órdenes.",
    "in-force-text": "«{name}» ({scheme}) desde el {from}, {until}.",
    "open-end": "sin fecha de fin",
    next: "Próximo: «{name}» desde el {from}.",
    you: "{name} (tú)",
    "job-title-one": "Comparación de {month}",
    "until-day": "hasta el {to}",
    history: "Historial",
    "no-agreements": "Todavía no hay ningún acuerdo.",
    name: "Nombre",
    scheme: "Reparto",
    from: "Desde",
    to: "Hasta",
    "created-by": "Registrado por",
    comparison: "Comparación",
    open: "Sin fin",
    "kind.static": "β fijos",
    "kind.hourly": "β horarios {year}",
    "scheme.equal": "A partes iguales",
    "scheme.power": "Según potencia contratada",
    "scheme.investment": "Según inversión",
    "scheme.consumption": "Según consumo",
    "scheme.optimized-static": "β fijos optimizados",
    "scheme.hourly-profile": "Perfil horario",
    "scheme.optimized-hourly": "β horarios optimizados",
    decision: "La decisión",
    "decision-hint": "El reparto recomendado es el mejor según este objetivo entre los que cumplen las reglas; el informe completo muestra los euros de cada socio.",
    "in-force": "Reparto vigente",
    "in-force-none": "Ninguno",
    objective: "Objetivo",
    "objective.self-consumption": "Más autoconsumo",
    "objective.savings": "Más ahorro para la comunidad",
    "objective.savings-no-loss": "Más ahorro sin que nadie pierda más de…",
    "max-loss": "Mayor pérdida que puede asumir un socio (%)",
    "need-in-force": "Este objetivo necesita el reparto vigente y la mayor pérdida.",
    "error.bad_decision": "No se puede decidir así: el reparto vigente debe estar entre los comparados, y el objetivo sin pérdidas lo necesita junto con la mayor pérdida.",
    "scheme.perfect-foresight": "Previsión perfecta (referencia)",
    run: "Ejecutar una comparación",
    "run-intro": "Compara repartos con el historial medido de la comunidad. Se ejecuta en segundo plano; puedes salir de la página.",
    "first-month": "Primer mes",
    "last-month": "Último mes",
    schemes: "Repartos",
    prices: "Precios (€/kWh)",
    "prices-hint": "Déjalos vacíos para usar los precios configurados.",
    "import-price": "Energía comprada",
    "surplus-price": "Excedente pagado",
    configured: "configurado",
    rules: "Reglas de la comunidad (las cumplen el reparto optimizado y el perfil horario; los demás se comprueban)",
    "rule.min_beta": "β mínimo (0–1)",
    "rule.max_beta": "β máximo (0–1)",
    "rule.vulnerable_reserve": "Socios vulnerables juntos, al menos (0–1)",
    "rule.min_investment_factor": "β al menos × parte de la inversión",
    "rule.max_investment_factor": "β como mucho × parte de la inversión",
    "rule.large_consumer_kwh": "Gran consumidor desde (kWh al año)",
    "rule.large_consumer_max_beta": "β máximo de un gran consumidor (0–1)",
    start: "Empezar la comparación",
    "need-scheme": "Elige al menos un reparto.",
    "need-both-prices": "Indica los dos precios o ninguno.",
    "job-title": "Comparación de {first} a {last}",
    "state.queued": "En espera",
    "state.running": "En curso",
    "state.done": "Terminada",
    "state.failed": "Fallida",
    progress: "Avance de la comparación",
    failed: "La comparación ha fallado: {error}",
    ranking: "Clasificación",
    rank: "N.º",
    "self-consumed": "Autoconsumida (kWh)",
    "self-sufficiency": "Autosuficiencia",
    savings: "Ahorro (€)",
    winner: "Recomendado",
    reference: "referencia",
    report: "Abrir el informe completo",
    "new-tab": "(se abre en otra pestaña)",
    adopt: "Adoptar",
    "adopt-scheme": "Adoptar {scheme}",
    "adopt-title": "Adoptar «{scheme}» como acuerdo",
    "adopt-text": "Sus β, tal como los ha calculado esta comparación, pasan a ser el acuerdo desde el día que elijas; el acuerdo vigente termina el día anterior.",
    "valid-from": "Válido desde",
    adopted: "«{name}» es el acuerdo desde el {from}.",
    "min-months": "Los coeficientes solo pueden cambiar cada {months} meses como mucho: el primer día posible es el {date}.",
    past: "Comparaciones anteriores",
    "no-comparisons": "Todavía no hay comparaciones.",
    created: "Iniciada",
    period: "Periodo",
    state: "Estado",
    show: "Ver",
    "show-job": "Ver la comparación del {created}",
    file: "Fichero de coeficientes",
    "file-intro": "El fichero que necesita la distribuidora (CAU_AAAA.txt), para un acuerdo y el CAU de la instalación.",
    agreement: "Acuerdo",
    cau: "CAU de la instalación",
    "cau-hint": "El CUPS de la instalación seguido de A y tres cifras, p. ej. ES0021000000000001JNA001.",
    "cau-invalid": "Escribe un CAU completo para obtener el fichero.",
    year: "Año (opcional)",
    download: "Descargar {name}",
    check: "Comprobar un fichero de coeficientes",
    "check-intro": "Comprueba un fichero con los socios de la comunidad antes de enviarlo a la distribuidora. No se guarda nada.",
    "check-file": "Fichero (CAU_AAAA.txt)",
    "check-year": "Año (si el nombre no lo dice)",
    "check-button": "Comprobar",
    "need-file": "Elige antes un fichero.",
    valid: "{name} es válido ({kind}).",
    invalid: "{name} tiene problemas:",
    "valid-warnings": "{name} es válido ({kind}), con avisos:",
    line: "Línea {line}",
    "whole-file": "Todo el fichero",
    warning: "aviso",
    "error.bad_month": "Un mes no es válido: {message}",
    "error.bad_period": "El periodo no es válido: el último mes es anterior al primero o está a más de 36 meses de él.",
    "error.unknown_scheme": "Reparto desconocido: {message}",
    "error.bad_rules": "Las reglas de la comunidad no son válidas: una parte va de 0 a 1, y un gran consumidor necesita sus kWh y su β máximo.",
    "error.no_history": "No hay historial de ese periodo: hace falta el consumo de los socios y la generación de una planta registrada.",
    "error.not_done": "La comparación no ha terminado.",
    "error.not_adoptable": "Solo se puede adoptar un reparto de β fijos a partir de una comparación.",
    "error.bad_year": "Ese año no corresponde al acuerdo.",
    "error.bad_cau": "Eso no es un CAU: un CUPS válido, A y tres cifras.",
    "error.no_year": "Llama al fichero CAU_AAAA.txt o indica su año.",
    "error.members_changed": "Los socios han cambiado desde la comparación: vuelve a ejecutarla. ({message})",
    "error.conflict": "Choca con otro acuerdo: {message}",
    "gain-lose": "Socios que ganan / pierden",
    "worst-loss": "Mayor pérdida",
    "breaks-rules": "incumple las reglas",
    "what-if": "¿Y si…?",
    "what-if-hint": "Rellena las preguntas que quieras responder: cada una se calcula con el mismo historial, el reparto recomendado y el vigente. Deja vacías las demás.",
    "join-kwh": "Entra un hogar que consume (kWh al año)",
    "join-name": "Su nombre en el informe",
    "join-default": "Un hogar nuevo",
    "join-investment": "Su parte de la inversión (%)",
    "join-power": "Su potencia contratada (kW)",
    typical: "la de un socio típico",
    "plant-azimuth": "Orientación de los paneles de la planta (azimut °)",
    "plant-tilt": "Inclinación de los paneles de la planta (°)",
    "join-vulnerable": "Hogar vulnerable",
    "leaves": "Sale un socio",
    "leaves-none": "Nadie",
    "grow-kwp": "La planta crece (kWp)",
    "plant-kwp": "La planta hoy (kWp)",
    "grow-azimuth": "Orientación de los paneles nuevos (azimut °, 180 sur)",
    "grow-tilt": "Inclinación de los paneles nuevos (°)",
    "battery-kwh": "Una batería comunitaria de (kWh)",
    "battery-kw": "Su potencia (kW)",
    "prices-import": "La energía comprada sube (%)",
    "prices-surplus": "Los excedentes se pagan más (%)",
    "need-plant-kwp": "Para añadir paneles, indica la potencia de la planta hoy.",
    "need-battery-power": "Indica la capacidad de la batería y su potencia.",
    "error.bad_scenarios": "Una pregunta «¿y si…?» no es válida: {message}",
    "error.no_site": "Para añadir paneles con otra orientación que los de la planta, indica la latitud y la longitud de la planta en las opciones del complemento (o deja vacía su orientación).",
    scenario: "¿Y si…?",
    today: "Hoy, tal como es",
    "scenario.member-joins": "Entra {name}: {kwh} kWh al año",
    "scenario.member-leaves": "Sale {member} ({kwh} kWh al año)",
    "scenario.plant-grows": "La planta crece {kwp} kWp: {kwh} kWh más al año",
    "scenario.battery": "Batería de {kwh} kWh y {kw} kW: devuelve {given} kWh al año",
    "scenario.prices": "Precios: energía comprada × {imports}, excedentes × {surplus}",
    "scenario-cannot": "No puede ser: {error}",
    "what-if-note": "Cifras de «{scheme}», aprendido una vez con los meses de entrenamiento; bajo cada una, el cambio frente a hoy. El informe completo muestra el reparto vigente y quién gana y quién pierde.",
  },
};
const t = translator(TEXTS);

/** The refusal as the user reads it, with this page's codes (and the minimum months) known. */
function describe(error) {
  if (!(error instanceof ApiError)) return String(error);
  const months = /every (\d+) months at most, so from (\d{4}-\d{2}-\d{2})/.exec(error.message);
  if (error.code === "conflict" && months) return t("min-months", { months: months[1], date: formatDate(months[2]) });
  const key = `error.${error.code}`;
  const text = t(key, { message: error.message });
  return text === key ? error.describe() : text;
}

function problem(error) {
  return errorMessage(describe(error));
}

function schemeName(scheme) {
  const key = `scheme.${scheme}`;
  const text = t(key);
  return text === key ? scheme : text;
}

function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

function monthText(date) {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}`;
}

function monthName(text, month = "long") {
  return formatDate(`${text}-15`, { month, year: "numeric" });
}

function periodText(period) {
  const first = monthName(period.first, "short");
  return period.first === period.last ? first : `${first} – ${monthName(period.last, "short")}`;
}

function day(text) {
  return text ? formatDate(`${text}T12:00:00`) : "";
}

function field(id, label, input, hint = null) {
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("p", { class: "hint", id: hintId }, hint) : null);
}

/** A table in a box that scrolls sideways on its own (reachable by keyboard). */
function scrollingTable(caption, headings, rows, { className = null } = {}) {
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "region", "aria-label": caption },
    h(
      "table",
      { class: className },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headings.map(([key, numeric]) => (key === null ? h("td", {}) : h("th", { scope: "col", class: numeric ? "numeric" : null }, t(key)))))),
      h("tbody", {}, rows),
    ),
  );
}

function number(value, options = { maximumFractionDigits: 1 }) {
  return value === null || value === undefined ? "–" : formatNumber(value, options);
}

// Agreements -------------------------------------------------------------------------------

/** Who recorded an agreement: "you" when it was the signed-in person, else their name or the API's actor. */
function recorder(agreement, session) {
  const actor = agreement.created_by;
  if (!actor) return "–";
  return actor === `user:${session.user.id}` || actor === `token:${session.user.id}` ? t("you", { name: session.user.name }) : (agreement.created_by_name ?? actor);
}

function agreementScheme(agreement) {
  const name = schemeName(agreement.scheme);
  return agreement.kind === "hourly" ? `${name} · ${t("kind.hourly", { year: agreement.year ?? "" })}` : name;
}

function agreementsCards(agreements, session) {
  const now = today();
  const current = agreements.find((a) => a.valid_from <= now && (a.valid_to === null || now <= a.valid_to));
  const next = agreements.find((a) => a.valid_from > now);
  const inForce = h(
    "section",
    { class: "card", "aria-labelledby": "in-force-title" },
    h("h2", { id: "in-force-title" }, t("in-force")),
    current
      ? h(
          "p",
          { class: "in-force" },
          t("in-force-text", {
            name: current.name,
            scheme: agreementScheme(current),
            from: day(current.valid_from),
            until: current.valid_to ? t("until-day", { to: day(current.valid_to) }) : t("open-end"),
          }),
        )
      : h("p", {}, t("none-in-force")),
    next ? h("p", { class: "next" }, t("next", { name: next.name, from: day(next.valid_from) })) : null,
  );
  const rows = [...agreements].reverse().map((a) =>
    h(
      "tr",
      { class: a === current ? "is-current" : null },
      h("td", {}, a.name),
      h("td", {}, agreementScheme(a)),
      h("td", {}, day(a.valid_from)),
      h("td", {}, a.valid_to ? day(a.valid_to) : t("open")),
      h("td", {}, recorder(a, session)),
      h("td", { class: "subject" }, a.comparison ?? "–"),
    ),
  );
  const history = h(
    "section",
    { class: "card", "aria-labelledby": "history-title" },
    h("h2", { id: "history-title" }, t("history")),
    agreements.length
      ? scrollingTable(t("history"), [["name"], ["scheme"], ["from"], ["to"], ["created-by"], ["comparison"]], rows, { className: "agreements" })
      : h("p", {}, t("no-agreements")),
  );
  return [inForce, history];
}

// The coefficient file of an agreement ------------------------------------------------------

function fileCard(agreements) {
  if (!agreements.length) return null;
  const select = h(
    "select",
    { id: "file-agreement" },
    [...agreements].reverse().map((a) => h("option", { value: a.id }, `${a.name} (${day(a.valid_from)})`)),
  );
  const cau = h("input", { id: "file-cau", autocomplete: "off", spellcheck: "false", autocapitalize: "characters" });
  const year = h("input", { id: "file-year", type: "number", min: 2000, max: 2100, step: 1, inputmode: "numeric" });
  const link = h("p", { class: "download", "aria-live": "polite" });

  function update() {
    const code = cau.value.trim().toUpperCase();
    const agreement = agreements.find((a) => a.id === select.value);
    if (!CAU.test(code) || !agreement) {
      replace(link, h("span", { class: "hint" }, t("cau-invalid")));
      return;
    }
    const fileYear = year.value || agreement.year || agreement.valid_from.slice(0, 4);
    const name = `${code}_${fileYear}.txt`;
    const query = new URLSearchParams({ cau: code });
    if (year.value) query.set("year", year.value);
    replace(
      link,
      h("a", { class: "button secondary", href: `api/v1/agreements/${encodeURIComponent(agreement.id)}/coefficient-file?${query}`, download: name }, t("download", { name })),
    );
  }
  for (const input of [select, cau, year]) input.addEventListener("input", update);
  update();
  return h(
    "section",
    { class: "card", "aria-labelledby": "file-title" },
    h("h2", { id: "file-title" }, t("file")),
    h("p", {}, t("file-intro")),
    h(
      "div",
      { class: "filters" },
      field("file-agreement", t("agreement"), select),
      field("file-cau", t("cau"), cau, t("cau-hint")),
      field("file-year", t("year"), year),
    ),
    link,
  );
}

function checkCard() {
  const input = h("input", { id: "check-file", type: "file", accept: ".txt,text/plain" });
  const year = h("input", { id: "check-year", type: "number", min: 2000, max: 2100, step: 1, inputmode: "numeric" });
  const result = h("div", { class: "findings", "aria-live": "polite" });

  function read(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",", 2)[1] ?? "");
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
  }

  async function check(event) {
    event.preventDefault();
    const file = input.files?.[0];
    if (!file) {
      replace(result, errorMessage(t("need-file")));
      return;
    }
    try {
      const body = { name: file.name, content_base64: await read(file) };
      if (year.value) body.year = Number(year.value);
      const found = await api("coefficient-files/validate", { method: "POST", body });
      const kind = t(`kind.${found.kind}`, { year: found.year });
      const lines = found.problems.map((p) =>
        h("li", {}, h("strong", {}, p.line ? t("line", { line: p.line }) : t("whole-file")), p.warning ? ` (${t("warning")})` : "", ": ", p.message),
      );
      const head = found.valid
        ? notice(t(found.problems.length ? "valid-warnings" : "valid", { name: found.name, kind }))
        : errorMessage(t("invalid", { name: found.name }));
      replace(result, head, lines.length ? h("ul", { class: "problems" }, lines) : null);
    } catch (error) {
      replace(result, problem(error));
    }
  }

  return h(
    "section",
    { class: "card", "aria-labelledby": "check-title" },
    h("h2", { id: "check-title" }, t("check")),
    h("p", {}, t("check-intro")),
    h(
      "form",
      { onsubmit: check },
      h("div", { class: "filters" }, field("check-file", t("check-file"), input), field("check-year", t("check-year"), year)),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "secondary" }, t("check-button"))),
    ),
    result,
  );
}

// Comparisons -----------------------------------------------------------------------------

/** The what-if questions of the run form: its fields, and the scenarios they ask for. */
function whatIfFields(members) {
  const decimal = (id, attributes = {}) => h("input", { id, type: "number", step: "any", min: 0, inputmode: "decimal", ...attributes });
  const inputs = {
    joinKwh: decimal("run-join-kwh"),
    joinName: h("input", { id: "run-join-name", maxlength: 60, placeholder: t("join-default") }),
    joinInvestment: decimal("run-join-investment", { max: 100 }),
    joinPower: decimal("run-join-power", { placeholder: t("typical") }),
    joinVulnerable: h("input", { id: "run-join-vulnerable", type: "checkbox" }),
    leaves: h(
      "select",
      { id: "run-leaves" },
      h("option", { value: "" }, t("leaves-none")),
      members.filter((member) => member.revoked === null).map((member) => h("option", { value: member.id }, `${member.name} (${member.id})`)),
    ),
    growKwp: decimal("run-grow-kwp"),
    plantKwp: decimal("run-plant-kwp", { value: members.reduce((sum, member) => sum + (member.revoked === null ? member.plant_kw : 0), 0) || "" }),
    growAzimuth: decimal("run-grow-azimuth", { max: 360, placeholder: "180" }),
    growTilt: decimal("run-grow-tilt", { max: 90, placeholder: "30" }),
    plantAzimuth: decimal("run-plant-azimuth", { max: 360, placeholder: "180" }),
    plantTilt: decimal("run-plant-tilt", { max: 90, placeholder: "30" }),
    batteryKwh: decimal("run-battery-kwh"),
    batteryKw: decimal("run-battery-kw"),
    importChange: h("input", { id: "run-prices-import", type: "number", step: "any", min: -100, inputmode: "decimal" }),
    surplusChange: h("input", { id: "run-prices-surplus", type: "number", step: "any", min: -100, inputmode: "decimal" }),
  };
  const given = (input) => input.value !== "";

  /** The scenarios asked for, or the reason they cannot be asked (a string). */
  function scenarios() {
    const asked = [];
    if (given(inputs.joinKwh)) {
      asked.push({
        kind: "member-joins",
        name: inputs.joinName.value.trim() || t("join-default"),
        member_id: "joining",
        annual_kwh: Number(inputs.joinKwh.value),
        ...(given(inputs.joinInvestment) ? { investment_share: Number(inputs.joinInvestment.value) / 100 } : {}),
        ...(given(inputs.joinPower) ? { contracted_power_kw: Number(inputs.joinPower.value) } : {}),
        vulnerable: inputs.joinVulnerable.checked,
      });
    }
    if (inputs.leaves.value) asked.push({ kind: "member-leaves", member_id: inputs.leaves.value });
    if (given(inputs.growKwp)) {
      if (!given(inputs.plantKwp) || Number(inputs.plantKwp.value) <= 0) return t("need-plant-kwp");
      asked.push({
        kind: "plant-grows",
        added_kwp: Number(inputs.growKwp.value),
        plant_kwp: Number(inputs.plantKwp.value),
        ...(given(inputs.growAzimuth) ? { azimuth: Number(inputs.growAzimuth.value) } : {}),
        ...(given(inputs.growTilt) ? { tilt: Number(inputs.growTilt.value) } : {}),
        ...(given(inputs.plantAzimuth) ? { plant_azimuth: Number(inputs.plantAzimuth.value) } : {}),
        ...(given(inputs.plantTilt) ? { plant_tilt: Number(inputs.plantTilt.value) } : {}),
      });
    }
    if (given(inputs.batteryKwh) || given(inputs.batteryKw)) {
      if (!given(inputs.batteryKwh) || !given(inputs.batteryKw)) return t("need-battery-power");
      asked.push({ kind: "battery", capacity_kwh: Number(inputs.batteryKwh.value), power_kw: Number(inputs.batteryKw.value) });
    }
    if (given(inputs.importChange) || given(inputs.surplusChange)) {
      asked.push({
        kind: "prices",
        import_factor: 1 + Number(inputs.importChange.value || 0) / 100,
        surplus_factor: 1 + Number(inputs.surplusChange.value || 0) / 100,
      });
    }
    return asked;
  }

  const view = h(
    "details",
    {},
    h("summary", {}, t("what-if")),
    h("p", { class: "hint" }, t("what-if-hint")),
    h(
      "div",
      { class: "filters" },
      field("run-join-kwh", t("join-kwh"), inputs.joinKwh),
      field("run-join-name", t("join-name"), inputs.joinName),
      field("run-join-power", t("join-power"), inputs.joinPower),
      field("run-join-investment", t("join-investment"), inputs.joinInvestment),
      h("label", { class: "check" }, inputs.joinVulnerable, " ", t("join-vulnerable")),
    ),
    h("div", { class: "filters" }, field("run-leaves", t("leaves"), inputs.leaves)),
    h(
      "div",
      { class: "filters" },
      field("run-grow-kwp", t("grow-kwp"), inputs.growKwp),
      field("run-plant-kwp", t("plant-kwp"), inputs.plantKwp),
      field("run-grow-azimuth", t("grow-azimuth"), inputs.growAzimuth),
      field("run-grow-tilt", t("grow-tilt"), inputs.growTilt),
      field("run-plant-azimuth", t("plant-azimuth"), inputs.plantAzimuth),
      field("run-plant-tilt", t("plant-tilt"), inputs.plantTilt),
    ),
    h("div", { class: "filters" }, field("run-battery-kwh", t("battery-kwh"), inputs.batteryKwh), field("run-battery-kw", t("battery-kw"), inputs.batteryKw)),
    h("div", { class: "filters" }, field("run-prices-import", t("prices-import"), inputs.importChange), field("run-prices-surplus", t("prices-surplus"), inputs.surplusChange)),
  );
  return { view, scenarios };
}

function runForm(members, onStarted) {
  const now = new Date();
  const last = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  const first = new Date(last.getFullYear(), last.getMonth() - 11, 1);
  const firstInput = h("input", { id: "run-first", type: "month", required: true, value: monthText(first) });
  const lastInput = h("input", { id: "run-last", type: "month", required: true, value: monthText(last) });
  const boxes = SCHEMES.map((scheme) =>
    h(
      "label",
      { class: "check" },
      h("input", { type: "checkbox", name: "scheme", value: scheme, checked: true }),
      " ",
      schemeName(scheme),
    ),
  );
  const importPrice = h("input", { id: "run-import", type: "number", step: "any", min: -10, max: 10, inputmode: "decimal", placeholder: t("configured") });
  const surplusPrice = h("input", { id: "run-surplus", type: "number", step: "any", min: -10, max: 10, inputmode: "decimal", placeholder: t("configured") });
  const rules = Object.fromEntries(
    RULES.map((rule) => [
      rule,
      h("input", { id: `run-${rule}`, type: "number", step: "any", min: 0, ...(SHARE_RULES.has(rule) ? { max: 1 } : {}), inputmode: "decimal" }),
    ]),
  );
  const inForce = h(
    "select",
    { id: "run-in-force" },
    h("option", { value: "" }, t("in-force-none")),
    SCHEMES.filter((scheme) => scheme !== "perfect-foresight").map((scheme) => h("option", { value: scheme }, schemeName(scheme))),
  );
  const objective = h(
    "select",
    { id: "run-objective" },
    OBJECTIVES.map((name) => h("option", { value: name }, t(`objective.${name}`))),
  );
  const maxLoss = h("input", { id: "run-max-loss", type: "number", step: "any", min: 0, inputmode: "decimal" });
  const whatIf = whatIfFields(members);
  const status = h("div", {});
  const submit = h("button", { type: "submit", class: "primary" }, t("start"));

  async function start(event) {
    event.preventDefault();
    const schemes = boxes.map((box) => box.querySelector("input")).filter((box) => box.checked).map((box) => box.value);
    if (!schemes.length) {
      replace(status, errorMessage(t("need-scheme")));
      return;
    }
    const body = { period: { first: firstInput.value, last: lastInput.value }, schemes };
    if (importPrice.value !== "" || surplusPrice.value !== "") {
      if (importPrice.value === "" || surplusPrice.value === "") {
        replace(status, errorMessage(t("need-both-prices")));
        return;
      }
      body.prices = { import_eur_kwh: Number(importPrice.value), surplus_eur_kwh: Number(surplusPrice.value) };
    }
    const asked = Object.fromEntries(RULES.filter((rule) => rules[rule].value !== "").map((rule) => [rule, Number(rules[rule].value)]));
    if (Object.keys(asked).length) body.rules = asked;
    if (objective.value === "savings-no-loss" && (inForce.value === "" || maxLoss.value === "")) {
      replace(status, errorMessage(t("need-in-force")));
      return;
    }
    body.decision = {
      in_force: inForce.value || null,
      objective: objective.value,
      max_loss_share: maxLoss.value === "" ? null : Number(maxLoss.value) / 100,
    };
    const scenarios = whatIf.scenarios();
    if (typeof scenarios === "string") {
      replace(status, errorMessage(scenarios));
      return;
    }
    if (scenarios.length) body.scenarios = scenarios;
    submit.disabled = true;
    try {
      const job = await api("comparisons", { method: "POST", body });
      replace(status);
      await onStarted(job);
    } catch (error) {
      replace(status, problem(error));
    } finally {
      submit.disabled = false;
    }
  }

  return h(
    "section",
    { class: "card", "aria-labelledby": "run-title" },
    h("h2", { id: "run-title" }, t("run")),
    h("p", {}, t("run-intro")),
    h(
      "form",
      { onsubmit: start },
      h("div", { class: "filters" }, field("run-first", t("first-month"), firstInput), field("run-last", t("last-month"), lastInput)),
      h("fieldset", { class: "schemes" }, h("legend", {}, t("schemes")), boxes),
      h(
        "fieldset",
        { class: "prices" },
        h("legend", {}, t("prices")),
        h("p", { class: "hint", id: "run-prices-hint" }, t("prices-hint")),
        h("div", { class: "filters" }, field("run-import", t("import-price"), importPrice), field("run-surplus", t("surplus-price"), surplusPrice)),
      ),
      h("details", {}, h("summary", {}, t("rules")), h("div", { class: "filters" }, RULES.map((rule) => field(`run-${rule}`, t(`rule.${rule}`), rules[rule])))),
      h(
        "details",
        {},
        h("summary", {}, t("decision")),
        h("p", { class: "hint" }, t("decision-hint")),
        h("div", { class: "filters" }, field("run-in-force", t("in-force"), inForce), field("run-objective", t("objective"), objective), field("run-max-loss", t("max-loss"), maxLoss)),
      ),
      whatIf.view,
      status,
      h("div", { class: "actions" }, submit),
    ),
  );
}

/** Against the agreement in force: how many members gain and lose, and the largest loss. */
function gainsAndLosses(fairness) {
  if (!fairness?.in_force) return [h("td", { class: "numeric" }, "–"), h("td", { class: "numeric" }, "–")];
  const worst = fairness.worst_loss_share;
  return [
    h("td", { class: "numeric", dataset: { label: t("gain-lose") } }, `${number(fairness.gainers)} / ${number(fairness.losers)}`),
    h(
      "td",
      { class: worst ? "numeric loss" : "numeric", dataset: { label: t("worst-loss") } },
      worst ? `−${number(worst, { style: "percent", maximumFractionDigits: 1 })}` : "–",
    ),
  ];
}

/** What a scenario changes, in the reader's language. */
function scenarioText(item) {
  const { asked, facts } = item;
  const kwh = (value) => number(value ?? 0, { maximumFractionDigits: 0 });
  const texts = {
    "member-joins": () => t("scenario.member-joins", { name: item.name || asked.member_id, kwh: kwh(facts.annual_kwh ?? asked.annual_kwh) }),
    "member-leaves": () => t("scenario.member-leaves", { member: asked.member_id, kwh: kwh(facts.annual_kwh) }),
    "plant-grows": () => t("scenario.plant-grows", { kwp: number(asked.added_kwp), kwh: kwh(facts.added_kwh_year) }),
    battery: () => t("scenario.battery", { kwh: number(asked.capacity_kwh), kw: number(asked.power_kw), given: kwh(facts.discharged_kwh_year) }),
    prices: () => t("scenario.prices", { imports: number(asked.import_factor, { maximumFractionDigits: 2 }), surplus: number(asked.surplus_factor, { maximumFractionDigits: 2 }) }),
  };
  const text = texts[item.kind]();
  return item.name && item.kind !== "member-joins" ? `${item.name}: ${text}` : text;
}

/** A figure with its change from today's under it (± when the change shows as 0). */
function withChange(value, before, options) {
  if (value === null || before === null) return number(value, options);
  const change = value - before;
  const shown = number(Math.abs(change), options);
  const zero = Number(shown.replace(/\D/g, "")) === 0;
  const sign = zero ? "±" : change > 0 ? "+" : "−";
  return h("span", {}, number(value, options), h("br", {}), h("span", { class: !zero && change < 0 ? "change loss" : "change" }, sign, shown));
}

function whatIfView(whatIf) {
  const scheme = whatIf.schemes[0];
  const base = whatIf.base[scheme];
  const money = { minimumFractionDigits: 2, maximumFractionDigits: 2 };
  const energy = { maximumFractionDigits: 0 };
  const rows = [
    h(
      "tr",
      {},
      h("th", { scope: "row" }, t("today")),
      h("td", { class: "numeric", dataset: { label: t("self-consumed") } }, number(base.self_consumed_kwh, energy)),
      h("td", { class: "numeric", dataset: { label: t("savings") } }, number(base.savings_eur, money)),
    ),
    ...whatIf.items.map((item) => {
      if (item.error !== null) {
        return h("tr", {}, h("th", { scope: "row" }, scenarioText(item), h("br", {}), h("span", { class: "change loss" }, t("scenario-cannot", { error: item.error }))), h("td", { class: "numeric empty" }, "–"), h("td", { class: "numeric empty" }, "–"));
      }
      const after = item.schemes[scheme];
      return h(
        "tr",
        {},
        h("th", { scope: "row" }, scenarioText(item)),
        h("td", { class: "numeric", dataset: { label: t("self-consumed") } }, withChange(after.self_consumed_kwh, base.self_consumed_kwh, energy)),
        h("td", { class: "numeric", dataset: { label: t("savings") } }, withChange(after.savings_eur, base.savings_eur, money)),
      );
    }),
  ];
  return [
    h("h3", {}, t("what-if")),
    h("p", { class: "hint" }, t("what-if-note", { scheme: schemeName(scheme) })),
    scrollingTable(t("what-if"), [["scenario"], ["self-consumed", true], ["savings", true]], rows, { className: "what-if" }),
  ];
}

function adoptDialog(job, scheme, done) {
  const name = h("input", { id: "adopt-name", required: true, maxlength: 100, value: `${schemeName(scheme)} ${new Date().getFullYear() + 1}` });
  const validFrom = h("input", { id: "adopt-from", type: "date", required: true });
  const status = h("div", {});
  const dialog = openDialog(
    t("adopt-title", { scheme: schemeName(scheme) }),
    h(
      "form",
      {
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            const agreement = await api(`comparisons/${encodeURIComponent(job.id)}/adopt`, {
              method: "POST",
              body: { scheme, name: name.value.trim(), valid_from: validFrom.value },
            });
            dialog.close();
            await done(agreement);
          } catch (error) {
            replace(status, problem(error));
          }
        },
      },
      h("p", {}, t("adopt-text")),
      field("adopt-name", t("name"), name),
      field("adopt-from", t("valid-from"), validFrom),
      status,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "text", onclick: () => dialog.close() }, t("cancel")),
        h("button", { type: "submit", class: "primary" }, t("adopt")),
      ),
    ),
  );
  name.focus();
}

function summaryView(job, canManage, adopted) {
  const summary = job.summary;
  // Against the agreement in force: who gains and who loses (with prices and one in force).
  const against = summary.ranking.some((scheme) => summary.schemes[scheme].fairness?.in_force);
  const rows = summary.ranking.map((scheme, index) => {
    const found = summary.schemes[scheme];
    const figures = found.community;
    const isWinner = scheme === summary.winner;
    const adoptable = canManage && found.coefficients !== null;
    return h(
      "tr",
      { class: isWinner ? "winner" : null },
      h("td", { class: "numeric" }, index + 1),
      h(
        "th",
        { scope: "row" },
        schemeName(scheme),
        isWinner ? [" ", h("span", { class: "badge active" }, t("winner"))] : null,
        found.agreement ? null : [" ", h("span", { class: "badge revoked" }, t("reference"))],
        found.keeps_rules === false ? [" ", h("span", { class: "badge warning" }, t("breaks-rules"))] : null,
      ),
      h("td", { class: "numeric", dataset: { label: t("self-consumed") } }, number(figures.self_consumed_kwh)),
      h("td", { class: "numeric", dataset: { label: t("self-sufficiency") } }, number(figures.self_sufficiency, { style: "percent", maximumFractionDigits: 1 })),
      h("td", { class: "numeric", dataset: { label: t("savings") } }, number(figures.savings_eur, { minimumFractionDigits: 2, maximumFractionDigits: 2 })),
      against ? gainsAndLosses(found.fairness) : null,
      canManage
        ? h(
            "td",
            { class: "adopt" },
            adoptable
              ? h(
                  "button",
                  { type: "button", class: isWinner ? "primary" : "secondary", "aria-label": t("adopt-scheme", { scheme: schemeName(scheme) }), onclick: () => adoptDialog(job, scheme, adopted) },
                  t("adopt"),
                )
              : null,
          )
        : null,
    );
  });
  const headings = [["rank", true], ["scheme"], ["self-consumed", true], ["self-sufficiency", true], ["savings", true]];
  if (against) headings.push(["gain-lose", true], ["worst-loss", true]);
  if (canManage) headings.push([null]);
  return [
    h("h3", {}, t("ranking")),
    scrollingTable(t("ranking"), headings, rows, { className: "ranking" }),
    summary.scenarios ? whatIfView(summary.scenarios) : null,
    h(
      "p",
      {},
      h("a", { href: `api/v1/comparisons/${encodeURIComponent(job.id)}/report`, target: "_blank", rel: "noopener" }, t("report"), " ", h("span", { class: "visually-hidden" }, t("new-tab"))),
    ),
  ];
}

// The page ---------------------------------------------------------------------------------

export async function render(main, _params, session) {
  const canManage = session.permissions.includes("manage");
  const agreementsArea = h("div", {});
  const fileArea = h("div", {});
  const jobArea = h("div", {});
  const pastArea = h("div", {});
  let shownJob = null;
  let timer = null;

  async function drawAgreements() {
    const agreements = await api("agreements");
    replace(agreementsArea, agreementsCards(agreements, session));
    replace(fileArea, fileCard(agreements));
  }

  async function drawPast() {
    const jobs = await api("comparisons");
    const rows = jobs.map((job) =>
      h(
        "tr",
        {},
        h("td", {}, formatDate(job.created, { dateStyle: "short", timeStyle: "short" })),
        h("td", {}, periodText(job.request.period)),
        h("td", {}, t(`state.${job.state}`)),
        h("td", {}, job.summary?.winner ? schemeName(job.summary.winner) : "–"),
        h(
          "td",
          {},
          h("button", { type: "button", class: "text", "aria-label": t("show-job", { created: formatDateTime(job.created) }), onclick: () => showJob(job, true) }, t("show")),
        ),
      ),
    );
    replace(
      pastArea,
      h(
        "section",
        { class: "card", "aria-labelledby": "past-title" },
        h("h2", { id: "past-title" }, t("past")),
        jobs.length ? scrollingTable(t("past"), [["created"], ["period"], ["state"], ["winner"], [null]], rows) : h("p", {}, t("no-comparisons")),
      ),
    );
  }

  async function adopted(agreement) {
    const text = t("adopted", { name: agreement.name, from: day(agreement.valid_from) });
    // Said where the user adopted it, and in the history at the top.
    jobArea.querySelector(".job")?.append(notice(text));
    announce(text);
    await drawAgreements();
  }

  function showJob(job, focus = false) {
    clearTimeout(timer);
    shownJob = job.id;
    const period = job.request.period;
    const heading =
      period.first === period.last
        ? t("job-title-one", { month: monthName(period.first) })
        : t("job-title", { first: monthName(period.first), last: monthName(period.last) });
    const title = h("h2", { id: "job-title", tabindex: -1 }, heading);
    const running = job.state === "queued" || job.state === "running";
    const percent = formatNumber(job.progress, { style: "percent", maximumFractionDigits: 0 });
    let body;
    if (running) {
      body = h(
        "div",
        { class: "progress" },
        h("label", { for: "job-progress" }, t("progress")),
        h("progress", { id: "job-progress", max: 1, value: job.progress, "aria-valuetext": `${t(`state.${job.state}`)}: ${percent}` }),
        h("p", { class: "hint" }, `${t(`state.${job.state}`)} · ${percent}`),
      );
    } else if (job.state === "failed") {
      body = errorMessage(t("failed", { error: job.error ?? "" }));
    } else {
      body = summaryView(job, canManage, adopted);
    }
    replace(jobArea, h("section", { class: "card job", "aria-labelledby": "job-title", dataset: { state: job.state } }, title, body));
    if (focus) title.focus();
    if (running) {
      timer = setTimeout(async () => {
        if (!jobArea.isConnected || shownJob !== job.id) return;
        try {
          const fresh = await api(`comparisons/${encodeURIComponent(job.id)}`);
          if (!jobArea.isConnected || shownJob !== job.id) return;
          showJob(fresh);
          if (fresh.state === "done" || fresh.state === "failed") {
            announce(t(`state.${fresh.state}`));
            await drawPast();
          }
        } catch (error) {
          replace(jobArea, problem(error));
        }
      }, POLL_MS);
    }
  }

  const [members] = await Promise.all([canManage ? api("members") : [], drawAgreements(), drawPast()]);
  replace(
    main,
    h("div", { class: "page-header" }, h("h1", {}, t("title"))),
    agreementsArea,
    canManage
      ? runForm(members, async (job) => {
          showJob(job, true);
          await drawPast();
        })
      : null,
    jobArea,
    pastArea,
    fileArea,
    checkCard(),
  );
}
