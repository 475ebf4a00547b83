/* Registration form map: a click sets the home (fills home_lat/home_lon) or adds a usual place
   (a numbered row from <template id="place-row-template"> whose name the user then types).
   Rows already in the form (editing, or a form shown again with errors) are drawn on load.
   Markers are plain Leaflet circle markers and div icons: no icon fonts, nothing from a CDN. */
(function () {
  "use strict";
  var map = (window.watchnetMaps || {}).main;
  var form = document.getElementById("person-form");
  if (!map || !form || !window.L) { return; }
  var i18n = JSON.parse(document.getElementById("registry-form-i18n").textContent);
  var homeLat = form.querySelector("input[name=home_lat]");
  var homeLon = form.querySelector("input[name=home_lon]");
  var list = document.getElementById("place-list");
  var empty = document.getElementById("place-empty");
  var template = document.getElementById("place-row-template");
  var status = document.getElementById("registry-form-status");
  var modeHome = document.getElementById("mode-home");
  var modePlace = document.getElementById("mode-place");
  var MAX_PLACES = 30;
  var mode = "home";
  var homeMarker = null;
  var nextIndex = 0;

  function say(text) { status.textContent = text; }

  function setMode(value) {
    mode = value;
    modeHome.setAttribute("aria-pressed", String(value === "home"));
    modePlace.setAttribute("aria-pressed", String(value === "place"));
  }

  function homeIcon() {
    return L.divIcon({ html: '<div class="wn-home-badge">家</div>', className: "wn-home-icon",
                       iconSize: [32, 32], iconAnchor: [16, 16] });
  }

  function placeIcon(n) {
    return L.divIcon({ html: '<div class="wn-place-badge">' + n + "</div>",
                       className: "wn-place-icon", iconSize: [30, 30], iconAnchor: [15, 15] });
  }

  function showHome() {
    var a = parseFloat(homeLat.value), b = parseFloat(homeLon.value);
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
    var lat = parseFloat(row.querySelector(".place-lat").value);
    var lon = parseFloat(row.querySelector(".place-lon").value);
    if (isFinite(lat) && isFinite(lon)) {
      row._marker = L.marker([lat, lon], { icon: placeIcon(1), keyboard: false }).addTo(map);
    }
    row.querySelector(".place-remove").addEventListener("click", function () {
      if (row._marker) { map.removeLayer(row._marker); }
      row.remove();
      renumber();
      say(i18n.placeRemoved);
    });
    var idx = parseInt(row.dataset.index, 10);
    if (isFinite(idx) && idx >= nextIndex) { nextIndex = idx + 1; }
  }

  function addPlace(latlng) {
    if (rows().length >= MAX_PLACES) { say(i18n.tooManyPlaces); return; }
    var index = nextIndex++;
    var html = template.innerHTML.replace(/__i__/g, String(index));
    var holder = document.createElement("ol");
    holder.innerHTML = html.trim();
    var row = holder.firstElementChild;
    row.querySelector(".place-lat").value = latlng.lat.toFixed(6);
    row.querySelector(".place-lon").value = latlng.lng.toFixed(6);
    list.appendChild(row);
    attach(row);
    renumber();
    var name = row.querySelector("input[type=text]");
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
})();
