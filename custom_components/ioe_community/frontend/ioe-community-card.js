// The household's card: what its energy community gives each of its homes, at a glance.
// Today's consumption against the home's share hour by hour (from Home Assistant's long-term
// statistics), the month's self-consumed energy and savings, the coefficient, the community's
// state and advice, the forecast of the share (<ioe-share-forecast>) and the link's health.
// The homes are membership devices; their entities are found by translation key.

import {
  DOMAIN, Formats, HOUR_MS, VISUALLY_HIDDEN, defineCards, fill, hiddenTable, hourlyFrame, html,
  localParts, niceMaximum, pageTexts, partsFormat, svg, textWidth,
} from "./ioe-card-common.js";
import "./ioe-share-forecast-card.js";

// Statistics are asked again after this long (Home Assistant compiles them each hour).
const STATISTICS_MS = 5 * 60 * 1000;
const CHART_HEIGHT = 170;
const MARGIN = { top: 12, right: 6, bottom: 24, left: 38 };
// Energy sensors in these units are read as kWh.
const KWH_PER_UNIT = { Wh: 0.001, kWh: 1, MWh: 1000 };
// What the card reads of a home: the membership device's entities, by translation key.
const KEYS = [
  "coefficient_now", "savings_month", "self_consumed_month", "allocated_today",
  "self_consumed_today", "import_today", "signal", "unused_share", "surplus_for_me",
  "community_generation", "members_online", "link_status", "backlog", "share_forecast",
];
// The keys without which the card has a gap to explain (the others only add detail).
const NEEDED = [
  "coefficient_now", "savings_month", "self_consumed_month", "allocated_today",
  "self_consumed_today", "import_today", "link_status",
];
const UNKNOWN = new Set(["unknown", "unavailable", ""]);

