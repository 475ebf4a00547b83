/* Every supporter page (templates/_webapp.html): register the service worker, which keeps
   the page for a reload without network and shows push notifications. */
import { registerWorker } from "./lib/webapp.js";

// Opened before any worker controlled it (the first visit): this page's answer did not pass
// through the worker, so once the worker takes over, ask it to keep the page.
if ("serviceWorker" in navigator && !navigator.serviceWorker.controller) {
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    const worker = navigator.serviceWorker.controller;
    if (worker) { worker.postMessage({ type: "keep-page" }); }
  }, { once: true });
}

registerWorker().then((registration) => {
  document.documentElement.dataset.worker = registration ? "registered" : "none";
});
