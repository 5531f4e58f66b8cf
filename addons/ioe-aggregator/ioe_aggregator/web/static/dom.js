// Builds DOM nodes from data without ever parsing markup: text is always a text node, so
// nothing a member's name (or any other data) holds can become an element or a script.

/**
 * Make an element: h("button", {class: "primary", onclick: f}, "Add").
 * Attributes starting with "on" become listeners; `false`/`null` leave an attribute out;
 * children are nodes, text, or arrays of them (null/false skipped).
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything inside `parent` with `children`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
  return parent;
}

/** Say something to screen readers (the shell's polite live region). */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (region) region.textContent = text;
}