const TEXTS = {
  en: {
    title: "My community",
    coefficient: "My coefficient",
    month_used: "Used from the community this month",
    month_saved: "Saved this month",
    today: "Today",
    tomorrow: "Tomorrow",
    today_consumed: "Consumed",
    today_allocated: "My share",
    today_self_consumed: "Used from my share",
    from_grid: "From the grid",
    hour: "Hour",
    kwh: "kWh",
    forecast: "My share, next hours",
    chart_summary:
      "Chart of today by hour until {until}: consumed {consumed} kWh, my share {allocated} kWh, " +
      "used from my share {self_consumed} kWh. The table below lists every hour.",
    chart_waiting:
      "The hourly chart fills in as each hour ends: Home Assistant records statistics once an hour.",
    chart_error: "The hourly chart could not be loaded ({error}).",
    advice_run: "Good time to run appliances: {unused} of your share goes unused now.",
    advice_surplus: "The community has energy to spare now.",
    advice_deficit: "The community is short of energy now: better to wait if you can.",
    advice_normal: "Your home is using its share now.",
    advice_unknown: "The community has not sent its state yet.",
    community_now: "The community produces {generation} now · {members} homes online",
    no_results:
      "No results yet: the community sends them a few minutes after each quarter hour.",
    link_connected: "Link to the community: connected",
    link_backlog: "Link to the community: connected, {count} batches of readings still to send",
    link_connecting: "Link to the community: connecting",
    link_offline: "Link to the community: offline since {since}",
    link_refused:
      "Link to the community: refused since {since} (its credentials were rotated or revoked)",
    link_displaced: "Link to the community: another installation uses this membership since {since}",
    link_unknown: "Link to the community: state unknown",
    offline_note: "Offline since {since}: the figures are the last the community sent.",
    missing: "Not found on {home}: {keys}. The integration may need updating or reloading.",
    no_home:
      "No home of IoE Community found. Join a community from the integration, or choose a home in the card's settings.",
    homes: "Homes",
    household:
      "All homes this month: {used} used from the community, {saved} saved.",
    editor_homes: "Homes",
    editor_homes_helper:
      "The community device of each home (several: a switcher, and the month summed). Empty: the first found.",
    editor_title: "Title",
    editor_hide_forecast: "Hide the forecast of my share",
    card_name: "My community",
    card_description:
      "What your energy community gives your home: today by hour, the month's savings, your coefficient and the forecast.",
  },
  es: {
    title: "Mi comunidad",
    coefficient: "Mi coeficiente",
    month_used: "Usada de la comunidad este mes",
    month_saved: "Ahorrado este mes",
    today: "Hoy",
    tomorrow: "Mañana",
    today_consumed: "Consumida",
    today_allocated: "Mi parte",
    today_self_consumed: "Usada de mi parte",
    from_grid: "De la red",
    hour: "Hora",
    kwh: "kWh",
    forecast: "Mi parte, próximas horas",
    chart_summary:
      "Gráfico de hoy por horas hasta las {until}: consumida {consumed} kWh, mi parte " +
      "{allocated} kWh, usada de mi parte {self_consumed} kWh. La tabla siguiente detalla cada hora.",
    chart_waiting:
      "El gráfico por horas se llena al acabar cada hora: Home Assistant guarda las estadísticas una vez por hora.",
    chart_error: "No se pudo cargar el gráfico por horas ({error}).",
    advice_run: "Buen momento para poner electrodomésticos: {unused} de tu parte no se usa ahora.",
    advice_surplus: "La comunidad tiene energía de sobra ahora.",
    advice_deficit: "A la comunidad le falta energía ahora: mejor esperar si puedes.",
    advice_normal: "Tu casa está usando su parte ahora.",
    advice_unknown: "La comunidad aún no ha enviado su estado.",
    community_now: "La comunidad produce {generation} ahora · {members} casas conectadas",
    no_results:
      "Aún no hay resultados: la comunidad los envía unos minutos después de cada cuarto de hora.",
    link_connected: "Conexión con la comunidad: conectada",
    link_backlog: "Conexión con la comunidad: conectada, quedan {count} lotes de lecturas por enviar",
    link_connecting: "Conexión con la comunidad: conectando",
    link_offline: "Conexión con la comunidad: sin conexión desde {since}",
    link_refused:
      "Conexión con la comunidad: rechazada desde {since} (sus credenciales se cambiaron o revocaron)",
    link_displaced: "Conexión con la comunidad: otra instalación usa esta membresía desde {since}",
    link_unknown: "Conexión con la comunidad: estado desconocido",
    offline_note: "Sin conexión desde {since}: las cifras son las últimas que envió la comunidad.",
    missing: "No se encuentra en {home}: {keys}. Puede que la integración necesite actualizarse o recargarse.",
    no_home:
      "No se encuentra ninguna casa de IoE Community. Únete a una comunidad desde la integración o elige una casa en los ajustes de la tarjeta.",
    homes: "Casas",
    household:
      "Todas las casas este mes: {used} usada de la comunidad, {saved} ahorrado.",
    editor_homes: "Casas",
    editor_homes_helper:
      "El dispositivo de la comunidad de cada casa (varias: un selector, y el mes sumado). Vacío: la primera que haya.",
    editor_title: "Título",
    editor_hide_forecast: "Ocultar la previsión de mi parte",
    card_name: "Mi comunidad",
    card_description:
      "Lo que tu comunidad energética da a tu casa: hoy por horas, el ahorro del mes, tu coeficiente y la previsión.",
  },
};

