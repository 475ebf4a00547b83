/* The coordinator's alert pages.
 *
 * start:     click the Folium map (window.watchnetMaps.main) to set the last-seen point, or
 *            find a typed address through the app's geocoder endpoint, or take a registered
 *            place; each proposes the description searchers read (describe-place endpoint);
 *            choosing a registered person reloads the form prefilled.
 * confirm:   the start form's confirmation (exercise or real, how many told): one click.
 * close:     click the map to set where the person was found; "cancelled" hides those fields.
 * dashboard: polls the state endpoint every few seconds (?v=<version>: the newest AlertEvent
 *            id and the outbox rows' attempts) and redraws counts, recipients with their
 *            messages' attempts and last errors, the retry banner, the supporters no message
 *            reaches, failures, sightings (newest report first), the timeline and the map's
 *            live layers; new sightings raise a badge with the unseen count and a tone.
 *
 * Every piece of user text goes into the page through textContent, never as HTML.
 */
import { $, clearNode, clockFormatter, el, fmt, readJson, urlWithId } from "./lib/dom.js";
import { jsonOrFail, poll } from "./lib/live.js";

const config = readJson("alert-staff-config") || {};
const text = config.text || {};
const map = (window.watchnetMaps || {}).main;

/* ----- picking a point on the map (start and close forms) ----- */

function pointPicker(latField, lonField, label, onPick) {
  let marker = null;
  const status = $("point-status");

  function place(lat, lon, pan) {
    latField.value = lat.toFixed(6);
    lonField.value = lon.toFixed(6);
    if (map) {
      if (!marker) {
        marker = L.circleMarker([lat, lon], {radius: 11, color: "#ffffff", weight: 3,
          fillColor: "#b3261e", fillOpacity: 1, className: "wn-picked"}).addTo(map);
        marker.bindTooltip(el("span", "", label), {permanent: true, direction: "right"});
      } else {
        marker.setLatLng([lat, lon]);
      }
      if (pan) { map.setView([lat, lon], Math.max(map.getZoom(), 16)); }
    }
    if (status) {
      status.textContent = text.chosen;
      status.classList.remove("missing");
    }
    if (onPick) { onPick(lat, lon); }
  }

  if (latField.value && lonField.value && !isNaN(Number(latField.value))) {
    const pick = onPick;
    onPick = null;  // the point of a form shown again: nothing new to propose
    place(Number(latField.value), Number(lonField.value), false);
    onPick = pick;
  }
  if (map) {
    map.on("click", function (e) {
      place(e.latlng.lat, L.Util.wrapNum(e.latlng.lng, [-180, 180], true), false);
    });
  }
  return {place: place};
}

/* The description searchers are told, proposed by the server from the chosen point (the
   nearest landmark with direction and distance, or the street address). It fills the place
   field when that is empty or still holds the previous proposal; text the coordinator typed
   stays, and the proposal is offered beside it. */
function placeProposer(placeField, personId) {
  const box = $("place-proposal");
  const label = $("place-proposal-text");
  const use = $("use-proposal");
  let proposed = "";
  let asked = 0;

  function showNote(message, offer) {
    label.textContent = message;
    use.hidden = !offer;
    box.hidden = !message;
  }

  use.addEventListener("click", function () {
    placeField.value = proposed;
    showNote(text.proposedFilled, false);
    placeField.focus();
  });

  return function propose(lat, lon) {
    const mine = ++asked;
    let url = config.describeUrl + "?lat=" + lat.toFixed(6) + "&lon=" + lon.toFixed(6);
    if (personId) { url += "&person_id=" + encodeURIComponent(personId); }
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (mine !== asked || !body) { return; }  // a later click has its own answer
        const current = placeField.value.trim();
        const previous = proposed;
        proposed = body.place || "";
        if (!proposed) {
          if (!current || current === previous) { placeField.value = ""; }
          showNote(text.noProposal, false);
        } else if (!current || current === previous) {
          placeField.value = proposed;
          showNote(text.proposedFilled, false);
        } else if (current !== proposed) {
          showNote(fmt(text.proposed, {place: proposed}), true);
        } else {
          showNote("", false);
        }
        document.body.dataset.placeProposed = String(mine);
      })
      .catch(function () { /* the coordinator types the description */ });
  };
}

