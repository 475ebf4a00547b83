"""The coordinator's search map builder: every layer drawn, user text escaped, live layers
named for the page's script, no CDN assets."""

from __future__ import annotations

from watchnet.maps.alert_maps import (
    AlertMapData,
    Place,
    Ring,
    Searcher,
    Sector,
    SightingMark,
    alert_map_parts,
    format_km,
)
from watchnet.maps.assets import use_local_assets
from watchnet.maps.builders import TileSettings

TILES = TileSettings(url="https://tiles.example/{z}/{x}/{y}.png", attribution="tiles")
HOSTILE = "</script><img src=x onerror=alert(1)>`${x}`"


def test_search_map_draws_every_layer_and_escapes_user_text() -> None:
    use_local_assets("/")
    data = AlertMapData(
        last_seen=Place(36.3335, 138.9455, "Last seen"),
        rings=[Ring(1200, "1.2 km: half", True), Ring(1600, "1.6 km: 89 %")],
        places=[Place(36.338, 138.9455, HOSTILE)],
        sectors=[
            Sector(
                "882e74ae67fffff",
                "taken",
                [(36.33, 138.94), (36.34, 138.94), (36.34, 138.95)],
                HOSTILE,
                True,
            )
        ],
        searchers=[Searcher(7, 36.334, 138.946, HOSTILE)],
        sightings=[SightingMark(3, 36.335, 138.947, "new", HOSTILE)],
        found=Place(36.336, 138.948, "Found here"),
    )
    parts = alert_map_parts(data, TILES)
    script = str(parts.parts.script)
    assert set(parts.layers) == {
        "sectors",
        "rings",
        "places",
        "sightings",
        "searchers",
        "last_seen",
        "found",
    }
    for name in parts.layers.values():
        assert f"var {name} = L.featureGroup" in script  # reachable as window[name]
    assert "wn-ring wn-ring-current" in script and "wn-sector wn-sector-taken" in script
    assert "wn-searcher wn-searcher-7" in script and "wn-sighting-badge new" in script
    assert "</script>" not in script and "<img" not in script and "`${" not in script
    assert "&lt;img" in script
    assert "unpkg" not in str(parts.parts.header) and "cdn" not in str(parts.parts.header)


def test_distances_read_as_people_say_them() -> None:
    assert format_km(800) == "800 m"
    assert format_km(1200) == "1.2 km"
    assert format_km(9500) == "9.5 km"
