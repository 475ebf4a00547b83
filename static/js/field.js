/* The supporter's field page on the phone.
 *
 * Reads its settings and translated strings from the JSON block #field-config, draws the
 * phone's own position on window.watchnetMaps.main (Leaflet), and sends everything through
 * the FieldQueue (static/js/field_queue.js). User text only enters the page through
 * textContent or DOM nodes, never as HTML.
 */
import { FieldQueue, newId } from "./field_queue.js";
import { $, csrfToken, el, fmt, messenger, readJson, show, storageGet, storageSet, urlWithId } from "./lib/dom.js";
import { haversine } from "./lib/geo.js";
import { positionWatcher } from "./lib/geolocation.js";
import { stream } from "./lib/live.js";
import { forgetOfflineCopies } from "./lib/webapp.js";

const OWN_COLOR = "#1a5fb4";
const HELP_COLOR = "#b3261e";
const MIN_POSITION_INTERVAL_MS = 5000;
// A call that arrives and ends in the same burst of events (a replay after a reload) rings
// no bell: the alert waits this long and is skipped when the call ended meanwhile.
const ALERT_DELAY_MS = 400;

/* A short tone made with the Web Audio API (no audio file). Browsers let a page make sound
   only after the user has touched it, so the context is created (or resumed) on the first
   tap or key press; before that, an alert only vibrates where the phone can. */
