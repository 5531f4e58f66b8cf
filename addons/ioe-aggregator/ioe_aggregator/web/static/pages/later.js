// Sections whose pages are still being built: say so, and where to go meanwhile.
import { h, replace } from "../dom.js";
import { currentPath } from "../router.js";
import { translator } from "../i18n.js";

const TEXTS = {
  en: { coming: "This section is coming soon.", meanwhile: "Meanwhile, its tasks are done with the aggregator's command line or its API." },
  es: { coming: "Esta sección llegará pronto.", meanwhile: "Mientras tanto, sus tareas se hacen con la línea de órdenes del agregador o con su API." },
};
const t = translator(TEXTS);

export async function render(main) {
  const section = currentPath().split("/")[0];
  replace(main, h("h1", {}, t(`nav.${section}`)), h("section", { class: "card empty" }, h("p", {}, t("coming")), h("p", {}, t("meanwhile"))));
}