function initStart() {
  const form = $("start-form");
  const chooser = $("choose-person");
  if (chooser) {
    // Choosing a person reloads the form prefilled from the registry (the button is the
    // fallback without JavaScript).
    chooser.addEventListener("change", function () { $("person-chooser").submit(); });
  }
  const placeField = form.elements.last_seen_place;
  const propose = placeProposer(placeField, config.personId);
  const picker = pointPicker(form.elements.last_seen_lat, form.elements.last_seen_lon,
                           text.lastSeen, propose);
  const status = $("point-status");
  const find = $("find-address");
  find.addEventListener("click", function () {
    const query = placeField.value.trim();
    if (!query) { status.textContent = text.typeAddress; placeField.focus(); return; }
    status.textContent = text.finding;
    find.disabled = true;
    fetch(config.geocodeUrl + "?q=" + encodeURIComponent(query), {
      credentials: "same-origin", headers: {"Accept": "application/json"}
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (r.ok && typeof body.lat === "number") {
          picker.place(body.lat, body.lon, true);
          status.textContent = fmt(text.found, {address: body.address || query});
        } else {
          const errors = (body.errors && body.errors.last_seen_place) || [text.unreachable];
          status.textContent = errors.join(" ");
          status.classList.add("missing");
        }
      });
    }).catch(function () {
      status.textContent = text.unreachable;
      status.classList.add("missing");
    }).then(function () { find.disabled = false; });
  });
  placeField.addEventListener("keydown", function (e) {
    // Enter in the place field looks the address up instead of submitting half a form.
    if (e.key === "Enter" && !form.elements.last_seen_lat.value) {
      e.preventDefault();
      find.click();
    }
  });
  Array.prototype.forEach.call(document.querySelectorAll(".quick-place"), function (button) {
    // A registered place (home, usual places): the point goes there and the description is
    // proposed from the landmarks, so "near home" never reaches a searcher.
    button.addEventListener("click", function () {
      picker.place(Number(button.dataset.lat), Number(button.dataset.lon), true);
    });
  });
  form.addEventListener("submit", function () {
    // One click, one alert: the client_key makes a second submit harmless anyway.
    const button = $("start-submit");
    window.setTimeout(function () { button.disabled = true; button.textContent = text.sending; }, 0);
  });
}

function initConfirm() {
  // One click, one alert (the client_key makes a second submit harmless anyway).
  const form = $("confirm-form");
  form.addEventListener("submit", function (e) {
    const send = e.submitter && e.submitter.id === "confirm-submit";
    window.setTimeout(function () {
      Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = true; });
      if (send) { $("confirm-submit").textContent = text.sending; }
    }, 0);
  });
}

function initClose() {
  const form = $("close-form");
  pointPicker(form.elements.found_lat, form.elements.found_lon, text.foundHere);
  const details = $("found-details");
  function sync() {
    const chosen = form.querySelector("input[name=outcome]:checked");
    details.hidden = !!chosen && chosen.value !== "found";
  }
  Array.prototype.forEach.call(form.querySelectorAll("input[name=outcome]"), function (input) {
    input.addEventListener("change", sync);
  });
  sync();
}

/* ----- the dashboard ----- */

const clock = clockFormatter(config.locale, config.timeZone, false);

function km(metres) {
  return metres < 1000 ? Math.round(metres) + " m" : (metres / 1000).toFixed(1) + " km";
}

const dash = {version: config.version, clockOffsetMs: 0, lastSeenAt: null, active: true};
window.alertStaff = dash;  // for tests and curious coordinators with a console

function layer(name) {
  const varName = (config.layers || {})[name];
  return varName && window[varName] ? window[varName] : null;
}

function renderElapsed() {
  const node = $("elapsed");
  if (!node || !dash.lastSeenAt) { return; }
  const now = Date.now() + dash.clockOffsetMs;
  const minutes = Math.max(0, Math.floor((now - dash.lastSeenAt) / 60000));
  const h = Math.floor(minutes / 60);
  node.textContent = h > 0 ? fmt(text.elapsed, {h: h, m: minutes % 60})
                           : fmt(text.elapsedMin, {m: minutes});
}

