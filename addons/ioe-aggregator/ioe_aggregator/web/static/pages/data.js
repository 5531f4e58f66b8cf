// The community's data: how complete each member's is (member × day), distributors' files
// uploaded with their line-by-line report, Datadis synced now, each member's month for the
// billing platform (per tariff period, as CSV or JSON), a member's readings as CSV, and the
// history of the former emoncms platform imported (guided: source, feeds, progress).
import { api, ApiError } from "../api.js";
import { h, replace, announce } from "../dom.js";
import { formatDate, formatDateTime, formatNumber, language, translator } from "../i18n.js";
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
    emoncms: "Import from emoncms",
    "emoncms-intro": "The history of the community's former platform (emoncms): each feed you choose becomes a member's own meter readings, per quarter hour. Importing the same data again changes nothing, and says so.",
    "step-source": "1. Where the history is",
    "source-kind": "The history is on",
    "from-server": "An emoncms server",
    "from-files": "Files copied to the add-on's folder",
    "server-url": "Server address",
    "server-url-hint": "The address you sign in to emoncms at, such as https://emoncms.example.org/ or http://192.168.1.20/emoncms/.",
    apikey: "Read API key",
    "apikey-hint": "In emoncms: My Account, or Feeds → Feed API Help. The read key only lets the add-on read; it is used for this import and never stored.",
    "files-hint": "Copy emoncms' phpfina and phptimeseries folders (on an emonPi, in /var/opt/emoncms) into the add-on's folder, /share/emoncms. Files carry no feed names: each feed is named by its number.",
    "find-feeds": "Find feeds",
    finding: "Asking for the feeds…",
    "step-feeds": "2. Whose each feed is",
    "feeds-one": "1 feed",
    "feeds-other": "{count} feeds",
    "found-api": "{feeds} on {url}.",
    "found-files": "{feeds} in {directory}.",
    "no-feeds": "There are no feeds there.",
    "feeds-hint": "Choose the member of each feed to import, what it measures and how emoncms recorded it: a power is averaged over each quarter hour, an energy counter's rise is the quarter hour's energy. The suggestions come from the feeds' names and units: check them.",
    "all-to": "Member of every suggested feed",
    "all-to-hint": "An emoncms account is usually one home: choosing its member here sets every suggested feed; change any of them below.",
    "feeds-table": "The feeds",
    feed: "Feed",
    unit: "Unit",
    interval: "Interval",
    period: "Period",
    points: "Points",
    measure: "Measures",
    kind: "Recorded as",
    "no-data": "no data",
    variable: "variable",
    "choose-member": "Choose a member…",
    "dont-import": "Don't import",
    choose: "Choose…",
    "member-of": "Member of {feed}",
    "measure-of": "What {feed} measures",
    "kind-of": "How {feed} was recorded",
    "measure.import": "Grid import",
    "measure.export": "Grid export",
    "measure.consumption": "Home consumption",
    "measure.rooftop_pv": "Own solar panels",
    "measure.plant": "Community plant",
    "measure.ev": "Car charging",
    "measure.battery_charge": "Battery charge",
    "measure.battery_discharge": "Battery discharge",
    "kind.power_w": "Power (W)",
    "kind.power_kw": "Power (kW)",
    "kind.energy_kwh": "Counter (kWh)",
    "kind.energy_wh": "Counter (Wh)",
    "import-to": "Until (not included)",
    "period-hint": "Leave them empty to import each feed's whole history.",
    "summary-none": "Nothing to import yet.",
    "need-some": "Choose the member of at least one feed to import.",
    "summary-one": "1 feed will be imported for {members}, {period}.",
    "summary-other": "{count} feeds will be imported for {members}, {period}.",
    "members-one": "1 member",
    "members-other": "{count} members",
    "skipped-one": "1 feed is left out.",
    "skipped-other": "{count} feeds are left out.",
    "undecided-one": "1 feed still needs its member (or Don't import).",
    "undecided-other": "{count} feeds still need their member (or Don't import).",
    "whole-history": "their whole history",
    "period-between": "from {from} until {to} (not included)",
    "period-from": "from {from} on",
    "period-to": "until {to} (not included)",
    "import-now": "Import",
    "need-member": "Choose its member, or Don't import.",
    "need-measure": "Choose what it measures.",
    "need-kind": "Choose how emoncms recorded it.",
    twice: "{member} has another feed for “{measure}”: import one of them.",
    "no-plant": "{member} has no community plant registered: choose another measure, or set the plant's power in the member's page first.",
    backwards: "The day “until” must come after the day “from”.",
    "problem-of": "{field}: {message}",
    "error.bad_source": "Check the server's address (http:// or https://, with no user name or password in it) and the read API key.",
    "error.emoncms_key_refused": "emoncms refused the key: copy the read API key again from My Account on the old server.",
    "error.emoncms_unreachable": "The add-on cannot reach that server: check the address, and that the old server is on and reachable from Home Assistant.",
    "error.emoncms_answer": "That server answered, but not as emoncms does: check that the address is the one you sign in to emoncms at.",
    "error.no_emoncms_files": "There are no feed files in the add-on's folder: copy emoncms' phpfina and phptimeseries folders into /share/emoncms.",
    "error.bad_import": "Some feeds cannot be imported as chosen: see the rows marked.",
    "error.import_running": "An import is running already: wait until it finishes (it is under Past imports).",
    "import-of": "Import of {when}",
    "import-source": "From {source}.",
    "files-source": "files in {directory}",
    "import-progress": "Progress of the import",
    "feed-progress": "Progress of {feed}",
    "state-percent": "{state} · {percent}",
    "istate.running": "Running",
    "istate.done": "Done",
    "istate.failed": "Failed",
    "fstate.waiting": "Waiting",
    "fstate.importing": "Importing",
    "fstate.done": "Done",
    "fstate.failed": "Failed",
    into: "Into",
    state: "State",
    unchanged: "Unchanged",
    missing: "Missing",
    resets: "Resets",
    kwh: "kWh",
    "quarters-hint": "Counts of quarter hours. New ones were stored; changed ones replaced different readings; unchanged ones were there already. Missing ones have no value in emoncms; resets are where an energy counter went back, or jumped by more than the member's contract or plant allows: both are left out.",
    "import-done": "Done: {new} new quarter hours, {changed} changed, {unchanged} unchanged; {kwh} kWh.",
    "import-same": "Done, and nothing changed: this data was imported before ({unchanged} quarter hours, {kwh} kWh).",
    "import-nothing": "Done, but nothing was stored: no quarter hour of these feeds had data in the period (see the missing quarter hours and resets).",
    "import-failed": "The import failed.",
    "import-failed-feeds": "The import failed for {feeds}; the others were imported.",
    "feed-failed": "{feed}: {error}",
    "feed-error": "the error “{code}”",
    "error.internal": "An error inside the add-on: its log says more.",
    "past-imports": "Past imports",
    "no-imports": "No imports yet.",
    started: "Started",
    "source-col": "Source",
    "feeds-col": "Feeds",
    "show-import": "Show the import of {when}",
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
    emoncms: "Importar desde emoncms",
    "emoncms-intro": "El histórico de la antigua plataforma de la comunidad (emoncms): cada feed que elijas pasa a ser lecturas del contador propio de un socio, por cuartos de hora. Importar otra vez los mismos datos no cambia nada, y lo dice.",
    "step-source": "1. Dónde está el histórico",
    "source-kind": "El histórico está en",
    "from-server": "Un servidor emoncms",
    "from-files": "Ficheros copiados en la carpeta del complemento",
    "server-url": "Dirección del servidor",
    "server-url-hint": "La dirección en la que entras a emoncms, como https://emoncms.example.org/ o http://192.168.1.20/emoncms/.",
    apikey: "Clave de lectura de la API",
    "apikey-hint": "En emoncms: Mi cuenta, o Feeds → Feed API Help. La clave de lectura solo deja leer al complemento; se usa para esta importación y no se guarda.",
    "files-hint": "Copia las carpetas phpfina y phptimeseries de emoncms (en un emonPi, en /var/opt/emoncms) en la carpeta del complemento, /share/emoncms. Los ficheros no llevan el nombre de los feeds: cada uno se llama por su número.",
    "find-feeds": "Buscar feeds",
    finding: "Pidiendo los feeds…",
    "step-feeds": "2. De quién es cada feed",
    "feeds-one": "1 feed",
    "feeds-other": "{count} feeds",
    "found-api": "{feeds} en {url}.",
    "found-files": "{feeds} en {directory}.",
    "no-feeds": "Ahí no hay ningún feed.",
    "feeds-hint": "Elige el socio de cada feed que vayas a importar, qué mide y cómo lo registraba emoncms: una potencia se promedia en cada cuarto de hora; lo que sube un contador de energía es la energía del cuarto de hora. Las sugerencias salen de los nombres y las unidades de los feeds: revísalas.",
    "all-to": "Socio de todos los feeds sugeridos",
    "all-to-hint": "Una cuenta de emoncms suele ser una casa: elegir aquí su socio lo pone en todos los feeds sugeridos; cambia el que quieras debajo.",
    "feeds-table": "Los feeds",
    feed: "Feed",
    unit: "Unidad",
    interval: "Intervalo",
    period: "Periodo",
    points: "Puntos",
    measure: "Mide",
    kind: "Registrado como",
    "no-data": "sin datos",
    variable: "variable",
    "choose-member": "Elige un socio…",
    "dont-import": "No importar",
    choose: "Elige…",
    "member-of": "Socio de {feed}",
    "measure-of": "Qué mide {feed}",
    "kind-of": "Cómo se registraba {feed}",
    "measure.import": "Importada de la red",
    "measure.export": "Vertida a la red",
    "measure.consumption": "Consumo de la casa",
    "measure.rooftop_pv": "Placas propias",
    "measure.plant": "Planta comunitaria",
    "measure.ev": "Carga del coche",
    "measure.battery_charge": "Carga de batería",
    "measure.battery_discharge": "Descarga de batería",
    "kind.power_w": "Potencia (W)",
    "kind.power_kw": "Potencia (kW)",
    "kind.energy_kwh": "Contador (kWh)",
    "kind.energy_wh": "Contador (Wh)",
    "import-to": "Hasta (sin incluir)",
    "period-hint": "Déjalos vacíos para importar todo el histórico de cada feed.",
    "summary-none": "Nada que importar todavía.",
    "need-some": "Elige el socio de algún feed para importarlo.",
    "summary-one": "Se importará 1 feed para {members}, {period}.",
    "summary-other": "Se importarán {count} feeds para {members}, {period}.",
    "members-one": "1 socio",
    "members-other": "{count} socios",
    "skipped-one": "1 feed se queda fuera.",
    "skipped-other": "{count} feeds se quedan fuera.",
    "undecided-one": "1 feed aún no tiene socio (o No importar).",
    "undecided-other": "{count} feeds aún no tienen socio (o No importar).",
    "whole-history": "todo su histórico",
    "period-between": "del {from} al {to} (sin incluirlo)",
    "period-from": "desde el {from}",
    "period-to": "hasta el {to} (sin incluirlo)",
    "import-now": "Importar",
    "need-member": "Elige su socio, o No importar.",
    "need-measure": "Elige qué mide.",
    "need-kind": "Elige cómo lo registraba emoncms.",
    twice: "{member} tiene otro feed de «{measure}»: importa solo uno.",
    "no-plant": "{member} no tiene registrada una planta comunitaria: elige otra medida, o indica antes la potencia de la planta en la página del socio.",
    backwards: "El día «hasta» tiene que ir después del día «desde».",
    "problem-of": "{field}: {message}",
    "error.bad_source": "Revisa la dirección del servidor (http:// o https://, sin usuario ni contraseña) y la clave de lectura de la API.",
    "error.emoncms_key_refused": "emoncms ha rechazado la clave: vuelve a copiar la clave de lectura de la API desde Mi cuenta en el servidor antiguo.",
    "error.emoncms_unreachable": "El complemento no llega a ese servidor: revisa la dirección y que el servidor antiguo esté encendido y se pueda alcanzar desde Home Assistant.",
    "error.emoncms_answer": "Ese servidor ha respondido, pero no como lo hace emoncms: comprueba que la dirección es la que usas para entrar a emoncms.",
    "error.no_emoncms_files": "No hay ficheros de feeds en la carpeta del complemento: copia en /share/emoncms las carpetas phpfina y phptimeseries de emoncms.",
    "error.bad_import": "Algunos feeds no se pueden importar tal como están elegidos: mira las filas marcadas.",
    "error.import_running": "Ya hay una importación en marcha: espera a que termine (está en Importaciones anteriores).",
    "import-of": "Importación del {when}",
    "import-source": "Desde {source}.",
    "files-source": "los ficheros de {directory}",
    "import-progress": "Avance de la importación",
    "feed-progress": "Avance de {feed}",
    "state-percent": "{state} · {percent}",
    "istate.running": "En curso",
    "istate.done": "Terminada",
    "istate.failed": "Fallida",
    "fstate.waiting": "En espera",
    "fstate.importing": "Importando",
    "fstate.done": "Terminado",
    "fstate.failed": "Fallido",
    into: "Para",
    state: "Estado",
    unchanged: "Sin cambios",
    missing: "Sin dato",
    resets: "Reinicios",
    kwh: "kWh",
    "quarters-hint": "Número de cuartos de hora. Los nuevos se han guardado; los cambiados sustituyen lecturas distintas; los que no cambian ya estaban. Los que no tienen dato en emoncms y los reinicios (donde un contador de energía vuelve atrás o salta más de lo que permiten el contrato o la planta del socio) se quedan fuera.",
    "import-done": "Terminada: {new} cuartos de hora nuevos, {changed} cambiados, {unchanged} sin cambios; {kwh} kWh.",
    "import-same": "Terminada, y nada ha cambiado: estos datos ya se importaron ({unchanged} cuartos de hora, {kwh} kWh).",
    "import-nothing": "Terminada, pero no se ha guardado nada: ningún cuarto de hora de estos feeds tenía datos en el periodo (mira los cuartos sin dato y los reinicios).",
    "import-failed": "La importación ha fallado.",
    "import-failed-feeds": "La importación ha fallado en {feeds}; los demás se han importado.",
    "feed-failed": "{feed}: {error}",
    "feed-error": "el error «{code}»",
    "error.internal": "Un error dentro del complemento: su registro (log) da más detalles.",
    "past-imports": "Importaciones anteriores",
    "no-imports": "Todavía no hay importaciones.",
    started: "Empezó",
    "source-col": "Origen",
    "feeds-col": "Feeds",
    "show-import": "Mostrar la importación del {when}",
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

