// Modal dialogs on the native <dialog>: focus moves in, Escape closes, focus returns.
import { h } from "../dom.js";
import { t } from "../i18n.js";

let counter = 0;

/** Open a modal dialog titled `title` holding `content`; return the <dialog>. */
export function openDialog(title, content, { onclose } = {}) {
  const id = `dialog-title-${++counter}`;
  const opener = document.activeElement;
  const dialog = h("dialog", { class: "card dialog", "aria-labelledby": id }, h("h2", { id }, title), content);
  dialog.addEventListener("close", () => {
    dialog.remove();
    onclose?.();
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** Ask a yes/no question; resolve true when the user confirms. */
export function confirm({ title, text, action, danger = false }) {
  return new Promise((resolve) => {
    let answer = false;
    const dialog = openDialog(
      title,
      [
        h("p", {}, text),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "text", onclick: () => dialog.close() }, t("cancel")),
          h(
            "button",
            {
              type: "button",
              class: danger ? "danger" : "primary",
              onclick: () => {
                answer = true;
                dialog.close();
              },
            },
            action,
          ),
        ),
      ],
      { onclose: () => resolve(answer) },
    );
  });
}
