// The forecast of a household's share of its energy community, hour by hour, as a Lovelace
// card. Two elements: <ioe-share-forecast> draws one `*_share_forecast` sensor (the household
// card builds on it), and <ioe-share-forecast-card> puts it in a card with its editor.
// Plain custom elements and SVG: nothing to build, nothing fetched.

import {
  Formats, HOUR_MS, VISUALLY_HIDDEN, defineCards, fill, hiddenTable, hourlyFrame, html,
  niceMaximum, svg, textWidth,
} from "./ioe-card-common.js";

const HOURS_SHOWN = 36;
// How often the "now" line moves (when Home Assistant sends anything at all).
const NOW_STEP_MS = 5 * 60 * 1000;
// A forecast older than this is the last one the community sent before its link went quiet.
const STALE_MS = 3 * HOUR_MS;
// An hour whose high estimate is below this (kWh) has no sun: it is drawn as night.
const NIGHT_KWH = 0.0005;
const CHART_HEIGHT = 190;
const MARGIN = { top: 20, right: 6, bottom: 38, left: 34 };

const TEXTS = {
  en: {
    title: "My share, next hours",
    rest_of_today: "Rest of today",
    next_24h: "Next 24 h",
    expected: "Expected",
    range: "Likely range (P10–P90)",
    night: "No sun",
    now: "now",
    today: "Today",
    tomorrow: "Tomorrow",
    hour: "Hour",
    low: "Low (P10)",
    high: "High (P90)",
    kwh_per_hour: "kWh per hour",
    stale: "Last forecast from {time}. The hours below are what the community expected then.",
    stale_day:
      "Last forecast from {day} at {time}. The hours below are what the community expected then.",
    empty: "No forecast yet: the community sends one every hour.",
    unavailable: "The forecast is unavailable for now.",
    missing: "No share forecast sensor found ({entity}). Choose one in the card's settings.",
    summary:
      "Chart of your expected share for the next {hours} hours: {total} kWh in the next 24 hours, " +
      "most at {peak_time} ({peak} kWh). The table below lists every hour.",
    summary_none:
      "Chart of your expected share for the next {hours} hours: no energy expected.",
    entity: "Share forecast sensor",
    card_title: "Title",
    card_name: "Share forecast",
    card_description: "Your expected share of the community's energy, hour by hour.",
  },
  es: {
    title: "Mi parte, próximas horas",
    rest_of_today: "Resto de hoy",
    next_24h: "Próximas 24 h",
    expected: "Prevista",
    range: "Margen probable (P10–P90)",
    night: "Sin sol",
    now: "ahora",
    today: "Hoy",
    tomorrow: "Mañana",
    hour: "Hora",
    low: "Baja (P10)",
    high: "Alta (P90)",
    kwh_per_hour: "kWh por hora",
    stale:
      "Última previsión de las {time}. Las horas de abajo son lo que la comunidad esperaba entonces.",
    stale_day:
      "Última previsión del {day} a las {time}. Las horas de abajo son lo que la comunidad esperaba entonces.",
    empty: "Aún no hay previsión: la comunidad envía una cada hora.",
    unavailable: "La previsión no está disponible por ahora.",
    missing:
      "No se encuentra el sensor de previsión de tu parte ({entity}). Elige uno en los ajustes de la tarjeta.",
    summary:
      "Gráfico de tu parte prevista para las próximas {hours} horas: {total} kWh en las próximas 24 horas, " +
      "la mayor a las {peak_time} ({peak} kWh). La tabla siguiente detalla cada hora.",
    summary_none:
      "Gráfico de tu parte prevista para las próximas {hours} horas: no se espera energía.",
    entity: "Sensor de previsión de tu parte",
    card_title: "Título",
    card_name: "Previsión de mi parte",
    card_description: "Tu parte prevista de la energía de la comunidad, hora a hora.",
  },
};
/**
 * Return the first share forecast sensor with an hourly forecast; else the first share
 * forecast sensor (an unavailable one has no attributes); else undefined.
 */
