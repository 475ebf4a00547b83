/* The small DOM helpers every page script uses (one copy; imported as an ES module). User
   text only ever enters the page through textContent or DOM nodes, never as HTML. */

/** The element with this id (or null). */
export function $(id) {
  return document.getElementById(id);
}

/** A new element with a class and text content (both optional). */
export function el(tag, className, content) {
  const node = document.createElement(tag);
  if (className) { node.className = className; }
  if (content !== undefined && content !== null) { node.textContent = String(content); }
  return node;
}

/** Shows or hides an element (a missing one is ignored). */
export function show(node, visible) {
  if (node) { node.hidden = !visible; }
}

/** Removes every child of a node. */
export function clearNode(node) {
  while (node && node.firstChild) { node.removeChild(node.firstChild); }
}

/** Fills "{name}" placeholders of a translated string; unknown ones stay as they are. */
export function fmt(template, values) {
  return String(template).replace(/\{(\w+)\}/g, (whole, key) =>
    Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole);
}

/** The page's CSRF token (from <meta name="csrf-token">). */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

/** Parses the JSON of a <script type="application/json" id=...> block (null without one). */
export function readJson(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

/** A URL that url_for built with the id 0 (".../0/review") made for another id, so that
    pages never put URLs together from pieces. */
export function urlWithId(template, id) {
  return String(template).replace(/\/0(\/[^/]*)?$/, (whole, tail) => "/" + encodeURIComponent(id) + (tail || ""));
}

/** Reads and writes JSON in localStorage; storage that is full or blocked is not an error. */
export function storageGet(key, fallback) {
  try {
    const raw = window.localStorage.getItem(key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch (e) { return fallback; }
}

export function storageSet(key, value) {
  try {
    window.localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch (e) { return false; }
}

/** Runs fn once the document is parsed (module scripts already are; kept for clarity). */
export function ready(fn) {
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", fn);
  } else {
    fn();
  }
}

/** A say(text, kind) for a message line: shows the text with the class "field-message kind"
    and hides it again after hideAfterMs, except errors, which stay until replaced. */
export function messenger(node, hideAfterMs) {
  let timer = null;
  return function say(text, kind) {
    if (!node) { return; }
    node.textContent = text;
    node.className = "field-message " + (kind || "info");
    show(node, !!text);
    if (timer) { window.clearTimeout(timer); }
    if (text && kind !== "error") {
      timer = window.setTimeout(() => show(node, false), hideAfterMs);
    }
  };
}

/** A clock(iso) that shows "HH:MM" (or "HH:MM:SS") in the app's time zone; "" for no time. */
export function clockFormatter(locale, timeZone, withSeconds) {
  const options = { timeZone: timeZone || "Asia/Tokyo", hour: "2-digit", minute: "2-digit", hour12: false };
  if (withSeconds) { options.second = "2-digit"; }
  const format = new Intl.DateTimeFormat(locale === "en" ? "en-GB" : "ja-JP", options);
  return function clock(iso) {
    if (!iso) { return ""; }
    const d = new Date(iso);
    return isNaN(d.getTime()) ? "" : format.format(d);
  };
}
