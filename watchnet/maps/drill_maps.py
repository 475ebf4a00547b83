"""Folium maps of a drill: the read-only drill map and the route editor's base map.

Takes plain data (DrillMap, built by watchnet.drills.map_data.drill_map_data); imports no
models and never queries the database. User text (checkpoint and
landmark names) is escaped by the builders in watchnet.maps.builders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import folium

from watchnet.maps.builders import (
    LatLon,
    MapParts,
    MapPoint,
    NamedPoint,
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


@dataclass(frozen=True)
class DrillMap:
    """What a drill map shows: the route, the checkpoints in order, and the district's centre
    for a drill that has neither yet."""

    route: Sequence[LatLon]
    checkpoints: Sequence[MapPoint]
    district_center: LatLon


def _drill_points(drill: DrillMap) -> list[LatLon]:
    return list(drill.route) + [(cp.lat, cp.lon) for cp in drill.checkpoints]


def _center(drill: DrillMap, points: Sequence[LatLon]) -> LatLon:
    if points:
        lats = [p[0] for p in points]
        lons = [p[1] for p in points]
        return (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
    return drill.district_center


def build_drill_map(
    drill: DrillMap, landmarks: Sequence[NamedPoint], tiles: TileSettings, zoom: int = 16
) -> folium.Map:
    """The drill's route, numbered checkpoints and the district's landmarks."""
    points = _drill_points(drill)
    m = new_map(_center(drill, points), tiles, zoom=zoom)
    add_landmarks(m, landmarks)
    add_route(m, list(drill.route))
    add_checkpoints(
        m, [(i, cp.name, cp.lat, cp.lon) for i, cp in enumerate(drill.checkpoints, start=1)]
    )
    fit_to(m, points)
    return m


def drill_map_parts(
    drill: DrillMap, landmarks: Sequence[NamedPoint], tiles: TileSettings, zoom: int = 16
) -> MapParts:
    """build_drill_map, rendered for a page."""
    return render_parts(build_drill_map(drill, landmarks, tiles, zoom))


def route_editor_map_parts(
    drill: DrillMap, landmarks: Sequence[NamedPoint], tiles: TileSettings
) -> MapParts:
    """The editor's base map: tiles and landmarks; route and checkpoints are drawn by
    static/js/route_editor.js from the page's JSON so that they can be edited."""
    points = _drill_points(drill)
    m = new_map(_center(drill, points), tiles, zoom=17 if not points else 16)
    add_landmarks(m, landmarks)
    fit_to(m, points)
    return render_parts(m)