function findForecastEntity(hass) {
  const named = Object.keys(hass?.states || {}).filter(
    (id) => id.startsWith("sensor.") && id.endsWith("_share_forecast"),
  );
  return named.find((id) => Array.isArray(hass.states[id].attributes.detailedHourly)) || named[0];
}

/** Return the hours not yet over, at most 36: {start, kwh, low, high}. */
function hoursAhead(detailed, now) {
  return detailed
    .map((item) => ({
      start: new Date(item.period_start),
      kwh: Number(item.pv_estimate) || 0,
      low: Number(item.pv_estimate10) || 0,
      high: Number(item.pv_estimate90) || 0,
    }))
    .filter((hour) => !Number.isNaN(hour.start.getTime()) && hour.start.getTime() + HOUR_MS > now)
    .slice(0, HOURS_SHOWN);
}

const STYLE = `
  :host { display: block; }
  .figures { display: flex; flex-wrap: wrap; gap: 4px 24px; margin-bottom: 8px; }
  .figure { display: flex; flex-direction: column; }
  .figure .label { color: var(--secondary-text-color); font-size: 14px; line-height: 20px; }
  .figure .value {
    color: var(--primary-text-color); font-size: 24px; line-height: 32px;
    font-weight: var(--ha-font-weight-normal, 400);
  }
  .note {
    display: flex; gap: 8px; align-items: flex-start; margin: 0 0 8px;
    color: var(--secondary-text-color); font-size: 14px; line-height: 20px;
  }
  .note ha-icon { --mdc-icon-size: 20px; flex: none; }
  .chart { width: 100%; min-width: 0; }
  svg { display: block; overflow: visible; }
  svg text { font-family: inherit; font-size: 12px; fill: var(--secondary-text-color); }
  svg text.day { fill: var(--primary-text-color); font-weight: 500; }
  .grid { stroke: var(--divider-color, rgba(127, 127, 127, 0.3)); stroke-width: 1; }
  .midnight { stroke: var(--secondary-text-color); stroke-width: 1; opacity: 0.6; }
  .night { fill: var(--secondary-text-color); opacity: 0.1; }
  .band { fill: var(--energy-solar-color, #ff9800); opacity: 0.28; }
  .bar { fill: var(--energy-solar-color, #ff9800); }
  .now { stroke: var(--primary-text-color); stroke-width: 1.5; stroke-dasharray: 3 3; }
  svg text.now-label { fill: var(--primary-text-color); }
  .legend {
    display: flex; flex-wrap: wrap; gap: 4px 16px; margin-top: 4px;
    color: var(--secondary-text-color); font-size: 12px; line-height: 16px;
  }
  .legend span { display: inline-flex; align-items: center; gap: 6px; }
  .swatch { width: 12px; height: 12px; border-radius: 2px; display: inline-block; }
  .swatch.bar { background: var(--energy-solar-color, #ff9800); }
  .swatch.band { background: var(--energy-solar-color, #ff9800); opacity: 0.35; }
  .swatch.night { background: var(--secondary-text-color); opacity: 0.2; }
  ${VISUALLY_HIDDEN}
`;

/**
 * <ioe-share-forecast>: one share forecast sensor, drawn. Set `hass` and `entity` (an entity
 * id; empty: the first share forecast found). It redraws when the sensor, the user's formats
 * or its width change, and as time moves the "now" line.
 */
