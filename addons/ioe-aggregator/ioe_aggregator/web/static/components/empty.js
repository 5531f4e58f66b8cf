// An empty state that says what to do next, with the button that does it.
import { h } from "../dom.js";

export function emptyState({ title, text, action }) {
  return h("section", { class: "card empty" }, h("h2", {}, title), h("p", {}, text), action ?? null);
}
