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
  en: { title: "Your energy", language: "Language", "sign-out": "Sign out", "signed-out": "You have signed out." },
  es: { title: "Tu energía", language: "Idioma", "sign-out": "Cerrar sesión", "signed-out": "Has cerrado la sesión." },
};
const t = translator(TEXTS);
const LANGUAGE_NAMES = { en: "English", es: "Español" };
const STORED_LANGUAGE = "ioe-portal-language";
const main = document.getElementById("main");
const tools = document.getElementById("tools");
// What is shown now, drawn again when the language changes.
let redraw = () => {};

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
  redraw = () => signedOut(message);
  drawShell(null);
  showSignIn(main, { message, signedIn });
}

function signedIn(session) {
  setCsrf(session.csrf);
  redraw = () => signedIn(session);
  drawShell(session);
  showHome(main, session);
}

async function leave() {
  try {
    await api("portal/session", { method: "DELETE" });
  } catch {
    // Ended already, or unreachable: the page forgets it either way.
  }
  signedOut(t("signed-out"));
}

/** Sign in with the link in the address, if it holds one; return whether it did. */
async function fromLink() {
  const secret = new URLSearchParams(location.hash.slice(1)).get("k");
  if (!secret) return false;
  // Off the address at once: it must not stay in the history, a bookmark or a screenshot.
  history.replaceState(null, "", location.pathname);
  try {
    signedIn(await api("portal/session", { method: "POST", body: { link: secret }, quiet401: true }));
  } catch (error) {
    signedOut(error instanceof ApiError ? error : String(error));
  }
  return true;
}

async function start() {
  setLanguage(storedLanguage());
  sendAlways({ "X-IoE-Portal": "1" });
  // A link pasted into a tab that shows the portal already changes only the fragment.
  window.addEventListener("hashchange", fromLink);
  if (await fromLink()) return;
  try {
    signedIn(await api("portal/session", { quiet401: true }));
  } catch (error) {
    signedOut(error instanceof ApiError && error.status === 401 ? null : error);
  }
}

start();
