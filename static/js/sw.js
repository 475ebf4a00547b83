/* The supporters' service worker, served at /sw.js by watchnet/core/webapp.py, which puts
 * its settings in front of this code as self.WATCHNET_SW (version, shell URLs, page paths,
 * translated strings). A classic script, not a module: module service workers are missing on
 * some of the phones supporters carry.
 *
 * - Shell: on install every script, stylesheet, icon and Leaflet file of the supporter pages
 *   goes into "watchnet-shell-<version>" and is answered from there; a new release has a new
 *   version, and activating it deletes the old caches.
 * - Pages: a navigation to a supporter page (their home, a field page, an alert page) goes to
 *   the network first. Without network (or a 502/503/504 from a proxy in front of it) the
 *   phone's stored copy is shown, else the offline page. So a reload in a dead spot shows the
 *   page, and the page shows what is still queued in localStorage (static/js/field_queue.js).
 * - Personal data: a page is stored only when its answer carries the Watchnet-Offline-Copy
 *   header (max-age in seconds) — the server sets it on those three pages only, never on JSON,
 *   photos or errors. An answer without it (a closed alert's thank-you, a 404) deletes that
 *   page's copy; a 403 (link revoked, supporter deactivated, phone signed out) and opening a
 *   sign-in link delete every copy; a copy past its max-age is deleted instead of shown. The
 *   open alert page deletes its own copy when the all-clear arrives (lib/webapp.js).
 *   The first time a page is opened no worker controls it yet, so its answer passes by; once
 *   the worker takes over, the page asks it ("keep-page") to fetch that page again and keep
 *   it, marked with the Watchnet-Offline-Fill header (the alert page's audit record says
 *   "offline_copy" for that fetch). Apart from that the worker never fetches a page itself.
 *   Everything else — JSON, event streams, photos, staff pages, map tiles — is not touched.
 * - Push: every push shows a notification (Chrome and Safari expect one for each message;
 *   an empty or broken payload shows a general one). Tapping it focuses a window already
 *   showing that URL (and tells it: "notification-tap") or opens it; only URLs of this site
 *   are opened — another site's URL opens the supporter's home instead.
 */
/* global self, caches, Request, Response, Headers, URL */
"use strict";

const CFG = self.WATCHNET_SW;
const SHELL = "watchnet-shell-" + CFG.version;
const PAGES = "watchnet-pages-v1";
const STORED_AT = "Watchnet-Stored-At";
const TITLE_MAX = 120;
const BODY_MAX = 500;

function here(path) { return new URL(path, self.location.origin).href; }

const SHELL_URLS = new Set(CFG.shell.map(here));

/* ------------------------------------------------------------------ install and activate */

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(SHELL)
      // "reload": fresh from the server, not from the browser's HTTP cache.
      .then((cache) => cache.addAll(CFG.shell.map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names
        .filter((name) => name.startsWith("watchnet-shell-") && name !== SHELL)
        .map((name) => caches.delete(name))))
      .then(dropExpiredPages)
      .then(() => self.clients.claim())
  );
});

/* ------------------------------------------------------------------ requests */

function isSupporterPage(url) {
  return CFG.pages.some((p) => (p.exact ? url.pathname === p.path : url.pathname.startsWith(p.path)));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") { return; }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate") {
    if (url.pathname.startsWith(CFG.signin_prefix)) {
      // Someone signs in on this phone (perhaps another person): forget every stored page.
      event.respondWith(dropAllPages().then(() => fetch(request)).catch(offlinePage));
      return;
    }
    if (isSupporterPage(url)) { event.respondWith(networkFirst(event, request)); }
    return;
  }
  url.hash = "";
  if (SHELL_URLS.has(url.href)) {
    event.respondWith(caches.open(SHELL)
      .then((cache) => cache.match(url.href))
      .then((hit) => hit || fetch(request)));
  }
});

function pageKey(request) {
  const url = new URL(request.url);
  url.hash = "";
  return url.href;
}

function networkFirst(event, request) {
  const key = pageKey(request);
  return fetch(request).then((response) => {
    if (response.status === 502 || response.status === 503 || response.status === 504) {
      // A proxy in front of the server says it is down or unreachable: like no network.
      // (A 500 is the app's own error page, with the error id: shown as it is.)
      return storedPage(key).then((copy) => copy || response);
    }
    if (response.type === "opaqueredirect") { return response; }  // the browser follows it
    const maxAge = offlineMaxAge(response);
    if (response.ok && maxAge > 0) {
      event.waitUntil(storePage(key, response.clone(), maxAge));
    } else if (response.status === 403) {
      event.waitUntil(dropAllPages());
    } else {
      event.waitUntil(dropPage(key));
    }
    return response;
  }, () => storedPage(key).then((copy) => copy || offlinePage()));
}