// emoncms ----------------------------------------------------------------------------------
// The former platform's history: where it is (a server and its read key, or files copied to
// the add-on's folder), whose each feed is, and the import's progress. The key lives in this
// closure from "Find feeds" until the import starts, and never in the page after that.

const MEASURES = ["consumption", "import", "export", "rooftop_pv", "plant", "ev", "battery_charge", "battery_discharge"];
const KINDS = ["power_w", "power_kw", "energy_kwh", "energy_wh"];
const POLL_MS = 2000;
const DONT_IMPORT = "-"; // no member id starts with "-"

/** `key-one` or `key-other` by the language's plural rule, with the count formatted. */
function plural(key, count, params = {}) {
  const form = new Intl.PluralRules(language()).select(count) === "one" ? "one" : "other";
  return t(`${key}-${form}`, { ...params, count: formatNumber(count) });
}

/** An emoncms refusal in the reader's language, from its code; never its raw text when known. */
function emoncmsProblem(error) {
  if (!(error instanceof ApiError)) return errorMessage(String(error));
  const key = `error.${error.code}`;
  // This card's codes from its own texts; the shared ones (with their message) as every page.
  return errorMessage(key in TEXTS.en ? t(key) : error.describe());
}

/** A feed's or an import's error as the reader reads it: by its code ("code" or "code: why"). */
function feedError(error) {
  const code = /^([a-z][a-z0-9_]*)(?::|$)/.exec(error ?? "")?.[1];
  if (!code) return error ?? "";
  const key = `error.${code}`;
  return key in TEXTS.en ? t(key) : t("feed-error", { code });
}