function setConnection(kind) {
  const node = $("live-connection");
  if (!node) { return; }
  node.dataset.state = kind;
  node.textContent = text[kind] || "";
}

function renderCounts(summary) {
  ["told", "opened", "searching", "cannot", "unanswered"].forEach(function (key) {
    const node = $("count-" + key);
    if (node) { node.textContent = String(summary[key]); }
  });
  const map2 = {sent: "deliveries_sent", pending: "deliveries_pending", failed: "deliveries_failed"};
  Object.keys(map2).forEach(function (key) {
    const node = $("count-" + key);
    if (node) { node.textContent = String(summary[map2[key]]); }
  });
  $("failure-count").textContent = String(summary.deliveries_failed);
  $("recipient-limit").hidden = summary.told <= (dash.listed || 500);
}

function renderReach(reach) {
  // Reached / answered / not reachable, and one line per channel (texts made by the server).
  if (!reach) { return; }
  ["reached", "answered", "unreachable"].forEach(function (key) {
    const node = $("count-" + key);
    if (node) { node.textContent = String(reach[key]); }
  });
  const list = $("reach-channels");
  if (!list) { return; }
  clearNode(list);
  (reach.by_channel || []).forEach(function (c) {
    const li = el("li", "", c.text);
    li.dataset.channel = c.channel;
    list.appendChild(li);
  });
}

function renderRecipients(rows) {
  const body = $("recipient-rows");
  clearNode(body);
  if (!rows.length) {
    const tr = el("tr", "empty");
    const td = el("td", "muted", text.nobody);
    td.colSpan = 6;
    tr.appendChild(td);
    body.appendChild(tr);
    return;
  }
  rows.forEach(function (r) {
    const tr = el("tr");
    tr.dataset.supporterId = String(r.supporter_id);
    tr.appendChild(el("td", "user-text", r.name));
    tr.appendChild(el("td", "", km(r.distance_m) + (r.matched_by === "position" ? " (" + text.phone + ")" : "")));
    tr.appendChild(el("td", "", clock(r.told_at)));
    tr.appendChild(el("td", "opened", (clock(r.opened_at) || "—") +
                      (r.opened_via_label ? " (" + r.opened_via_label + ")" : "")));
    const answeredVia = r.answered_via_label ? ", " + r.answered_via_label : "";
    tr.appendChild(el("td", "answer-" + (r.answer || "none"),
                      r.answer_label + (r.answered_at ? " (" + clock(r.answered_at) + answeredVia + ")" : "")));
    tr.appendChild(deliveryCell(r.deliveries || []));
    body.appendChild(tr);
  });
}

function deliveryCell(deliveries) {
  // One line per address, in the escalation's order: status, attempts so far and the last
  // error in plain words, what the channel reported back (arrived, opened, answered) or when
  // a later step goes out; the dispatcher's own text (own district only) underneath.
  const td = el("td", "deliveries");
  if (!deliveries.length) { td.appendChild(el("span", "muted", "—")); return td; }
  deliveries.forEach(function (d) {
    const line = el("span", "delivery-line status-" + d.status + (d.trouble ? " trouble" : "") +
                  (d.waiting_step ? " waiting-step" : ""),
                  d.channel_label + ": " + d.label + (d.reach ? " · " + d.reach : ""));
    line.dataset.deliveryId = String(d.id);
    line.dataset.channel = d.channel;
    if (d.error_raw && d.trouble) { line.appendChild(el("span", "raw user-text", d.error_raw)); }
    td.appendChild(line);
  });
  return td;
}

function renderRetrying(retrying) {
  const banner = $("retry-banner");
  if (!banner || !retrying) { return; }
  banner.textContent = retrying.text || "";
  banner.hidden = !retrying.count;
}