/* The page may be kept for this many seconds (0: it must not be kept). */
function offlineMaxAge(response) {
  const value = response.headers.get(CFG.offline_header) || "";
  const match = /max-age=(\d+)/.exec(value);
  return match ? parseInt(match[1], 10) : 0;
}

function storePage(key, response, maxAge) {
  return response.blob().then((body) => {
    const headers = new Headers(response.headers);
    headers.set(STORED_AT, String(Date.now()));
    headers.set(CFG.offline_header, "max-age=" + maxAge);
    const copy = new Response(body, { status: response.status, statusText: response.statusText,
                                      headers: headers });
    return caches.open(PAGES).then((cache) => cache.put(key, copy));
  });
}

function isExpired(response, now) {
  const storedAt = parseInt(response.headers.get(STORED_AT) || "0", 10);
  return !storedAt || now - storedAt > offlineMaxAge(response) * 1000;
}

function storedPage(key) {
  return caches.open(PAGES).then((cache) => cache.match(key, { ignoreVary: true }).then((hit) => {
    if (!hit) { return null; }
    if (isExpired(hit, Date.now())) { return cache.delete(key).then(() => null); }
    return hit;
  }));
}

function offlinePage() {
  return caches.open(SHELL).then((cache) => cache.match(here(CFG.offline_url))).then((hit) =>
    hit || new Response(CFG.strings.title, { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } }));
}

function dropPage(key) {
  return caches.open(PAGES).then((cache) => cache.delete(key));
}

function dropAllPages() {
  return caches.delete(PAGES);
}

function dropExpiredPages() {
  const now = Date.now();
  return caches.open(PAGES).then((cache) => cache.keys().then((keys) => Promise.all(keys.map((req) =>
    cache.match(req).then((hit) => (hit && isExpired(hit, now) ? cache.delete(req) : false))))));
}

/* The page that was opened before this worker controlled it asks to be kept: fetch its URL
   (the sender's own, never one named in the message) and store it if the answer allows. */
self.addEventListener("message", (event) => {
  const source = event.source;
  if (!event.data || event.data.type !== "keep-page" || !source || !source.url) { return; }
  const url = new URL(source.url);
  url.hash = "";
  if (url.origin !== self.location.origin || !isSupporterPage(url)) { return; }
  const headers = {};
  headers[CFG.fill_header] = "1";
  event.waitUntil(fetch(url.href, { credentials: "same-origin", headers: headers }).then((response) => {
    const maxAge = offlineMaxAge(response);
    return response.ok && maxAge > 0 ? storePage(url.href, response, maxAge) : dropPage(url.href);
  }).catch(() => null));
});

/* ------------------------------------------------------------------ push and notifications */

/* A URL of this site from a message, or null: a notification never opens another site. */
function sameOriginUrl(value) {
  if (typeof value !== "string" || !value) { return null; }
  try {
    const url = new URL(value, self.location.origin);
    return url.origin === self.location.origin ? url.href : null;
  } catch (e) {
    return null;
  }
}

function text(value, max) {
  return typeof value === "string" ? value.trim().slice(0, max) : "";
}

function readPayload(data) {
  if (!data) { return {}; }
  try {
    const json = data.json();
    return json && typeof json === "object" ? json : {};
  } catch (e) {
    try { return { body: data.text() }; } catch (e2) { return {}; }
  }
}

/* The notification for a push payload {"title", "body", "url", "tag"}; never fails. */
function notificationFor(payload) {
  const title = text(payload.title, TITLE_MAX) || CFG.strings.title;
  const body = text(payload.body, BODY_MAX) || (text(payload.title, TITLE_MAX) ? "" : CFG.strings.body);
  const tag = text(payload.tag, 100);
  const options = {
    body: body,
    icon: here(CFG.icon),
    badge: here(CFG.badge),
    lang: CFG.lang,
    data: { url: sameOriginUrl(payload.url) || here(CFG.home_url) }
  };
  if (tag) {
    // A later message about the same thing (an update, the all-clear) replaces the earlier
    // one and still rings.
    options.tag = tag;
    options.renotify = true;
  }
  return { title: title, options: options };
}

self.addEventListener("push", (event) => {
  let shown;
  try {
    shown = notificationFor(readPayload(event.data));
  } catch (e) {
    shown = { title: CFG.strings.title, options: { body: CFG.strings.body, data: { url: here(CFG.home_url) } } };
  }
  event.waitUntil(self.registration.showNotification(shown.title, shown.options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  const target = sameOriginUrl(data.url) || here(CFG.home_url);
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => w.url === target);
      if (open && "focus" in open) {
        // Already open: bring it forward and tell it (the alert page asks for news at once).
        return open.focus().then((focused) =>
          (focused || open).postMessage({ type: "notification-tap", url: target }));
      }
      return self.clients.openWindow(target);
    })
  );
});
