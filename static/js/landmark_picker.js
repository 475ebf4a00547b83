/* Landmark picker: clicking the map fills the latitude and longitude inputs of the form that
   carries data-landmark-map (the key of its map in window.watchnetMaps) and shows a marker
   where the landmark will go. */
const form = document.querySelector("form[data-landmark-map]");
const map = form && (window.watchnetMaps || {})[form.dataset.landmarkMap];
if (map && window.L) { initPicker(form, map); }

function initPicker(form, map) {
  const lat = form.querySelector("input[name=lat]");
  const lon = form.querySelector("input[name=lon]");
  let marker = null;

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

  const a = parseFloat(lat.value), b = parseFloat(lon.value);
  if (isFinite(a) && isFinite(b) && lat.value !== "" && lon.value !== "") { place([a, b]); }
}