function renderUnreachable(rows) {
  const list = $("unreachable-list");
  if (!list) { return; }
  clearNode(list);
  rows.forEach(function (u) {
    const li = el("li");
    li.dataset.supporterId = String(u.supporter_id);
    li.appendChild(el("span", "user-text", u.name));
    li.appendChild(document.createTextNode(" · " + u.reason_label + " · "));
    if (u.phone) {
      const a = el("a", "", u.phone);
      a.href = "tel:" + u.phone;
      li.appendChild(a);
    } else {
      li.appendChild(document.createTextNode(u.other_district ? text.otherDistrict : text.noPhone));
    }
    list.appendChild(li);
  });
  const total = dash.unreachableTotal === undefined ? rows.length : dash.unreachableTotal;
  $("unreachable-count").textContent = String(total);
  const limit = $("unreachable-limit");
  if (limit) { limit.hidden = total <= rows.length; }
  $("no-unreachable").hidden = rows.length > 0;
}

function renderFailures(rows) {
  const body = $("failure-rows");
  clearNode(body);
  rows.forEach(function (f) {
    const tr = el("tr");
    tr.appendChild(el("td", "user-text", f.name));
    tr.appendChild(el("td", "", f.channel));
    tr.appendChild(el("td", "user-text", f.address));
    tr.appendChild(el("td", "user-text", f.reason));
    body.appendChild(tr);
  });
  $("failure-table").hidden = rows.length === 0;
  $("no-failures").hidden = rows.length > 0;
}

function renderTimeline(events) {
  const list = $("timeline");
  clearNode(list);
  events.forEach(function (e) {
    const li = el("li");
    li.dataset.eventId = String(e.id);
    const time = el("time", "", clock(e.at));
    time.setAttribute("datetime", e.at || "");
    li.appendChild(time);
    li.appendChild(el("span", "user-text", e.text));
    list.appendChild(li);
  });
}

/* ----- new sightings: the unseen count, a tone, the newest on top ----- */

/* Which sightings this browser has looked at (the badge's link or a tap on the sighting),
   by id, in localStorage: a reload or a second tab keeps the count. A sighting that arrives
   while the page is open also plays a short tone. */
const news = {
  key: "watchnet.alertStaff." + config.alertId + ".seenSightings",
  seen: new Set(),
  known: null,  // the ids at the previous state (null before the first)
  ids: [],      // the ids now, newest report first
  title: document.title
};

(function readSeen() {
  try {
    const stored = JSON.parse(window.localStorage.getItem(news.key) || "[]");
    if (Array.isArray(stored)) { stored.forEach(function (id) { if (Number.isInteger(id)) { news.seen.add(id); } }); }
  } catch (e) { /* no storage: everything counts as new until looked at */ }
})();

function writeSeen() {
  try {
    window.localStorage.setItem(news.key, JSON.stringify(Array.from(news.seen).slice(-1000)));
  } catch (e) { /* private mode: the count lasts as long as the page */ }
}

function unseenIds() {
  return news.ids.filter(function (id) { return !news.seen.has(id); });
}

function renderNews() {
  const unseen = unseenIds();
  const badge = $("new-sightings");
  if (badge) {
    badge.hidden = unseen.length === 0;
    $("new-sightings-text").textContent = fmt(text.newSightings, {n: unseen.length});
    badge.dataset.count = String(unseen.length);
  }
  document.title = (unseen.length ? "(" + unseen.length + ") " : "") + news.title;
  document.querySelectorAll("#sighting-list [data-sighting-id]").forEach(function (item) {
    const isNew = !news.seen.has(Number(item.dataset.sightingId));
    item.classList.toggle("unseen", isNew);
    const tag = item.querySelector(".unseen-tag");
    if (isNew && !tag) {
      const head = item.querySelector("p");
      if (head) { head.insertBefore(el("span", "unseen-tag", text.unseen), head.firstChild); }
    } else if (!isNew && tag) {
      tag.remove();
    }
  });
  document.querySelectorAll(".wn-sighting").forEach(function (marker) {
    const match = /wn-sighting-s(\d+)/.exec(marker.className);
    const badgeEl = marker.querySelector(".wn-sighting-badge");
    if (match && badgeEl) { badgeEl.classList.toggle("unseen", !news.seen.has(Number(match[1]))); }
  });
}

function markSeen(ids) {
  ids.forEach(function (id) { news.seen.add(id); });
  writeSeen();
  renderNews();
}

