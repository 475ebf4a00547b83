/* Registration form map: a click sets the home (fills home_lat/home_lon) or adds a usual place
   (a numbered row from <template id="place-row-template"> whose name the user then types).
   Rows already in the form (editing, or a form shown again with errors) are drawn on load.
   Markers are plain Leaflet circle markers and div icons: no icon fonts, nothing from a CDN. */
import { readJson } from "./lib/dom.js";

const map = (window.watchnetMaps || {}).main;
const form = document.getElementById("person-form");
if (map && form && window.L) { initRegistryMap(map, form); }

function initRegistryMap(map, form) {
  const i18n = readJson("registry-form-i18n");
  const homeLat = form.querySelector("input[name=home_lat]");
  const homeLon = form.querySelector("input[name=home_lon]");
  const list = document.getElementById("place-list");
  const empty = document.getElementById("place-empty");
  const template = document.getElementById("place-row-template");
  const status = document.getElementById("registry-form-status");
  const modeHome = document.getElementById("mode-home");
  const modePlace = document.getElementById("mode-place");
  const MAX_PLACES = 30;
  let mode = "home";
  let homeMarker = null;
  let nextIndex = 0;

  function say(text) { status.textContent = text; }

  function setMode(value) {
    mode = value;
    modeHome.setAttribute("aria-pressed", String(value === "home"));
    modePlace.setAttribute("aria-pressed", String(value === "place"));
  }

  function homeIcon() {
    // A house drawn, not a word (watchnet/maps/registry_maps.py draws the same badge).
    const house = '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">' +
      '<path d="M12 3 2 12h3v8h5v-5h4v5h5v-8h3z" fill="currentColor"/></svg>';
    return L.divIcon({ html: '<div class="wn-home-badge">' + house + "</div>", className: "wn-home-icon",
                       iconSize: [32, 32], iconAnchor: [16, 16] });
  }

  function placeIcon(n) {
    return L.divIcon({ html: '<div class="wn-place-badge">' + n + "</div>",
                       className: "wn-place-icon", iconSize: [30, 30], iconAnchor: [15, 15] });
  }

  function showHome() {
    const a = parseFloat(homeLat.value), b = parseFloat(homeLon.value);
    if (!(isFinite(a) && isFinite(b))) {
      if (homeMarker) { map.removeLayer(homeMarker); homeMarker = null; }
      return;
    }
    if (homeMarker) { homeMarker.setLatLng([a, b]); return; }
    homeMarker = L.marker([a, b], { icon: homeIcon(), keyboard: false }).addTo(map);
  }

  function rows() { return Array.prototype.slice.call(list.querySelectorAll(".place-row")); }

  function renumber() {
    rows().forEach(function (row, i) {
      row.querySelector(".wn-place-badge").textContent = String(i + 1);
      if (row._marker) { row._marker.setIcon(placeIcon(i + 1)); }
    });
    empty.hidden = rows().length > 0;
  }

  function attach(row) {
    const lat = parseFloat(row.querySelector(".place-lat").value);
    const lon = parseFloat(row.querySelector(".place-lon").value);
    if (isFinite(lat) && isFinite(lon)) {
      row._marker = L.marker([lat, lon], { icon: placeIcon(1), keyboard: false }).addTo(map);
    }
    row.querySelector(".place-remove").addEventListener("click", function () {
      if (row._marker) { map.removeLayer(row._marker); }
      row.remove();
      renumber();
      say(i18n.placeRemoved);
    });
    const idx = parseInt(row.dataset.index, 10);
    if (isFinite(idx) && idx >= nextIndex) { nextIndex = idx + 1; }
  }

  function addPlace(latlng) {
    if (rows().length >= MAX_PLACES) { say(i18n.tooManyPlaces); return; }
    const index = nextIndex++;
    const html = template.innerHTML.replace(/__i__/g, String(index));
    const holder = document.createElement("ol");
    holder.innerHTML = html.trim();
    const row = holder.firstElementChild;
    row.querySelector(".place-lat").value = latlng.lat.toFixed(6);
    row.querySelector(".place-lon").value = latlng.lng.toFixed(6);
    list.appendChild(row);
    attach(row);
    renumber();
    const name = row.querySelector("input[type=text]");
    name.focus();
    say(i18n.placeAdded.replace("{n}", String(rows().length)));
  }

  map.on("click", function (e) {
    if (mode === "home") {
      homeLat.value = e.latlng.lat.toFixed(6);
      homeLon.value = e.latlng.lng.toFixed(6);
      showHome();
      say(i18n.homeSet);
    } else {
      addPlace(e.latlng);
    }
  });
  modeHome.addEventListener("click", function () { setMode("home"); });
  modePlace.addEventListener("click", function () { setMode("place"); });
  homeLat.addEventListener("change", showHome);
  homeLon.addEventListener("change", showHome);

  rows().forEach(attach);
  renumber();
  showHome();
  setMode(homeMarker ? "place" : "home");
  window.watchnetRegistryForm = { setMode: setMode, places: function () { return rows().length; } };
}
