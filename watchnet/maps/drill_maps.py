"""Folium maps of a drill: the read-only drill map and the route editor's base map.

Takes already-loaded domain objects; never queries the database. User text (checkpoint and
landmark names) is escaped by the builders in watchnet.maps.builders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import folium

from watchnet.districts.models import District, Landmark
from watchnet.drills.models import Drill
from watchnet.maps.builders import (
    MapParts,
    TileSettings,
    add_checkpoints,
    add_landmarks,
    add_route,
    fit_to,
    new_map,
    render_parts,
)


def tile_settings(config: Mapping[str, Any]) -> TileSettings:
    """The tile source configured for the app (GSI standard tiles by default)."""
    return TileSettings(
        url=config["TILE_URL"],
        attribution=config["TILE_ATTRIBUTION"],
        max_zoom=int(config.get("TILE_MAX_ZOOM", 18)),
    )


def _drill_points(drill: Drill) -> list[tuple[float, float]]:
    return drill.route_latlons + [(cp.lat, cp.lon) for cp in drill.checkpoints]


def _center(district: District, points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    if points:
        lats = [p[0] for p in points]
        lons = [p[1] for p in points]
        return (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
    return district.center_lat, district.center_lon


def build_drill_map(
    drill: Drill, landmarks: Sequence[Landmark], tiles: TileSettings, zoom: int = 16
) -> folium.Map:
    """The drill's route, numbered checkpoints and the district's landmarks."""
    points = _drill_points(drill)
    m = new_map(_center(drill.district, points), tiles, zoom=zoom)
    add_landmarks(m, landmarks)
    add_route(m, drill.route_latlons)
    add_checkpoints(
        m, [(i, cp.name, cp.lat, cp.lon) for i, cp in enumerate(drill.checkpoints, start=1)]
    )
    fit_to(m, points)
    return m


def drill_map_parts(
    drill: Drill, landmarks: Sequence[Landmark], tiles: TileSettings, zoom: int = 16
) -> MapParts:
    """build_drill_map, rendered for a page."""
    return render_parts(build_drill_map(drill, landmarks, tiles, zoom))


def route_editor_map_parts(
    drill: Drill, landmarks: Sequence[Landmark], tiles: TileSettings
) -> MapParts:
    """The editor's base map: tiles and landmarks; route and checkpoints are drawn by
    static/js/route_editor.js from the page's JSON so that they can be edited."""
    points = _drill_points(drill)
    m = new_map(_center(drill.district, points), tiles, zoom=17 if not points else 16)
    add_landmarks(m, landmarks)
    fit_to(m, points)
    return render_parts(m)