/** A bad_import's problems, each after where it is: "feeds[0].member: no member m-0404; …". */
function problemsOf(error) {
  return error.message.split("; ").map((part) => {
    const match = /^([\w.[\]]+): (.*)$/.exec(part);
    return match ? { at: match[1], message: match[2] } : { at: null, message: part };
  });
}

/** "use (#12)", or "#12" for a feed known by its number only. */
function feedName(feed) {
  const name = (feed.name ?? "").trim();
  return name && name !== `feed ${feed.id}` ? `${name} (#${feed.id})` : `#${feed.id}`;
}

function sourceText(source) {
  return source.kind === "files" ? t("files-source", { directory: source.directory }) : source.url;
}

function percent(value) {
  return formatNumber(value ?? 0, { style: "percent", maximumFractionDigits: 0 });
}

function intervalText(feed) {
  if (feed.engine === "phptimeseries") return t("variable");
  if (feed.interval_s === null || feed.interval_s === undefined) return "–";
  return formatNumber(feed.interval_s, { style: "unit", unit: "second", unitDisplay: "narrow" });
}

/** The feed's first and last day, each whole on its line when the cell is narrow. */
function periodOf(feed) {
  if (!feed.first) return t("no-data");
  return h("span", {}, h("span", { class: "day" }, `${formatDate(feed.first)} –`), " ", h("span", { class: "day" }, formatDate(feed.last ?? feed.first)));
}

