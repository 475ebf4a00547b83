/* The supporter's alert page (personal link /a/<token>) on the phone.
 *
 * Reads settings, strings and the first state from #alert-config; answers, sector claims and
 * positions go through the FieldQueue (static/js/field_queue.js), so nothing is lost when
 * the network drops; sightings (a form with an optional photo) have a small outbox of their
 * own, because the queue sends JSON only. The page polls GET state every few seconds: a
 * widened radius, a re-centred last-seen point, sectors taken by others and the all-clear
 * arrive without a reload. On the all-clear everything personal is removed from the DOM (not
 * hidden) and this phone's stored items for the alert are deleted, with the service worker's
 * copy of the page (lib/webapp.js).
 * User text only enters the page through textContent, never as HTML.
 */
import { FieldQueue, newId } from "./field_queue.js";
import { $, fmt, messenger, readJson, show, storageGet, storageSet } from "./lib/dom.js";
import { positionWatcher } from "./lib/geolocation.js";
import { poll as pollEvery } from "./lib/live.js";
import { forgetOfflineCopies, onNotificationTap } from "./lib/webapp.js";

const POLL_MS = 4000;
const MIN_POSITION_INTERVAL_MS = 15000;  // a walking searcher: one report per ~20 m
const PHOTO_MAX_SIDE = 1600;
const COLORS = { mine: "#1d6b35", taken: "#a86b00", walked: "#5b9bd5", untouched: "#555555",
               priority: "#b3261e", lastSeen: "#b3261e", own: "#1a5fb4" };

