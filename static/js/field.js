/* The supporter's field page on the phone.
 *
 * Reads its settings and translated strings from the JSON block #field-config, draws the
 * phone's own position on window.watchnetMaps.main (Leaflet), and sends everything through
 * the FieldQueue (static/js/field_queue.js). User text only enters the page through
 * textContent or DOM nodes, never as HTML.
 */
import { FieldQueue, newId } from "./field_queue.js";
import { $, csrfToken, fmt, messenger, readJson, show, storageGet, storageSet, urlWithId } from "./lib/dom.js";
import { haversine } from "./lib/geo.js";
import { positionWatcher } from "./lib/geolocation.js";
import { stream } from "./lib/live.js";
import { forgetOfflineCopies } from "./lib/webapp.js";

const OWN_COLOR = "#1a5fb4";
const HELP_COLOR = "#b3261e";
const MIN_POSITION_INTERVAL_MS = 5000;

function init() {
  const cfg = readJson("field-config");
  const t = cfg.strings;
  const locale = cfg.locale || "ja-JP";
  const key = "watchnet.field." + cfg.supporter_id;
  const drillKey = key + ".drill." + cfg.drill.id;
  const state = {
    status: cfg.drill.status,
    sharing: false,
    last: null,            // {lat, lon, accuracy_m, at}
    lastRecordedAt: 0,
    lastRecordedFixAt: null,
    recordTimer: null,
    firstFix: true,
    serverSteps: [],       // from GET steps
    checkpointId: storageGet(drillKey + ".checkpoint", null),
    pendingContactAt: null,
    ownHelp: storageGet(drillKey + ".help", null),   // {client_id, id, notified, responders}
    incoming: {},          // help_call_id -> payload
    correcting: null
  };

  function timeText(iso) {
    const d = new Date(iso);
    if (isNaN(d.getTime())) { return ""; }
    return d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit", hour12: false });
  }


  function refreshCsrf() {
    return fetch(window.location.pathname, { credentials: "same-origin" })
      .then(function (res) { return res.text(); })
      .then(function (html) {
        const doc = new DOMParser().parseFromString(html, "text/html");
        const fresh = doc.querySelector('meta[name="csrf-token"]');
        const meta = document.querySelector('meta[name="csrf-token"]');
        if (fresh && meta) { meta.setAttribute("content", fresh.getAttribute("content")); }
      });
  }

  // ------------------------------------------------------------------ messages and queue

  const messageEl = $("field-message");
  const say = messenger(messageEl, 12000);

  const queueEl = $("queue-status");
  function renderQueue(summary) {
    const parts = [];
    queueEl.dataset.actions = String(summary.actions);
    queueEl.dataset.positions = String(summary.positions);
    if (summary.actions === 0 && summary.positions === 0) {
      queueEl.className = "queue-status all-sent";
      queueEl.textContent = t.all_sent;
      return;
    }
    queueEl.className = "queue-status waiting";
    if (summary.actions) { parts.push(fmt(t.waiting, { n: summary.actions })); }
    if (summary.positions) { parts.push(fmt(t.positions_waiting, { n: summary.positions })); }
    if (!summary.online) { parts.push(t.offline); }
    queueEl.textContent = parts.join(t.separator);
    renderSteps();
  }

  const queue = new FieldQueue({
    storageKey: key,
    csrfToken: csrfToken,
    refreshCsrf: refreshCsrf,
    onChange: renderQueue,
    onSent: function (item, json) { handleSent(item, json); },
    onFailed: function (item, message, status, json) { handleFailed(item, message, status, json); },
    // Signed out (link revoked, supporter deactivated, session over): the queue keeps its
    // items, but the phone's stored copies of the supporter's pages go.
    onSignedOut: function () { say(t.signed_out, "error"); forgetOfflineCopies(""); }
  });

  function handleSent(item, json) {
    if (item.kind === "step") {
      loadSteps();
    } else if (item.kind === "help") {
      state.ownHelp = { client_id: item.body.client_id, id: json.id,
                        notified: json.notified || [], responders: state.ownHelp && state.ownHelp.responders || [] };
      storageSet(drillKey + ".help", state.ownHelp);
      renderOwnHelp();
    } else if (item.kind === "respond") {
      const call = state.incoming[item.meta.help_call_id];
      if (call) { call.responders = json.responders || []; call.answered = true; renderIncoming(); }
    }
  }

  function handleFailed(item, message, status, json) {
    let reasons = [];
    if (json && json.errors) {
      Object.keys(json.errors).forEach(function (k) { reasons = reasons.concat(json.errors[k]); });
    }
    if (reasons.length) { message = message + " " + reasons.join(" "); }
    if (item.kind === "positions" && status === 409) {
      // The drill is not live (or consent was withdrawn elsewhere): stop quietly.
      stopWatching();
      setSharingUi(false);
      say(message, "info");
      return;
    }
    say(fmt(t.not_sent, { message: message }), "error");
    if (item.kind === "step") { renderSteps(); }
    if (item.kind === "help") { state.ownHelp = null; storageSet(drillKey + ".help", null); renderOwnHelp(); }
  }

  // ------------------------------------------------------------------ the map

  const map = window.watchnetMaps && window.watchnetMaps.main;
  let ownDot = null;
  let ownCircle = null;
  const helpMarkers = {};

  function drawOwn(p) {
    if (!map || !window.L) { return; }
    const ll = [p.lat, p.lon];
    if (!ownDot) {
      ownCircle = L.circle(ll, { radius: p.accuracy_m || 0, color: OWN_COLOR, weight: 1,
                                 fillColor: OWN_COLOR, fillOpacity: 0.12, interactive: false }).addTo(map);
      const label = document.createElement("span");
      label.textContent = t.you_are_here;
      ownDot = L.circleMarker(ll, { radius: 10, color: "#ffffff", weight: 3, fillColor: OWN_COLOR,
                                    fillOpacity: 1 }).addTo(map);
      ownDot.bindTooltip(label, { direction: "top", offset: [0, -10] });
    } else {
      ownDot.setLatLng(ll);
      ownCircle.setLatLng(ll);
      ownCircle.setRadius(p.accuracy_m || 0);
    }
    if (state.firstFix) {
      state.firstFix = false;
      if (!map.getBounds().contains(ll)) { map.panTo(ll); }
    }
  }

  function drawHelp(call) {
    if (!map || !window.L || helpMarkers[call.id] || typeof call.lat !== "number") { return; }
    const label = document.createElement("span");
    label.textContent = fmt(t.help_marker, { name: call.name || "" });
    helpMarkers[call.id] = L.circleMarker([call.lat, call.lon], {
      radius: 14, color: "#ffffff", weight: 3, fillColor: HELP_COLOR, fillOpacity: 1
    }).addTo(map).bindTooltip(label, { permanent: true, direction: "right" });
  }

  // ------------------------------------------------------------------ position

  const gpsEl = $("gps-status");
  function gpsSay(text) { gpsEl.textContent = text; show(gpsEl, !!text); }

  function onPosition(pos) {
    const c = pos.coords;
    const p = { lat: c.latitude, lon: c.longitude,
              accuracy_m: typeof c.accuracy === "number" ? Math.min(c.accuracy, 10000) : null,
              at: new Date(pos.timestamp || Date.now()).toISOString() };
    state.last = p;
    drawOwn(p);
    gpsSay("");
    recordPosition();
  }

  /* At most one report every few seconds; a fix that comes sooner is kept and reported when
     the interval is up, so the last place a still phone reached is never lost. */
  function recordPosition() {
    if (!state.sharing || state.status !== "live" || !state.last) { return; }
    const p = state.last;
    if (p.at === state.lastRecordedFixAt) { return; }
    const now = Date.now();
    const first = state.lastRecordedAt === 0;
    const wait = state.lastRecordedAt + MIN_POSITION_INTERVAL_MS - now;
    if (!first && wait > 0) {
      if (!state.recordTimer) {
        state.recordTimer = window.setTimeout(function () {
          state.recordTimer = null;
          recordPosition();
        }, wait);
      }
      return;
    }
    state.lastRecordedAt = now;
    state.lastRecordedFixAt = p.at;
    queue.addPosition(cfg.urls.positions, {
      client_id: newId(), lat: p.lat, lon: p.lon, accuracy_m: p.accuracy_m, recorded_at: p.at
    }, first);
  }

  const watcher = positionWatcher({
    onPosition: onPosition, say: gpsSay, strings: t, maximumAge: 5000,
    onDenied: function () { stopWatching(); setSharingUi(false); }
  });

  function startWatching() {
    if (watcher.start()) { state.lastRecordedAt = 0; }
  }

  function stopWatching() { watcher.stop(); }

  /* One fix for "where am I?" and steps when not sharing: the last one if fresh. */
  function currentPosition() {
    return new Promise(function (resolve) {
      if (state.last && Date.now() - new Date(state.last.at).getTime() < 30000) {
        resolve(state.last); return;
      }
      if (!navigator.geolocation) { resolve(state.last); return; }
      navigator.geolocation.getCurrentPosition(function (pos) {
        onPosition(pos);
        resolve(state.last);
      }, function (err) { watcher.onError(err); resolve(state.last); },
      { enableHighAccuracy: true, maximumAge: 10000, timeout: 15000 });
    });
  }

  const shareBtn = $("share-toggle");
  function setSharingUi(on) {
    state.sharing = on;
    storageSet(drillKey + ".share", on);
    shareBtn.setAttribute("aria-pressed", on ? "true" : "false");
    $("share-label").textContent = on ? t.sharing_on : t.share;
    $("share-hint").textContent = on ? t.sharing_hint : "";
  }

  function setSharing(on) {
    queue.push("consent", cfg.urls.consent, { share: on });
    setSharingUi(on);
    if (on) { startWatching(); } else { stopWatching(); }
  }

  shareBtn.addEventListener("click", function () {
    if (state.status !== "live") { say(t.not_live, "info"); return; }
    if (state.sharing) { setSharing(false); return; }
    if (cfg.consent || storageGet(drillKey + ".consented", false)) { setSharing(true); return; }
    $("consent-dialog").showModal();
  });
  $("consent-yes").addEventListener("click", function () {
    $("consent-dialog").close();
    storageSet(drillKey + ".consented", true);
    setSharing(true);
  });
  $("consent-no").addEventListener("click", function () { $("consent-dialog").close(); });

  // ------------------------------------------------------------------ where am I?

  const whereText = $("where-sentence");
  const speakBtn = $("where-speak");
  let lastWhere = null;
  if (!("speechSynthesis" in window)) { speakBtn.hidden = true; }

  function coordsText(p) { return p.lat.toFixed(5) + ", " + p.lon.toFixed(5); }

  function fetchWhere(p) {
    const url = cfg.urls.where + "?lat=" + encodeURIComponent(p.lat) + "&lon=" + encodeURIComponent(p.lon);
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (res) { if (!res.ok) { throw new Error(String(res.status)); } return res.json(); });
  }

  function localWhere(p) {
    let best = null;
    cfg.checkpoints.forEach(function (cp) {
      const d = haversine(p, cp);
      if (!best || d < best.d) { best = { cp: cp, d: d }; }
    });
    let sentence = fmt(t.where_coords, { coords: coordsText(p) });
    if (best) {
      sentence = fmt(t.where_near, { name: best.cp.name, m: Math.round(best.d / 10) * 10 }) + " " + sentence;
    }
    return sentence;
  }

  $("where-btn").addEventListener("click", function () {
    show($("where-panel"), true);
    whereText.textContent = t.where_loading;
    speakBtn.disabled = true;
    currentPosition().then(function (p) {
      if (!p) { whereText.textContent = t.gps_unavailable; return null; }
      return fetchWhere(p).then(function (json) {
        lastWhere = json.sentence;
      }, function () {
        lastWhere = localWhere(p);
        say(t.where_offline, "info");
      }).then(function () {
        whereText.textContent = lastWhere;
        speakBtn.disabled = false;
      });
    });
    $("where-panel").scrollIntoView({ behavior: "smooth", block: "start" });
  });

  speakBtn.addEventListener("click", function () {
    if (!lastWhere || !("speechSynthesis" in window)) { return; }
    window.speechSynthesis.cancel();
    const u = new SpeechSynthesisUtterance(lastWhere);
    u.lang = locale;
    u.rate = 0.85;
    window.speechSynthesis.speak(u);
  });
  $("where-close").addEventListener("click", function () {
    if ("speechSynthesis" in window) { window.speechSynthesis.cancel(); }
    show($("where-panel"), false);
  });

  // ------------------------------------------------------------------ encounter log

  const cpSelect = $("checkpoint-select");
  const stepButtons = Array.prototype.slice.call(document.querySelectorAll(".step-btn"));
  const noteEl = $("step-note");

  function selectedCheckpoint() {
    const v = cpSelect.value;
    return v ? parseInt(v, 10) : null;
  }

  function suggestCheckpoint() {
    currentPosition().then(function (p) {
      if (!p) { return; }
      const url = cfg.urls.nearest + "?lat=" + encodeURIComponent(p.lat) + "&lon=" + encodeURIComponent(p.lon);
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (res) { if (!res.ok) { throw new Error(String(res.status)); } return res.json(); })
        .then(function (json) { return json.checkpoint; }, function () {
          let best = null;
          cfg.checkpoints.forEach(function (cp) {
            const d = haversine(p, cp);
            if (!best || d < best.distance_m) { best = { id: cp.id, name: cp.name, distance_m: d }; }
          });
          return best;
        })
        .then(function (cp) {
          const hint = $("checkpoint-hint");
          if (!cp) { hint.textContent = ""; return; }
          hint.textContent = fmt(t.nearest_checkpoint, { name: cp.name, m: Math.round(cp.distance_m) });
          if (state.checkpointId === null) {
            cpSelect.value = String(cp.id);
            state.checkpointId = cp.id;
            storageSet(drillKey + ".checkpoint", cp.id);
            renderSteps();
          }
        });
    });
  }

  cpSelect.addEventListener("change", function () {
    state.checkpointId = selectedCheckpoint();
    storageSet(drillKey + ".checkpoint", state.checkpointId);
    renderSteps();
  });

  /* What the log shows: the server's steps plus the ones still waiting in the queue. */
  function stepsByKind() {
    const cp = selectedCheckpoint();
    const result = {};
    state.serverSteps.forEach(function (s) {
      if ((s.checkpoint_id || null) !== cp) { return; }
      result[s.step] = { client_id: s.client_id, done_at: s.done_at, contact_whom: s.contact_whom,
                         note: s.note || "", corrected: !!s.original, waiting: false };
    });
    queue.pending("step").forEach(function (item) {
      const b = item.body;
      if ((b.checkpoint_id || null) !== cp) { return; }
      result[b.step] = { client_id: b.corrects_client_id || b.client_id, done_at: b.done_at,
                         contact_whom: b.contact_whom || null, note: b.note || "",
                         corrected: !!b.corrects_client_id, waiting: true };
    });
    return result;
  }

  function renderSteps() {
    const done = stepsByKind();
    stepButtons.forEach(function (btn) {
      const kind = btn.dataset.step;
      const s = done[kind];
      const li = btn.closest(".step");
      const status = li.querySelector(".step-status");
      const fix = li.querySelector(".step-fix");
      li.classList.toggle("done", !!s);
      li.classList.toggle("waiting", !!(s && s.waiting));
      btn.setAttribute("aria-disabled", s ? "true" : "false");
      if (s) {
        let text = fmt(t.done_at, { time: timeText(s.done_at) });
        if (s.contact_whom) { text += t.separator + (cfg.contact_labels[s.contact_whom] || s.contact_whom); }
        if (s.corrected) { text += t.separator + t.corrected; }
        if (s.waiting) { text += t.separator + t.step_waiting; }
        status.textContent = text;
        li.dataset.clientId = s.client_id;
        li.dataset.doneAt = s.done_at;
        li.dataset.contactWhom = s.contact_whom || "";
        li.dataset.note = s.note || "";
      } else {
        status.textContent = "";
        delete li.dataset.clientId;
      }
      show(fix, !!s);
    });
  }

  function loadSteps() {
    return fetch(cfg.urls.steps, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (res) { if (!res.ok) { throw new Error(String(res.status)); } return res.json(); })
      .then(function (json) { state.serverSteps = json.steps || []; renderSteps(); }, function () { /* offline */ });
  }

  function recordStep(kind, doneAt, contactWhom) {
    const p = state.last;
    const body = { client_id: newId(), step: kind, done_at: doneAt };
    const cp = selectedCheckpoint();
    if (cp !== null) { body.checkpoint_id = cp; }
    if (contactWhom) { body.contact_whom = contactWhom; }
    const note = noteEl.value.trim();
    if (note) { body.note = note.slice(0, 500); noteEl.value = ""; }
    if (p) { body.lat = p.lat; body.lon = p.lon; if (p.accuracy_m !== null) { body.accuracy_m = p.accuracy_m; } }
    queue.push("step", cfg.urls.steps, body);
    renderSteps();
  }

  stepButtons.forEach(function (btn) {
    btn.addEventListener("click", function () {
      if (state.status !== "live") { say(t.not_live, "info"); return; }
      if (btn.getAttribute("aria-disabled") === "true") { return; }
      const doneAt = new Date().toISOString();
      const kind = btn.dataset.step;
      if (kind === "contacted") {
        state.pendingContactAt = doneAt;
        // The checkpoint's expected contact is not hinted: choosing it is part of the drill.
        show($("contact-choice"), true);
        $("contact-choice").scrollIntoView({ behavior: "smooth", block: "nearest" });
        return;
      }
      recordStep(kind, doneAt, null);
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll(".contact-btn"), function (b) {
    b.addEventListener("click", function () {
      show($("contact-choice"), false);
      recordStep("contacted", state.pendingContactAt || new Date().toISOString(), b.dataset.whom);
      state.pendingContactAt = null;
    });
  });
  $("contact-cancel").addEventListener("click", function () {
    state.pendingContactAt = null;
    show($("contact-choice"), false);
  });

  // Correcting a done step: a new step pointing at the original; the original is kept.
  const fixDialog = $("fix-dialog");
  Array.prototype.forEach.call(document.querySelectorAll(".step-fix"), function (b) {
    b.addEventListener("click", function () {
      const li = b.closest(".step");
      const d = new Date(li.dataset.doneAt);
      state.correcting = { step: li.dataset.step, client_id: li.dataset.clientId, date: d };
      $("fix-step-name").textContent = li.querySelector(".step-label").textContent;
      $("fix-time").value = ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
      $("fix-note").value = li.dataset.note || "";
      const isContact = li.dataset.step === "contacted";
      show($("fix-whom-field"), isContact);
      if (isContact) { $("fix-whom").value = li.dataset.contactWhom || ""; }
      show($("fix-error"), false);
      fixDialog.showModal();
    });
  });
  $("fix-cancel").addEventListener("click", function () { fixDialog.close(); state.correcting = null; });
  $("fix-save").addEventListener("click", function () {
    const c = state.correcting;
    if (!c) { fixDialog.close(); return; }
    const parts = ($("fix-time").value || "").split(":");
    const fixError = $("fix-error");
    if (parts.length < 2) {
      fixError.textContent = t.fix_no_time;
      show(fixError, true);
      return;
    }
    const d = new Date(c.date.getTime());
    d.setHours(parseInt(parts[0], 10), parseInt(parts[1], 10), 0, 0);
    // Checked here, while the dialog is open, rather than by the server later: a refused
    // correction would otherwise only show up after the queue has sent it.
    if (d.getTime() > Date.now() + 60000) {
      fixError.textContent = t.fix_future;
      show(fixError, true);
      return;
    }
    show(fixError, false);
    const body = { client_id: newId(), step: c.step, done_at: d.toISOString(),
                 corrects_client_id: c.client_id };
    const cp = selectedCheckpoint();
    if (cp !== null) { body.checkpoint_id = cp; }
    if (c.step === "contacted") { body.contact_whom = $("fix-whom").value; }
    const note = $("fix-note").value.trim();
    if (note) { body.note = note.slice(0, 500); }
    queue.push("step", cfg.urls.steps, body);
    fixDialog.close();
    state.correcting = null;
    renderSteps();
  });

  $("encounter-btn").addEventListener("click", function () {
    const panel = $("encounter-panel");
    const open = panel.hidden;
    show(panel, open);
    $("encounter-btn").setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      suggestCheckpoint();
      loadSteps();
      panel.scrollIntoView({ behavior: "smooth", block: "start" });
    }
  });

  // ------------------------------------------------------------------ approach guide

  $("guide-btn").addEventListener("click", function () { $("guide-dialog").showModal(); });
  $("guide-close").addEventListener("click", function () { $("guide-dialog").close(); });

  // ------------------------------------------------------------------ calling for help

  function renderOwnHelp() {
    const box = $("own-help");
    const h = state.ownHelp;
    const waiting = queue.pending("help").length > 0;
    if (!h && !waiting) { show(box, false); return; }
    show(box, true);
    if (waiting && (!h || !h.id)) {
      $("own-help-notified").textContent = t.help_waiting;
      $("own-help-coming").textContent = "";
      return;
    }
    // Whom the server reached: the nearest supporters and the drill's organizers, by name.
    const names = (h.notified || []).map(function (n) { return n.name; });
    $("own-help-notified").textContent = names.length
      ? fmt(t.help_notified, { names: names.join(t.name_separator) }) : t.help_nobody;
    $("own-help-coming").textContent = (h.responders && h.responders.length)
      ? fmt(t.help_coming, { names: h.responders.join(t.name_separator) }) : t.help_no_answer_yet;
  }

  $("own-help-close").addEventListener("click", function () {
    if (queue.pending("help").length) { return; }
    state.ownHelp = null;
    storageSet(drillKey + ".help", null);
    renderOwnHelp();
  });

  $("help-btn").addEventListener("click", function () {
    if (state.status !== "live") { say(t.not_live, "info"); return; }
    $("help-dialog").showModal();
  });
  $("help-cancel").addEventListener("click", function () { $("help-dialog").close(); });
  $("help-yes").addEventListener("click", function () {
    $("help-dialog").close();
    const calledAt = new Date().toISOString();
    state.ownHelp = null;
    storageSet(drillKey + ".help", null);
    currentPosition().then(function (p) {
      if (!p) { say(t.help_no_position, "error"); return; }
      const withSentence = fetchWhere(p).then(function (json) { return json.sentence; },
                                            function () { return localWhere(p); });
      withSentence.then(function (sentence) {
        const body = { client_id: newId(), lat: p.lat, lon: p.lon, called_at: calledAt,
                     sentence: String(sentence || "").slice(0, 500) };
        if (p.accuracy_m !== null) { body.accuracy_m = p.accuracy_m; }
        state.ownHelp = { client_id: body.client_id, id: null, notified: [], responders: [] };
        storageSet(drillKey + ".help", state.ownHelp);
        queue.push("help", cfg.urls.help, body);
        renderOwnHelp();
        $("own-help").scrollIntoView({ behavior: "smooth", block: "center" });
      });
    });
  });

  function renderIncoming() {
    const list = $("incoming-help");
    list.textContent = "";
    const ids = Object.keys(state.incoming);
    ids.forEach(function (id) {
      const call = state.incoming[id];
      const box = document.createElement("section");
      box.className = "help-banner";
      box.setAttribute("role", "alert");
      const h = document.createElement("h2");
      h.textContent = fmt(t.help_from, { name: call.name || "" });
      box.appendChild(h);
      const p = document.createElement("p");
      p.className = "help-place";
      p.textContent = call.sentence || "";
      box.appendChild(p);
      if (call.responders && call.responders.length) {
        const r = document.createElement("p");
        r.textContent = fmt(t.help_coming, { names: call.responders.join(t.name_separator) });
        box.appendChild(r);
      }
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = "button big primary respond-btn";
      btn.dataset.helpCallId = String(call.id);
      if (call.answered) {
        btn.textContent = t.you_answered;
        btn.setAttribute("aria-disabled", "true");
      } else {
        btn.textContent = t.on_my_way;
        btn.addEventListener("click", function () {
          call.answered = true;
          queue.push("respond", urlWithId(cfg.urls.respond, call.id),
                     {}, { help_call_id: call.id });
          renderIncoming();
        });
      }
      box.appendChild(btn);
      const close = document.createElement("button");
      close.type = "button";
      close.className = "button big";
      close.textContent = t.close;
      close.addEventListener("click", function () {
        const dismissed = storageGet(drillKey + ".dismissed", []);
        dismissed.push(call.id);
        storageSet(drillKey + ".dismissed", dismissed.slice(-50));
        delete state.incoming[id];
        renderIncoming();
      });
      box.appendChild(close);
      list.appendChild(box);
    });
    show(list, ids.length > 0);
  }

  // ------------------------------------------------------------------ live events (SSE)

  function setStatus(status) {
    state.status = status;
    document.body.dataset.drillStatus = status;
    const label = cfg.status_labels[status] || status;
    const badge = $("drill-state");
    badge.textContent = label;
    badge.className = "drill-state " + status;
    show($("not-live-note"), status !== "live");
    $("not-live-note").textContent = status === "ended" ? t.ended : (status === "planned" ? t.not_started : "");
    if (status !== "live") { stopWatching(); if (state.sharing) { setSharingUi(false); } }
  }

  function onEvent(kind, data) {
    if (kind === "drill_status") {
      setStatus(data.status);
      if (data.status === "live" && storageGet(drillKey + ".share", false)) {
        setSharingUi(true);
        startWatching();
      }
    } else if (kind === "help_call") {
      if (data.supporter_id === cfg.supporter_id) { return; }
      if (storageGet(drillKey + ".dismissed", []).indexOf(data.id) >= 0) { return; }
      state.incoming[data.id] = Object.assign({ responders: [] }, state.incoming[data.id] || {}, data);
      renderIncoming();
      drawHelp(data);
      if (navigator.vibrate) { navigator.vibrate([300, 150, 300]); }
    } else if (kind === "help_response") {
      if (state.ownHelp && state.ownHelp.id === data.help_call_id) {
        state.ownHelp.responders = data.responders || [];
        storageSet(drillKey + ".help", state.ownHelp);
        renderOwnHelp();
      }
      const call = state.incoming[data.help_call_id];
      if (call) { call.responders = data.responders || []; renderIncoming(); }
    }
  }

  function connectEvents() {
    const handlers = {};
    ["drill_status", "help_call", "help_response"].forEach(function (kind) {
      handlers[kind] = function (data) { onEvent(kind, data); };
    });
    stream(cfg.urls.events, handlers, { retryMs: 5000 });
  }

  // ------------------------------------------------------------------ start

  setStatus(state.status);
  if (state.checkpointId !== null && cfg.checkpoints.some(function (c) { return c.id === state.checkpointId; })) {
    cpSelect.value = String(state.checkpointId);
  } else {
    state.checkpointId = null;
  }
  const wantShare = storageGet(drillKey + ".share", null);
  if (state.status === "live" && (wantShare === true || (wantShare === null && cfg.consent))) {
    setSharingUi(true);
    startWatching();
  } else {
    setSharingUi(false);
  }
  renderQueue(queue.summary());
  renderOwnHelp();
  loadSteps();
  connectEvents();
  queue.flush();
  document.body.dataset.fieldReady = "1";
}

init();