class IoeShareForecast extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this._entity = "";
    this._drawn = "";
    this._width = 0;
    this._resize = new ResizeObserver((entries) => {
      const width = Math.floor(entries[0].contentRect.width);
      if (width && width !== this._width) {
        this._width = width;
        this._render();
      }
    });
  }

  connectedCallback() {
    this._resize.observe(this);
    this._render();
  }

  disconnectedCallback() {
    this._resize.disconnect();
  }

  set entity(entityId) {
    this._entity = entityId || "";
    this._render();
  }

  set hass(hass) {
    this._hass = hass;
    this._render();
  }

  _render() {
    const hass = this._hass;
    if (!hass || !this.isConnected) return;
    const formats = Formats.of(hass, TEXTS);
    const entityId = this._entity || findForecastEntity(hass) || "";
    const state = hass.states[entityId];
    const now = Date.now();
    const drawn = [entityId, formats.key, Math.floor(now / NOW_STEP_MS), this._width].join("|");
    // A new state object is a new forecast or figure; anything else cannot change the drawing.
    if (state === this._state && drawn === this._drawn) return;
    this._state = state;
    this._drawn = drawn;

    const root = this.shadowRoot;
    root.replaceChildren(html("style", {}, STYLE));
    const texts = formats.texts;
    if (!state) {
      const entity = entityId || "sensor.*_share_forecast";
      root.append(this._note(fill(texts.missing, { entity }), "mdi:alert-circle-outline"));
      return;
    }
    if (state.state === "unavailable") {
      root.append(this._note(texts.unavailable, "mdi:cloud-off-outline"));
      return;
    }
    const attributes = state.attributes;
    root.append(this._figures(formats, state));
    const computed = new Date(attributes.computed_at);
    if (now - computed.getTime() > STALE_MS) {
      const sameDay = formats.local(computed).day === formats.local(new Date(now)).day;
      const text = fill(sameDay ? texts.stale : texts.stale_day, {
        time: formats.time.format(computed),
        day: formats.longWeekday.format(computed),
      });
      root.append(this._note(text, "mdi:clock-outline", "stale"));
    }
    const hours = hoursAhead(Array.isArray(attributes.detailedHourly) ? attributes.detailedHourly : [], now);
    if (!hours.length) {
      root.append(this._note(texts.empty, "mdi:weather-night", "empty"));
      return;
    }
    const chart = html("div", { class: "chart" });
    chart.append(this._chart(formats, hours, now, attributes));
    root.append(chart, this._legend(texts), this._table(formats, hours, now));
  }

  _note(text, icon, kind = "") {
    const note = html("p", { class: `note ${kind}`.trim(), role: "status" });
    note.append(html("ha-icon", { icon }), html("span", {}, text));
    return note;
  }

  _figures(formats, state) {
    const texts = formats.texts;
    const figures = html("div", { class: "figures" });
    const figure = (label, value, name) => {
      const box = html("div", { class: `figure ${name}` });
      const shown = Number.isFinite(value) ? `${formats.number(value, 1)} kWh` : "—";
      box.append(html("span", { class: "label" }, label), html("span", { class: "value" }, shown));
      figures.append(box);
    };
    const today = state.state === "" ? NaN : Number(state.state);
    const next = state.attributes.next_24h_kwh;
    figure(texts.rest_of_today, today, "today");
    figure(texts.next_24h, next === null || next === undefined ? NaN : Number(next), "next-24h");
    return figures;
  }

  _chart(formats, hours, now, attributes) {
    const texts = formats.texts;
    const width = Math.max(this._width || this.clientWidth || 320, 240);
    const top = niceMaximum(Math.max(...hours.map((h) => Math.max(h.high, h.kwh))));
    const { plot, slot, x, y, levels } =
      hourlyFrame(width, CHART_HEIGHT, MARGIN, hours.length, top);
    const first = hours[0].start.getTime();

    const peak = hours.reduce((best, hour) => (hour.kwh > best.kwh ? hour : best), hours[0]);
    const next24 = Number(attributes.next_24h_kwh);
    const summary = peak.kwh > 0
      ? fill(texts.summary, {
          hours: hours.length,
          total: formats.number(Number.isFinite(next24) ? next24 : 0, 1),
          peak_time: formats.time.format(peak.start),
          peak: formats.number(peak.kwh, 2),
        })
      : fill(texts.summary_none, { hours: hours.length });
    const chart = svg("svg", {
      width, height: CHART_HEIGHT, viewBox: `0 0 ${width} ${CHART_HEIGHT}`,
      role: "img", "aria-label": summary,
    });

    // Night first, behind everything: each run of hours with no sun as one shade.
    let dark = -1;
    hours.forEach((hour, index) => {
      const night = hour.high < NIGHT_KWH;
      if (night && dark < 0) dark = index;
      if (dark >= 0 && (!night || index === hours.length - 1)) {
        const end = night ? index + 1 : index;
        chart.append(svg("rect", {
          class: "night", x: x(dark), y: plot.top, width: x(end) - x(dark), height: plot.height,
        }));
        dark = -1;
      }
    });
    levels(chart, formats);
    // The likely range as a stepped band, the expected energy as bars over it.
    const upper = hours.flatMap((hour, index) => [[x(index), y(hour.high)], [x(index + 1), y(hour.high)]]);
    const lower = hours.flatMap((hour, index) => [[x(index), y(hour.low)], [x(index + 1), y(hour.low)]]).reverse();
    chart.append(svg("polygon", {
      class: "band", points: [...upper, ...lower].map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" "),
    }));
    const barWidth = Math.max(slot * 0.62, 1);
    hours.forEach((hour, index) => {
      if (hour.kwh <= 0) return;
      chart.append(svg("rect", {
        class: "bar", x: x(index) + (slot - barWidth) / 2, y: y(hour.kwh),
        width: barWidth, height: Math.max(y(0) - y(hour.kwh), 0.5), rx: Math.min(barWidth / 4, 2),
      }));
    });

    // Hour labels every few hours (as many as fit), day names at each local midnight.
    const hourLabel = (date) => formats.time.format(date);
    const labelWidth = textWidth(hourLabel(new Date(first))) + 8;
    const step = [1, 2, 3, 4, 6, 12].find((s) => s * slot >= labelWidth) || 24;
    const today = { ...formats.local(new Date(now)), date: new Date(now) };
    const days = [];
    let previousDay = "";
    hours.forEach((hour, index) => {
      const local = formats.local(hour.start);
      if (local.day !== previousDay) {
        days.push({ index, date: hour.start });
        previousDay = local.day;
      }
      const left = x(index);
      const fits = left - labelWidth / 2 >= 0 && left + labelWidth / 2 <= width;
      if (local.hour % step === 0 && fits) {
        chart.append(svg("line", {
          class: "grid", x1: left, x2: left, y1: plot.top + plot.height, y2: plot.top + plot.height + 4,
        }));
        chart.append(svg("text", {
          x: left, y: plot.top + plot.height + 16, "text-anchor": "middle",
        }, hourLabel(hour.start)));
      }
    });
    days.forEach((day, position) => {
      const left = x(day.index);
      if (day.index > 0) {
        // Across the plot, and again beside the day's name: not through the hour labels.
        const bottom = plot.top + plot.height;
        for (const [from, to] of [[plot.top - 4, bottom + 4], [bottom + 21, bottom + 34]]) {
          chart.append(svg("line", { class: "midnight", x1: left, x2: left, y1: from, y2: to }));
        }
      }
      const name = formats.dayName(day.date, today);
      const following = days[position + 1];
      // A day's name is left out when the next day starts before it ends (late evening).
      if (following && x(following.index) - left < textWidth(name) + 10) return;
      if (left + textWidth(name) + 4 > width) return;
      chart.append(svg("text", {
        class: "day", x: left + (day.index > 0 ? 4 : 0), y: plot.top + plot.height + 33,
      }, name));
    });

    // Now: a dashed line across the hour under way.
    const offset = (now - first) / HOUR_MS;
    if (offset >= 0 && offset <= hours.length) {
      const at = plot.left + offset * slot;
      chart.append(svg("line", {
        class: "now", x1: at, x2: at, y1: plot.top - 6, y2: plot.top + plot.height,
      }));
      const anchorEnd = at + textWidth(texts.now) + 4 > width;
      chart.append(svg("text", {
        class: "now-label", x: anchorEnd ? at - 4 : at + 4, y: plot.top - 8,
        "text-anchor": anchorEnd ? "end" : "start",
      }, texts.now));
    }
    return chart;
  }

  _legend(texts) {
    const legend = html("div", { class: "legend", "aria-hidden": "true" });
    for (const [kind, text] of [
      ["bar", `${texts.expected} (${texts.kwh_per_hour})`],
      ["band", texts.range],
      ["night", texts.night],
    ]) {
      const item = html("span");
      item.append(html("i", { class: `swatch ${kind}` }), text);
      legend.append(item);
    }
    return legend;
  }

  _table(formats, hours, now) {
    const texts = formats.texts;
    const today = { ...formats.local(new Date(now)), date: new Date(now) };
    return hiddenTable(
      `${texts.title} (${texts.kwh_per_hour})`,
      [texts.hour, texts.expected, texts.low, texts.high],
      hours.map((hour) => [
        `${formats.dayName(hour.start, today)} ${formats.time.format(hour.start)}`,
        ...[hour.kwh, hour.low, hour.high].map((value) => formats.number(value, 2)),
      ]),
    );
  }
}

