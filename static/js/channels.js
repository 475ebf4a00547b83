/* The supporter's channels page (/me/channels): after 「テスト通知を送る」 the page shows, per
   channel, whether the test is on its way, arrived, or did not (with the reason in plain
   words), asking the server every poll_ms until every channel has its answer.
   Reads #channels-config; text only enters the page through textContent. */
import { $, clearNode, el, readJson } from "./lib/dom.js";
import { jsonOrFail, poll } from "./lib/live.js";

function init() {
  const cfg = readJson("channels-config");
  if (!cfg) { return; }
  const t = cfg.strings;

  // A second tap while the first press is on its way changes nothing on the server (the
  // form's key makes it the same test); the button says so by waiting.
  const form = $("test-form");
  const button = $("send-test");
  if (form && button) {
    form.addEventListener("submit", () => {
      window.setTimeout(() => { button.disabled = true; }, 0);
      button.setAttribute("aria-busy", "true");
    });
  }

  if (!cfg.status_url) { return; }
  const list = $("test-results");
  const summary = $("test-summary");

  function draw(outcomes, done) {
    clearNode(list);
    outcomes.forEach((o) => {
      const item = el("li");
      item.dataset.channel = o.channel;
      item.dataset.ref = o.ref;
      item.dataset.state = o.state;
      item.appendChild(el("span", "channel-name", o.name));
      item.appendChild(el("span", null, o.shown));
      item.appendChild(el("br"));
      item.appendChild(el("span", "channel-state " + o.state, t[o.state] || o.state));
      if (o.reason) { item.appendChild(el("span", "channel-reason", o.reason)); }
      list.appendChild(item);
    });
    if (summary) {
      summary.textContent = outcomes.length === 0 ? t.none : (done ? t.all_done : "");
    }
  }

  const initial = cfg.outcomes || [];
  const finished = (outcomes) => outcomes.every((o) => o.state === "sent" || o.state === "failed");
  if (finished(initial)) { draw(initial, true); return; }

  const poller = poll(() => cfg.status_url, (response) => jsonOrFail(response).then((body) => {
    draw(body.outcomes, body.done);
    if (body.done) { poller.stop(); }
  }), {
    intervalMs: cfg.poll_ms,
    backoff: true,
    onState: (state) => {
      if (summary && state === "error") { summary.textContent = t.offline; }
    },
  });
}

init();