function choice(id, label, options, value) {
  return h("select", { id, "aria-label": label },
    options.map(([optionValue, text]) => h("option", { value: optionValue, selected: optionValue === value }, text)));
}

/** Step 2: one row per feed with its member, measure and kind; the rows and their checks. */
function feedRows(feeds, members) {
  const memberOptions = [
    ["", t("choose-member")],
    [DONT_IMPORT, t("dont-import")],
    ...members.map((one) => [one.id, `${one.id} · ${one.name}`]),
  ];
  return feeds.map((feed, index) => {
    const name = feedName(feed);
    const suggestion = feed.first ? feed.suggestion : null;
    const member = choice(`emoncms-member-${index}`, t("member-of", { feed: name }), memberOptions, suggestion ? "" : DONT_IMPORT);
    const measure = choice(`emoncms-measure-${index}`, t("measure-of", { feed: name }),
      [["", t("choose")], ...MEASURES.map((one) => [one, t(`measure.${one}`)])], suggestion?.measure ?? "");
    const kind = choice(`emoncms-kind-${index}`, t("kind-of", { feed: name }),
      [["", t("choose")], ...KINDS.map((one) => [one, t(`kind.${one}`)])], suggestion?.kind ?? "");
    const problem = h("td", { id: `emoncms-problem-${index}`, colspan: 8, class: "row-problem" });
    const problemRow = h("tr", { class: "row-problem", hidden: true }, problem);
    const label = (feed.tag ?? "").trim() ? `#${feed.id} · ${feed.tag.trim()}` : `#${feed.id}`;
    const row = h("tr", { dataset: { feed: feed.id } },
      h("th", { scope: "row" }, h("span", { class: "feed-name" }, (feed.name ?? "").trim() || `#${feed.id}`), h("span", { class: "feed-sub" }, label)),
      h("td", { "data-label": t("unit") }, feed.unit || "–"),
      h("td", { "data-label": t("interval") }, intervalText(feed)),
      h("td", { "data-label": t("period") }, periodOf(feed)),
      h("td", { class: "numeric", "data-label": t("points") }, feed.points === null || feed.points === undefined ? "–" : formatNumber(feed.points)),
      h("td", { "data-label": t("member") }, member),
      h("td", { "data-label": t("measure") }, measure),
      h("td", { "data-label": t("kind") }, kind));
    const selects = { member, measure, kind };
    const shown = { feed, name, suggestion, row, problemRow, selects };
    shown.importing = () => member.value !== DONT_IMPORT;
    shown.sync = () => {
      const skipped = !shown.importing();
      row.classList.toggle("skipped", skipped);
      measure.disabled = skipped;
      kind.disabled = skipped;
    };
    /** Say `lines` under the row, marking the selects they concern (none: clear it). */
    shown.mark = (lines, fields = []) => {
      for (const [field, select] of Object.entries(selects)) {
        if (fields.includes(field)) {
          select.setAttribute("aria-invalid", "true");
          select.setAttribute("aria-describedby", problem.id);
        } else {
          select.removeAttribute("aria-invalid");
          select.removeAttribute("aria-describedby");
        }
      }
      replace(problem, lines.length > 1 ? h("ul", { class: "problems" }, lines.map((line) => h("li", {}, line))) : lines);
      problemRow.hidden = lines.length === 0;
      row.classList.toggle("has-problem", lines.length > 0);
    };
    shown.sync();
    return shown;
  });
}