/** The Lovelace card: a title over <ioe-share-forecast>. */
class IoeShareForecastCard extends HTMLElement {
  static getStubConfig(hass) {
    const entity = findForecastEntity(hass);
    return entity ? { entity } : {};
  }

  static async getConfigElement() {
    return document.createElement("ioe-share-forecast-card-editor");
  }

  setConfig(config) {
    if (!config || (config.entity !== undefined && typeof config.entity !== "string")) {
      throw new Error("entity must be a sensor's entity id");
    }
    this._config = config;
    if (!this._forecast) {
      this._card = document.createElement("ha-card");
      const content = html("div", { class: "card-content" });
      this._forecast = document.createElement("ioe-share-forecast");
      content.append(this._forecast);
      this._card.append(content);
      this.append(this._card);
    }
    this._forecast.entity = config.entity || "";
    this._title();
  }

  set hass(hass) {
    this._hass = hass;
    this._title();
    if (this._forecast) this._forecast.hass = hass;
  }

  _title() {
    if (!this._card || !this._hass) return;
    this._card.header = this._config.title || Formats.of(this._hass, TEXTS).texts.title;
  }

  getCardSize() {
    return 6;
  }

  getGridOptions() {
    return { columns: 12, rows: "auto", min_columns: 6 };
  }
}

