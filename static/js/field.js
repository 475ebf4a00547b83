/* The supporter's field page on the phone.
 *
 * Reads its settings and translated strings from the JSON block #field-config, draws the
 * phone's own position on window.watchnetMaps.main (Leaflet), and sends everything through
 * WatchnetFieldQueue (static/js/field_queue.js). User text only enters the page through
 * textContent or DOM nodes, never as HTML.
 */
(function () {
  "use strict";

  var OWN_COLOR = "#1a5fb4";
  var HELP_COLOR = "#b3261e";
  var MIN_POSITION_INTERVAL_MS = 5000;

  function $(id) { return document.getElementById(id); }

  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  }

  function show(el, visible) { if (el) { el.hidden = !visible; } }

  function haversine(a, b) {
    var rad = Math.PI / 180;
    var dLat = (b.lat - a.lat) * rad;
    var dLon = (b.lon - a.lon) * rad;
    var h = Math.pow(Math.sin(dLat / 2), 2) +
      Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.pow(Math.sin(dLon / 2), 2);
    return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
  }

  function storageGet(key, fallback) {
    try {
      var raw = window.localStorage.getItem(key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) { return fallback; }
  }

  function storageSet(key, value) {
    try { window.localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* ignore */ }
  }

  function init() {
    var cfg = JSON.parse($("field-config").textContent);
    var t = cfg.strings;
    var locale = cfg.locale || "ja-JP";
    var key = "watchnet.field." + cfg.supporter_id;
    var drillKey = key + ".drill." + cfg.drill.id;
    var state = {
      status: cfg.drill.status,
      sharing: false,
      watchId: null,
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
      var d = new Date(iso);
      if (isNaN(d.getTime())) { return ""; }
      return d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit", hour12: false });
    }

    function csrfToken() {
      var meta = document.querySelector('meta[name="csrf-token"]');
      return meta ? meta.getAttribute("content") : "";
    }

    function refreshCsrf() {
      return fetch(window.location.pathname, { credentials: "same-origin" })
        .then(function (res) { return res.text(); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.querySelector('meta[name="csrf-token"]');
          var meta = document.querySelector('meta[name="csrf-token"]');
          if (fresh && meta) { meta.setAttribute("content", fresh.getAttribute("content")); }
        });
    }

    // ------------------------------------------------------------------ messages and queue

    var messageEl = $("field-message");
    var messageTimer = null;
    function say(text, kind) {
      messageEl.textContent = text;
      messageEl.className = "field-message " + (kind || "info");
      show(messageEl, !!text);
      if (messageTimer) { window.clearTimeout(messageTimer); }
      if (text && kind !== "error") {
        messageTimer = window.setTimeout(function () { show(messageEl, false); }, 12000);
      }
    }

    var queueEl = $("queue-status");
    function renderQueue(summary) {
      var parts = [];
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
      queueEl.textContent = parts.join(" ・ ");
      renderSteps();
    }

    var queue = new window.WatchnetFieldQueue({
      storageKey: key,
      csrfToken: csrfToken,
      refreshCsrf: refreshCsrf,
      onChange: renderQueue,
      onSent: function (item, json) { handleSent(item, json); },
      onFailed: function (item, message, status, json) { handleFailed(item, message, status, json); },
      onSignedOut: function () { say(t.signed_out, "error"); }
    });
    var newId = window.WatchnetFieldQueue.newId;

    function handleSent(item, json) {
      if (item.kind === "step") {
        loadSteps();
      } else if (item.kind === "help") {
        state.ownHelp = { client_id: item.body.client_id, id: json.id,
                          notified: json.notified || [], responders: state.ownHelp && state.ownHelp.responders || [] };
        storageSet(drillKey + ".help", state.ownHelp);
        renderOwnHelp();
      } else if (item.kind === "respond") {
        var call = state.incoming[item.meta.help_call_id];
        if (call) { call.responders = json.responders || []; call.answered = true; renderIncoming(); }
      }
    }

    function handleFailed(item, message, status, json) {
      var reasons = [];
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

    var map = window.watchnetMaps && window.watchnetMaps.main;
    var ownDot = null;
    var ownCircle = null;
    var helpMarkers = {};

    function drawOwn(p) {
      if (!map || !window.L) { return; }
      var ll = [p.lat, p.lon];
      if (!ownDot) {
        ownCircle = L.circle(ll, { radius: p.accuracy_m || 0, color: OWN_COLOR, weight: 1,
                                   fillColor: OWN_COLOR, fillOpacity: 0.12, interactive: false }).addTo(map);
        var label = document.createElement("span");
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
      var label = document.createElement("span");
      label.textContent = fmt(t.help_marker, { name: call.name || "" });
      helpMarkers[call.id] = L.circleMarker([call.lat, call.lon], {
        radius: 14, color: "#ffffff", weight: 3, fillColor: HELP_COLOR, fillOpacity: 1
      }).addTo(map).bindTooltip(label, { permanent: true, direction: "right" });
    }

    // ------------------------------------------------------------------ position

    var gpsEl = $("gps-status");
    function gpsSay(text) { gpsEl.textContent = text; show(gpsEl, !!text); }

    function onPosition(pos) {
      var c = pos.coords;
      var p = { lat: c.latitude, lon: c.longitude,
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
      var p = state.last;
      if (p.at === state.lastRecordedFixAt) { return; }
      var now = Date.now();
      var first = state.lastRecordedAt === 0;
      var wait = state.lastRecordedAt + MIN_POSITION_INTERVAL_MS - now;
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

    function onPositionError(err) {
      // Code 2 (position unavailable) is often brief (a tunnel, a move): keep watching.
      if (err.code === 1) {
        gpsSay(t.gps_denied);
        stopWatching();
        setSharingUi(false);
      } else if (err.code === 2) {
        gpsSay(t.gps_unavailable);
      } else {
        gpsSay(t.gps_slow);
      }
    }

    function startWatching() {
      if (!navigator.geolocation) { gpsSay(t.gps_none); return; }
      if (state.watchId !== null) { return; }
      state.lastRecordedAt = 0;
      state.watchId = navigator.geolocation.watchPosition(onPosition, onPositionError, {
        enableHighAccuracy: true, maximumAge: 5000, timeout: 30000
      });
    }

    function stopWatching() {
      if (state.watchId !== null && navigator.geolocation) {
        navigator.geolocation.clearWatch(state.watchId);
      }
      state.watchId = null;
    }

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
        }, function (err) { onPositionError(err); resolve(state.last); },
        { enableHighAccuracy: true, maximumAge: 10000, timeout: 15000 });
      });
    }

    var shareBtn = $("share-toggle");
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

    var whereText = $("where-sentence");
    var speakBtn = $("where-speak");
    var lastWhere = null;
    if (!("speechSynthesis" in window)) { speakBtn.hidden = true; }

    function coordsText(p) { return p.lat.toFixed(5) + ", " + p.lon.toFixed(5); }

    function fetchWhere(p) {
      var url = cfg.urls.where + "?lat=" + encodeURIComponent(p.lat) + "&lon=" + encodeURIComponent(p.lon);
      return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (res) { if (!res.ok) { throw new Error(String(res.status)); } return res.json(); });
    }

    function localWhere(p) {
      var best = null;
      cfg.checkpoints.forEach(function (cp) {
        var d = haversine(p, cp);
        if (!best || d < best.d) { best = { cp: cp, d: d }; }
      });
      var sentence = fmt(t.where_coords, { coords: coordsText(p) });
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
      var u = new SpeechSynthesisUtterance(lastWhere);
      u.lang = locale;
      u.rate = 0.85;
      window.speechSynthesis.speak(u);
    });
    $("where-close").addEventListener("click", function () {
      if ("speechSynthesis" in window) { window.speechSynthesis.cancel(); }
      show($("where-panel"), false);
    });

    // ------------------------------------------------------------------ encounter log

    var cpSelect = $("checkpoint-select");
    var stepButtons = Array.prototype.slice.call(document.querySelectorAll(".step-btn"));
    var noteEl = $("step-note");

    function selectedCheckpoint() {
      var v = cpSelect.value;
      return v ? parseInt(v, 10) : null;
    }

    function suggestCheckpoint() {
      currentPosition().then(function (p) {
        if (!p) { return; }
        var url = cfg.urls.nearest + "?lat=" + encodeURIComponent(p.lat) + "&lon=" + encodeURIComponent(p.lon);
        fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (res) { if (!res.ok) { throw new Error(String(res.status)); } return res.json(); })
          .then(function (json) { return json.checkpoint; }, function () {
            var best = null;
            cfg.checkpoints.forEach(function (cp) {
              var d = haversine(p, cp);
              if (!best || d < best.distance_m) { best = { id: cp.id, name: cp.name, distance_m: d }; }
            });
            return best;
          })
          .then(function (cp) {
            var hint = $("checkpoint-hint");
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
      var cp = selectedCheckpoint();
      var result = {};
      state.serverSteps.forEach(function (s) {
        if ((s.checkpoint_id || null) !== cp) { return; }
        result[s.step] = { client_id: s.client_id, done_at: s.done_at, contact_whom: s.contact_whom,
                           note: s.note || "", corrected: !!s.original, waiting: false };
      });
      queue.pending("step").forEach(function (item) {
        var b = item.body;
        if ((b.checkpoint_id || null) !== cp) { return; }
        result[b.step] = { client_id: b.corrects_client_id || b.client_id, done_at: b.done_at,
                           contact_whom: b.contact_whom || null, note: b.note || "",
                           corrected: !!b.corrects_client_id, waiting: true };
      });
      return result;
    }

    function renderSteps() {
      var done = stepsByKind();
      stepButtons.forEach(function (btn) {
        var kind = btn.dataset.step;
        var s = done[kind];
        var li = btn.closest(".step");
        var status = li.querySelector(".step-status");
        var fix = li.querySelector(".step-fix");
        li.classList.toggle("done", !!s);
        li.classList.toggle("waiting", !!(s && s.waiting));
        btn.setAttribute("aria-disabled", s ? "true" : "false");
        if (s) {
          var text = fmt(t.done_at, { time: timeText(s.done_at) });
          if (s.contact_whom) { text += " ・ " + (cfg.contact_labels[s.contact_whom] || s.contact_whom); }
          if (s.corrected) { text += " ・ " + t.corrected; }
          if (s.waiting) { text += " ・ " + t.step_waiting; }
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
      var p = state.last;
      var body = { client_id: newId(), step: kind, done_at: doneAt };
      var cp = selectedCheckpoint();
      if (cp !== null) { body.checkpoint_id = cp; }
      if (contactWhom) { body.contact_whom = contactWhom; }
      var note = noteEl.value.trim();
      if (note) { body.note = note.slice(0, 500); noteEl.value = ""; }
      if (p) { body.lat = p.lat; body.lon = p.lon; if (p.accuracy_m !== null) { body.accuracy_m = p.accuracy_m; } }
      queue.push("step", cfg.urls.steps, body);
      renderSteps();
    }

    stepButtons.forEach(function (btn) {
      btn.addEventListener("click", function () {
        if (state.status !== "live") { say(t.not_live, "info"); return; }
        if (btn.getAttribute("aria-disabled") === "true") { return; }
        var doneAt = new Date().toISOString();
        var kind = btn.dataset.step;
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
    var fixDialog = $("fix-dialog");
    Array.prototype.forEach.call(document.querySelectorAll(".step-fix"), function (b) {
      b.addEventListener("click", function () {
        var li = b.closest(".step");
        var d = new Date(li.dataset.doneAt);
        state.correcting = { step: li.dataset.step, client_id: li.dataset.clientId, date: d };
        $("fix-step-name").textContent = li.querySelector(".step-label").textContent;
        $("fix-time").value = ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
        $("fix-note").value = li.dataset.note || "";
        var isContact = li.dataset.step === "contacted";
        show($("fix-whom-field"), isContact);
        if (isContact) { $("fix-whom").value = li.dataset.contactWhom || ""; }
        show($("fix-error"), false);
        fixDialog.showModal();
      });
    });
    $("fix-cancel").addEventListener("click", function () { fixDialog.close(); state.correcting = null; });
    $("fix-save").addEventListener("click", function () {
      var c = state.correcting;
      if (!c) { fixDialog.close(); return; }
      var parts = ($("fix-time").value || "").split(":");
      var fixError = $("fix-error");
      if (parts.length < 2) {
        fixError.textContent = t.fix_no_time;
        show(fixError, true);
        return;
      }
      var d = new Date(c.date.getTime());
      d.setHours(parseInt(parts[0], 10), parseInt(parts[1], 10), 0, 0);
      // Checked here, while the dialog is open, rather than by the server later: a refused
      // correction would otherwise only show up after the queue has sent it.
      if (d.getTime() > Date.now() + 60000) {
        fixError.textContent = t.fix_future;
        show(fixError, true);
        return;
      }
      show(fixError, false);
      var body = { client_id: newId(), step: c.step, done_at: d.toISOString(),
                   corrects_client_id: c.client_id };
      var cp = selectedCheckpoint();
      if (cp !== null) { body.checkpoint_id = cp; }
      if (c.step === "contacted") { body.contact_whom = $("fix-whom").value; }
      var note = $("fix-note").value.trim();
      if (note) { body.note = note.slice(0, 500); }
      queue.push("step", cfg.urls.steps, body);
      fixDialog.close();
      state.correcting = null;
      renderSteps();
    });

    $("encounter-btn").addEventListener("click", function () {
      var panel = $("encounter-panel");
      var open = panel.hidden;
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
      var box = $("own-help");
      var h = state.ownHelp;
      var waiting = queue.pending("help").length > 0;
      if (!h && !waiting) { show(box, false); return; }
      show(box, true);
      if (waiting && (!h || !h.id)) {
        $("own-help-notified").textContent = t.help_waiting;
        $("own-help-coming").textContent = "";
        return;
      }
      // Whom the server reached: the nearest supporters and the drill's organizers, by name.
      var names = (h.notified || []).map(function (n) { return n.name; });
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
      var calledAt = new Date().toISOString();
      state.ownHelp = null;
      storageSet(drillKey + ".help", null);
      currentPosition().then(function (p) {
        if (!p) { say(t.help_no_position, "error"); return; }
        var withSentence = fetchWhere(p).then(function (json) { return json.sentence; },
                                              function () { return localWhere(p); });
        withSentence.then(function (sentence) {
          var body = { client_id: newId(), lat: p.lat, lon: p.lon, called_at: calledAt,
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
      var list = $("incoming-help");
      list.textContent = "";
      var ids = Object.keys(state.incoming);
      ids.forEach(function (id) {
        var call = state.incoming[id];
        var box = document.createElement("section");
        box.className = "help-banner";
        box.setAttribute("role", "alert");
        var h = document.createElement("h2");
        h.textContent = fmt(t.help_from, { name: call.name || "" });
        box.appendChild(h);
        var p = document.createElement("p");
        p.className = "help-place";
        p.textContent = call.sentence || "";
        box.appendChild(p);
        if (call.responders && call.responders.length) {
          var r = document.createElement("p");
          r.textContent = fmt(t.help_coming, { names: call.responders.join(t.name_separator) });
          box.appendChild(r);
        }
        var btn = document.createElement("button");
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
            queue.push("respond", fmt(cfg.urls.respond, { id: call.id }),
                       {}, { help_call_id: call.id });
            renderIncoming();
          });
        }
        box.appendChild(btn);
        var close = document.createElement("button");
        close.type = "button";
        close.className = "button big";
        close.textContent = t.close;
        close.addEventListener("click", function () {
          var dismissed = storageGet(drillKey + ".dismissed", []);
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
      var label = cfg.status_labels[status] || status;
      var badge = $("drill-state");
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
        var call = state.incoming[data.help_call_id];
        if (call) { call.responders = data.responders || []; renderIncoming(); }
      }
    }

    function connectEvents() {
      if (!window.EventSource) { return; }
      var source = new EventSource(cfg.urls.events);
      ["drill_status", "help_call", "help_response"].forEach(function (kind) {
        source.addEventListener(kind, function (ev) {
          try { onEvent(kind, JSON.parse(ev.data)); } catch (e) { /* ignore a bad message */ }
        });
      });
      source.addEventListener("error", function () {
        // The browser reconnects by itself unless the stream was refused; then try again later.
        if (source.readyState === EventSource.CLOSED) {
          window.setTimeout(connectEvents, 5000);
        }
      });
    }

    // ------------------------------------------------------------------ start

    setStatus(state.status);
    if (state.checkpointId !== null && cfg.checkpoints.some(function (c) { return c.id === state.checkpointId; })) {
      cpSelect.value = String(state.checkpointId);
    } else {
      state.checkpointId = null;
    }
    var wantShare = storageGet(drillKey + ".share", null);
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

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
