// Replay of a drill: draws each phone's track and the encounter steps up to the time the
// slider shows. Data comes from the page (#replay-data); the map from window.watchnetMaps.main.
import { readJson } from "./lib/dom.js";

const dataEl = document.getElementById("replay-data");
const map = window.watchnetMaps && window.watchnetMaps.main;
if (dataEl && map && window.L) { initReplay(dataEl, map); }

function initReplay(dataEl, map) {
  const data = JSON.parse(dataEl.textContent);
  const zone = readJson("replay-zone");
  const slider = document.getElementById("replay-slider");
  const timeOut = document.getElementById("replay-time");
  const summary = document.getElementById("replay-summary");
  const playButton = document.getElementById("replay-play");
  const clock = new Intl.DateTimeFormat(document.documentElement.lang || "ja", {
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZone: zone
  });

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  let timer = null;
  const trackLayer = L.layerGroup().addTo(map);
  const stepLayer = L.layerGroup().addTo(map);

  const tracks = data.tracks.map(function (track) {
    const line = L.polyline([], {color: track.color, weight: 4, opacity: 0.8,
                               className: "replay-track"});
    const here = L.circleMarker([0, 0], {radius: 7, color: "#fff", weight: 2,
                                       fillColor: track.color, fillOpacity: 1,
                                       className: "replay-here"});
    here.bindTooltip(escapeHtml(track.name + (track.team ? " (" + track.team + ")" : "")));
    return {track: track, line: line, here: here, shown: false};
  });

  const steps = data.steps.map(function (step) {
    const marker = L.circleMarker([step.lat, step.lon], {
      radius: 8, color: "#222", weight: 2, fillColor: step.color, fillOpacity: 0.9,
      dashArray: step.at_checkpoint ? "3 3" : null, className: "replay-step"
    });
    const when = clock.format(new Date(step.t));
    marker.bindTooltip(escapeHtml(when + " " + step.label + " — " + step.name +
                                  (step.team ? " (" + step.team + ")" : "") +
                                  (step.checkpoint ? " @ " + step.checkpoint : "")));
    return {step: step, marker: marker, shown: false};
  });

  // The heat map Folium drew (every position) follows the slider: only where people had
  // walked by the time shown. Points sorted by time, so each draw is a slice.
  let heat = null;
  map.eachLayer(function (layer) {
    if (L.HeatLayer && layer instanceof L.HeatLayer) { heat = layer; }
  });
  const heatPoints = [];
  data.tracks.forEach(function (track) {
    track.points.forEach(function (p) { heatPoints.push(p); });
  });
  heatPoints.sort(function (a, b) { return a[0] - b[0]; });
  function pointsUntil(t) {
    let lo = 0, hi = heatPoints.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (heatPoints[mid][0] <= t) { lo = mid + 1; } else { hi = mid; }
    }
    return lo;
  }
  let heatShown = -1;

  // The event list beside the map: steps still to come are dimmed, the last one shown is
  // marked, and choosing one moves the replay to its time.
  const eventItems = Array.prototype.slice.call(
    document.querySelectorAll("#replay-events li[data-t]"));
  eventItems.forEach(function (li) {
    li.querySelector("button").addEventListener("click", function () {
      stop();
      slider.value = String(Math.round((Number(li.dataset.t) - data.start) / 1000));
      drawUntil(current());
    });
  });

  function drawUntil(t) {
    let visible = 0;
    if (heat) {
      const n = pointsUntil(t);
      if (n !== heatShown) {
        heat.setLatLngs(heatPoints.slice(0, n).map(function (p) { return [p[1], p[2]]; }));
        heatShown = n;
      }
    }
    let lastShown = null;
    eventItems.forEach(function (li) {
      const due = Number(li.dataset.t) <= t;
      li.classList.toggle("is-future", !due);
      li.removeAttribute("aria-current");
      if (due) { lastShown = li; }
    });
    if (lastShown) { lastShown.setAttribute("aria-current", "step"); }
    tracks.forEach(function (item) {
      const pts = item.track.points.filter(function (p) { return p[0] <= t; });
      if (pts.length) {
        const latlngs = pts.map(function (p) { return [p[1], p[2]]; });
        item.line.setLatLngs(latlngs);
        item.here.setLatLng(latlngs[latlngs.length - 1]);
        if (!item.shown) { trackLayer.addLayer(item.line); trackLayer.addLayer(item.here); }
        item.shown = true;
      } else if (item.shown) {
        trackLayer.removeLayer(item.line); trackLayer.removeLayer(item.here);
        item.shown = false;
      }
    });
    steps.forEach(function (item) {
      const due = item.step.t <= t;
      if (due && !item.shown) { stepLayer.addLayer(item.marker); }
      if (!due && item.shown) { stepLayer.removeLayer(item.marker); }
      item.shown = due;
      if (due) { visible += 1; }
    });
    timeOut.textContent = clock.format(new Date(t));
    summary.textContent = summary.getAttribute("data-template").replace("{steps}", visible);
    summary.setAttribute("data-visible-steps", String(visible));
  }

  function current() { return data.start + Number(slider.value) * 1000; }

  function stop() {
    if (timer) { clearInterval(timer); timer = null; }
    playButton.setAttribute("aria-pressed", "false");
    playButton.textContent = playButton.getAttribute("data-play");
  }
  playButton.addEventListener("click", function () {
    if (timer) { stop(); return; }
    if (Number(slider.value) >= Number(slider.max)) { slider.value = "0"; }
    playButton.setAttribute("aria-pressed", "true");
    playButton.textContent = playButton.getAttribute("data-pause");
    // About a minute of replay for the whole drill, whatever its length.
    const stepS = Math.max(1, Math.round(Number(slider.max) / 240));
    timer = setInterval(function () {
      const next = Math.min(Number(slider.max), Number(slider.value) + stepS);
      slider.value = String(next);
      drawUntil(current());
      if (next >= Number(slider.max)) { stop(); }
    }, 250);
  });
  slider.addEventListener("input", function () { drawUntil(current()); });
  drawUntil(current());
}
