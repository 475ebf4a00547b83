/* The supporter's page (/me): adding the app to the home screen and turning push
 * notifications on or off for this phone.
 *
 * - Install: the guide is hidden when the page already runs from the home screen; where the
 *   browser offers its own install prompt (beforeinstallprompt: Chrome on Android), a button
 *   opens it.
 * - Notifications: the browser asks for permission only when the button is tapped. The
 *   subscription (endpoint and keys, with the server's VAPID key from #me-config) is sent to
 *   the server, which stores it for this supporter; turning off deletes it there and
 *   unsubscribes the browser. The words above the button say the state: on, off, blocked,
 *   not possible in this browser, or (iPhone) add the app to the home screen first. "On"
 *   means the server has this phone's subscription: the page knows the supporter's stored
 *   endpoints, so a subscription the server switched off (the push service said it is gone)
 *   shows as off, and a tap replaces it with a new one.
 */
import { $, csrfToken, readJson, show } from "./lib/dom.js";
import { isStandalone, workerReady } from "./lib/webapp.js";

/* ------------------------------------------------------------------ adding to home screen */

function setUpInstall() {
  const guide = $("install-guide");
  const button = $("install-btn");
  if (!guide) { return; }
  if (isStandalone()) { show(guide, false); return; }
  let offer = null;
  window.addEventListener("beforeinstallprompt", (event) => {
    event.preventDefault();  // shown from our button instead of the browser's mini bar
    offer = event;
    show(button, true);
  });
  button.addEventListener("click", () => {
    if (!offer) { return; }
    const shown = offer;
    offer = null;
    shown.prompt();
    shown.userChoice.then(() => show(button, false), () => show(button, false));
  });
  window.addEventListener("appinstalled", () => show(guide, false));
}

/* ------------------------------------------------------------------ notifications */

function isIPhone() {
  const ua = navigator.userAgent || "";
  return /iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
}

function keyBytes(base64url) {
  const padded = base64url + "=".repeat((4 - (base64url.length % 4)) % 4);
  const raw = window.atob(padded.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) { bytes[i] = raw.charCodeAt(i); }
  return bytes;
}

function sameKey(subscription, key) {
  const own = subscription.options && subscription.options.applicationServerKey;
  if (!own) { return true; }  // the browser does not say: assume it is ours
  const a = new Uint8Array(own);
  if (a.length !== key.length) { return false; }
  return a.every((byte, i) => byte === key[i]);
}

function setUpNotifications() {
  const cfg = readJson("me-config");
  const statusEl = $("notify-status");
  const button = $("notify-btn");
  if (!cfg || !statusEl || !button) { return; }
  const t = cfg.strings;
  const key = keyBytes(cfg.push.key);
  const stored = new Set(cfg.push.endpoints);
  let state = "";
  let busy = false;

  function render(newState, note) {
    state = newState;
    statusEl.textContent = note ? t[newState] + " " + note : t[newState];
    statusEl.className = "notify-status" + (state === "on" ? " on" : "") +
      (["denied", "failed", "offline", "not_allowed"].indexOf(state) >= 0 ? " problem" : "");
    statusEl.dataset.state = state;
    const canTap = state === "on" || state === "off" || state === "failed" ||
      state === "offline" || state === "not_allowed";
    show(button, canTap);
    button.disabled = busy;
    button.textContent = state === "on" ? t.turn_off : t.turn_on;
  }

  const supported = "serviceWorker" in navigator && "PushManager" in window &&
    "Notification" in window;
  if (!supported) {
    render(isIPhone() && !isStandalone() ? "iphone_install" : "unsupported");
    return;
  }

  function subscription() {
    return workerReady().then((reg) => {
      if (!reg) { throw new Error("no service worker"); }
      return reg.pushManager.getSubscription().then((sub) => ({ reg, sub }));
    });
  }

  function send(method, body) {
    return fetch(cfg.push.url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body)
    }).then((res) => res.json().catch(() => null).then((json) => {
      if (!res.ok) {
        let words = [(json && json.message) || String(res.status)];
        if (json && json.errors) {
          Object.keys(json.errors).forEach((k) => { words = words.concat(json.errors[k]); });
        }
        const error = new Error(words.join(" "));
        error.status = res.status;
        throw error;
      }
      return json;
    }));
  }

  function failed(error) {
    busy = false;
    if (!error || !error.status) {
      // fetch failed (no network) or the browser's push service refused.
      render(navigator.onLine === false ? "offline" : "failed");
    } else {
      render("failed", error.message);
    }
  }

  function turnOn() {
    busy = true;
    render(state);
    statusEl.textContent = t.busy;
    // Asked here, in the tap's handler: browsers (and iOS) allow the prompt only after a tap.
    Notification.requestPermission().then((permission) => {
      if (permission !== "granted") {
        busy = false;
        render(permission === "denied" ? "denied" : "not_allowed");
        return null;
      }
      return subscription().then(({ reg, sub }) => {
        if (sub && sameKey(sub, key) && stored.has(sub.endpoint)) { return sub; }
        // None yet, one the server no longer sends to (the push service said it is gone, or
        // another supporter took this phone over), or one made for another server key:
        // subscribe anew, so the server gets an endpoint that works.
        return (sub ? sub.unsubscribe() : Promise.resolve(true)).then(() =>
          reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }));
      }).then((sub) => send("POST", sub.toJSON()).then(() => {
        stored.add(sub.endpoint);
        busy = false;
        render("on");
      }));
    }).catch(failed);
  }

  function turnOff() {
    busy = true;
    render(state);
    statusEl.textContent = t.busy;
    subscription().then(({ sub }) => {
      if (!sub) { return null; }
      // The server first: while it has the subscription, messages would still be sent.
      return send("DELETE", { endpoint: sub.endpoint }).then(() => {
        stored.delete(sub.endpoint);
        return sub.unsubscribe();
      });
    }).then(() => {
      busy = false;
      render("off");
    }).catch(failed);
  }

  button.addEventListener("click", () => {
    if (busy) { return; }
    if (state === "on") { turnOff(); } else { turnOn(); }
  });

  if (Notification.permission === "denied") { render("denied"); return; }
  subscription().then(({ sub }) => {
    render(sub && stored.has(sub.endpoint) && Notification.permission === "granted" ? "on" : "off");
  }, () => render("unsupported"));
}

setUpInstall();
setUpNotifications();
document.body.dataset.meReady = "1";
