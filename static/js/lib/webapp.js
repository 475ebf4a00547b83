/* The installable app on the page's side: registering the service worker (static/js/sw.js,
   served at /sw.js), forgetting the phone's stored copies of personal pages, and knowing
   whether the page runs as an installed app. */

const PAGES_CACHE = "watchnet-pages-v1";  // the worker's cache of supporter pages

/** Registers the worker named by <meta name="watchnet-worker"> (its scope in data-scope);
    resolves with the registration, or null where service workers are not available. */
export function registerWorker() {
  const meta = document.querySelector('meta[name="watchnet-worker"]');
  if (!meta || !("serviceWorker" in navigator)) { return Promise.resolve(null); }
  return navigator.serviceWorker.register(meta.getAttribute("content"), {
    scope: meta.dataset.scope || "/"
  }).catch(() => null);  // e.g. a private window that refuses workers: the page still works
}

/** The worker's registration once it is active; null where it cannot be registered
    (registering again is harmless: the browser returns the same registration). */
export function workerReady() {
  return registerWorker().then((registration) => (registration ? navigator.serviceWorker.ready : null));
}

/** Deletes the phone's stored copy of the page at `path` and of any page under it (every
    stored page when `path` is empty): the alert page calls it when the alert closes or its
    access ends, so the details are not shown again from the phone's storage. Done here
    rather than by a message to the worker, so it works whether or not a worker controls the
    page. */
export function forgetOfflineCopies(path) {
  if (!window.caches) { return Promise.resolve(0); }
  if (!path) { return window.caches.delete(PAGES_CACHE).then(() => 0); }
  return window.caches.open(PAGES_CACHE).then((cache) => cache.keys().then((requests) => {
    const gone = requests.filter((r) => {
      const p = new URL(r.url).pathname;
      return p === path || p.startsWith(path + "/");
    });
    return Promise.all(gone.map((r) => cache.delete(r))).then(() => gone.length);
  })).catch(() => 0);
}

/** Calls back when the worker brought this page forward for a tapped notification about it. */
export function onNotificationTap(callback) {
  if (!("serviceWorker" in navigator)) { return; }
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data && event.data.type === "notification-tap") { callback(event.data.url); }
  });
}

/** True when the page runs as an app added to the home screen. */
export function isStandalone() {
  return (window.matchMedia && window.matchMedia("(display-mode: standalone)").matches) ||
    window.navigator.standalone === true;  // Safari on iPhone
}
