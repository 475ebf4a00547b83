/* The organizer's live view: draws the drill's snapshot once (/live/state), then keeps the map,
   the checkpoints, the counts and the feed current from the server-sent-event stream
   (/live/events) without reloading. Every piece of user text goes in through textContent. */
import { clockFormatter, csrfToken, el, readJson, urlWithId } from "./lib/dom.js";
import { jsonOrFail, stream } from "./lib/live.js";

const config = readJson("live-config");
const text = config.text;
const map = (window.watchnetMaps || {}).main;
if (map) {
  // People above the checkpoint badges (markerPane is 600), below tooltips (650).
  map.createPane("livePeople").style.zIndex = 640;
  map.createPane("liveTracks").style.zIndex = 450;
}

const state = {
  status: null,
  lastEventId: 0,
  since: null,
  participants: {},   // supporter_id -> participant (latest position)
  markers: {},        // supporter_id -> L.circleMarker
  tracks: {},         // supporter_id -> L.polyline
  checkpoints: [],    // [{id, name, number, lat, lon, teams_through}]
  cpMarkers: {},      // checkpoint id -> L.marker showing the teams that passed
  teams: {},          // team id -> {id, name, color}
  stepIds: {},        // EncounterStep ids already in the feed
  helpItems: {},      // help call id -> <li>
  noteIds: {},        // EncounterNote ids already in the feed
  ended: {},          // help call id -> how it ended (help_resolved payload)
  counts: {steps: 0, open_help: 0}
};
window.watchLive = state;  // for tests and for curious organizers with a console


const clock = clockFormatter(config.locale, config.timeZone, true);

function safeColor(value) {
  return /^#[0-9a-fA-F]{6}$/.test(value || "") ? value : "#666666";
}

function teamOf(teamId) {
  return teamId == null ? null : state.teams[teamId] || null;
}

function teamChip(teamId, teamName, color) {
  const chip = el("span", "team-chip");
  const swatch = el("span", "swatch");
  swatch.setAttribute("aria-hidden", "true");
  swatch.style.background = safeColor(color);
  chip.appendChild(swatch);
  chip.appendChild(el("span", "user-text", teamName || text.noTeam));
  return chip;
}

/* ----- counts and status ----- */

function renderCounts() {
  let sharing = 0;
  Object.keys(state.participants).forEach(function (sid) {
    if (state.participants[sid].lat != null) { sharing += 1; }
  });
  document.getElementById("count-sharing").textContent = String(sharing);
  document.getElementById("count-steps").textContent = String(state.counts.steps);
  const help = document.getElementById("count-help");
  help.textContent = String(state.counts.open_help);
  help.parentNode.classList.toggle("alerting", state.counts.open_help > 0);
}

function setStatus(status) {
  if (!status || status === state.status) { return; }
  const previous = state.status;
  state.status = status;
  const badge = document.getElementById("live-status");
  badge.className = "badge " + status;
  badge.textContent = config.statusLabels[status] || status;
  const banner = document.getElementById("live-banner");
  if (previous !== null && status === "ended") {
    banner.textContent = text.ended;
    banner.hidden = false;
    const endLink = document.getElementById("live-end-link");
    if (endLink) { endLink.hidden = true; }
  } else if (previous !== null && status === "live") {
    banner.hidden = true;
  }
}

function setConnection(kind) {
  const node = document.getElementById("live-connection");
  node.dataset.state = kind;
  node.textContent = text[kind] || kind;
}

/* ----- map: positions and tracks ----- */

function tooltipFor(p) {
  const box = el("span", "live-name", p.name);
  return box;
}

