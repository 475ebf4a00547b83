/* Landmark picker: clicking the map fills the latitude and longitude inputs of a form and
   shows a marker where the landmark will go. Loaded after the map script, configured by the
   data-map (key in window.watchnetMaps) and data-form (form id) attributes of its tag. */
(function () {
  "use strict";
  var tag = document.currentScript;
  var map = (window.watchnetMaps || {})[tag.dataset.map || "main"];
  var form = document.getElementById(tag.dataset.form || "landmark-form");
  if (!map || !form || !window.L) { return; }
  var lat = form.querySelector("input[name=lat]");
  var lon = form.querySelector("input[name=lon]");
  var marker = null;

  function place(latlng) {
    if (marker) { marker.setLatLng(latlng); return; }
    marker = L.circleMarker(latlng, { radius: 9, color: "#b3261e", weight: 3, fillOpacity: 0.4 })
      .addTo(map);
  }

  map.on("click", function (e) {
    lat.value = e.latlng.lat.toFixed(6);
    lon.value = e.latlng.lng.toFixed(6);
    place(e.latlng);
    lat.dispatchEvent(new Event("change", { bubbles: true }));
  });

  var a = parseFloat(lat.value), b = parseFloat(lon.value);
  if (isFinite(a) && isFinite(b) && lat.value !== "" && lon.value !== "") { place([a, b]); }
})();