/* After each state: which sightings are new to this page (a tone for them) and unseen. */
function noteSightings(ids) {
  const arrived = news.known === null ? [] : ids.filter(function (id) {
    return news.known.indexOf(id) < 0 && !news.seen.has(id);
  });
  news.known = ids.slice();
  news.ids = ids.slice();
  renderNews();
  if (arrived.length) { chime(); }
}

const sound = {
  key: "watchnet.alertStaff.sound",
  wanted: true,
  ctx: null,
  plays: 0
};
try { sound.wanted = window.localStorage.getItem(sound.key) !== "off"; } catch (e) { /* on */ }

function soundRunning() { return !!(sound.ctx && sound.ctx.state === "running"); }

function renderSound() {
  const toggle = $("sound-toggle");
  if (!toggle) { return; }
  toggle.hidden = false;
  toggle.setAttribute("aria-pressed", sound.wanted ? "true" : "false");
  toggle.textContent = sound.wanted ? text.soundOn : text.soundOff;
  $("sound-hint").hidden = !sound.wanted || soundRunning();
}

/* Browsers start an AudioContext only from a user's click or key: the first one on the page
   creates (or resumes) it, and from then on new sightings can be heard. */
function unlockSound() {
  if (!sound.wanted) { return; }
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) { return; }
  if (!sound.ctx) {
    try { sound.ctx = new Context(); } catch (e) { return; }
    sound.ctx.onstatechange = renderSound;
  }
  if (sound.ctx.state === "suspended") { sound.ctx.resume().then(renderSound, renderSound); }
  renderSound();
}

/* Two short rising tones (Web Audio oscillators: no sound file to load). */
function chime() {
  if (!sound.wanted || !soundRunning()) { renderSound(); return false; }
  const ctx = sound.ctx;
  const start = ctx.currentTime + 0.02;
  [[880, 0], [1318.5, 0.22]].forEach(function (note) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    const at = start + note[1];
    osc.type = "sine";
    osc.frequency.value = note[0];
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.35, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.2);
    osc.connect(gain);
    gain.connect(ctx.destination);
    osc.start(at);
    osc.stop(at + 0.22);
  });
  sound.plays += 1;
  document.body.dataset.tones = String(sound.plays);
  return true;
}

function initNews() {
  document.addEventListener("pointerdown", unlockSound, true);
  document.addEventListener("keydown", unlockSound, true);
  const toggle = $("sound-toggle");
  toggle.addEventListener("click", function () {
    sound.wanted = !sound.wanted;
    try { window.localStorage.setItem(sound.key, sound.wanted ? "on" : "off"); } catch (e) { /* */ }
    if (sound.wanted) { unlockSound(); window.setTimeout(chime, 50); }  // a sample of the tone
    renderSound();
  });
  renderSound();
  $("new-sightings").addEventListener("click", function () { markSeen(news.ids); });
  const list = $("sighting-list");
  // Touching a sighting (its verdict, its photo) is looking at it.
  list.addEventListener("pointerdown", function (e) {
    const item = e.target.closest && e.target.closest("[data-sighting-id]");
    if (item) { markSeen([Number(item.dataset.sightingId)]); }
  });
  list.addEventListener("focusin", function (e) {
    const item = e.target.closest && e.target.closest("[data-sighting-id]");
    if (item) { markSeen([Number(item.dataset.sightingId)]); }
  });
  const ids = Array.prototype.map.call(list.querySelectorAll("[data-sighting-id]"), function (item) {
    return Number(item.dataset.sightingId);
  });
  noteSightings(ids);
}

function reviewForm(s) {
  // The same form the server draws (templates/alerts/staff/_review_form.html), cloned from
  // its <template> and set for this sighting.
  const form = $("review-form-template").content.firstElementChild.cloneNode(true);
  form.action = urlWithId(config.reviewUrl, s.id);
  form.querySelectorAll("input[name=status]").forEach(function (input) {
    input.checked = input.value === s.status;
  });
  if (s.recentred) { form.querySelector("[data-recentre]").remove(); }
  return form;
}

