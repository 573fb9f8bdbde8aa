// Tiny DOM helpers: build elements without innerHTML, so user text is never parsed as HTML.

/** h("a.btn", {href: "/x"}, "text", child) -> element. Class names follow the tag after dots. */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function initials(name) {
  const words = String(name || "?").replace(/[@.]/g, " ").split(/\s+/).filter(Boolean);
  if (!words.length) return "?";
  const first = words[0][0];
  const last = words.length > 1 ? words[words.length - 1][0] : "";
  return (first + last).toUpperCase();
}

/** An <img> avatar when there is a picture, else a circle with initials. */
export function avatar(name, url, size = "md") {
  if (url) return h(`img.avatar.avatar--${size}`, { src: url, alt: "", loading: "lazy" });
  return h(`span.avatar.avatar--${size}`, { "aria-hidden": "true" }, initials(name));
}

export function rateLabel(rate) {
  const value = Number(rate) || 0;
  if (value === 0) return "Free";
  const amount = Number.isInteger(value) ? value.toLocaleString("en-US") : value.toFixed(2);
  return `$${amount}/hour`;
}

/** Form limits from store.validation, rendered by the server into every page. */
export function formRules() {
  const node = document.getElementById("form-rules");
  return node ? JSON.parse(node.textContent) : {};
}