const STYLE = `
  :host { display: block; }
  ha-card { overflow: hidden; }
  .header {
    display: flex; align-items: center; justify-content: space-between; gap: 8px;
    padding: 12px 16px 0;
  }
  .title {
    margin: 0; color: var(--ha-card-header-color, var(--primary-text-color));
    font-size: var(--ha-card-header-font-size, 24px); line-height: 32px;
    font-weight: var(--ha-font-weight-normal, 400);
  }
  .link {
    display: inline-flex; padding: 8px; border-radius: 50%; border: none; background: none;
    cursor: pointer; flex: none; --mdc-icon-size: 24px;
  }
  .link-text { padding: 4px 16px 0; color: var(--secondary-text-color); font-size: 14px; }
  .link:focus-visible { outline: 2px solid var(--primary-color); }
  .link.good { color: var(--success-color, #43a047); }
  .link.busy { color: var(--warning-color, #ffa600); }
  .link.bad { color: var(--error-color, #db4437); }
  .link.unknown { color: var(--secondary-text-color); }
  .content { padding: 8px 16px 16px; }
  .homes { display: flex; flex-wrap: wrap; gap: 8px; padding: 8px 16px 0; }
  .homes button {
    font: inherit; font-size: 14px; line-height: 20px; padding: 6px 14px; min-height: 36px;
    border-radius: 18px; border: 1px solid var(--divider-color, rgba(127, 127, 127, 0.4));
    background: none; color: var(--primary-text-color); cursor: pointer;
  }
  .homes button[aria-pressed="true"] {
    background: var(--primary-color); border-color: var(--primary-color);
    color: var(--text-primary-color, #fff);
  }
  .homes button:focus-visible { outline: 2px solid var(--primary-color); outline-offset: 2px; }
  p { margin: 0; }
  .household, .community, .note {
    color: var(--secondary-text-color); font-size: 14px; line-height: 20px;
  }
  .household { padding: 8px 16px 0; }
  .advice, .note { display: flex; gap: 8px; align-items: flex-start; }
  .advice {
    color: var(--primary-text-color); font-size: 16px; line-height: 24px; margin-bottom: 2px;
  }
  .advice ha-icon, .note ha-icon { --mdc-icon-size: 20px; flex: none; margin-top: 2px; }
  .advice.run ha-icon { color: var(--success-color, #43a047); }
  .advice.deficit ha-icon { color: var(--warning-color, #ffa600); }
  .note { margin-bottom: 8px; }
  .figures {
    display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr));
    gap: 8px 16px; margin: 12px 0 4px;
  }
  .figure { display: flex; flex-direction: column; min-width: 0; }
  .figure .label { color: var(--secondary-text-color); font-size: 14px; line-height: 20px; }
  .figure .value {
    color: var(--primary-text-color); font-size: 24px; line-height: 32px;
    font-weight: var(--ha-font-weight-normal, 400); white-space: nowrap;
  }
  .figures.small .value { font-size: 18px; line-height: 26px; }
  h3 {
    margin: 16px 0 4px; color: var(--primary-text-color); font-size: 16px; line-height: 24px;
    font-weight: var(--ha-font-weight-medium, 500);
  }
  .swatch { width: 12px; height: 12px; border-radius: 2px; display: inline-block; flex: none; }
  .swatch.self { background: var(--energy-solar-color, #ff9800); }
  .swatch.grid { background: var(--energy-grid-consumption-color, #488fc2); }
  .swatch.share {
    height: 0; border-radius: 0; border-top: 3px solid var(--primary-text-color); margin-top: 4px;
  }
  .figures.small .label { display: inline-flex; align-items: center; gap: 6px; }
  .chart { width: 100%; min-width: 0; }
  svg { display: block; overflow: visible; }
  svg text { font-family: inherit; font-size: 12px; fill: var(--secondary-text-color); }
  .grid { stroke: var(--divider-color, rgba(127, 127, 127, 0.3)); stroke-width: 1; }
  .self { fill: var(--energy-solar-color, #ff9800); }
  .import { fill: var(--energy-grid-consumption-color, #488fc2); }
  .share { stroke: var(--primary-text-color); stroke-width: 2.5; stroke-linecap: round; }
  .now { stroke: var(--secondary-text-color); stroke-width: 1; stroke-dasharray: 3 3; }
  ${VISUALLY_HIDDEN}
`;

/** Return the entity's state object when it holds a value, else undefined. */
function known(state) {
  return state && !UNKNOWN.has(state.state) ? state : undefined;
}

/** Return an energy sensor's state in kWh (NaN if unknown). */
function kwh(state) {
  if (!known(state)) return NaN;
  return Number(state.state) * (KWH_PER_UNIT[state.attributes.unit_of_measurement] ?? 1);
}

/** Return the membership devices of the integration: their ids, in the registry's order. */
function membershipDevices(hass) {
  const devices = [];
  for (const entry of Object.values(hass?.entities || {})) {
    if (entry.platform === DOMAIN && entry.translation_key === "coefficient_now") {
      if (entry.device_id && !devices.includes(entry.device_id)) devices.push(entry.device_id);
    }
  }
  return devices;
}

/**
 * Return the membership device a configured device stands for: itself, or the membership
 * device under it (a home's device was chosen).
 */
