// A member's join code, shown once: the text to copy and the QR code to scan.
import { h, announce } from "../dom.js";
import { openDialog } from "./dialog.js";
import { translator } from "../i18n.js";

const TEXTS = {
  en: {
    title: "Join code for {name}",
    once: "It is shown only now. Give it to the household: they paste it (or scan it) in Home Assistant, in the IoE Community integration.",
    label: "Join code",
    copy: "Copy",
    copied: "Copied",
    "copy-failed": "Select the text and copy it by hand.",
    qr: "QR code of the join code",
    done: "Done",
  },
  es: {
    title: "Código de unión de {name}",
    once: "Solo se muestra ahora. Dáselo al hogar: lo pega (o lo escanea) en Home Assistant, en la integración IoE Community.",
    label: "Código de unión",
    copy: "Copiar",
    copied: "Copiado",
    "copy-failed": "Selecciona el texto y cópialo a mano.",
    qr: "Código QR del código de unión",
    done: "Hecho",
  },
};
const t = translator(TEXTS);

/** Show a member's new join code in a dialog; it is gone once the dialog closes. */
export function showJoinCode({ name, code, qrSvg }) {
  let dialog = null;
  dialog = openDialog(t("title", { name }), joinCode({ code, qrSvg, onDone: () => dialog.close() }));
  return dialog;
}

function joinCode({ code, qrSvg, onDone }) {
  const field = h("textarea", { class: "join-code", readonly: true, rows: 4, "aria-label": t("label"), spellcheck: "false" }, code);
  const copy = h("button", { type: "button", class: "secondary" }, t("copy"));
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(code);
      copy.textContent = t("copied");
      announce(t("copied"));
    } catch {
      field.select();
      announce(t("copy-failed"));
    }
  });
  // The SVG comes from our own API; as an image it can hold no script (and the page's CSP
  // allows data: images only).
  const qr = h("img", {
    class: "qr",
    alt: t("qr"),
    src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(qrSvg)}`,
  });
  return h(
    "section",
    { class: "join-code-block" },
    h("p", {}, t("once")),
    h("div", { class: "join-code-body" }, h("div", { class: "join-code-text" }, field, copy), qr),
    h("div", { class: "actions" }, h("button", { type: "button", class: "primary", onclick: onDone }, t("done"))),
  );
}