/** The card's visual editor: Home Assistant's form with the integration's sensors to pick. */
class IoeShareForecastCardEditor extends HTMLElement {
  setConfig(config) {
    this._config = config;
    this._update();
  }

  set hass(hass) {
    this._hass = hass;
    this._update();
  }

  _update() {
    if (!this._hass || !this._config) return;
    const texts = Formats.of(this._hass, TEXTS).texts;
    if (!this._form) {
      this._form = document.createElement("ha-form");
      this._form.computeLabel = (field) => texts[field.name === "title" ? "card_title" : "entity"];
      this._form.addEventListener("value-changed", (event) => {
        event.stopPropagation();
        const config = { ...this._config, ...event.detail.value };
        for (const key of ["entity", "title"]) if (!config[key]) delete config[key];
        this._config = config;
        this.dispatchEvent(new CustomEvent("config-changed", {
          detail: { config }, bubbles: true, composed: true,
        }));
      });
      this.append(this._form);
    }
    this._form.hass = this._hass;
    this._form.schema = [
      {
        name: "entity",
        selector: { entity: { filter: { integration: "ioe_community", domain: "sensor" } } },
      },
      { name: "title", selector: { text: {} } },
    ];
    this._form.data = this._config;
  }
}

defineCards(
  {
    "ioe-share-forecast": IoeShareForecast,
    "ioe-share-forecast-card": IoeShareForecastCard,
    "ioe-share-forecast-card-editor": IoeShareForecastCardEditor,
  },
  {
    type: "ioe-share-forecast-card",
    texts: TEXTS,
    documentation: "https://github.com/ioe-community/ioe-community/blob/main/docs/automations.md",
  },
);