function updatePosition(p) {
  if (p.supporter_id == null) { return; }
  const sid = String(p.supporter_id);
  const known = state.participants[sid];
  if (known && known.recorded_at && p.recorded_at &&
      new Date(known.recorded_at) > new Date(p.recorded_at)) {
    return;  // an older report that arrived late: keep the newer one
  }
  state.participants[sid] = p;
  if (p.lat == null || p.lon == null || !map) { renderCounts(); return; }
  const color = safeColor(p.color);
  const latlng = [p.lat, p.lon];
  let marker = state.markers[sid];
  if (!marker) {
    marker = L.circleMarker(latlng, {
      radius: 11, color: "#ffffff", weight: 3, fillColor: color, fillOpacity: 0.95,
      pane: "livePeople", className: "live-pos live-pos-" + sid
    }).addTo(map);
    marker.bindTooltip(tooltipFor(p), {permanent: true, direction: "right", offset: [10, 0],
                                       className: "live-name-tooltip"});
    state.markers[sid] = marker;
  } else {
    marker.setLatLng(latlng);
    marker.setStyle({fillColor: color});
  }
  const path = marker.getElement && marker.getElement();
  if (path) {
    path.setAttribute("data-lat", String(p.lat));
    path.setAttribute("data-lon", String(p.lon));
    path.setAttribute("data-recorded-at", p.recorded_at || "");
  }
  let track = state.tracks[sid];
  if (!track) {
    track = L.polyline([], {color: color, weight: 4, opacity: 0.55, interactive: false,
                            pane: "liveTracks", className: "live-track live-track-" + sid}).addTo(map);
    state.tracks[sid] = track;
  }
  const points = track.getLatLngs();
  const last = points[points.length - 1];
  if (!last || last.lat !== p.lat || last.lng !== p.lon) {
    track.addLatLng(latlng);
    if (points.length > 200) { points.shift(); track.setLatLngs(points); }
  }
  marker.bringToFront();
  renderCounts();
}

function drawTracks(tracks) {
  if (!map) { return; }
  Object.keys(tracks).forEach(function (sid) {
    const p = state.participants[sid];
    const color = safeColor(p ? p.color : null);
    const line = L.polyline(tracks[sid].map(function (t) { return [t[0], t[1]]; }), {
      color: color, weight: 4, opacity: 0.55, interactive: false, pane: "liveTracks",
      className: "live-track live-track-" + sid
    }).addTo(map);
    state.tracks[sid] = line;
  });
}

/* ----- checkpoints ----- */

function renderCheckpoints() {
  const list = document.getElementById("live-checkpoints");
  list.textContent = "";
  const teamIds = Object.keys(state.teams);
  state.checkpoints.forEach(function (cp) {
    const item = el("li", "live-cp");
    item.dataset.checkpointId = String(cp.id);
    const head = el("div", "live-cp-head");
    const badge = el("span", "wn-cp-badge", cp.number);
    badge.setAttribute("aria-hidden", "true");
    head.appendChild(badge);
    head.appendChild(el("span", "live-cp-name user-text", cp.name));
    item.appendChild(head);
    const teams = el("ul", "live-cp-teams");
    teamIds.forEach(function (tid) {
      const team = state.teams[tid];
      const passed = cp.teams_through.indexOf(team.id) >= 0;
      const li = el("li", passed ? "passed" : "pending");
      li.dataset.teamId = String(team.id);
      li.appendChild(teamChip(team.id, team.name, team.color));
      li.appendChild(el("span", "live-cp-mark", passed ? "✓ " + text.passed : "– " + text.notYet));
      teams.appendChild(li);
    });
    item.appendChild(teams);
    list.appendChild(item);
    drawCheckpointMarker(cp);
  });
}

function drawCheckpointMarker(cp) {
  if (!map) { return; }
  const box = el("div", "live-cp-passed");
  cp.teams_through.forEach(function (tid) {
    const team = teamOf(tid);
    const dot = el("span", "dot");
    dot.style.background = safeColor(team ? team.color : null);
    dot.title = team ? team.name : "";
    box.appendChild(dot);
  });
  const icon = L.divIcon({className: "live-cp-icon", html: box, iconSize: null,
                        iconAnchor: [-18, 8]});
  if (state.cpMarkers[cp.id]) {
    state.cpMarkers[cp.id].setIcon(icon);
  } else {
    state.cpMarkers[cp.id] = L.marker([cp.lat, cp.lon], {icon: icon, interactive: false,
                                                         keyboard: false}).addTo(map);
  }
}