function init() {
  const cfg = readJson("alert-config");
  if (!cfg) { return; }
  const t = cfg.strings;
  const key = cfg.storage_key;
  let closed = false;
  const st = {
    state: cfg.state,
    sectorsKey: null,
    answer: cfg.state.answer,
    mySector: cfg.state.my_sector,
    sharing: false,
    last: null,
    lastRecordedAt: 0,
    recordTimer: null,
    pickingPlace: false,
    mapPoint: null,
    pollTimer: null
  };

  // ---------------------------------------------------------------- messages and queue

  const messageEl = $("field-message");
  const say = messenger(messageEl, 10000);

  // ---------------------------------------------------------------- sightings outbox

  /* Sightings wait in localStorage (photo as a downscaled JPEG data URL) and are sent one at
     a time as multipart forms; the client_id makes a retry harmless. */
  const outbox = {
    key: key + ".sightings",
    memory: [],
    sending: false,
    failures: 0,
    read: function () { const v = storageGet(this.key, null); return v === null ? this.memory.slice() : v; },
    write: function (items) { this.memory = items.slice(); storageSet(this.key, items); }
  };

  const queueEl = $("queue-status");
  let queueUsed = false;  // "All sent" means something only once something was sent
  function renderQueue(summary) {
    if (closed || !queueEl) { return; }
    const waitingSightings = outbox.read().length;
    const actions = summary.actions + waitingSightings;
    queueEl.dataset.actions = String(actions);
    queueEl.dataset.positions = String(summary.positions);
    if (actions || summary.positions) { queueUsed = true; }
    show(queueEl, queueUsed);
    if (actions === 0 && summary.positions === 0) {
      queueEl.className = "queue-status all-sent";
      queueEl.textContent = t.all_sent;
      return;
    }
    const parts = [];
    queueEl.className = "queue-status waiting";
    if (actions) { parts.push(fmt(t.waiting, { n: actions })); }
    if (summary.positions) { parts.push(fmt(t.positions_waiting, { n: summary.positions })); }
    if (!summary.online) { parts.push(t.offline); }
    queueEl.textContent = parts.join(t.separator);
  }

  function reasons(json) {
    let list = [];
    if (json && json.errors) {
      Object.keys(json.errors).forEach(function (k) { list = list.concat(json.errors[k]); });
    }
    return list;
  }

  const queue = new FieldQueue({
    storageKey: key,
    csrfToken: function () { return ""; },  // the link's token is the secret (CSRF-exempt)
    onChange: renderQueue,
    onSent: function (item, json) {
      if (item.kind === "sector") { st.mySector = json.my_sector || null; poll(); }
    },
    onSignedOut: function () { poll(); },  // the state tells whether the link was ended
    onFailed: function (item, message, status, json) {
      if (status === 410 && json && json.state) { applyClosed(json.state); return; }
      if (item.kind === "positions" && status === 409) {
        stopWatching(); setSharingUi(false); say(message, "info"); return;
      }
      const extra = reasons(json).filter(function (r) { return r !== message; });
      say(extra.length ? message + " " + extra.join(" ") : fmt(t.not_sent, { message: message }), "error");
      if (item.kind === "sector") { poll(); }
    }
  });

  function dataUrlToBlob(url) {
    const parts = url.split(",");
    const mime = (parts[0].match(/data:([^;]+)/) || [])[1] || "image/jpeg";
    const bin = window.atob(parts[1]);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i += 1) { bytes[i] = bin.charCodeAt(i); }
    return new Blob([bytes], { type: mime });
  }

  function sendSightings() {
    if (closed || outbox.sending) { return; }
    const items = outbox.read();
    if (!items.length) { return; }
    const item = items[0];
    const form = new FormData();
    Object.keys(item.fields).forEach(function (k) { form.append(k, item.fields[k]); });
    if (item.photo) { form.append("photo", dataUrlToBlob(item.photo), "photo.jpg"); }
    outbox.sending = true;
    fetch(cfg.urls.sightings, { method: "POST", body: form, credentials: "same-origin",
                                headers: { "Accept": "application/json" } })
      .then(function (res) {
        return res.json().catch(function () { return null; }).then(function (json) {
          return { res: res, json: json };
        });
      })
      .then(function (r) {
        outbox.sending = false;
        const status = r.res.status;
        if (r.res.ok || (status >= 400 && status < 500 && status !== 408 && status !== 429)) {
          outbox.write(outbox.read().filter(function (it) { return it.fields.client_id !== item.fields.client_id; }));
          outbox.failures = 0;
          renderQueue(queue.summary());
          if (r.res.ok) {
            say(t.sighting_sent, "info");
          } else if ((status === 410 || status === 403) && r.json && r.json.state) {
            applyClosed(r.json.state); return;
          } else {
            showSightingErrors(r.json, item);
          }
          sendSightings();
        } else {
          retrySightings();
        }
      }, function () { outbox.sending = false; retrySightings(); });
  }

  function retrySightings() {
    outbox.failures += 1;
    renderQueue(queue.summary());
    window.setTimeout(sendSightings, Math.min(30000, 1000 * Math.pow(2, outbox.failures - 1)));
  }

  // ---------------------------------------------------------------- the map

  const map = window.watchnetMaps && window.watchnetMaps.main;
  const hasMap = !!(map && window.L);
  let polygons = {};      // cell -> L.polygon
  const sectorLayer = hasMap ? L.layerGroup().addTo(map) : null;
  let lastSeenDot = null;
  let radiusCircle = null;
  let ownDot = null;
  let pickMarker = null;
  let fitted = false;

  function cellStyle(cell) {
    const s = st.state;
    const taken = s.taken && s.taken[cell];
    const mine = cell === st.mySector;
    const walked = s.walked && s.walked.indexOf(cell) >= 0;
    const priority = s.priority && s.priority.indexOf(cell) >= 0;
    let fill = COLORS.untouched;
    let fillOpacity = 0.04;
    if (mine) { fill = COLORS.mine; fillOpacity = 0.5; } else if (taken) { fill = COLORS.taken; fillOpacity = 0.4; } else if (walked) { fill = COLORS.walked; fillOpacity = 0.35; }
    return { color: priority ? COLORS.priority : (mine ? COLORS.mine : "#333333"),
             weight: priority || mine ? 3 : 1, dashArray: priority ? "6 4" : null,
             fillColor: fill, fillOpacity: fillOpacity, opacity: 0.9 };
  }

  function cellState(cell) {
    const s = st.state;
    if (cell === st.mySector) { return "mine"; }
    if (s.taken && s.taken[cell]) { return "taken"; }
    if (s.walked && s.walked.indexOf(cell) >= 0) { return "walked"; }
    return "untouched";
  }

  function tagPolygon(cell, poly) {
    const el = poly.getElement && poly.getElement();
    if (el) {
      el.setAttribute("data-cell", cell);
      el.setAttribute("data-state", cellState(cell));
      el.classList.add("wn-sector");
    }
  }

  function drawSectors(cells) {
    if (!hasMap) { return; }
    sectorLayer.clearLayers();
    polygons = {};
    cells.forEach(function (c) {
      const poly = L.polygon(c.boundary, cellStyle(c.cell));
      poly.on("click", function (ev) { onCellTap(c.cell, ev); });
      poly.addTo(sectorLayer);
      polygons[c.cell] = poly;
      tagPolygon(c.cell, poly);
    });
  }

  function restyleSectors() {
    Object.keys(polygons).forEach(function (cell) {
      polygons[cell].setStyle(cellStyle(cell));
      tagPolygon(cell, polygons[cell]);
    });
  }

  function drawLastSeen() {
    if (!hasMap) { return; }
    const ls = st.state.last_seen;
    const ll = [ls.lat, ls.lon];
    if (!radiusCircle) {
      radiusCircle = L.circle(ll, { radius: st.state.radius_m, color: COLORS.lastSeen, weight: 2,
                                    dashArray: "8 6", fill: false, interactive: false }).addTo(map);
      const label = document.createElement("span");
      label.textContent = t.last_seen;
      lastSeenDot = L.circleMarker(ll, { radius: 9, color: "#ffffff", weight: 3,
                                         fillColor: COLORS.lastSeen, fillOpacity: 1,
                                         interactive: false }).addTo(map);
      lastSeenDot.bindTooltip(label, { permanent: true, direction: "top", offset: [0, -8] });
    } else {
      radiusCircle.setLatLng(ll);
      radiusCircle.setRadius(st.state.radius_m);
      lastSeenDot.setLatLng(ll);
    }
    if (!fitted && st.state.radius_m > 0) {
      fitted = true;
      map.fitBounds(radiusCircle.getBounds(), { padding: [8, 8] });
    }
  }

  function drawOwn(p) {
    if (!hasMap) { return; }
    const ll = [p.lat, p.lon];
    if (!ownDot) {
      const label = document.createElement("span");
      label.textContent = t.you_are_here;
      ownDot = L.circleMarker(ll, { radius: 8, color: "#ffffff", weight: 3, fillColor: COLORS.own,
                                    fillOpacity: 1, interactive: false }).addTo(map);
      ownDot.bindTooltip(label, { direction: "top", offset: [0, -8] });
    } else {
      ownDot.setLatLng(ll);
    }
  }

  if (hasMap) {
    map.on("click", function (ev) { if (st.pickingPlace) { setMapPoint(ev.latlng); } });
  }

  // ---------------------------------------------------------------- state

  function renderAnswer() {
    Array.prototype.forEach.call(document.querySelectorAll(".answer-btn"), function (b) {
      b.setAttribute("aria-pressed", b.dataset.answer === st.answer ? "true" : "false");
    });
    const status = $("answer-status");
    status.textContent = st.answer === "searching" ? t.answered_searching
      : (st.answer === "cannot" ? t.answered_cannot : "");
    show($("search-panel"), st.answer === "searching");
    if (st.answer !== "searching") { show($("sighting-form"), false); }
  }

  function renderSectorStatus() {
    $("sector-status").textContent = st.mySector ? t.sector_mine : t.sector_none;
    show($("sector-release"), !!st.mySector);
  }

  function renderState(s) {
    if (s.closed) { applyClosed(s); return; }
    const moved = !st.state || !st.state.last_seen ||
      st.state.last_seen.lat !== s.last_seen.lat || st.state.last_seen.lon !== s.last_seen.lon ||
      st.state.radius_m !== s.radius_m;
    const hadState = st.sectorsKey !== null;
    st.state = s;
    // Local actions not yet sent win over the server's older view.
    if (!queue.pending("ack").length) { st.answer = s.answer; }
    if (!queue.pending("sector").length) { st.mySector = s.my_sector; }
    ["last-seen-time", "last-seen-time-2"].forEach(function (id) { $(id).textContent = s.last_seen.time; });
    ["last-seen-place", "last-seen-place-2"].forEach(function (id) {
      $(id).textContent = s.last_seen.place || "";
    });
    $("radius-text").textContent = fmt(t.radius, { km: (s.radius_m / 1000).toFixed(1) });
    if (s.sectors) {
      st.sectorsKey = s.sectors_key;
      drawSectors(s.sectors);
    } else {
      restyleSectors();
    }
    if (moved) { fitted = false; }
    drawLastSeen();
    if (moved && hadState) { say(t.updated, "info"); }
    renderAnswer();
    renderSectorStatus();
  }

  // The state is asked every few seconds (lib/live.js) and at once after a sector claim.
  let poller = null;
  function poll() { if (poller && !closed) { poller.now(); } }

  function stateUrl() {
    return cfg.urls.state + (st.sectorsKey ? "?have=" + encodeURIComponent(st.sectorsKey) : "");
  }

  function onStateResponse(res) {
    // 403 with a state: the supporter's access was ended; forget the details as on closing.
    if (res.status === 403) {
      return res.json().then(function (j) { if (j && j.state) { applyClosed(j.state); } });
    }
    if (!res.ok) { throw new Error(String(res.status)); }  // offline: try again at the next tick
    return res.json().then(function (s) { if (s && !closed) { renderState(s); } });
  }

  /* The all-clear: remove every personal detail from the page and from this phone. */
  function applyClosed(s) {
    if (closed) { return; }
    closed = true;
    stopWatching();
    if (poller) { poller.stop(); }
    if (st.pollTimer) { window.clearInterval(st.pollTimer); }
    try {
      Object.keys(window.localStorage).forEach(function (k) {
        if (k.indexOf(key) === 0) { window.localStorage.removeItem(k); }
      });
    } catch (e) { /* nothing stored */ }
    outbox.memory = [];
    // The phone's stored copy of this page (for a reload without network) goes too; when the
    // supporter's access ended, every stored page of theirs does.
    forgetOfflineCopies(s.status === "revoked" ? "" : window.location.pathname);
    if (hasMap) { try { map.remove(); } catch (e) { /* already gone */ } }
    const live = $("alert-live");
    if (live && live.parentNode) { live.parentNode.removeChild(live); }
    // Inline scripts held the map's centre; the config block went with #alert-live.
    Array.prototype.forEach.call(document.querySelectorAll("script:not([src])"), function (el) {
      el.parentNode.removeChild(el);
    });
    const box = $("alert-closed");
    box.textContent = "";
    box.className = "alert-closed " + (s.status || "");
    if (s.is_exercise) {
      const ex = document.createElement("p");
      ex.className = "exercise-banner";
      ex.textContent = cfg.exercise_label || "";
      if (ex.textContent) { box.appendChild(ex); }
    }
    const h = document.createElement("h1");
    h.className = "closed-message";
    h.textContent = s.message || "";
    box.appendChild(h);
    const note = document.createElement("p");
    note.textContent = cfg.removed_note || "";
    box.appendChild(note);
    show(box, true);
    document.body.dataset.alertStatus = s.status || "closed";
    if (navigator.vibrate) { navigator.vibrate(200); }
  }

  // ---------------------------------------------------------------- answer and sectors

  Array.prototype.forEach.call(document.querySelectorAll(".answer-btn"), function (b) {
    b.addEventListener("click", function () {
      const answer = b.dataset.answer;
      if (answer === st.answer && !queue.pending("ack").length) { return; }
      st.answer = answer;
      queue.push("ack", cfg.urls.ack, { client_id: newId(), answer: answer });
      renderAnswer();
      if (answer === "searching") {
        if (storageGet(key + ".share", true)) { setSharing(true); }
        $("search-panel").scrollIntoView({ behavior: "smooth", block: "start" });
      } else {
        setSharing(false, true);
      }
    });
  });

  function onCellTap(cell, ev) {
    if (st.pickingPlace) { setMapPoint(ev.latlng); return; }
    const taken = st.state.taken && st.state.taken[cell];
    if (cell === st.mySector) { return; }
    if (st.answer !== "searching") { say(t.sector_first_answer, "info"); return; }
    if (taken && !taken.mine) {
      say(taken.name ? fmt(t.sector_taken_by, { name: taken.name }) : t.sector_taken_other, "info");
      return;
    }
    st.mySector = cell;
    queue.push("sector", cfg.urls.sector, { client_id: newId(), action: "take", cell: cell });
    restyleSectors();
    renderSectorStatus();
  }

  $("sector-release").addEventListener("click", function () {
    st.mySector = null;
    queue.push("sector", cfg.urls.sector, { client_id: newId(), action: "release" });
    restyleSectors();
    renderSectorStatus();
  });

  // ---------------------------------------------------------------- position sharing

  const gpsEl = $("gps-status");
  function gpsSay(text) { if (gpsEl) { gpsEl.textContent = text; show(gpsEl, !!text); } }

  function onPosition(pos) {
    const c = pos.coords;
    st.last = { lat: c.latitude, lon: c.longitude,
                accuracy_m: typeof c.accuracy === "number" ? Math.min(c.accuracy, 10000) : null,
                at: new Date(pos.timestamp || Date.now()).toISOString() };
    drawOwn(st.last);
    gpsSay("");
    recordPosition();
    renderPlace();
  }

  /* At most one report every MIN_POSITION_INTERVAL_MS; a fix that comes sooner is kept and
     reported when the interval is up. */
  function recordPosition() {
    if (!st.sharing || closed || !st.last) { return; }
    const now = Date.now();
    const first = st.lastRecordedAt === 0;
    const wait = st.lastRecordedAt + MIN_POSITION_INTERVAL_MS - now;
    if (!first && wait > 0) {
      if (!st.recordTimer) {
        st.recordTimer = window.setTimeout(function () { st.recordTimer = null; recordPosition(); }, wait);
      }
      return;
    }
    if (st.last.at === st.lastFixAt) { return; }
    st.lastRecordedAt = now;
    st.lastFixAt = st.last.at;
    const p = st.last;
    const item = { client_id: newId(), lat: p.lat, lon: p.lon, recorded_at: p.at };
    if (p.accuracy_m !== null) { item.accuracy_m = p.accuracy_m; }
    queue.addPosition(cfg.urls.positions, item, first);
  }

  const watcher = positionWatcher({
    onPosition: onPosition, say: gpsSay, strings: t, maximumAge: 10000,
    onDenied: function () { stopWatching(); setSharingUi(false); }
  });

  function startWatching() {
    if (watcher.start()) { st.lastRecordedAt = 0; }
  }

  function stopWatching() {
    watcher.stop();
    if (st.recordTimer) { window.clearTimeout(st.recordTimer); st.recordTimer = null; }
  }

  const shareBtn = $("share-toggle");
  function setSharingUi(on) {
    st.sharing = on;
    if (closed || !shareBtn) { return; }
    shareBtn.setAttribute("aria-pressed", on ? "true" : "false");
    $("share-label").textContent = on ? t.sharing_on : t.share;
  }

  function setSharing(on, keepPreference) {
    if (!keepPreference) { storageSet(key + ".share", on); }
    setSharingUi(on);
    if (on) { startWatching(); } else { stopWatching(); }
  }

  shareBtn.addEventListener("click", function () { setSharing(!st.sharing); });

  /* A position for the sighting form: the last fix if fresh, else ask the phone once. */
  function currentPosition() {
    return new Promise(function (resolve) {
      if (st.last && Date.now() - new Date(st.last.at).getTime() < 60000) { resolve(st.last); return; }
      if (!navigator.geolocation) { resolve(st.last); return; }
      navigator.geolocation.getCurrentPosition(function (pos) { onPosition(pos); resolve(st.last); },
        function (err) { watcher.onError(err); resolve(st.last); },
        { enableHighAccuracy: true, maximumAge: 10000, timeout: 15000 });
    });
  }

  // ---------------------------------------------------------------- sighting form

  const form = $("sighting-form");

  function placeSource() {
    const checked = form.querySelector("input[name=place_source]:checked");
    return checked ? checked.value : "phone";
  }

  function renderPlace() {
    if (!form || form.hidden) { return; }
    const status = $("s-place-status");
    if (placeSource() === "map") {
      status.textContent = st.mapPoint ? t.place_set : t.place_map;
    } else {
      status.textContent = st.last ? t.place_phone : t.gps_slow;
    }
  }

  function setMapPoint(latlng) {
    st.mapPoint = { lat: latlng.lat, lon: latlng.lng };
    if (hasMap) {
      if (!pickMarker) {
        pickMarker = L.circleMarker(latlng, { radius: 11, color: "#000000", weight: 3,
                                              fillColor: "#ffd400", fillOpacity: 1, interactive: false }).addTo(map);
      } else { pickMarker.setLatLng(latlng); }
    }
    renderPlace();
    form.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function twoDigits(n) { return ("0" + n).slice(-2); }

  function openForm() {
    show(form, true);
    $("sighting-btn").setAttribute("aria-expanded", "true");
    const now = new Date();
    $("s-time").value = twoDigits(now.getHours()) + ":" + twoDigits(now.getMinutes());
    show($("s-errors"), false);
    show($("s-place-errors"), false);
    st.pickingPlace = placeSource() === "map";
    currentPosition().then(renderPlace);
    renderPlace();
    form.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function closeForm() {
    show(form, false);
    st.pickingPlace = false;
    $("sighting-btn").setAttribute("aria-expanded", "false");
    if (pickMarker && hasMap) { map.removeLayer(pickMarker); pickMarker = null; }
    st.mapPoint = null;
  }

  $("sighting-btn").addEventListener("click", function () { if (form.hidden) { openForm(); } else { closeForm(); } });

  /* The direction dial: radios styled as big arrow buttons; the classes mirror the state
     (no :has() needed, older phones included). */
  const dialInputs = form.querySelectorAll("input[name=direction]");
  function chosenDirection() {
    const checked = form.querySelector("input[name=direction]:checked");
    return checked ? checked.value : "unknown";
  }
  function renderDial() {
    Array.prototype.forEach.call(dialInputs, function (input) {
      input.parentNode.classList.toggle("is-checked", input.checked);
    });
  }
  Array.prototype.forEach.call(dialInputs, function (input) {
    input.addEventListener("change", renderDial);
    input.addEventListener("focus", function () { input.parentNode.classList.add("has-focus"); });
    input.addEventListener("blur", function () { input.parentNode.classList.remove("has-focus"); });
  });
  form.addEventListener("reset", function () { window.setTimeout(renderDial, 0); });
  renderDial();
  $("s-cancel").addEventListener("click", closeForm);
  Array.prototype.forEach.call(form.querySelectorAll("input[name=place_source]"), function (r) {
    r.addEventListener("change", function () {
      st.pickingPlace = placeSource() === "map";
      if (st.pickingPlace) {
        say(t.place_map, "info");
        const frame = document.querySelector(".field-map");
        if (frame) { frame.scrollIntoView({ behavior: "smooth", block: "center" }); }
      }
      renderPlace();
    });
  });

  function showSightingErrors(json, item) {
    const list = reasons(json);
    const box = $("s-errors");
    if (form.hidden && item) {
      // The form was closed after sending: open it again with what was typed.
      show(form, true);
      $("s-description").value = item.fields.description || "";
    }
    box.textContent = list.length ? list.join(" ") : ((json && json.message) || "");
    show(box, true);
    box.scrollIntoView({ behavior: "smooth", block: "center" });
  }

  /* The photo, downscaled and re-encoded in the browser so it fits in storage while offline
     (the server re-encodes it again and keeps no metadata either way). */
  function readPhoto(file) {
    return new Promise(function (resolve) {
      if (!file) { resolve(null); return; }
      const url = URL.createObjectURL(file);
      const img = new Image();
      img.onload = function () {
        const scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(img.naturalWidth, img.naturalHeight));
        const canvas = document.createElement("canvas");
        canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
        canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        resolve(canvas.toDataURL("image/jpeg", 0.85));
      };
      img.onerror = function () {
        URL.revokeObjectURL(url);
        // Not decodable here (e.g. HEIC): send the file as it is and let the server judge.
        const reader = new FileReader();
        reader.onload = function () { resolve(String(reader.result)); };
        reader.onerror = function () { resolve(null); };
        reader.readAsDataURL(file);
      };
      img.src = url;
    });
  }

  function seenAtIso() {
    const parts = ($("s-time").value || "").split(":");
    const d = new Date();
    if (parts.length >= 2) {
      d.setHours(parseInt(parts[0], 10), parseInt(parts[1], 10), 0, 0);
      // A time later than now was yesterday evening, seen after midnight.
      if (d.getTime() - Date.now() > 5 * 60000) { d.setDate(d.getDate() - 1); }
    }
    return d.toISOString();
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    const source = placeSource();
    const sendBtn = $("s-send");
    sendBtn.disabled = true;
    const where = source === "map" ? Promise.resolve(st.mapPoint) : currentPosition();
    where.then(function (p) {
      if (!p) {
        const pe = $("s-place-errors");
        pe.textContent = t.place_missing;
        show(pe, true);
        sendBtn.disabled = false;
        return null;
      }
      const checked = form.querySelector("input[name=certainty]:checked");
      const fields = {
        client_id: newId(), seen_at: seenAtIso(), lat: String(p.lat), lon: String(p.lon),
        place_source: source, direction: chosenDirection(),
        description: $("s-description").value.trim().slice(0, 1000),
        certainty: checked ? checked.value : "unsure"
      };
      const file = $("s-photo").files && $("s-photo").files[0];
      return readPhoto(file).then(function (photo) {
        const items = outbox.read();
        items.push({ fields: fields, photo: photo });
        if (!storageSet(outbox.key, items)) {
          // Storage full: keep the photo in memory only (sent while this page stays open).
          outbox.memory = items;
        } else {
          outbox.memory = items.slice();
        }
        form.reset();
        closeForm();
        sendBtn.disabled = false;
        say(t.sighting_waiting, "info");
        // The form closed: bring the message (just under the first screen's buttons) to view.
        messageEl.scrollIntoView({ behavior: "smooth", block: "center" });
        renderQueue(queue.summary());
        sendSightings();
      });
    });
  });

  // ---------------------------------------------------------------- opened (reach)

  /* Tell the coordinator that this page is open, and from which channel's link (?via=line,
     ?via=sms ...): once per load, repeated harmlessly by the server. Not through the queue:
     it is no action of the supporter's, so it never shows as "waiting to send"; a page opened
     without network sends it when the network returns. */
  let openedTries = 0;
  function sendOpened() {
    const via = new URLSearchParams(window.location.search).get("via");
    openedTries += 1;
    fetch(cfg.urls.opened, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ via: via || null }) })
      .then(function (res) {
        if (res.status >= 500 || res.status === 429) { throw new Error("retry later"); }
        if (res.ok) { document.body.dataset.opened = "1"; }
      })
      .catch(function () {
        if (closed || openedTries >= 6) { return; }
        if (navigator.onLine === false) {
          window.addEventListener("online", sendOpened, { once: true });
        } else {
          window.setTimeout(sendOpened, 5000 * openedTries);
        }
      });
  }

  // ---------------------------------------------------------------- guide and start

  $("guide-btn").addEventListener("click", function () { $("guide-dialog").showModal(); });

  // The thumbnail on the first screen opens to the full photo in place (the same image: no
  // second request for it).
  const photoToggle = $("photo-toggle");
  if (photoToggle) {
    photoToggle.addEventListener("click", function () {
      const large = $("alert-summary").classList.toggle("photo-large");
      photoToggle.setAttribute("aria-expanded", large ? "true" : "false");
    });
  }
  $("guide-close").addEventListener("click", function () { $("guide-dialog").close(); });

  window.addEventListener("online", sendSightings);
  renderState(cfg.state);
  renderQueue(queue.summary());
  if (st.answer === "searching" && storageGet(key + ".share", true)) { setSharing(true, true); }
  else { setSharingUi(false); }
  queue.flush();
  sendSightings();
  sendOpened();
  poller = pollEvery(stateUrl, onStateResponse, { intervalMs: POLL_MS });
  onNotificationTap(poll);  // a tapped notification about this alert: ask for the news now
  st.pollTimer = window.setInterval(sendSightings, POLL_MS);  // sightings waiting offline
  document.body.dataset.alertReady = "1";
}

init();