async function emoncmsCard() {
  const card = h("section", { class: "card emoncms", "aria-labelledby": "emoncms-title" });
  const [members, past] = await Promise.all([api("members"), api("emoncms/imports").catch((error) => error)]);
  const feedsArea = h("div", {});
  const importArea = h("div", {});
  const pastArea = h("div", {});
  let found = null; // {source (with the key), feeds}
  let shownImport = null;
  let timer = null;

  // Step 1: the source.
  const kinds = ["api", "files"].map((value) =>
    h("label", { class: "check" }, h("input", { type: "radio", name: "emoncms-source", value, checked: value === "api" }), t(value === "api" ? "from-server" : "from-files")));
  const url = h("input", { id: "emoncms-url", type: "url", required: true, autocomplete: "url", spellcheck: "false", "aria-describedby": "emoncms-url-hint" });
  const key = h("input", { id: "emoncms-key", type: "password", required: true, autocomplete: "off", spellcheck: "false", autocapitalize: "off", "aria-describedby": "emoncms-key-hint" });
  const serverFields = h("div", { class: "filters emoncms-server" },
    h("div", { class: "field" }, h("label", { for: "emoncms-url" }, t("server-url")), url, h("p", { class: "hint", id: "emoncms-url-hint" }, t("server-url-hint"))),
    h("div", { class: "field" }, h("label", { for: "emoncms-key" }, t("apikey")), key, h("p", { class: "hint", id: "emoncms-key-hint" }, t("apikey-hint"))));
  const filesHint = h("p", { class: "hint emoncms-files", hidden: true }, t("files-hint"));
  const findButton = h("button", { type: "submit", class: "primary" }, t("find-feeds"));
  const sourceStatus = h("div", { "aria-live": "polite" });
  const fromFiles = () => kinds[1].querySelector("input").checked;

  function chooseKind() {
    serverFields.hidden = fromFiles();
    filesHint.hidden = !fromFiles();
    url.required = !fromFiles();
    key.required = !fromFiles();
    found = null;
    replace(feedsArea);
    replace(sourceStatus);
  }
  for (const label of kinds) label.querySelector("input").addEventListener("change", chooseKind);

  async function findFeeds(event) {
    event.preventDefault();
    const source = fromFiles() ? { files: true } : { url: url.value.trim(), apikey: key.value.trim() };
    found = null;
    replace(feedsArea);
    replace(sourceStatus, notice(t("finding")));
    findButton.disabled = true;
    try {
      const answer = await api("emoncms/feeds", { method: "POST", body: source });
      replace(sourceStatus);
      found = { source, feeds: answer.feeds };
      showFeeds(answer);
    } catch (error) {
      replace(sourceStatus, emoncmsProblem(error));
      if (error instanceof ApiError && error.code === "emoncms_key_refused") {
        key.value = "";
        key.focus();
      }
    } finally {
      findButton.disabled = false;
    }
  }

  const sourceForm = h("form", { class: "emoncms-source", onsubmit: findFeeds },
    h("h3", {}, t("step-source")),
    h("fieldset", {}, h("legend", {}, t("source-kind")), kinds),
    serverFields, filesHint, sourceStatus,
    h("div", { class: "actions" }, findButton));

  // Step 2: whose each feed is.
  function showFeeds(answer) {
    const title = h("h3", { id: "emoncms-feeds-title", tabindex: -1 }, t("step-feeds"));
    const where = answer.source.kind === "files"
      ? t("found-files", { feeds: plural("feeds", answer.feeds.length), directory: answer.source.directory })
      : t("found-api", { feeds: plural("feeds", answer.feeds.length), url: answer.source.url });
    if (answer.feeds.length === 0) {
      replace(feedsArea, title, h("p", {}, where), h("p", {}, t("no-feeds")));
      title.focus();
      return;
    }
    const rows = feedRows(answer.feeds, members);
    const allTo = h("select", { id: "emoncms-all-to", "aria-describedby": "emoncms-all-to-hint" },
      h("option", { value: "" }, t("choose-member")), members.map((one) => h("option", { value: one.id }, `${one.id} · ${one.name}`)));
    const today = new Date();
    const from = h("input", { id: "emoncms-from", type: "date", max: isoDay(today), "aria-describedby": "emoncms-period-hint" });
    const to = h("input", { id: "emoncms-to", type: "date", max: isoDay(new Date(today.getTime() + DAY_MS)), "aria-describedby": "emoncms-period-hint" });
    const summary = h("p", { class: "emoncms-summary", "aria-live": "polite" });
    const status = h("div", {});
    const importButton = h("button", { type: "submit", class: "primary" }, t("import-now"));

    function summarise() {
      const chosen = rows.filter((row) => row.importing() && row.selects.member.value !== "");
      const skipped = rows.filter((row) => !row.importing()).length;
      const undecided = rows.length - chosen.length - skipped;
      const later = undecided ? ` ${plural("undecided", undecided)}` : "";
      if (chosen.length === 0) {
        replace(summary, t("summary-none"), later);
        return;
      }
      const day = (value) => formatDate(`${value}T12:00:00Z`);
      const period = from.value && to.value
        ? t("period-between", { from: day(from.value), to: day(to.value) })
        : from.value ? t("period-from", { from: day(from.value) })
          : to.value ? t("period-to", { to: day(to.value) }) : t("whole-history");
      const members = plural("members", new Set(chosen.map((row) => row.selects.member.value)).size);
      replace(summary, plural("summary", chosen.length, { members, period }), skipped ? ` ${plural("skipped", skipped)}` : "", later);
    }

    for (const row of rows) {
      row.selects.member.addEventListener("change", () => {
        row.sync();
        summarise();
      });
      for (const select of [row.selects.measure, row.selects.kind]) select.addEventListener("change", summarise);
    }
    allTo.addEventListener("change", () => {
      if (!allTo.value) return;
      for (const row of rows) {
        if (row.suggestion && row.selects.member.value !== DONT_IMPORT) {
          row.selects.member.value = allTo.value;
          row.sync();
        }
      }
      summarise();
    });
    for (const input of [from, to]) input.addEventListener("change", summarise);

    /** The rows' own problems before asking the API; true when there is none. */
    function check() {
      let fine = true;
      const seen = new Set();
      for (const row of rows) {
        const lines = [];
        const fields = [];
        if (row.importing()) {
          const { member, measure } = row.selects;
          for (const [field, select] of Object.entries(row.selects)) {
            if (select.value) continue;
            lines.push(t(`need-${field}`));
            fields.push(field);
          }
          const registered = members.find((one) => one.id === member.value);
          if (measure.value === "plant" && registered && !(registered.plant_kw > 0)) {
            lines.push(t("no-plant", { member: member.value }));
            fields.push("measure");
          }
          const pair = `${member.value} ${measure.value}`;
          if (member.value && measure.value && seen.has(pair)) {
            lines.push(t("twice", { member: member.value, measure: t(`measure.${measure.value}`) }));
            fields.push("measure");
          }
          seen.add(pair);
        }
        row.mark(lines, fields);
        fine &&= lines.length === 0;
      }
      return fine;
    }

    async function start(event) {
      event.preventDefault();
      replace(status);
      const backwards = Boolean(from.value && to.value && to.value <= from.value);
      for (const input of [from, to]) {
        if (backwards) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
      }
      const rowsFine = check();
      if (!rowsFine || backwards) {
        replace(status, rowsFine ? null : errorMessage(t("error.bad_import")), backwards ? errorMessage(t("backwards")) : null);
        (rows.find((row) => !row.problemRow.hidden)?.row.querySelector("[aria-invalid]") ?? to).focus();
        return;
      }
      const chosen = rows.filter((row) => row.importing());
      if (chosen.length === 0) {
        replace(status, errorMessage(t("need-some")));
        return;
      }
      const body = {
        source: found.source,
        feeds: chosen.map((row) => ({ feed: row.feed.id, member: row.selects.member.value, measure: row.selects.measure.value, kind: row.selects.kind.value })),
      };
      if (from.value) body.from = from.value;
      if (to.value) body.to = to.value;
      importButton.disabled = true;
      try {
        const started = await api("emoncms/imports", { method: "POST", body });
        // The key has done its work: out of the page and of memory.
        key.value = "";
        found = null;
        replace(feedsArea);
        showImport(started, Object.fromEntries(answer.feeds.map((feed) => [feed.id, feed])), true);
        await drawPast();
      } catch (error) {
        replace(status, emoncmsProblem(error));
        if (error instanceof ApiError && error.code === "bad_import") showProblems(problemsOf(error), chosen, from, to, status);
      } finally {
        importButton.disabled = false;
      }
    }

    replace(feedsArea,
      h("form", { class: "emoncms-feeds", onsubmit: start, "aria-labelledby": "emoncms-feeds-title" },
        title, h("p", {}, where), h("p", { class: "hint" }, t("feeds-hint")),
        h("div", { class: "filters" }, h("div", { class: "field" }, h("label", { for: "emoncms-all-to" }, t("all-to")), allTo,
          h("p", { class: "hint", id: "emoncms-all-to-hint" }, t("all-to-hint")))),
        h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": t("feeds-table") },
          h("table", { class: "stacked emoncms-feeds" },
            h("caption", { class: "visually-hidden" }, t("feeds-table")),
            h("thead", {}, h("tr", {}, ["feed", "unit", "interval", "period", "points", "member", "measure", "kind"].map((heading) =>
              h("th", { scope: "col", class: heading === "points" ? "numeric" : null }, t(heading))))),
            h("tbody", {}, rows.map((row) => [row.row, row.problemRow])))),
        h("div", { class: "filters" },
          h("div", { class: "field" }, h("label", { for: "emoncms-from" }, t("from")), from),
          h("div", { class: "field" }, h("label", { for: "emoncms-to" }, t("import-to")), to)),
        h("p", { class: "hint", id: "emoncms-period-hint" }, t("period-hint")),
        summary, status,
        h("div", { class: "actions" }, importButton)));
    summarise();
    title.focus();
  }

  /** The API's problems (400 bad_import): each next to the row it concerns, the rest above. */
  function showProblems(problems, chosen, from, to, status) {
    const byRow = new Map();
    const general = [];
    for (const problem of problems) {
      const match = /^feeds\[(\d+)\](?:\.(\w+))?/.exec(problem.at ?? "");
      const row = match ? chosen[Number(match[1])] : null;
      if (!row) {
        general.push(problem.at ? t("problem-of", { field: problem.at, message: problem.message }) : problem.message);
        continue;
      }
      const field = match[2] ?? "feed";
      const entry = byRow.get(row) ?? { lines: [], fields: [] };
      const label = { member: t("member"), measure: t("measure"), kind: t("kind") }[field];
      const said = problem.message.charAt(0).toUpperCase() + problem.message.slice(1);
      entry.lines.push(label ? t("problem-of", { field: label, message: problem.message }) : said);
      entry.fields.push(field);
      byRow.set(row, entry);
    }
    for (const [row, entry] of byRow) row.mark(entry.lines, entry.fields);
    for (const input of [from, to]) {
      const bad = problems.some((problem) => problem.at === input.id.replace("emoncms-", ""));
      if (bad) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
    if (general.length) status.append(h("ul", { class: "problems" }, general.map((line) => h("li", {}, line))));
  }

  // Step 3: the import, polled while it runs.
  function importView(imported, names) {
    const title = h("h3", { id: "emoncms-import-title", tabindex: -1 }, t("import-of", { when: formatDateTime(imported.started_at) }));
    const state = t(`istate.${imported.state}`);
    const nameOf = (id) => (names[id] ? feedName(names[id]) : `#${id}`);
    const totals = { new: 0, changed: 0, unchanged: 0, kwh: 0 };
    const rows = imported.feeds.map((one) => {
      const quarters = one.quarters ?? {};
      for (const count of ["new", "changed", "unchanged"]) totals[count] += quarters[count] ?? 0;
      totals.kwh += one.kwh ?? 0;
      const feedState = t(`fstate.${one.state}`);
      return h("tr", { dataset: { feed: one.feed, state: one.state } },
        h("th", { scope: "row" }, nameOf(one.feed)),
        h("td", { "data-label": t("into") }, `${one.member} · ${t(`measure.${one.measure}`)}`),
        h("td", { class: "progress-cell", "data-label": t("state") },
          h("progress", { max: 1, value: one.progress ?? 0, "aria-label": t("feed-progress", { feed: nameOf(one.feed) }), "aria-valuetext": t("state-percent", { state: feedState, percent: percent(one.progress) }) }),
          h("span", { class: one.state === "failed" ? "feed-state danger-text" : "feed-state" },
            one.state === "failed" ? `${feedState}: ${feedError(one.error)}` : t("state-percent", { state: feedState, percent: percent(one.progress) }))),
        ["new", "changed", "unchanged", "missing", "resets"].map((count) =>
          h("td", { class: "numeric", "data-label": t(count) }, quarters[count] === undefined ? "–" : formatNumber(quarters[count]))),
        h("td", { class: "numeric", "data-label": t("kwh") }, one.kwh === null || one.kwh === undefined ? "–" : formatNumber(one.kwh, KWH)));
    });
    let outcome = null;
    if (imported.state === "done") {
      const counts = { new: formatNumber(totals.new), changed: formatNumber(totals.changed), unchanged: formatNumber(totals.unchanged), kwh: formatNumber(totals.kwh, KWH) };
      const outcomeText = totals.new + totals.changed > 0 ? "import-done" : totals.unchanged > 0 ? "import-same" : "import-nothing";
      outcome = notice(t(outcomeText, counts));
    } else if (imported.state === "failed") {
      const failed = imported.feeds.filter((one) => one.state === "failed");
      outcome = h("div", { class: "message error", role: "alert" },
        h("p", {}, failed.length ? t("import-failed-feeds", { feeds: failed.map((one) => nameOf(one.feed)).join(", ") }) : t("import-failed")),
        h("ul", { class: "problems" },
          // The import's own error, unless it only names the failed feeds listed here.
          imported.error && !(failed.length && imported.error.startsWith("feeds not imported")) ? h("li", {}, feedError(imported.error)) : null,
          failed.map((one) => h("li", {}, t("feed-failed", { feed: nameOf(one.feed), error: feedError(one.error) })))));
    }
    return [
      h("section", { class: "emoncms-import", "aria-labelledby": "emoncms-import-title", dataset: { import: imported.id, state: imported.state } },
        title,
        h("p", {}, t("import-source", { source: sourceText(imported.source) })),
        h("div", { class: "field" },
          h("label", { for: "emoncms-progress" }, t("import-progress")),
          h("progress", { id: "emoncms-progress", max: 1, value: imported.progress ?? 0, "aria-valuetext": t("state-percent", { state, percent: percent(imported.progress) }) }),
          h("p", { class: "hint" }, t("state-percent", { state, percent: percent(imported.progress) }))),
        outcome,
        h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": t("import-of", { when: formatDateTime(imported.started_at) }) },
          h("table", { class: "stacked emoncms-progress" },
            h("caption", { class: "visually-hidden" }, t("import-of", { when: formatDateTime(imported.started_at) })),
            h("thead", {}, h("tr", {}, ["feed", "into", "state", "new", "changed", "unchanged", "missing", "resets", "kwh"].map((heading, index) =>
              h("th", { scope: "col", class: index > 2 ? "numeric" : null }, t(heading))))),
            h("tbody", {}, rows))),
        h("p", { class: "hint" }, t("quarters-hint"))),
      title,
    ];
  }

  function showImport(imported, names = {}, focus = false) {
    clearTimeout(timer);
    shownImport = imported.id;
    const [view, title] = importView(imported, names);
    replace(importArea, view);
    if (focus) title.focus();
    if (imported.state !== "running") return;
    timer = setTimeout(async () => {
      if (!importArea.isConnected || shownImport !== imported.id) return;
      let fresh;
      try {
        fresh = await api(`emoncms/imports/${encodeURIComponent(imported.id)}`);
      } catch (error) {
        if (!importArea.isConnected || shownImport !== imported.id) return;
        view.append(emoncmsProblem(error));
        // A passing failure (the network, a restart): keep asking; a refusal ends it.
        if (error instanceof ApiError && (error.status === 0 || error.status >= 500)) showImportLater(imported, names);
        return;
      }
      if (!importArea.isConnected || shownImport !== imported.id) return;
      showImport(fresh, names);
      if (fresh.state !== "running") {
        announce(importArea.querySelector(".message")?.textContent ?? t(`istate.${fresh.state}`));
        await drawPast();
      }
    }, POLL_MS);
  }

  function showImportLater(imported, names) {
    timer = setTimeout(() => importArea.isConnected && shownImport === imported.id && showImport(imported, names), POLL_MS);
  }

  // Past imports.
  function pastTable(imports) {
    if (imports instanceof Error) return emoncmsProblem(imports);
    if (imports.length === 0) return h("p", {}, t("no-imports"));
    const headings = [["started", false], ["source-col", false], ["state", false], ["feeds-col", true]];
    return h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": t("past-imports") },
      h("table", { class: "stacked emoncms-past" },
        h("caption", { class: "visually-hidden" }, t("past-imports")),
        h("thead", {}, h("tr", {}, headings.map(([heading, numeric]) => h("th", { scope: "col", class: numeric ? "numeric" : null }, t(heading))), h("td", {}))),
        h("tbody", {}, imports.map((one) => {
          const when = formatDateTime(one.started_at);
          return h("tr", { dataset: { import: one.id } },
            h("td", { "data-label": t("started") }, when),
            h("td", { class: "wrap", "data-label": t("source-col") }, sourceText(one.source)),
            h("td", { "data-label": t("state") }, t(`istate.${one.state}`)),
            h("td", { class: "numeric", "data-label": t("feeds-col") }, formatNumber(one.feeds.length)),
            h("td", {}, h("button", { type: "button", class: "text", "aria-label": t("show-import", { when }), onclick: () => showImport(one, {}, true) }, t("show"))));
        }))));
  }

  async function drawPast(imports) {
    let shown = imports;
    if (shown === undefined) {
      try {
        shown = (await api("emoncms/imports")).imports;
      } catch (error) {
        shown = error;
      }
    }
    replace(pastArea, h("h3", {}, t("past-imports")), pastTable(shown));
    return shown;
  }

  const imports = await drawPast(past instanceof Error ? past : past.imports);
  replace(card,
    h("h2", { id: "emoncms-title" }, t("emoncms")), h("p", { class: "intro" }, t("emoncms-intro")),
    sourceForm, feedsArea, importArea, pastArea);
  // One running already (from another tab, or before a reload): follow it.
  if (!(imports instanceof Error) && imports[0]?.state === "running") showImport(imports[0]);
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
  const [completeness, datadis, billing, exported, emoncms] = await Promise.all([
    completenessCard(), datadisCard(canManage), billingCard(), exportCard(), canManage ? emoncmsCard() : null,
  ]);
  replace(main, h("h1", {}, t("title")), completeness, canManage ? uploadCard() : null, datadis, billing, exported, emoncms);
}