function markPassed(checkpointId, teamId) {
  if (checkpointId == null || teamId == null) { return; }
  state.checkpoints.forEach(function (cp) {
    if (cp.id === checkpointId && cp.teams_through.indexOf(teamId) < 0) {
      cp.teams_through.push(teamId);
      renderCheckpoints();
    }
  });
}

/* ----- the feed ----- */

function feedItem(kind, p, eventId) {
  const item = el("li", "feed-item feed-" + kind);
  item.dataset.kind = kind;
  if (eventId) { item.dataset.eventId = String(eventId); }
  const at = kind === "help_call" ? p.called_at : (kind === "note" ? p.written_at : p.done_at);
  const time = el("time", "feed-time", clock(at));
  time.setAttribute("datetime", at || "");
  item.appendChild(time);
  const body = el("div", "feed-body");
  item.appendChild(body);
  const who = el("div", "feed-who");
  who.appendChild(el("strong", "user-text", p.name));
  const team = teamOf(p.team_id);
  if (kind === "step" || kind === "note") {
    who.appendChild(teamChip(p.team_id, p.team_name || (team && team.name),
                             p.color || (team && team.color)));
  }
  body.appendChild(who);
  if (kind === "step") {
    item.dataset.stepId = String(p.id);
    item.dataset.step = p.step || "";
    const what = el("div", "feed-what");
    what.appendChild(el("span", "feed-step",
      config.stepLabels[p.step] || p.step_label || p.step));
    if (p.contact_whom) {
      what.appendChild(el("span", "feed-contact",
        " → " + (config.contactLabels[p.contact_whom] || p.contact_whom)));
    }
    body.appendChild(what);
    if (p.checkpoint_name) {
      const at = el("div", "feed-where", text.checkpoint + ": ");
      at.appendChild(el("span", "user-text", p.checkpoint_name));
      body.appendChild(at);
    }
    if (p.note) { body.appendChild(el("div", "feed-note user-text", p.note)); }
  } else if (kind === "note") {
    item.dataset.noteId = String(p.id);
    body.appendChild(el("div", "feed-what feed-step", "✎ " + text.note));
    if (p.checkpoint_name) {
      body.appendChild(el("div", "feed-where user-text", text.checkpoint + ": " + p.checkpoint_name));
    }
    body.appendChild(el("div", "feed-note user-text", p.text));
  } else {
    item.dataset.helpCallId = String(p.id);
    body.appendChild(el("div", "feed-what feed-help-title", "⚠ " + text.helpCall));
    // The place sentence in the viewer's language when the server made one (it quotes
    // landmark and checkpoint names), else the caller's own: marked as user data either way.
    const where = (p.sentences && p.sentences[config.locale]) || p.sentence;
    if (where) { body.appendChild(el("div", "feed-where user-text", where)); }
    const resp = el("div", "feed-responders");
    body.appendChild(resp);
    const buttons = el("div", "feed-buttons");
    const button = el("button", "button small primary feed-respond", text.onMyWay);
    button.type = "button";
    button.addEventListener("click", function () { respond(p.id, button); });
    buttons.appendChild(button);
    const handled = el("button", "button small feed-resolve", text.markHandled);
    handled.type = "button";
    handled.addEventListener("click", function () { resolve(p.id, handled); });
    buttons.appendChild(handled);
    body.appendChild(buttons);
    body.appendChild(el("div", "feed-ended"));
    state.helpItems[p.id] = item;
    setResponders(p.id, p.responders || []);
    if (p.ended) { markEnded(p.ended, false); }
  }
  return item;
}

/* A help call that ended (the caller, an organizer, the drill's end): said so in its feed
   item, without buttons; the open count goes down once. */
function markEnded(ended, counted) {
  const id = ended.help_call_id;
  const first = !state.ended[id];
  state.ended[id] = ended;
  const item = state.helpItems[id];
  if (item) {
    item.classList.add("ended");
    item.dataset.resolution = ended.resolution || "";
    const words = text.helpEnded[ended.resolution] || "";
    const line = words.replace("{name}", ended.resolved_by_name || "") +
      (ended.resolved_at ? " (" + clock(ended.resolved_at) + ")" : "");
    item.querySelector(".feed-ended").textContent = line;
    const buttons = item.querySelector(".feed-buttons");
    if (buttons) { buttons.hidden = true; }
  }
  if (first && counted) {
    state.counts.open_help = Math.max(0, state.counts.open_help - 1);
    renderCounts();
  }
}

