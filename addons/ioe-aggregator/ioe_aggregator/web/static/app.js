// The control centre's shell: who is signed in, the sections they may open, and the router.
import { api, ApiError, onSignedOut, setCsrf } from "./api.js";
import { h, replace } from "./dom.js";
import { chooseLanguage, t } from "./i18n.js";
import { currentPath, resolve, route } from "./router.js";
import { showNoRole, showSignIn } from "./session.js";
import { errorMessage } from "./components/message.js";
import * as overview from "./pages/overview.js";
import * as members from "./pages/members.js";
import * as member from "./pages/member.js";
import * as control from "./pages/control.js";
import * as agreements from "./pages/agreements.js";
import * as settings from "./pages/settings.js";
import * as data from "./pages/data.js";

// The sections, and the permission each needs.
const SECTIONS = [
  { path: "overview", permission: "read" },
  { path: "members", permission: "read" },
  { path: "data", permission: "read" },
  { path: "agreements", permission: "read" },
  { path: "control", permission: "read" },
  { path: "settings", permission: "administer" },
];

// Replaced at each navigation (show()): a page still loading draws into its own, unseen.
let main = document.getElementById("main");
let session = null;

function allowed(section) {
  return session.permissions.includes(section.permission);
}

function renderChrome() {
  const name = session.community.name || session.community.id;
  document.title = `${name} · IoE Community`;
  replace(document.getElementById("community-name"), name);
  replace(document.getElementById("skip-link"), t("skip"));
  const nav = document.getElementById("navigation");
  nav.setAttribute("aria-label", t("sections"));
  replace(
    nav,
    h(
      "ul",
      {},
      SECTIONS.filter(allowed).map((section) =>
        h("li", {}, h("a", { href: `#/${section.path}`, dataset: { section: section.path } }, t(`nav.${section.path}`))),
      ),
    ),
  );
  // Only a password session can be ended here: Home Assistant signs ingress users in and out.
  const signOut =
    session.user.via === "session"
      ? h("button", { type: "button", class: "secondary sign-out", onclick: endSession }, t("sign-out"))
      : null;
  replace(document.getElementById("user"), h("span", {}, session.user.name), " ", signOut);
}

async function endSession() {
  try {
    await api("session", { method: "DELETE" });
  } finally {
    signIn();
  }
}

function markCurrent(path) {
  const section = path.split("/")[0] || "overview";
  for (const link of document.querySelectorAll("#navigation a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function show() {
  const path = currentPath() || "overview";
  const section = SECTIONS.find((one) => one.path === path.split("/")[0]);
  const found = section && allowed(section) ? resolve(path) : null;
  markCurrent(path);
  // A fresh page for each navigation: one still loading (the overview just after signing in,
  // say) finishes into the page it was given, no longer shown, not over this one.
  const view = main.cloneNode(false);
  main.replaceWith(view);
  main = view;
  if (!found) {
    replace(view, h("section", { class: "card empty" }, h("h1", {}, t("not-found")), h("a", { href: "#/overview" }, t("back-overview"))));
    return;
  }
  const [render, params] = found;
  replace(view, h("p", { class: "loading" }, t("loading")));
  try {
    await render(view, params, session);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return; // the sign-in form is shown
    replace(view, errorMessage(error instanceof ApiError ? error.describe() : String(error)));
  }
  if (view !== main) return; // another navigation since
  // After a navigation, the page's heading is where a keyboard or screen reader user starts.
  if (document.activeElement === document.body || !view.contains(document.activeElement)) {
    view.querySelector("h1")?.setAttribute("tabindex", "-1");
    if (location.hash) view.querySelector("h1")?.focus({ preventScroll: true });
  }
}

function started(newSession) {
  session = newSession;
  setCsrf(session.csrf);
  chooseLanguage(session.language);
  if (session.user.role === null || session.permissions.length === 0) {
    replace(document.getElementById("navigation"));
    showNoRole(main);
    return;
  }
  renderChrome();
  show();
}

function signIn() {
  session = null;
  replace(document.getElementById("navigation"));
  replace(document.getElementById("user"));
  showSignIn(main, started);
}

route("overview", overview.render);
route("members", members.render);
route("members/:id", member.render);
route("settings", settings.render);
route("data", data.render);
route("agreements", agreements.render);
route("control", control.render);

window.addEventListener("hashchange", () => session && show());
// The skip link goes to the content, not to a page called "main" (the hash is the route).
document.getElementById("skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
onSignedOut(signIn);

async function boot() {
  chooseLanguage(null);
  replace(document.getElementById("skip-link"), t("skip"));
  try {
    started(await api("session", { quiet401: true }));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) signIn();
    else replace(main, errorMessage(error instanceof ApiError ? error.describe() : String(error)));
  }
}

boot();
