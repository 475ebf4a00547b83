/* The route editor: draw a drill's route and place its checkpoints on the Folium map.
 *
 * Reads the saved geometry and the translated labels from two JSON blocks in the page
 * (#route-editor-data, #route-editor-i18n), edits them on window.watchnetMaps.main (Leaflet),
 * and sends them back with fetch + the CSRF token. User text only ever goes into the page via
 * textContent or DOM nodes, never as HTML.
 */
import { $, csrfToken, fmt, readJson, urlWithId } from "./lib/dom.js";
import { haversine } from "./lib/geo.js";

const ROUTE_COLOR = "#0b5cad";

function init() {
  const data = readJson("route-editor-data");
  const t = readJson("route-editor-i18n");
  const map = window.watchnetMaps && window.watchnetMaps.main;
  if (!map || !window.L) { return; }

  let route = [];        // [{lat, lon, marker}]
  let checkpoints = [];  // [{id, name, lat, lon, marker}]
  let selected = null;   // the selected route point object
  let mode = "route";
  let pending = null;    // {lat, lon, marker} waiting for a name
  let dirty = false;
  let saving = false;

  const line = L.polyline([], { color: ROUTE_COLOR, weight: 5, opacity: 0.85, interactive: false })
    .addTo(map);

  const modeButton = $("mode-checkpoint");
  const removeSelectedButton = $("remove-selected");
  const removeLastButton = $("remove-last");
  const saveButton = $("save-route");
  const statusBox = $("editor-status");
  const errorBox = $("editor-errors");
  const nameForm = $("checkpoint-name-form");
  const nameInput = $("checkpoint-name");
  const list = $("checkpoint-list");
  const emptyNote = $("checkpoint-empty");

  map.getContainer().classList.add("wn-editing");

  function setStatus(text) { statusBox.textContent = text; }

  function markDirty() {
    dirty = true;
    setStatus(t.unsaved);
  }

  // ---- route -------------------------------------------------------------------------------
  function vertexIcon(isSelected) {
    return L.divIcon({
      className: "wn-vertex-icon" + (isSelected ? " wn-vertex-selected" : ""),
      html: "", iconSize: [22, 22], iconAnchor: [11, 11]
    });
  }

  function redrawRoute() {
    line.setLatLngs(route.map(function (p) { return [p.lat, p.lon]; }));
    route.forEach(function (p, i) {
      p.marker.options.title = fmt(t.routePoint, { n: i + 1 });
      const el = p.marker.getElement();
      if (el) {
        el.setAttribute("title", p.marker.options.title);
        el.setAttribute("aria-label", p.marker.options.title);
      }
    });
    let length = 0;
    for (let i = 1; i < route.length; i++) { length += haversine(route[i - 1], route[i]); }
    $("route-length").textContent = fmt(t.length, {
      km: (length / 1000).toFixed(1),
      minutes: Math.round(length / data.speedMps / 60),
      speed: Number(data.speedMps).toFixed(1)
    });
    $("route-count").textContent = fmt(t.routeCount, { n: route.length });
    removeLastButton.disabled = route.length === 0;
    removeSelectedButton.disabled = selected === null;
  }

  function select(point) {
    if (selected && selected.marker) { selected.marker.setIcon(vertexIcon(false)); }
    selected = point;
    if (point) {
      point.marker.setIcon(vertexIcon(true));
      setStatus(fmt(t.selected, { n: route.indexOf(point) + 1 }));
    }
    redrawRoute();
  }

  function addRoutePoint(lat, lon, initial) {
    if (route.length >= data.maxRoutePoints) { setStatus(t.tooManyPoints); return; }
    const point = { lat: lat, lon: lon, marker: null };
    point.marker = L.marker([lat, lon], {
      draggable: true, keyboard: true, icon: vertexIcon(false), riseOnHover: true
    }).addTo(map);
    point.marker.on("drag", function (e) {
      const ll = e.target.getLatLng();
      point.lat = ll.lat; point.lon = ll.lng;
      redrawRoute();
    });
    point.marker.on("dragend", function () { markDirty(); });
    // Enter on a focused point clicks it; Delete then removes the selected point. In checkpoint
    // mode a click on a route point places a checkpoint there (organizers put checkpoints on the
    // route, where the points are); a click on the first point of an open route closes the loop.
    point.marker.on("click", function () {
      if (mode === "checkpoint") { startPending(point.lat, point.lon); return; }
      if (point === route[0] && route.length >= 3 && !isClosed()) { closeLoop(); return; }
      select(point);
    });
    route.push(point);
    if (!initial) { markDirty(); }
    redrawRoute();
  }

  function isClosed() {
    if (route.length < 3) { return false; }
    const first = route[0], last = route[route.length - 1];
    return haversine(first, last) < 1;
  }

  function closeLoop() {
    select(null);
    addRoutePoint(route[0].lat, route[0].lon, false);
    setStatus(t.loopClosed);
  }

  // The point of the route nearest to a click, if the click was within SNAP_PX of the line:
  // a checkpoint placed "on the route" lands exactly on it.
  const SNAP_PX = 14;
  function snapToRoute(latlng) {
    if (route.length < 2) { return null; }
    // project() keeps fractions of a pixel (latLngToLayerPoint rounds them away).
    const zoom = map.getZoom();
    const p = map.project(latlng, zoom);
    let best = null, bestDist = SNAP_PX;
    for (let i = 1; i < route.length; i++) {
      const a = map.project([route[i - 1].lat, route[i - 1].lon], zoom);
      const b = map.project([route[i].lat, route[i].lon], zoom);
      const q = L.LineUtil.closestPointOnSegment(p, a, b);
      const d = q.distanceTo(p);
      if (d <= bestDist) { best = q; bestDist = d; }
    }
    return best ? map.unproject(best, zoom) : null;
  }

  function removeRoutePoint(point) {
    const index = route.indexOf(point);
    if (index < 0) { return; }
    map.removeLayer(point.marker);
    route.splice(index, 1);
    if (selected === point) { selected = null; }
    markDirty();
    redrawRoute();
  }

  // ---- checkpoints ---------------------------------------------------------------------------
  function checkpointIcon(number) {
    return L.divIcon({
      className: "wn-cp-icon",
      html: '<div class="wn-cp-badge">' + Number(number) + "</div>",
      iconSize: [30, 30], iconAnchor: [15, 15]
    });
  }

  function tooltipNode(text) {
    const span = document.createElement("span");
    span.textContent = text;
    return span;
  }

  function renderCheckpoints() {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    checkpoints.forEach(function (cp, i) {
      cp.marker.setIcon(checkpointIcon(i + 1));
      cp.marker.setTooltipContent(tooltipNode((i + 1) + ". " + cp.name));

      const li = document.createElement("li");
      li.className = "editor-checkpoint";
      const badge = document.createElement("span");
      badge.className = "wn-cp-badge";
      badge.setAttribute("aria-hidden", "true");
      badge.textContent = String(i + 1);
      const body = document.createElement("div");
      body.className = "editor-checkpoint-body";
      const name = document.createElement("strong");
      name.className = "checkpoint-name user-text";
      name.textContent = cp.name;
      const where = document.createElement("span");
      where.className = "muted checkpoint-coords";
      where.textContent = cp.lat.toFixed(6) + ", " + cp.lon.toFixed(6);
      body.appendChild(name);
      body.appendChild(document.createElement("br"));
      body.appendChild(where);
      const tools = document.createElement("div");
      tools.className = "editor-checkpoint-tools";
      if (cp.id) {
        const edit = document.createElement("a");
        edit.className = "button small";
        edit.href = urlWithId(data.checkpointEditUrl, cp.id);
        edit.textContent = t.editScenario;
        tools.appendChild(edit);
      }
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "button small danger";
      remove.textContent = t.remove;
      const hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = " " + fmt(t.checkpoint, { n: i + 1 });
      remove.appendChild(hidden);
      remove.addEventListener("click", function () { removeCheckpoint(cp); });
      tools.appendChild(remove);
      li.appendChild(badge);
      li.appendChild(body);
      li.appendChild(tools);
      list.appendChild(li);
    });
    emptyNote.hidden = checkpoints.length > 0;
  }

  function addCheckpoint(item, initial) {
    if (checkpoints.length >= data.maxCheckpoints) { setStatus(t.tooManyCheckpoints); return; }
    const cp = { id: item.id || null, name: item.name, lat: item.lat, lon: item.lon, marker: null };
    cp.marker = L.marker([cp.lat, cp.lon], {
      draggable: true, keyboard: true, icon: checkpointIcon(checkpoints.length + 1),
      zIndexOffset: 1000
    }).addTo(map);
    cp.marker.bindTooltip(tooltipNode(cp.name), { direction: "top", offset: [0, -14] });
    cp.marker.on("dragend", function (e) {
      const ll = e.target.getLatLng();
      cp.lat = ll.lat; cp.lon = ll.lng;
      markDirty();
      renderCheckpoints();
    });
    checkpoints.push(cp);
    if (!initial) { markDirty(); }
    renderCheckpoints();
  }

  function removeCheckpoint(cp) {
    const index = checkpoints.indexOf(cp);
    if (index < 0) { return; }
    map.removeLayer(cp.marker);
    checkpoints.splice(index, 1);
    markDirty();
    renderCheckpoints();
  }

  // ---- naming a new checkpoint ---------------------------------------------------------------
  function startPending(lat, lon) {
    cancelPending();
    pending = {
      lat: lat, lon: lon,
      marker: L.circleMarker([lat, lon], {
        radius: 12, color: "#b3261e", dashArray: "4 4", fill: false, interactive: false
      }).addTo(map)
    };
    nameForm.hidden = false;
    nameInput.value = "";
    nameInput.removeAttribute("aria-invalid");
    nameInput.focus();
  }

  function cancelPending() {
    if (pending) { map.removeLayer(pending.marker); }
    pending = null;
    nameForm.hidden = true;
  }

  nameForm.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!pending) { return; }
    const name = nameInput.value.trim();
    if (!name || name.length > 100) {
      nameInput.setAttribute("aria-invalid", "true");
      setStatus(t.nameRequired);
      nameInput.focus();
      return;
    }
    const place = pending;
    cancelPending();
    addCheckpoint({ id: null, name: name, lat: place.lat, lon: place.lon }, false);
  });
  $("checkpoint-cancel").addEventListener("click", cancelPending);
  nameInput.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { cancelPending(); }
  });

  // ---- modes and map clicks ------------------------------------------------------------------
  function setMode(next) {
    mode = next;
    modeButton.setAttribute("aria-pressed", mode === "checkpoint" ? "true" : "false");
    map.getContainer().classList.toggle("wn-checkpoint-mode", mode === "checkpoint");
    if (mode === "checkpoint") { setStatus(t.pickPlace); } else { cancelPending(); }
  }

  modeButton.addEventListener("click", function () {
    setMode(mode === "checkpoint" ? "route" : "checkpoint");
  });

  map.on("click", function (e) {
    const lat = e.latlng.lat;
    const lon = L.Util.wrapNum(e.latlng.lng, [-180, 180], true);
    if (mode === "checkpoint") {
      const onRoute = snapToRoute(e.latlng);
      if (onRoute) {
        startPending(onRoute.lat, L.Util.wrapNum(onRoute.lng, [-180, 180], true));
      } else {
        startPending(lat, lon);
      }
    } else {
      select(null);
      addRoutePoint(lat, lon, false);
    }
  });

  removeSelectedButton.addEventListener("click", function () {
    if (selected) { removeRoutePoint(selected); }
  });
  removeLastButton.addEventListener("click", function () {
    if (route.length) { removeRoutePoint(route[route.length - 1]); }
  });

  // ---- loading and saving --------------------------------------------------------------------
  function load(state) {
    route.forEach(function (p) { map.removeLayer(p.marker); });
    checkpoints.forEach(function (cp) { map.removeLayer(cp.marker); });
    route = []; checkpoints = []; selected = null;
    state.route.forEach(function (p) { addRoutePoint(p.lat, p.lon, true); });
    state.checkpoints.forEach(function (cp) { addCheckpoint(cp, true); });
    redrawRoute();
    renderCheckpoints();
  }

  function payload() {
    return {
      route: route.map(function (p) { return { lat: p.lat, lon: p.lon }; }),
      checkpoints: checkpoints.map(function (cp, i) {
        return { id: cp.id, name: cp.name, lat: cp.lat, lon: cp.lon, order: i };
      })
    };
  }

  function describePath(path) {
    const m = /^(route|checkpoints)\[(\d+)\]/.exec(path);
    if (!m) { return path; }
    const n = Number(m[2]) + 1;
    return fmt(m[1] === "route" ? t.routePoint : t.checkpoint, { n: n });
  }

  function showErrors(errors) {
    while (errorBox.firstChild) { errorBox.removeChild(errorBox.firstChild); }
    const p = document.createElement("p");
    p.textContent = t.saveFailed;
    errorBox.appendChild(p);
    const ul = document.createElement("ul");
    Object.keys(errors || {}).forEach(function (path) {
      (errors[path] || []).forEach(function (message) {
        const li = document.createElement("li");
        li.textContent = describePath(path) + ": " + message;
        li.setAttribute("data-path", path);
        ul.appendChild(li);
      });
    });
    errorBox.appendChild(ul);
    errorBox.hidden = false;
  }

  function save() {
    if (saving) { return; }
    saving = true;
    saveButton.disabled = true;
    errorBox.hidden = true;
    setStatus(t.saving);
    fetch(data.saveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": csrfToken()
      },
      body: JSON.stringify(payload())
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok) {
          load({ route: body.route, checkpoints: body.checkpoints });
          dirty = false;
          setStatus(t.saved);
        } else {
          showErrors(body.errors || {});
          setStatus(body.message || t.saveFailed);
        }
      });
    }).catch(function () {
      setStatus(t.networkError);
    }).then(function () {
      saving = false;
      saveButton.disabled = false;
    });
  }

  saveButton.addEventListener("click", save);

  window.addEventListener("beforeunload", function (e) {
    if (dirty) {
      e.preventDefault();
      e.returnValue = "";
      return "";
    }
    return undefined;
  });

  document.addEventListener("keydown", function (e) {
    const tag = (e.target && e.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") { return; }
    if ((e.key === "Delete" || e.key === "Backspace") && selected) {
      e.preventDefault();
      removeRoutePoint(selected);
    }
  });

  load(data.state);
  setStatus("");
  // Exposed for tests and for people who want to script the editor.
  window.watchnetRouteEditor = { payload: payload, isDirty: function () { return dirty; } };
}

init();
