// The public display: the community's figures for a screen in a public place, or a web embed.
// ?kiosk=1: a full screen without cursor or scrollbars, large enough to read at 3 m on a TV;
// ?embed=1: compact, for an iframe; ?lang=es|en, else the browser's language.
// It asks the open data (api/public/v1/community) every `refresh_s`, keeps the last figures when
// a request fails (saying since when), and reloads itself once a day.

const TEXTS = {
  en: {
    loading: "Loading…",
    off: "This community's public display is not switched on.",
    "reason.too_few_members": "The community needs at least {min} members sending data before figures are shown in public.",
    "reason.dominant_member": "No figures yet: one member weighs too much in the community's totals for them to be shown in public.",
    "reason.no_data": "No figures yet: the data of the last days is not complete.",
    "reason.withheld": "No figures yet: today's hours do not pass the privacy rules so far.",
    "privacy": "Only the community's totals, from at least {min} members; nobody's own figures.",
    production: "Producing now",
    share: "Used in the community",
    shared: "Energy shared",
    co2: "CO₂ avoided",
    money: "Saved by members",
    members: "Members",
    today: "Today, to {time}",
    "today.withheld": "Today: not shown yet, its hours do not pass the privacy rules so far",
    "today.no_data": "Today: no complete hour yet",
    "year-value": "This year, to yesterday: {value}",
    "no-plant": "no data",
    "not-shown": "not shown",
    updated: "Updated {time}",
    stale: "Last updated {time}: the latest figures cannot be fetched",
    factor: "CO₂: {factor} kg/kWh ({source}{year})",
    "factor-manager": "the community",
  },
  es: {
    loading: "Cargando…",
    off: "La pantalla pública de esta comunidad no está activada.",
    "reason.too_few_members": "La comunidad necesita al menos {min} socios enviando datos para mostrar cifras en público.",
    "reason.dominant_member": "Aún no hay cifras: un socio pesa demasiado en los totales de la comunidad para mostrarlos en público.",
    "reason.no_data": "Aún no hay cifras: los datos de los últimos días no están completos.",
    "reason.withheld": "Aún no hay cifras: las horas de hoy no cumplen por ahora las reglas de privacidad.",
    "privacy": "Solo totales de la comunidad, de al menos {min} socios; nunca las cifras de nadie.",
    production: "Producción ahora",
    share: "Aprovechado en la comunidad",
    shared: "Energía repartida",
    co2: "CO₂ evitado",
    money: "Ahorro de los socios",
    members: "Socios",
    today: "Hoy, hasta las {time}",
    "today.withheld": "Hoy: aún no se muestra, sus horas no cumplen por ahora las reglas de privacidad",
    "today.no_data": "Hoy: aún no hay ninguna hora completa",
    "year-value": "Este año, hasta ayer: {value}",
    "no-plant": "sin datos",
    "not-shown": "no se muestra",
    updated: "Actualizado {time}",
    stale: "Última actualización {time}: no se pueden obtener las cifras nuevas",
    factor: "CO₂: {factor} kg/kWh ({source}{year})",
    "factor-manager": "la comunidad",
  },
};
const DAY_MS = 24 * 3600 * 1000;
// Times as the community's clock reads them (24 h: "Today, to 14:00").
const CLOCK = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
const params = new URLSearchParams(location.search);
const kiosk = params.get("kiosk") === "1";
const embed = params.get("embed") === "1";
const wanted = (params.get("lang") || navigator.language || "en").slice(0, 2).toLowerCase();
const lang = wanted in TEXTS ? wanted : "en";
const main = document.getElementById("main");
const footnote = document.getElementById("footnote");
const period = document.getElementById("period");
let last = null;
let lastAt = null;
let tag = null;

function t(key, values = {}) {
  const text = TEXTS[lang][key] ?? TEXTS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children.filter((child) => child !== null));
  return node;
}