function setResponders(helpCallId, names) {
  const item = state.helpItems[helpCallId];
  if (!item) { return; }
  const box = item.querySelector(".feed-responders");
  box.textContent = names.length ? text.responders + " " + names.join(text.nameSeparator) : text.noResponders;
  item.dataset.responders = String(names.length);
}

function addToFeed(kind, payload, eventId, atTop) {
  if (kind === "step") {
    if (state.stepIds[payload.id]) { return false; }
    state.stepIds[payload.id] = true;
  } else if (kind === "note") {
    if (state.noteIds[payload.id]) { return false; }
    state.noteIds[payload.id] = true;
  } else if (state.helpItems[payload.id]) {
    return false;
  }
  const list = document.getElementById("live-feed");
  const item = feedItem(kind, payload, eventId);
  if (atTop) { list.insertBefore(item, list.firstChild); } else { list.appendChild(item); }
  while (list.children.length > 200) { list.removeChild(list.lastChild); }
  document.getElementById("live-feed-empty").hidden = true;
  return true;
}

function respond(helpCallId, button) {
  button.disabled = true;
  fetch(urlWithId(config.respondUrl, helpCallId), {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
    body: "{}"
  }).then(jsonOrFail).then(function (body) {
    setResponders(helpCallId, body.responders || []);
  }).catch(function () {
    button.disabled = false;
    window.alert(text.respondFailed);
  });
}

function resolve(helpCallId, button) {
  button.disabled = true;
  fetch(urlWithId(config.resolveUrl, helpCallId), {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
    body: "{}"
  }).then(jsonOrFail).then(function (ended) {
    markEnded(ended, true);
  }).catch(function () {
    button.disabled = false;
    window.alert(text.respondFailed);
  });
}

/* ----- events ----- */

const handlers = {
  position: function (p) { updatePosition(p); },
  step: function (p, id) {
    if (addToFeed("step", p, id, true) && !p.corrects_id) { state.counts.steps += 1; }
    markPassed(p.checkpoint_id, p.team_id);
    renderCounts();
  },
  help_call: function (p, id) {
    if (addToFeed("help_call", p, id, true)) { state.counts.open_help += 1; }
    renderCounts();
  },
  help_response: function (p) { setResponders(p.help_call_id, p.responders || []); },
  help_resolved: function (p) { markEnded(p, true); },
  note: function (p, id) { addToFeed("note", p, id, true); },
  drill_status: function (p) { setStatus(p.status); }
};

function connect() {
  // Each new connection says where the page stopped (the browser's own reconnects send
  // Last-Event-ID as well).
  stream(function () {
    return config.eventsUrl + "?after=" + encodeURIComponent(state.lastEventId) +
      (state.since ? "&since=" + encodeURIComponent(state.since) : "");
  }, handlers, {
    retryMs: 3000,
    onState: setConnection,
    onEventId: function (id) { if (id > state.lastEventId) { state.lastEventId = id; } }
  });
}

function load() {
  fetch(config.stateUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
    .then(jsonOrFail)
    .then(function (snap) {
      state.lastEventId = snap.last_event_id || 0;
      state.since = snap.server_time;
      snap.teams.forEach(function (t) { state.teams[t.id] = t; });
      state.counts.steps = snap.counts.steps;
      state.counts.open_help = snap.counts.open_help;
      setStatus(snap.drill.status);
      snap.participants.forEach(function (p) { state.participants[String(p.supporter_id)] = p; });
      drawTracks(snap.tracks || {});
      snap.participants.forEach(function (p) {
        delete state.participants[String(p.supporter_id)];
        updatePosition(p);
      });
      state.checkpoints = snap.checkpoints;
      renderCheckpoints();
      snap.feed.forEach(function (entry) {
        addToFeed(entry.kind, entry.payload, entry.event_id, false);
      });
      renderCounts();
      connect();
    })
    .catch(function () {
      setConnection("reconnecting");
      setTimeout(load, 3000);
    });
}

load();
