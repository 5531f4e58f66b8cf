// The member's portal: signs the household in with the link's secret (from the address's
// fragment, never sent to a server) or a typed code, then shows their own figures. Its calls
// name themselves as the portal's (X-IoE-Portal), and go to the same documented API as the
// control centre's.
import { api, ApiError, sendAlways, setCsrf } from "../api.js";
import { h, replace } from "../dom.js";
import { LANGUAGES, chooseLanguage, language, translator } from "../i18n.js";
import { showSignIn } from "./sign-in.js";
import { showHome } from "./home.js";

const TEXTS = {
  en: {
    title: "Your energy",
    language: "Language",
    "sign-out": "Sign out",
    "signed-out": "You have signed out.",
    "link-title": "Open this link?",
    "link-signed-in": "This browser is signed in to the portal of {name}.",
    "link-warning":
      "The link you opened signs in to the portal it was made for. If someone else sent it to you, it may be another member's: what you would see, and any data you download, would be theirs, not yours.",
    "link-switch": "Sign out and open the link",
    "link-stay": "Stay signed in as {name}",
  },
  es: {
    title: "Tu energía",
    language: "Idioma",
    "sign-out": "Cerrar sesión",
    "signed-out": "Has cerrado la sesión.",
    "link-title": "¿Abrir este enlace?",
    "link-signed-in": "Este navegador tiene abierta la sesión del portal de {name}.",
    "link-warning":
      "El enlace que has abierto entra en el portal para el que se creó. Si te lo ha enviado otra persona, puede ser el de otro socio: lo que verías, y los datos que descargues, serían suyos, no tuyos.",
    "link-switch": "Cerrar sesión y abrir el enlace",
    "link-stay": "Seguir como {name}",
  },
};
const t = translator(TEXTS);
const LANGUAGE_NAMES = { en: "English", es: "Español" };
const STORED_LANGUAGE = "ioe-portal-language";
const main = document.getElementById("main");
const tools = document.getElementById("tools");
// What is shown now, drawn again when the language changes, and the session it shows (if any).
let redraw = () => {};
let current = null;

function storedLanguage() {
  try {
    return localStorage.getItem(STORED_LANGUAGE);
  } catch {
    return null;
  }
}

function setLanguage(wanted) {
  chooseLanguage(wanted);
  try {
    localStorage.setItem(STORED_LANGUAGE, language());
  } catch {
    // Private browsing: the choice lasts this page.
  }
}

function drawShell(session) {
  const community = session?.community.name || session?.community.id || "IoE Community";
  document.getElementById("community-name").textContent = community;
  document.getElementById("skip-link").textContent = t("skip");
  document.title = `${t("title")} · ${community}`;
  const select = h(
    "select",
    { id: "language", "aria-label": t("language") },
    LANGUAGES.map((code) => h("option", { value: code, lang: code, selected: code === language() }, LANGUAGE_NAMES[code])),
  );
  select.addEventListener("change", () => {
    setLanguage(select.value);
    redraw();
  });
  const signOut = session ? h("button", { type: "button", class: "secondary sign-out", onclick: () => leave() }, t("sign-out")) : null;
  replace(tools, select, signOut);
}

function signedOut(message = null) {
  setCsrf(null);
  current = null;
  redraw = () => signedOut(message);
  drawShell(null);
  showSignIn(main, { message, signedIn });
}

function signedIn(session) {
  setCsrf(session.csrf);
  current = session;
  redraw = () => signedIn(session);
  drawShell(session);
  showHome(main, session);
}

async function endSession() {
  try {
    await api("portal/session", { method: "DELETE" });
  } catch {
    // Ended already, or unreachable: the page forgets it either way.
  }
}

async function leave() {
  await endSession();
  signedOut(t("signed-out"));
}

/** Take a link's secret off the address, if it holds one, and return it. */
function linkSecret() {
  const secret = new URLSearchParams(location.hash.slice(1)).get("k");
  // Off the address at once: it must not stay in the history, a bookmark or a screenshot.
  if (secret) history.replaceState(null, "", location.pathname);
  return secret;
}

async function openLink(secret) {
  try {
    signedIn(await api("portal/session", { method: "POST", body: { link: secret }, quiet401: true }));
  } catch (error) {
    signedOut(error instanceof ApiError ? error : String(error));
  }
}

/**
 * Ask a browser signed in already before a link signs it in again: the link may be another
 * member's, sent so that this browser shows their portal instead of its own.
 */
function askFirst(session, secret) {
  setCsrf(session.csrf);
  current = session;
  redraw = () => askFirst(session, secret);
  drawShell(session);
  const name = session.member.name || session.member.id;
  const title = h("h1", { id: "link-title", tabindex: "-1" }, t("link-title"));
  const switchTo = async () => {
    await endSession();
    await openLink(secret);
  };
  replace(
    main,
    h(
      "section",
      { class: "card switch-link", "aria-labelledby": "link-title" },
      title,
      h("p", {}, t("link-signed-in", { name })),
      h("p", {}, t("link-warning")),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "primary", onclick: switchTo }, t("link-switch")),
        h("button", { type: "button", class: "secondary", onclick: () => signedIn(session) }, t("link-stay", { name })),
      ),
    ),
  );
  title.focus();
}

async function start() {
  setLanguage(storedLanguage());
  sendAlways({ "X-IoE-Portal": "1" });
  // A link pasted into a tab that shows the portal already changes only the fragment.
  window.addEventListener("hashchange", () => {
    const secret = linkSecret();
    if (secret && current) askFirst(current, secret);
    else if (secret) openLink(secret);
  });
  const secret = linkSecret();
  let session = null;
  let problem = null;
  try {
    session = await api("portal/session", { quiet401: true });
  } catch (error) {
    problem = error instanceof ApiError && error.status === 401 ? null : error;
  }
  if (secret && session) askFirst(session, secret);
  else if (secret) await openLink(secret);
  else if (session) signedIn(session);
  else signedOut(problem);
}

start();
