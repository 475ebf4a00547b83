/* The supporter's practice-call page (personal link /p/<token>) on the phone.
 *
 * Reports the opening with a POST (the link's `via` says which channel's message it came
 * from; the server stops the escalation to the next channel), retrying a few times when the
 * network drops; then shows 「受け取りました」. The two answers are a plain form that works
 * without scripts; here they are sent as JSON so the page stays put. User text only enters
 * the page through textContent.
 */
import { $, messenger, readJson, show } from "./lib/dom.js";

const RETRY_MS = [2000, 5000, 10000, 20000];

function post(url, body) {
  return fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body)
  }).then((response) => response.json().catch(() => ({})).then((data) => ({ status: response.status, data })));
}

function init() {
  const cfg = readJson("practice-config");
  if (!cfg) { return; }
  const t = cfg.strings;
  const say = messenger($("field-message"), 10000);
  const form = $("answer-form");
  const statusEl = $("answer-status");

  function ended(status, data) {
    if (status === 410) { say(t.closed, "info"); show(form, false); return true; }
    if (status === 403) { say(t.ended, "error"); show(form, false); return true; }
    if (status === 404) { say(t.ended, "error"); return true; }
    return false;
  }

  function showState(data) {
    if (data.opened) { show($("received"), true); }
    for (const button of form.querySelectorAll("button[name=answer]")) {
      button.setAttribute("aria-pressed", String(button.value === data.answer));
    }
    if (data.answer) { statusEl.textContent = t[data.answer] || ""; }
  }

  function reportOpened(attempt) {
    post(cfg.urls.opened, { via: cfg.via }).then(({ status, data }) => {
      if (status === 200) { showState(data); return; }
      if (!ended(status, data) && status >= 500 && attempt < RETRY_MS.length) {
        window.setTimeout(() => reportOpened(attempt + 1), RETRY_MS[attempt]);
      }
    }).catch(() => {
      if (attempt < RETRY_MS.length) {
        window.setTimeout(() => reportOpened(attempt + 1), RETRY_MS[attempt]);
      }
    });
  }

  form.addEventListener("submit", (event) => {
    const button = event.submitter;
    if (!button || button.name !== "answer") { return; }
    event.preventDefault();
    post(cfg.urls.answer, { answer: button.value, via: cfg.via }).then(({ status, data }) => {
      if (status === 200) { showState(data); say("", "info"); return; }
      if (!ended(status, data)) { say(t.failed, "error"); }
    }).catch(() => say(t.failed, "error"));
  });

  reportOpened(0);
}

init();
