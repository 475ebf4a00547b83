/* The route editor: draw a drill's route and place its checkpoints on the Folium map.
 *
 * Reads the saved geometry and the translated labels from two JSON blocks in the page
 * (#route-editor-data, #route-editor-i18n), edits them on window.watchnetMaps.main (Leaflet),
 * and sends them back with fetch + the CSRF token. User text only ever goes into the page via
 * textContent or DOM nodes, never as HTML.
 */
(function () {
  "use strict";

  var EARTH_RADIUS_M = 6371008.8;
  var ROUTE_COLOR = "#0b5cad";

  function readJson(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  }

  function $(id) { return document.getElementById(id); }

  function haversine(a, b) {
    var rad = Math.PI / 180;
    var dLat = (b.lat - a.lat) * rad;
    var dLon = (b.lon - a.lon) * rad;
    var h = Math.pow(Math.sin(dLat / 2), 2) +
      Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.pow(Math.sin(dLon / 2), 2);
    return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
  }

  function init() {
    var data = readJson("route-editor-data");
    var t = readJson("route-editor-i18n");
    var map = window.watchnetMaps && window.watchnetMaps.main;
    if (!map || !window.L) { return; }

    var route = [];        // [{lat, lon, marker}]
    var checkpoints = [];  // [{id, name, lat, lon, marker}]
    var selected = null;   // the selected route point object
    var mode = "route";
    var pending = null;    // {lat, lon, marker} waiting for a name
    var dirty = false;
    var saving = false;

    var line = L.polyline([], { color: ROUTE_COLOR, weight: 5, opacity: 0.85, interactive: false })
      .addTo(map);

    var modeButton = $("mode-checkpoint");
    var removeSelectedButton = $("remove-selected");
    var removeLastButton = $("remove-last");
    var saveButton = $("save-route");
    var statusBox = $("editor-status");
    var errorBox = $("editor-errors");
    var nameForm = $("checkpoint-name-form");
    var nameInput = $("checkpoint-name");
    var list = $("checkpoint-list");
    var emptyNote = $("checkpoint-empty");

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
        var el = p.marker.getElement();
        if (el) {
          el.setAttribute("title", p.marker.options.title);
          el.setAttribute("aria-label", p.marker.options.title);
        }
      });
      var length = 0;
      for (var i = 1; i < route.length; i++) { length += haversine(route[i - 1], route[i]); }
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
      var point = { lat: lat, lon: lon, marker: null };
      point.marker = L.marker([lat, lon], {
        draggable: true, keyboard: true, icon: vertexIcon(false), riseOnHover: true
      }).addTo(map);
      point.marker.on("drag", function (e) {
        var ll = e.target.getLatLng();
        point.lat = ll.lat; point.lon = ll.lng;
        redrawRoute();
      });
      point.marker.on("dragend", function () { markDirty(); });
      // Enter on a focused point clicks it; Delete then removes the selected point.
      point.marker.on("click", function () { select(point); });
      route.push(point);
      if (!initial) { markDirty(); }
      redrawRoute();
    }

    function removeRoutePoint(point) {
      var index = route.indexOf(point);
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
      var span = document.createElement("span");
      span.textContent = text;
      return span;
    }

    function renderCheckpoints() {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      checkpoints.forEach(function (cp, i) {
        cp.marker.setIcon(checkpointIcon(i + 1));
        cp.marker.setTooltipContent(tooltipNode((i + 1) + ". " + cp.name));

        var li = document.createElement("li");
        li.className = "editor-checkpoint";
        var badge = document.createElement("span");
        badge.className = "wn-cp-badge";
        badge.setAttribute("aria-hidden", "true");
        badge.textContent = String(i + 1);
        var body = document.createElement("div");
        body.className = "editor-checkpoint-body";
        var name = document.createElement("strong");
        name.className = "checkpoint-name user-text";
        name.textContent = cp.name;
        var where = document.createElement("span");
        where.className = "muted checkpoint-coords";
        where.textContent = cp.lat.toFixed(6) + ", " + cp.lon.toFixed(6);
        body.appendChild(name);
        body.appendChild(document.createElement("br"));
        body.appendChild(where);
        var tools = document.createElement("div");
        tools.className = "editor-checkpoint-tools";
        if (cp.id) {
          var edit = document.createElement("a");
          edit.className = "button small";
          edit.href = data.checkpointEditUrl.replace(/\/0\/edit$/, "/" + cp.id + "/edit");
          edit.textContent = t.editScenario;
          tools.appendChild(edit);
        }
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "button small danger";
        remove.textContent = t.remove;
        var hidden = document.createElement("span");
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
      var cp = { id: item.id || null, name: item.name, lat: item.lat, lon: item.lon, marker: null };
      cp.marker = L.marker([cp.lat, cp.lon], {
        draggable: true, keyboard: true, icon: checkpointIcon(checkpoints.length + 1),
        zIndexOffset: 1000
      }).addTo(map);
      cp.marker.bindTooltip(tooltipNode(cp.name), { direction: "top", offset: [0, -14] });
      cp.marker.on("dragend", function (e) {
        var ll = e.target.getLatLng();
        cp.lat = ll.lat; cp.lon = ll.lng;
        markDirty();
        renderCheckpoints();
      });
      checkpoints.push(cp);
      if (!initial) { markDirty(); }
      renderCheckpoints();
    }

    function removeCheckpoint(cp) {
      var index = checkpoints.indexOf(cp);
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
      var name = nameInput.value.trim();
      if (!name || name.length > 100) {
        nameInput.setAttribute("aria-invalid", "true");
        setStatus(t.nameRequired);
        nameInput.focus();
        return;
      }
      var place = pending;
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
      var lat = e.latlng.lat;
      var lon = L.Util.wrapNum(e.latlng.lng, [-180, 180], true);
      if (mode === "checkpoint") {
        startPending(lat, lon);
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
      var m = /^(route|checkpoints)\[(\d+)\]/.exec(path);
      if (!m) { return path; }
      var n = Number(m[2]) + 1;
      return fmt(m[1] === "route" ? t.routePoint : t.checkpoint, { n: n });
    }

    function showErrors(errors) {
      while (errorBox.firstChild) { errorBox.removeChild(errorBox.firstChild); }
      var p = document.createElement("p");
      p.textContent = t.saveFailed;
      errorBox.appendChild(p);
      var ul = document.createElement("ul");
      Object.keys(errors || {}).forEach(function (path) {
        (errors[path] || []).forEach(function (message) {
          var li = document.createElement("li");
          li.textContent = describePath(path) + ": " + message;
          li.setAttribute("data-path", path);
          ul.appendChild(li);
        });
      });
      errorBox.appendChild(ul);
      errorBox.hidden = false;
    }

    function csrfToken() {
      var meta = document.querySelector('meta[name="csrf-token"]');
      return meta ? meta.getAttribute("content") : "";
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
      var tag = (e.target && e.target.tagName) || "";
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

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