function membershipOf(hass, deviceId, memberships) {
  if (memberships.includes(deviceId)) return deviceId;
  return memberships.find((id) => hass.devices?.[id]?.via_device_id === deviceId) || deviceId;
}

/** Return a home's entity ids by translation key. */
function entitiesOf(hass, deviceId) {
  const found = {};
  for (const entry of Object.values(hass.entities || {})) {
    if (entry.device_id === deviceId && entry.platform === DOMAIN && entry.translation_key) {
      found[entry.translation_key] ||= entry.entity_id;
    }
  }
  return found;
}

/** Return the name of the home a membership device is under (else the device's own). */
function homeName(hass, deviceId) {
  const device = hass.devices?.[deviceId];
  const home = hass.devices?.[device?.via_device_id];
  return home?.name_by_user || home?.name || device?.name_by_user || device?.name || deviceId;
}

/** Check a card configuration; throw a message a person can act on. */
function assertConfig(config) {
  if (!config || typeof config !== "object") throw new Error("The card needs a configuration.");
  const { homes } = config;
  if (homes !== undefined && !(Array.isArray(homes) && homes.every((h) => typeof h === "string"))) {
    throw new Error("homes must be a list of device ids (the homes' community devices).");
  }
  if (config.title !== undefined && typeof config.title !== "string") {
    throw new Error("title must be text.");
  }
  if (config.hide_forecast !== undefined && typeof config.hide_forecast !== "boolean") {
    throw new Error("hide_forecast must be true or false.");
  }
}

/** Return the hours of the local day of ``now`` in ``timeZone``: [{start (ms), end (ms)}]. */
function dayHours(now, timeZone) {
  const format = partsFormat(timeZone);
  const here = localParts(format, new Date(now));
  let start = now - (now % 60000) - here.minute * 60000;
  while (localParts(format, new Date(start - HOUR_MS)).day === here.day) start -= HOUR_MS;
  const hours = [];
  for (let at = start; localParts(format, new Date(at)).day === here.day; at += HOUR_MS) {
    hours.push({ start: at, end: at + HOUR_MS });
  }
  return hours;
}

/** Return a statistic row's start in ms (Home Assistant sends ms, or ISO text before 2023). */
function rowStart(row) {
  return typeof row.start === "number" ? row.start : Date.parse(row.start);
}

/**
 * The household card. Config: homes (membership device ids; empty: the first found), title,
 * hide_forecast (default false).
 */
class IoeCommunityCard extends HTMLElement {
  static getConfigForm() {
    const texts = pageTexts(TEXTS);
    return {
      schema: [
        {
          name: "homes",
          selector: {
            device: {
              multiple: true,
              filter: { integration: DOMAIN },
              // Membership devices: the ones with "community surplus for me".
              entity: { integration: DOMAIN, domain: "binary_sensor" },
            },
          },
        },
        { name: "title", selector: { text: {} } },
        { name: "hide_forecast", selector: { boolean: {} } },
      ],
      computeLabel: (schema) => texts[`editor_${schema.name}`],
      computeHelper: (schema) => texts[`editor_${schema.name}_helper`],
      assertConfig,
    };
  }