function number(value, digits = 0) {
  return new Intl.NumberFormat(lang, { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(value);
}

// A value and its unit, in larger units as it grows (kWh → MWh, kg → t).
function energy(kwh) {
  return kwh >= 10000 ? [number(kwh / 1000, 1), "MWh"] : [number(kwh, kwh < 100 ? 1 : 0), "kWh"];
}
function mass(kg) {
  return kg >= 1000 ? [number(kg / 1000, 1), "t"] : [number(kg, kg < 100 ? 1 : 0), "kg"];
}
function money(eur) {
  return [number(eur, eur < 1000 ? 2 : 0), "€"];
}
function percent(value) {
  return [number(value, 0), "%"];
}

// A value and its unit on one line (a no-break space between them).
function text([value, unit]) {
  return `${value}\u00a0${unit}`;
}

// One tile: what it is, its big value (today's, with its unit), and this year's, smaller.
function tile(name, label, big, second) {
  const value = big
    ? el("p", { class: "value", "data-figure": name }, big[0], el("span", { class: "unit" }, ` ${big[1]}`))
    : el("p", { class: "value missing", "data-figure": name }, t("not-shown"));
  return el("section", { class: "tile", "aria-label": label }, el("h2", {}, label), value, second ? el("p", { class: "second", "data-year": name }, second) : null);
}

function figure(period, name, format) {
  const found = period?.figures?.[name]?.value;
  return found === null || found === undefined ? null : format(found);
}

function yearLine(year, name, format) {
  const formatted = figure(year, name, format);
  return formatted ? t("year-value", { value: text(formatted) }) : null;
}

// What the big figures cover: today to its last complete hour (the community's clock), or why not.
function todayText(data) {
  const today = data.today;
  if (!today.shown) return t(`today.${today.reason}`, { min: data.privacy.min_members });
  const clock = new Intl.DateTimeFormat(lang, { ...CLOCK, timeZone: data.timezone });
  return t("today", { time: clock.format(new Date(today.to)) });
}

function draw(data) {
  const min = data.privacy.min_members;
  document.documentElement.lang = lang;
  const name = data.community.name;
  document.getElementById("name").textContent = name;
  document.title = name;
  const logo = document.getElementById("logo");
  if (data.community.logo) {
    logo.src = data.community.logo;
    logo.alt = name;
    logo.hidden = false;
  } else {
    logo.hidden = true;
  }
  period.textContent = data.shown ? todayText(data) : "";
  if (!data.shown) {
    main.replaceChildren(el("p", { class: "message", role: "status" }, t(`reason.${data.reason}`, { min })));
    drawFootnote(data);
    return;
  }
  const { today, year } = data;
  const now = data.production_now;
  const consumed = (name, label, format) => tile(name, label, figure(today, name, format), yearLine(year, name, format));
  main.replaceChildren(
    el(
      "div",
      { class: "tiles" },
      tile("production_now", t("production"), now && now.value !== null ? [number(now.value, 1), "kW"] : null, null),
      consumed("self_consumed_share", t("share"), percent),
      consumed("energy_shared", t("shared"), energy),
      consumed("co2_avoided", t("co2"), mass),
      consumed("money_kept", t("money"), money),
      tile("members", t("members"), [number(data.members.value), ""], null),
    ),
  );
  drawFootnote(data);
}

function drawFootnote(data, failed = false) {
  const clock = new Intl.DateTimeFormat(lang, { ...CLOCK, timeZone: data.timezone });
  const time = clock.format(lastAt ?? new Date());
  const factor = data.emission_factor;
  const source = factor.year === null ? t("factor-manager") : "REE";
  const parts = [
    el("span", { class: failed ? "stale" : "updated", "data-updated": "" }, t(failed ? "stale" : "updated", { time })),
    data.shown ? el("span", {}, t("factor", { factor: number(factor.value, 3), source, year: factor.year === null ? "" : ` ${factor.year}` })) : null,
    kiosk ? null : el("span", {}, t("privacy", { min: data.privacy.min_members })),
  ];
  footnote.replaceChildren(...parts.filter((part) => part !== null));
}

// When the figures cannot be computed (503: the service says to try later), asked again within
// seconds rather than a whole refresh later.
const NOT_READY_MS = 5000;

async function refresh() {
  let ready = true;
  try {
    const response = await fetch("api/public/v1/community", { headers: tag ? { "If-None-Match": tag } : {}, cache: "no-cache" });
    if (response.status === 304 && last) {
      lastAt = new Date();
      drawFootnote(last);
    } else if (response.status === 404) {
      last = null;
      tag = null; // switched on again with the same figures: drawn, not a 304 with nothing kept
      main.replaceChildren(el("p", { class: "message", role: "status" }, t("off")));
      period.textContent = "";
      footnote.replaceChildren();
    } else if (response.ok) {
      tag = response.headers.get("ETag");
      last = await response.json();
      lastAt = new Date();
      draw(last);
    } else {
      ready = response.status !== 503;
      throw new Error(`HTTP ${response.status}`);
    }
  } catch {
    if (last) drawFootnote(last, true);
  }
  const every = !ready && !last ? NOT_READY_MS : (last?.refresh_s ?? 60) * 1000;
  setTimeout(refresh, every);
}

document.body.classList.toggle("kiosk", kiosk);
document.body.classList.toggle("embed", embed);
document.documentElement.lang = lang;
document.getElementById("message").textContent = t("loading");
setTimeout(() => location.reload(), DAY_MS);
refresh();