function renderSightings(rows, active) {
  const list = $("sighting-list");
  // Keep a form the coordinator is filling in: skip the redraw while one has focus.
  if (list.contains(document.activeElement) && document.activeElement !== document.body) {
    return false;
  }
  clearNode(list);
  $("sighting-count").textContent = String(rows.length);
  if (!rows.length) { list.appendChild(el("p", "muted", text.noSightings)); return true; }
  rows.forEach(function (s) {
    const item = el("article", "sighting status-" + s.status);
    item.dataset.sightingId = String(s.id);
    const head = el("p");
    head.appendChild(el("strong", "", clock(s.seen_at)));
    head.appendChild(document.createTextNode(" · "));
    head.appendChild(el("span", "sighting-status", s.status_label));
    head.appendChild(document.createTextNode(" · " + s.certainty_label + " · " + s.direction_label));
    if (s.reporter) {
      head.appendChild(document.createTextNode(" · "));
      head.appendChild(el("span", "user-text", s.reporter));
    }
    if (s.recentred) { head.appendChild(document.createTextNode(" · " + text.nowLastSeen)); }
    item.appendChild(head);
    if (s.description) { item.appendChild(el("p", "user-text", s.description)); }
    if (s.has_photo) {
      const img = el("img");
      img.src = urlWithId(config.photoUrl, s.id);
      img.alt = fmt(text.photoOf, {id: s.id});
      img.loading = "lazy";
      item.appendChild(img);
    }
    if (active) { item.appendChild(reviewForm(s)); }
    list.appendChild(item);
  });
  return true;
}

function renderRings(rings) {
  const list = $("ring-list");
  clearNode(list);
  rings.forEach(function (r) {
    let label = r.label;
    if (r.minutes !== null && r.minutes !== undefined) {
      label += " — " + fmt(text.fromMin, {n: r.minutes});
    }
    if (r.current) { label += " (" + text.now + ")"; }
    list.appendChild(el("li", r.current ? "current" : "", label));
  });
}

const SIGHTING_PANE = "wnSightings";

const SECTOR_STYLE = {
  taken: {color: "#b26a00", fillColor: "#f0a030", fillOpacity: 0.30},
  walked: {color: "#1d6b35", fillColor: "#4caf50", fillOpacity: 0.30},
  untouched: {color: "#777777", fillColor: "#ffffff", fillOpacity: 0.05}
};

function labelIcon(label, current) {
  const box = el("div", "wn-ring-label" + (current ? " current" : ""), label);
  return L.divIcon({html: box, className: "wn-label-icon", iconSize: null, iconAnchor: [0, 12]});
}