  static getStubConfig(hass) {
    try {
      const first = membershipDevices(hass)[0];
      return first ? { homes: [first] } : {};
    } catch {
      return {};
    }
  }

  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this._selected = 0;
    this._statistics = {};
    this._width = 0;
    this._resize = new ResizeObserver((entries) => {
      const width = Math.floor(entries[0].contentRect.width);
      if (width && width !== this._width) {
        this._width = width;
        this._render(true);
      }
    });
  }

  connectedCallback() {
    if (this._chartBox) this._resize.observe(this._chartBox);
    this._render(true);
  }

  disconnectedCallback() {
    this._resize.disconnect();
  }

  setConfig(config) {
    assertConfig(config);
    this._config = config;
    this._selected = 0;
    this._render(true);
  }

  set hass(hass) {
    this._hass = hass;
    this._render(false);
  }

  getCardSize() {
    return this._config?.hide_forecast ? 7 : 12;
  }

  getGridOptions() {
    return { columns: 12, rows: "auto", min_columns: 6 };
  }

  /**
   * Return the homes shown: [{device, name, entities}]. Found again only when the registries
   * or the configuration change (not at each state change: a home has thousands of entities).
   */
  _homes() {
    const hass = this._hass;
    const seen = [hass.entities, hass.devices, this._config];
    if (this._found && seen.every((item, index) => item === this._found.seen[index])) {
      return this._found.homes;
    }
    const memberships = membershipDevices(hass);
    const chosen = this._config.homes?.length ? this._config.homes : memberships.slice(0, 1);
    const homes = chosen.map((configured) => {
      const device = membershipOf(hass, configured, memberships);
      return { device, name: homeName(hass, device), entities: entitiesOf(hass, device) };
    });
    this._found = { seen, homes };
    return homes;
  }

  _render(force) {
    const hass = this._hass;
    if (!hass || !this._config || !this.isConnected) return;
    const formats = Formats.of(hass, TEXTS);
    const homes = this._homes();
    this._selected = Math.min(this._selected, Math.max(homes.length - 1, 0));
    const home = homes[this._selected];
    if (home) this._fetchStatistics(home);
    // Drawn again only when something it shows changed: a state, the statistics, a setting.
    const states = homes.flatMap((h) => KEYS.map((key) => hass.states[h.entities[key]]));
    const drawn = [
      formats.key, this._selected, this._width, JSON.stringify(this._config),
      homes.map((h) => `${h.device}:${h.name}`).join(","),
      home ? this._statistics[home.device]?.version : "",
      Math.floor(Date.now() / STATISTICS_MS),
    ].join("|");
    // Home Assistant's formatters come after the first states, as the user's language loads.
    const same = hass.formatEntityState === this._formatter &&
      states.length === this._states?.length && states.every((s, i) => s === this._states[i]);
    if (!force && same && drawn === this._drawn) {
      if (this._forecast) this._forecast.hass = hass;
      return;
    }
    this._states = states;
    this._drawn = drawn;
    this._formatter = hass.formatEntityState;

    const texts = formats.texts;
    const root = this.shadowRoot;
    const card = document.createElement("ha-card");
    root.replaceChildren(html("style", {}, STYLE), card);
    this._forecast = undefined;
    this._chartBox = undefined;
    this._resize.disconnect();

    const header = html("div", { class: "header" });
    header.append(html("h2", { class: "title" }, this._config.title || texts.title));
    card.append(header);
    if (!home) {
      const content = html("div", { class: "content" });
      content.append(this._note(texts.no_home, "mdi:home-search-outline"));
      card.append(content);
      return;
    }
    const state = (key) => hass.states[home.entities[key]];
    const link = this._linkIcon(formats, state("link_status"), state("backlog"));
    header.append(link);
    if (this._linkShown) card.append(html("p", { class: "link-text" }, link.title));
    if (homes.length > 1) card.append(this._switcher(texts, homes), this._household(formats, homes));

    const content = html("div", { class: "content", id: "home" });
    card.append(content);
    // What keeps the figures from being current first, then the advice.
    content.append(...this._notes(formats, home), ...this._advice(formats, home));
    content.append(this._glance(formats, home));
    content.append(html("h3", {}, texts.today));
    content.append(this._today(formats, home));
    if (!this._config.hide_forecast && home.entities.share_forecast) {
      content.append(html("h3", {}, texts.forecast));
      this._forecast = document.createElement("ioe-share-forecast");
      this._forecast.entity = home.entities.share_forecast;
      content.append(this._forecast);
      this._forecast.hass = hass;
    }
  }

  _format(state) {
    return known(state) ? this._hass.formatEntityState(state) : "—";
  }

  _note(text, icon, kind = "") {
    const note = html("p", { class: `note ${kind}`.trim(), role: "status" });
    note.append(html("ha-icon", { icon }), html("span", {}, text));
    return note;
  }

  /** Return when the link's state last changed, as the user reads times. */
  _since(formats, state) {
    const changed = new Date(state.last_changed);
    const today = formats.local(new Date()).day === formats.local(changed).day;
    const time = formats.time.format(changed);
    return today ? time : `${formats.longWeekday.format(changed)} ${time}`;
  }

  _linkIcon(formats, link, backlog) {
    const texts = formats.texts;
    const pending = Number(known(backlog)?.state) || 0;
    let kind = "bad";
    let icon = "mdi:lan-disconnect";
    let label;
    const since = link ? this._since(formats, link) : "";
    switch (known(link)?.state) {
      case "connected":
        [kind, icon] = pending ? ["busy", "mdi:lan-pending"] : ["good", "mdi:lan-connect"];
        label = pending ? fill(texts.link_backlog, { count: pending }) : texts.link_connected;
        break;
      case "connecting":
        [kind, icon, label] = ["busy", "mdi:lan-pending", texts.link_connecting];
        break;
      case "refused":
        label = fill(texts.link_refused, { since });
        break;
      case "displaced":
        label = fill(texts.link_displaced, { since });
        break;
      case "disconnected":
      case "stopped":
        label = fill(texts.link_offline, { since });
        break;
      default:
        [kind, icon, label] = ["unknown", "mdi:help-network-outline", texts.link_unknown];
    }
    // A button: its state as a tooltip, and written out when tapped (phones show no tooltip).
    const box = html("button", {
      type: "button", class: `link ${kind}`, title: label, "aria-label": label,
      "aria-expanded": String(Boolean(this._linkShown)),
    });
    box.append(html("ha-icon", { icon }));
    box.addEventListener("click", () => {
      this._linkShown = !this._linkShown;
      this._render(true);
      this.shadowRoot.querySelector(".link")?.focus();
    });
    return box;
  }

  _switcher(texts, homes) {
    const group = html("div", { class: "homes", role: "group", "aria-label": texts.homes });
    homes.forEach((home, index) => {
      const button = html("button", {
        type: "button", "aria-pressed": String(index === this._selected), "aria-controls": "home",
      }, home.name);
      button.addEventListener("click", () => {
        this._selected = index;
        this._render(true);
        this.shadowRoot.querySelectorAll(".homes button")[index]?.focus();
      });
      group.append(button);
    });
    return group;
  }

  /** Return the month's energy and savings of all the homes, summed. */
  _household(formats, homes) {
    const hass = this._hass;
    let used = 0;
    let saved = 0;
    let currency = "EUR";
    for (const home of homes) {
      used += kwh(hass.states[home.entities.self_consumed_month]) || 0;
      const savings = known(hass.states[home.entities.savings_month]);
      if (savings) {
        saved += Number(savings.state) || 0;
        currency = savings.attributes.unit_of_measurement || currency;
      }
    }
    return html("p", { class: "household" }, fill(formats.texts.household, {
      used: `${formats.number(used, 1)} kWh`, saved: formats.money(saved, currency),
    }));
  }

  _advice(formats, home) {
    const hass = this._hass;
    const texts = formats.texts;
    const state = (key) => hass.states[home.entities[key]];
    const signal = known(state("signal"))?.state;
    let kind;
    let icon;
    let text;
    if (known(state("surplus_for_me"))?.state === "on") {
      [kind, icon] = ["run", "mdi:washing-machine"];
      text = fill(texts.advice_run, { unused: this._format(state("unused_share")) });
    } else if (signal === "surplus") {
      [kind, icon, text] = ["surplus", "mdi:solar-power-variant", texts.advice_surplus];
    } else if (signal === "deficit") {
      [kind, icon, text] = ["deficit", "mdi:clock-alert-outline", texts.advice_deficit];
    } else if (signal === "normal") {
      [kind, icon, text] = ["normal", "mdi:home-lightning-bolt-outline", texts.advice_normal];
    } else {
      [kind, icon, text] = ["unknown", "mdi:help-circle-outline", texts.advice_unknown];
    }
    const advice = html("p", { class: `advice ${kind}`, role: "status" });
    advice.append(html("ha-icon", { icon }), html("span", {}, text));
    const shown = [advice];
    const generation = known(state("community_generation"));
    const members = known(state("members_online"));
    if (generation && members) {
      shown.push(html("p", { class: "community" }, fill(texts.community_now, {
        generation: this._format(generation), members: this._format(members),
      })));
    }
    return shown;
  }

  _figures(items, small = false) {
    const figures = html("div", { class: small ? "figures small" : "figures" });
    for (const [name, label, value, swatch] of items) {
      const box = html("div", { class: `figure ${name}` });
      const caption = html("span", { class: "label" });
      if (swatch) caption.append(html("i", { class: `swatch ${swatch}`, "aria-hidden": "true" }));
      caption.append(label);
      box.append(caption, html("span", { class: "value" }, value));
      figures.append(box);
    }
    return figures;
  }

  _glance(formats, home) {
    const texts = formats.texts;
    const state = (key) => this._hass.states[home.entities[key]];
    return this._figures([
      ["coefficient", texts.coefficient, this._format(state("coefficient_now"))],
      ["month-used", texts.month_used, this._format(state("self_consumed_month"))],
      ["month-saved", texts.month_saved, this._format(state("savings_month"))],
    ]);
  }

  /** Return today's figures and the hourly chart (or why it is not there). */
  _today(formats, home) {
    const texts = formats.texts;
    const state = (key) => this._hass.states[home.entities[key]];
    const consumed = kwh(state("self_consumed_today")) + kwh(state("import_today"));
    const box = html("div");
    box.append(this._figures([
      ["consumed", texts.today_consumed,
        Number.isFinite(consumed) ? `${formats.number(consumed, 2)} kWh` : "—", "grid"],
      ["allocated", texts.today_allocated, this._format(state("allocated_today")), "share"],
      ["self-consumed", texts.today_self_consumed, this._format(state("self_consumed_today")),
        "self"],
    ], true));
    const statistics = this._statistics[home.device];
    if (!statistics || statistics.status === "loading") return box;
    if (statistics.status === "error") {
      box.append(this._note(fill(texts.chart_error, { error: statistics.error }),
        "mdi:chart-box-outline", "chart-error"));
      return box;
    }
    const hours = statistics.hours.filter((hour) => hour.known);
    if (!hours.length) {
      box.append(this._note(texts.chart_waiting, "mdi:timer-sand", "chart-waiting"));
      return box;
    }
    this._chartBox = html("div", { class: "chart today-chart" });
    this._chartBox.append(this._chart(formats, statistics.hours, hours));
    this._resize.observe(this._chartBox);
    box.append(this._chartBox, this._table(formats, hours));
    return box;
  }

  _chart(formats, day, hours) {
    const texts = formats.texts;
    const width = Math.max(this._width || this.clientWidth - 32 || 320, 240);
    const top = niceMaximum(Math.max(...hours.map((h) => Math.max(h.consumed, h.allocated))));
    const { plot, slot, x, y, levels } =
      hourlyFrame(width, CHART_HEIGHT, MARGIN, day.length, top);
    const total = (key) => hours.reduce((sum, hour) => sum + hour[key], 0);
    const last = hours[hours.length - 1];
    const summary = fill(texts.chart_summary, {
      until: formats.time.format(new Date(last.end)),
      consumed: formats.number(total("consumed"), 2),
      allocated: formats.number(total("allocated"), 2),
      self_consumed: formats.number(total("self_consumed"), 2),
    });
    const chart = svg("svg", {
      width, height: CHART_HEIGHT, viewBox: `0 0 ${width} ${CHART_HEIGHT}`,
      role: "img", "aria-label": summary,
    });
    levels(chart, formats);
    const barWidth = Math.max(slot * 0.64, 1);
    day.forEach((hour, index) => {
      if (!hour.known) return;
      const left = x(index) + (slot - barWidth) / 2;
      const selfTop = y(hour.self_consumed);
      const bars = [
        ["self", y(0), selfTop],
        ["import", selfTop, y(hour.self_consumed + hour.imported)],
      ];
      for (const [kind, bottom, upper] of bars) {
        if (bottom - upper > 0.2) {
          chart.append(svg("rect", {
            class: kind, x: left, y: upper, width: barWidth, height: bottom - upper,
          }));
        }
      }
      if (hour.allocated <= 0) return;
      const share = y(hour.allocated);
      chart.append(svg("line", {
        class: "share", x1: x(index) + 1.5, x2: x(index + 1) - 1.5, y1: share, y2: share,
      }));
    });
    // Hour labels every few hours, as many as fit.
    const labelWidth = textWidth(formats.time.format(new Date(day[0].start))) + 8;
    const step = [1, 2, 3, 4, 6, 12].find((s) => s * slot >= labelWidth) || 24;
    day.forEach((hour, index) => {
      const local = formats.local(new Date(hour.start));
      const left = x(index);
      if (local.hour % step !== 0 || left + labelWidth / 2 > width) return;
      chart.append(svg("text", {
        x: Math.max(left, labelWidth / 2), y: plot.top + plot.height + 16, "text-anchor": "middle",
      }, formats.time.format(new Date(hour.start))));
    });
    const now = Date.now();
    const under = day.findIndex((hour) => hour.start <= now && now < hour.end);
    if (under >= 0) {
      const at = x(under) + ((now - day[under].start) / HOUR_MS) * slot;
      chart.append(svg("line", {
        class: "now", x1: at, x2: at, y1: plot.top - 4, y2: plot.top + plot.height,
      }));
    }
    return chart;
  }

  _table(formats, hours) {
    const texts = formats.texts;
    return hiddenTable(
      `${texts.today} (${texts.kwh})`,
      [texts.hour, texts.today_consumed, texts.today_allocated, texts.today_self_consumed],
      hours.map((hour) => [
        formats.time.format(new Date(hour.start)),
        ...[hour.consumed, hour.allocated, hour.self_consumed].map((v) => formats.number(v, 2)),
      ]),
    );
  }

  _notes(formats, home) {
    const hass = this._hass;
    const texts = formats.texts;
    const notes = [];
    const link = known(hass.states[home.entities.link_status]);
    if (link && !["connected", "connecting"].includes(link.state)) {
      const since = this._since(formats, link);
      notes.push(this._note(fill(texts.offline_note, { since }), "mdi:lan-disconnect", "offline"));
    }
    const coefficient = hass.states[home.entities.coefficient_now];
    if (coefficient && !known(coefficient)) {
      notes.push(this._note(texts.no_results, "mdi:timer-sand", "no-results"));
    }
    const missing = NEEDED.filter((key) => !hass.states[home.entities[key]]);
    if (missing.length) {
      notes.push(this._note(fill(texts.missing, { home: home.name, keys: missing.join(", ") }),
        "mdi:alert-circle-outline", "missing"));
    }
    return notes;
  }

  /** Ask the recorder for today's hourly energies of ``home``, unless asked lately. */
  _fetchStatistics(home) {
    const hass = this._hass;
    const ids = ["allocated_today", "self_consumed_today", "import_today"].map(
      (key) => home.entities[key],
    );
    if (ids.some((id) => !id)) return;
    const day = dayHours(Date.now(), hass.config?.time_zone || undefined);
    const key = `${ids.join(",")}|${day[0].start}`;
    const kept = this._statistics[home.device];
    if (kept?.key === key && (kept.pending || Date.now() - kept.at < STATISTICS_MS)) return;
    // Asked again: what was shown stays until the answer comes.
    const version = (kept?.version || 0) + 1;
    this._statistics[home.device] =
      kept?.key === key ? { ...kept, pending: true } : { key, status: "loading", pending: true, version };
    hass.callWS({
      type: "recorder/statistics_during_period",
      start_time: new Date(day[0].start).toISOString(),
      end_time: new Date(day[day.length - 1].end).toISOString(),
      statistic_ids: ids,
      period: "hour",
      types: ["change"],
      units: { energy: "kWh" },
    }).then(
      (result) => {
        const change = ids.map((id) => new Map(
          (result[id] || []).map((row) => [rowStart(row), Number(row.change) || 0]),
        ));
        const hours = day.map((hour) => {
          const [allocated, self, imported] = change.map((values) => values.get(hour.start));
          const present = [allocated, self, imported].some((value) => value !== undefined);
          return {
            ...hour, known: present,
            allocated: allocated || 0, self_consumed: self || 0, imported: imported || 0,
            consumed: (self || 0) + (imported || 0),
          };
        });
        this._statistics[home.device] = {
          key, at: Date.now(), status: "ready", hours, version: version + 1,
        };
        this._render(true);
      },
      (error) => {
        this._statistics[home.device] = {
          key, at: Date.now(), status: "error", error: error?.message || String(error),
          version: version + 1,
        };
        this._render(true);
      },
    );
  }
}

defineCards({ "ioe-community-card": IoeCommunityCard }, {
  type: "ioe-community-card", texts: TEXTS,
});
