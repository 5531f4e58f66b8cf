// Hash routes (#/members/m-0001): the page's own URL never changes, so deep links work under
// any prefix the ingress proxy puts in front of it.

const routes = [];

/** Route `pattern` ("members/:id") to `render(params)`. */
export function route(pattern, render) {
  const names = [];
  const source = pattern
    .split("/")
    .map((part) => {
      if (!part.startsWith(":")) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(part.slice(1));
      return "([^/]+)";
    })
    .join("/");
  routes.push({ regex: new RegExp(`^${source}$`), names, render });
}

/** The current route's path, without "#/" and without its "?…" part. */
export function currentPath() {
  return decodeURIComponent(location.hash.replace(/^#\/?/, "").split("?")[0]);
}

/** The current route's "?…" part (#/members?add opens the add dialog). */
export function currentQuery() {
  return new URLSearchParams(location.hash.split("?")[1] ?? "");
}

export function go(path) {
  location.hash = `#/${path}`;
}

/** Find the route of the current hash; return [render, params] or null. */
export function resolve(path = currentPath()) {
  for (const { regex, names, render } of routes) {
    const match = regex.exec(path);
    if (match) return [render, Object.fromEntries(names.map((name, i) => [name, match[i + 1]]))];
  }
  return null;
}