function chime() {
  const Context = window.AudioContext || window.webkitAudioContext;
  let audio = null;
  function unlock() {
    if (!Context) { return; }
    try {
      if (!audio) { audio = new Context(); }
      if (audio.state === "suspended") { audio.resume(); }
    } catch (e) { audio = null; }
  }
  ["pointerdown", "keydown", "touchend"].forEach(function (type) {
    document.addEventListener(type, unlock, { capture: true, passive: true });
  });
  return function ring() {
    if (!audio || audio.state !== "running") { return false; }
    const start = audio.currentTime + 0.02;
    [880, 660, 880].forEach(function (frequency, i) {
      const at = start + i * 0.25;
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.5, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.2);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(at);
      osc.stop(at + 0.22);
    });
    return true;
  };
}

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
    endedOwn: storageGet(drillKey + ".help_ended", []),  // client ids of own calls ended here
    incoming: {},          // help_call_id -> payload
    ended: {},             // help_call_id -> true: calls that ended (never shown again)
    serverNotes: [],       // from GET steps
    sentAny: false,        // the "all sent" bar only shows once something was sent
    correcting: null
  };
  const ring = chime();

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
      show(queueEl, state.sentAny);
      return;
    }
    show(queueEl, true);
    queueEl.className = "queue-status waiting";
    if (summary.actions) { parts.push(fmt(t.waiting, { n: summary.actions })); }
    if (summary.positions) { parts.push(fmt(t.positions_waiting, { n: summary.positions })); }
    if (!summary.online) { parts.push(t.offline); }
    queueEl.textContent = parts.join(t.separator);
    renderSteps();
    renderNotes();
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
    state.sentAny = true;
    if (item.kind === "step") {
      loadSteps();
    } else if (item.kind === "note") {
      noteStatus(t.note_saved, "saved");
      loadSteps();
    } else if (item.kind === "help") {
      // Ended with 「もう大丈夫」 before it was even sent: the queued resolve follows it.
      if (state.endedOwn.indexOf(item.body.client_id) >= 0) { renderOwnHelp(); return; }
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
    if (item.kind === "resolve" && status === 404) { return; }  // the call itself never went in
    if (item.kind === "note") {
      // Nothing typed is lost: the refused note goes back into the box.
      if (!noteEl.value.trim()) { noteEl.value = item.body.text || ""; saveDraft(); }
      noteStatus(fmt(t.note_not_saved, { message: message }), "error");
      renderNotes();
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

  function removeHelpMarker(id) {
    if (helpMarkers[id]) { helpMarkers[id].remove(); delete helpMarkers[id]; }
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

  const whereText = $("where-main");
  const whereCoords = $("where-coords");
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
    // The coordinates go below the sentence (and into a help call apart), not into it.
    if (best) { return fmt(t.where_near, { name: best.cp.name, m: Math.round(best.d / 10) * 10 }); }
    return fmt(t.where_coords, { coords: coordsText(p) });
  }

  $("where-btn").addEventListener("click", function () {
    show($("where-panel"), true);
    whereText.textContent = t.where_loading;
    whereCoords.textContent = "";
    speakBtn.disabled = true;
    currentPosition().then(function (p) {
      if (!p) { whereText.textContent = t.gps_unavailable; return null; }
      let coordsLine = fmt(t.where_coords, { coords: coordsText(p) });
      return fetchWhere(p).then(function (json) {
        lastWhere = json.sentence;
        coordsLine = json.coords_sentence || coordsLine;
      }, function () {
        lastWhere = localWhere(p);
        say(t.where_offline, "info");
      }).then(function () {
        whereText.textContent = lastWhere;
        whereCoords.textContent = coordsLine;
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
      .then(function (json) {
        state.serverSteps = json.steps || [];
        state.serverNotes = json.notes || [];
        renderSteps();
        renderNotes();
      }, function () { /* offline */ });
  }

  function recordStep(kind, doneAt, contactWhom) {
    const p = state.last;
    const body = { client_id: newId(), step: kind, done_at: doneAt };
    const cp = selectedCheckpoint();
    if (cp !== null) { body.checkpoint_id = cp; }
    if (contactWhom) { body.contact_whom = contactWhom; }
    const note = noteEl.value.trim();
    if (note) { body.note = note.slice(0, 500); noteEl.value = ""; saveDraft(); }
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

  // ------------------------------------------------------------------ notes

  /* 「メモを保存」 sends the note through the queue (so it survives no connection and a
     reload, and a retry is stored once by its client id); the box's text is also kept as a
     draft on the phone until it is saved. */
  const noteStatusEl = $("note-status");
  const draftKey = drillKey + ".note_draft";

  function saveDraft() { storageSet(draftKey, noteEl.value); }

  function noteStatus(text, kind) {
    noteStatusEl.textContent = text;
    noteStatusEl.dataset.state = kind;
    noteStatusEl.className = "note-status " + kind;
    show(noteStatusEl, !!text);
  }

  function renderNotes() {
    const list = $("saved-notes");
    list.textContent = "";
    const rows = state.serverNotes.map(function (n) {
      return { text: n.text, at: n.written_at, waiting: false };
    });
    queue.pending("note").forEach(function (item) {
      rows.push({ text: item.body.text, at: item.body.written_at, waiting: true });
    });
    rows.forEach(function (row) {
      const li = el("li", row.waiting ? "saved-note waiting" : "saved-note");
      li.appendChild(el("span", "saved-note-time", timeText(row.at) + (row.waiting ? t.separator + t.note_pending : "")));
      li.appendChild(el("span", "saved-note-text user-text", row.text));
      list.appendChild(li);
    });
    show($("saved-notes-h"), rows.length > 0);
  }

  noteEl.value = storageGet(draftKey, "") || "";
  noteEl.addEventListener("input", function () {
    saveDraft();
    // A new note is being written: the last one's 「保存しました」 no longer speaks of it.
    if (noteStatusEl.dataset.state === "saved") { noteStatus("", ""); }
  });

  $("note-save").addEventListener("click", function () {
    const text = noteEl.value.trim();
    if (!text) { noteStatus(t.note_empty, "error"); noteEl.focus(); return; }
    const body = { client_id: newId(), text: text.slice(0, 500), written_at: new Date().toISOString() };
    const cp = selectedCheckpoint();
    if (cp !== null) { body.checkpoint_id = cp; }
    const p = state.last;
    if (p) { body.lat = p.lat; body.lon = p.lon; }
    noteEl.value = "";
    saveDraft();
    noteStatus(t.note_waiting, "waiting");
    queue.push("note", cfg.urls.notes, body);
    renderNotes();
  });

  // ------------------------------------------------------------------ approach guide

  $("guide-btn").addEventListener("click", function () { $("guide-dialog").showModal(); });
  $("guide-close").addEventListener("click", function () { $("guide-dialog").close(); });

  // ------------------------------------------------------------------ calling for help

  function pendingOwnHelp() {
    return queue.pending("help").filter(function (it) {
      return state.endedOwn.indexOf(it.body.client_id) < 0;
    });
  }

  function renderOwnHelp() {
    const box = $("own-help");
    const h = state.ownHelp;
    const waiting = pendingOwnHelp().length > 0;
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

  function forgetOwnHelp() {
    state.ownHelp = null;
    storageSet(drillKey + ".help", null);
    renderOwnHelp();
  }

  // 「もう大丈夫」: ends the call for everyone. Named by the phone's own id, so it works even
  // while the call itself still waits in the queue (the queue sends the two in order).
  $("own-help-ok").addEventListener("click", function () {
    const h = state.ownHelp;
    const pending = pendingOwnHelp();
    const clientId = h ? h.client_id : (pending.length ? pending[pending.length - 1].body.client_id : null);
    if (!clientId) { forgetOwnHelp(); return; }
    state.endedOwn = state.endedOwn.concat([clientId]).slice(-20);
    storageSet(drillKey + ".help_ended", state.endedOwn);
    // Not "client_id": the queue names its items by that field, and the call has it already.
    queue.push("resolve", cfg.urls.resolve_own, { help_client_id: clientId }, { client_id: clientId });
    forgetOwnHelp();
    say(t.own_help_ok, "info");
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
      const box = el("section", "help-banner");
      box.setAttribute("role", "alert");
      box.dataset.helpCallId = String(call.id);
      box.appendChild(el("h2", null, fmt(t.help_from, { name: call.name || "" })));
      const place = (call.sentences && call.sentences[cfg.locale.slice(0, 2)]) || call.sentence || "";
      box.appendChild(el("p", "help-place", place));
      if (call.responders && call.responders.length) {
        box.appendChild(el("p", "help-coming", fmt(t.help_coming, { names: call.responders.join(t.name_separator) })));
      }
      const actions = el("div", "help-actions");
      const btn = el("button", "button big primary respond-btn");
      btn.type = "button";
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
      actions.appendChild(btn);
      const row = el("div", "help-actions-row");
      if (cfg.contact) {
        const tel = el("a", "button big help-call", t.call_short);
        tel.href = cfg.contact.href;
        tel.setAttribute("aria-label", fmt(t.call_aria, { whom: cfg.contact.label, number: cfg.contact.number }));
        row.appendChild(tel);
      }
      const close = el("button", "button big help-dismiss", t.close);
      close.type = "button";
      close.addEventListener("click", function () {
        const dismissed = storageGet(drillKey + ".dismissed", []);
        dismissed.push(call.id);
        storageSet(drillKey + ".dismissed", dismissed.slice(-50));
        delete state.incoming[id];
        renderIncoming();
      });
      row.appendChild(close);
      actions.appendChild(row);
      box.appendChild(actions);
      list.appendChild(box);
    });
    show(list, ids.length > 0);
  }

  /* Sound and vibration for a call that is still open a moment after it arrived. */
  function alertFor(id) {
    window.setTimeout(function () {
      if (!state.incoming[id]) { return; }
      const rang = ring();
      let shook = false;
      if (navigator.vibrate) {
        try { shook = navigator.vibrate([300, 150, 300, 150, 300]); } catch (e) { shook = false; }
      }
      document.body.dataset.helpAlerts = String(parseInt(document.body.dataset.helpAlerts || "0", 10) + 1);
      document.body.dataset.lastAlert = (rang ? "sound" : "silent") + (shook ? "+vibration" : "");
    }, ALERT_DELAY_MS);
  }

  function addIncoming(data, announce) {
    if (data.supporter_id === cfg.supporter_id || state.ended[data.id]) { return; }
    if (storageGet(drillKey + ".dismissed", []).indexOf(data.id) >= 0) { return; }
    const known = !!state.incoming[data.id];
    state.incoming[data.id] = Object.assign({ responders: [] }, state.incoming[data.id] || {}, data);
    renderIncoming();
    drawHelp(data);
    if (announce && !known) { alertFor(data.id); }
  }

  function endCall(data) {
    const id = data.help_call_id;
    state.ended[id] = true;
    if (state.ownHelp && state.ownHelp.id === id) {
      const byStaff = data.resolution === "staff_handled";
      forgetOwnHelp();
      say(data.resolution === "drill_ended" ? t.help_ended_drill : (byStaff ? t.own_help_handled : t.own_help_ok), "info");
    }
    const call = state.incoming[id];
    removeHelpMarker(id);
    if (call) {
      delete state.incoming[id];
      renderIncoming();
      say(fmt(t.help_ended_other, { name: call.name || "" }), "info");
    }
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
    if (status === "ended") {
      // The server ends every open call with the drill; the page does not wait to hear it.
      Object.keys(state.incoming).forEach(function (id) { state.ended[id] = true; removeHelpMarker(id); });
      state.incoming = {};
      renderIncoming();
      if (state.ownHelp && state.ownHelp.id) { forgetOwnHelp(); }
    }
  }

  function onEvent(kind, data) {
    if (kind === "drill_status") {
      setStatus(data.status);
      if (data.status === "live" && storageGet(drillKey + ".share", false)) {
        setSharingUi(true);
        startWatching();
      }
    } else if (kind === "help_call") {
      addIncoming(data, true);
    } else if (kind === "help_resolved") {
      endCall(data);
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
    ["drill_status", "help_call", "help_response", "help_resolved"].forEach(function (kind) {
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
  // What the server knows of open calls when the page was made: a call may have ended (or
  // been made from another device) while this page was closed.
  const serverOwn = cfg.help && cfg.help.own;
  if (serverOwn && state.endedOwn.indexOf(serverOwn.client_id) < 0) {
    state.ownHelp = Object.assign({}, state.ownHelp && state.ownHelp.client_id === serverOwn.client_id ? state.ownHelp : {}, serverOwn);
    storageSet(drillKey + ".help", state.ownHelp);
  } else if (state.ownHelp && state.ownHelp.id && !serverOwn) {
    state.ownHelp = null;
    storageSet(drillKey + ".help", null);
  }
  ((cfg.help && cfg.help.incoming) || []).forEach(function (call) { addIncoming(call, false); });
  renderQueue(queue.summary());
  renderOwnHelp();
  loadSteps();
  connectEvents();
  queue.flush();
  document.body.dataset.fieldReady = "1";
}

init();
