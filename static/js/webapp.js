/* Every supporter page (templates/_webapp.html): register the service worker, which keeps
   the page for a reload without network and shows push notifications. */
import { registerWorker } from "./lib/webapp.js";

registerWorker().then((registration) => {
  document.documentElement.dataset.worker = registration ? "registered" : "none";
});