function renderMap(state) {
  if (!map || !window.L) { return; }
  const a = state.alert;
  const centre = [a.last_seen.lat, a.last_seen.lon];
  const rings = layer("rings");
  if (rings) {
    rings.clearLayers();
    state.rings.forEach(function (r) {
      L.circle(centre, {radius: r.radius_m, color: r.current ? "#b3261e" : "#0b5cad",
        weight: r.current ? 4 : 2, dashArray: r.current ? null : "6 6", fill: false,
        className: r.current ? "wn-ring wn-ring-current" : "wn-ring"})
        .bindTooltip(el("span", "", r.label)).addTo(rings);
      L.marker([a.last_seen.lat + r.radius_m / 111320, a.last_seen.lon],
               {icon: labelIcon(r.label, r.current), interactive: false, keyboard: false})
        .addTo(rings);
    });
  }
  const sectors = layer("sectors");
  if (sectors) {
    sectors.clearLayers();
    state.sectors.forEach(function (s) {
      const style = SECTOR_STYLE[s.state] || SECTOR_STYLE.untouched;
      L.polygon(s.boundary, {color: style.color, fillColor: style.fillColor, fill: true,
        fillOpacity: style.fillOpacity, weight: s.priority ? 4 : 1,
        className: "wn-sector wn-sector-" + s.state})
        .bindTooltip(el("span", "", s.label)).addTo(sectors);
    });
  }
  const searchers = layer("searchers");
  if (searchers) {
    searchers.clearLayers();
    state.searchers.forEach(function (s) {
      L.circleMarker([s.lat, s.lon], {radius: 8, color: "#ffffff", weight: 2, fill: true,
        fillColor: "#1d6b35", fillOpacity: 0.95,
        className: "wn-searcher wn-searcher-" + Number(s.supporter_id)})
        .bindTooltip(el("span", "", s.name), {permanent: true, direction: "right"})
        .addTo(searchers);
    });
  }
  const sightings = layer("sightings");
  if (sightings) {
    sightings.clearLayers();
    // Their own pane above every label (maps/alert_maps.py); the newest report on top.
    if (!map.getPane(SIGHTING_PANE)) { map.createPane(SIGHTING_PANE).style.zIndex = "660"; }
    const count = state.sightings.length;
    state.sightings.forEach(function (s, index) {
      const status = /^[a-z]+$/.test(s.status) ? s.status : "new";
      const badge = el("div", "wn-sighting-badge " + status, "!");
      L.marker([s.lat, s.lon], {icon: L.divIcon({html: badge, iconSize: [26, 26],
        iconAnchor: [13, 13],
        className: "wn-sighting wn-sighting-" + status + " wn-sighting-s" + Number(s.id)}),
        pane: SIGHTING_PANE, zIndexOffset: (count - index) * 10})
        .bindTooltip(el("span", "", s.status_label + " · " + s.certainty_label))
        .addTo(sightings);
    });
  }
  const lastSeen = layer("last_seen");
  if (lastSeen) {
    lastSeen.clearLayers();
    L.circleMarker(centre, {radius: 10, color: "#ffffff", weight: 3, fill: true,
      fillColor: "#b3261e", fillOpacity: 1, className: "wn-last-seen"})
      .bindTooltip(el("span", "", text.lastSeen), {permanent: true, direction: "right"})
      .addTo(lastSeen);
  }
  const found = layer("found");
  if (found && a.found) {
    found.clearLayers();
    L.circleMarker([a.found.lat, a.found.lon], {radius: 10, color: "#ffffff", weight: 3,
      fill: true, fillColor: "#1d6b35", fillOpacity: 1, className: "wn-found"})
      .bindTooltip(el("span", "", text.foundHere), {permanent: true, direction: "right"})
      .addTo(found);
  }
}

function applyState(state) {
  const a = state.alert;
  dash.lastSeenAt = new Date(a.last_seen.at).getTime();
  dash.clockOffsetMs = new Date(state.server_time).getTime() - Date.now();
  dash.listed = state.recipients_listed;
  const badge = $("alert-status");
  badge.className = "badge " + a.status;
  badge.textContent = a.status_label;
  dash.unreachableTotal = state.reach ? state.reach.unreachable : undefined;
  renderCounts(state.summary);
  renderReach(state.reach);
  renderRecipients(state.recipients);
  renderFailures(state.failures);
  renderRetrying(state.retrying);
  renderUnreachable(state.unreachable || []);
  renderTimeline(state.timeline);
  renderRings(state.rings);
  const drawn = renderSightings(state.sightings, a.is_active);
  renderMap(state);
  noteSightings(state.sightings.map(function (s) { return s.id; }));
  renderElapsed();
  if (dash.active && !a.is_active) {
    dash.active = false;
    const actions = $("actions");
    if (actions) { actions.hidden = true; }
    const note = el("div", "flash flash-info", text.closed);
    note.setAttribute("role", "status");
    note.id = "closed-live-note";
    document.querySelector(".alert-head").after(note);
  }
  // A sightings list left alone (a form had focus) is redrawn on the next poll.
  dash.version = drawn ? state.version : -1;
}

function initDashboard() {
  initNews();
  dash.lastSeenAt = new Date($("elapsed").dataset.since).getTime();
  dash.clockOffsetMs = new Date(config.serverTime).getTime() - Date.now();
  renderElapsed();
  window.setInterval(renderElapsed, 15000);
  setConnection("connected");
  poll(function () { return config.stateUrl + "?v=" + encodeURIComponent(dash.version); },
    function (response) {
      return jsonOrFail(response).then(function (body) { if (!body.unchanged) { applyState(body); } });
    },
    {intervalMs: config.pollMs, hiddenMs: 10000, backoff: true, onState: setConnection});
}

if (config.mode === "start") { initStart(); }
else if (config.mode === "confirm") { initConfirm(); }
else if (config.mode === "close") { initClose(); }
else if (config.mode === "dashboard") { initDashboard(); }
