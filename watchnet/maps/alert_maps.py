"""Folium maps of an alert: the coordinator's search map and the place pickers of the start and
close forms.

Builders take plain data (already loaded, already labelled) and never query the database.
The search map puts each changing layer (rings, sectors, searchers, sightings) in its own
feature group and returns the groups' JavaScript names, so static/js/alert_staff.js can redraw
them from the live state without a reload. Every user-supplied string is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import folium

from watchnet.maps.builders import (
    LatLon,
    MapParts,
    MapPoint,
    TileSettings,
    add_landmarks,
    escape_for_map,
    fit_to,
    new_map,
    render_parts,
)

# Colours chosen to stay distinguishable for common colour-vision differences.
LAST_SEEN_COLOR = "#b3261e"
RING_COLOR = "#0b5cad"
CURRENT_RING_COLOR = "#b3261e"
PLACE_COLOR = "#7b3fa0"
SEARCHER_COLOR = "#1d6b35"
FOUND_COLOR = "#1d6b35"
SECTOR_STYLE: dict[str, dict[str, str | float]] = {
    "taken": {"color": "#b26a00", "fillColor": "#f0a030", "fillOpacity": 0.30},
    "walked": {"color": "#1d6b35", "fillColor": "#4caf50", "fillOpacity": 0.30},
    "untouched": {"color": "#777777", "fillColor": "#ffffff", "fillOpacity": 0.05},
}

METRES_PER_DEGREE_LAT = 111_320.0

# Sightings sit in a pane of their own above every label: Leaflet's tooltip pane (650, the
# searchers' names and "last seen") and its marker pane (600, the rings' labels), and the
# landmark labels (builders.LANDMARK_LABEL_PANE, 590). A coordinator must never miss a
# sighting under a label. Popups (700) still open above them. static/js/alert_staff.js
# draws live sightings into the same pane.
SIGHTING_PANE = "wnSightings"
SIGHTING_PANE_Z = 660


def format_km(radius_m: float) -> str:
    """A distance as people read it on a map: "1.2 km", "800 m"."""
    if radius_m < 1000:
        return f"{round(radius_m):d} m"
    return f"{radius_m / 1000:.1f} km"


@dataclass(frozen=True)
class Ring:
    radius_m: float
    label: str  # e.g. "1.2 km：半数が発見される距離（Grampian 調査）"
    is_current: bool = False


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float
    label: str


@dataclass(frozen=True)
class Sector:
    cell: str
    state: str  # taken | walked | untouched
    boundary: Sequence[LatLon]
    label: str
    is_priority: bool = False


@dataclass(frozen=True)
class Searcher:
    supporter_id: int
    lat: float
    lon: float
    label: str


@dataclass(frozen=True)
class SightingMark:
    sighting_id: int
    lat: float
    lon: float
    status: str
    label: str


@dataclass(frozen=True)
class AlertMapData:
    """Everything the search map shows, labelled in the user's language."""

    last_seen: Place
    rings: Sequence[Ring] = ()
    places: Sequence[Place] = ()
    sectors: Sequence[Sector] = ()
    searchers: Sequence[Searcher] = ()
    sightings: Sequence[SightingMark] = ()
    found: Place | None = None
    landmarks: Sequence[Place] = ()


@dataclass(frozen=True)
class AlertMapParts:
    """The rendered map plus the JavaScript names of its live layers (for alert_staff.js)."""

    parts: MapParts
    layers: dict[str, str] = field(default_factory=dict)


def ring_label_point(lat: float, lon: float, radius_m: float) -> LatLon:
    """The northernmost point of a ring, where its label sits."""
    return lat + radius_m / METRES_PER_DEGREE_LAT, lon


def _label_icon(text: str, class_name: str) -> folium.DivIcon:
    return folium.DivIcon(
        html=f'<div class="{class_name}">{escape_for_map(text)}</div>',
        icon_size=None,
        icon_anchor=(0, 12),
        class_name="wn-label-icon",
    )


def add_rings(group: folium.FeatureGroup, centre: LatLon, rings: Sequence[Ring]) -> None:
    """The schedule's rings around the last-seen point, each labelled; the current one bold."""
    for ring in rings:
        color = CURRENT_RING_COLOR if ring.is_current else RING_COLOR
        folium.Circle(
            list(centre),
            radius=ring.radius_m,
            color=color,
            fill=False,
            weight=4 if ring.is_current else 2,
            dash_array=None if ring.is_current else "6 6",
            tooltip=folium.Tooltip(escape_for_map(ring.label)),
            class_name="wn-ring wn-ring-current" if ring.is_current else "wn-ring",
        ).add_to(group)
        folium.Marker(
            list(ring_label_point(centre[0], centre[1], ring.radius_m)),
            icon=_label_icon(ring.label, "wn-ring-label" + (" current" if ring.is_current else "")),
            interactive=False,
            keyboard=False,
        ).add_to(group)


def add_sectors(group: folium.FeatureGroup, sectors: Sequence[Sector]) -> None:
    """H3 sectors coloured by state; priorities (a usual place lies in them) outlined thick."""
    for sector in sectors:
        style = SECTOR_STYLE.get(sector.state, SECTOR_STYLE["untouched"])
        folium.Polygon(
            [list(p) for p in sector.boundary],
            color=style["color"],
            fill=True,
            fill_color=style["fillColor"],
            fill_opacity=style["fillOpacity"],
            weight=4 if sector.is_priority else 1,
            tooltip=folium.Tooltip(escape_for_map(sector.label)),
            class_name=f"wn-sector wn-sector-{sector.state}",
        ).add_to(group)


def add_searchers(group: folium.FeatureGroup, searchers: Sequence[Searcher]) -> None:
    """Searchers' latest positions, name as a label."""
    for s in searchers:
        folium.CircleMarker(
            [s.lat, s.lon],
            radius=8,
            color="#ffffff",
            weight=2,
            fill=True,
            fill_color=SEARCHER_COLOR,
            fill_opacity=0.95,
            tooltip=folium.Tooltip(escape_for_map(s.label), permanent=True, direction="right"),
            class_name=f"wn-searcher wn-searcher-{int(s.supporter_id)}",
        ).add_to(group)


def sighting_icon(status: str, sighting_id: int = 0) -> folium.DivIcon:
    """A diamond badge coloured by review status (CSS in the dashboard; no icon fonts)."""
    status = escape_for_map(status)
    return folium.DivIcon(
        html=f'<div class="wn-sighting-badge {status}">!</div>',
        icon_size=(26, 26),
        icon_anchor=(13, 13),
        class_name=f"wn-sighting wn-sighting-{status} wn-sighting-s{int(sighting_id)}",
    )


def add_sightings(group: folium.FeatureGroup, sightings: Sequence[SightingMark]) -> None:
    """Sightings as diamonds coloured by their review status, in their own pane above every
    label; the newest report (first in the list) on top of the others."""
    count = len(sightings)
    for index, s in enumerate(sightings):
        folium.Marker(
            [s.lat, s.lon],
            icon=sighting_icon(s.status, s.sighting_id),
            tooltip=folium.Tooltip(escape_for_map(s.label)),
            pane=SIGHTING_PANE,
            z_index_offset=(count - index) * 10,
        ).add_to(group)


def add_point(
    group: folium.FeatureGroup,
    place: Place,
    color: str,
    radius: int,
    class_name: str,
    permanent: bool = True,
) -> None:
    folium.CircleMarker(
        [place.lat, place.lon],
        radius=radius,
        color="#ffffff",
        weight=3,
        fill=True,
        fill_color=color,
        fill_opacity=1.0,
        tooltip=folium.Tooltip(escape_for_map(place.label), permanent=permanent, direction="right"),
        class_name=class_name,
    ).add_to(group)


def build_alert_map(data: AlertMapData, tiles: TileSettings) -> tuple[folium.Map, dict[str, str]]:
    """The search map and the names of its live layers."""
    centre = (data.last_seen.lat, data.last_seen.lon)
    m = new_map(centre, tiles, zoom=14)
    folium.map.CustomPane(SIGHTING_PANE, z_index=SIGHTING_PANE_Z, pointer_events=True).add_to(m)
    if data.landmarks:
        add_landmarks(m, [MapPoint(p.label, p.lat, p.lon) for p in data.landmarks])
    groups = {
        name: folium.FeatureGroup(name=name)
        for name in ("sectors", "rings", "places", "sightings", "searchers", "last_seen", "found")
    }
    add_sectors(groups["sectors"], data.sectors)
    add_rings(groups["rings"], centre, data.rings)
    for place in data.places:
        add_point(groups["places"], place, PLACE_COLOR, 8, "wn-place", permanent=False)
    add_sightings(groups["sightings"], data.sightings)
    add_searchers(groups["searchers"], data.searchers)
    add_point(groups["last_seen"], data.last_seen, LAST_SEEN_COLOR, 10, "wn-last-seen")
    if data.found is not None:
        add_point(groups["found"], data.found, FOUND_COLOR, 10, "wn-found")
    for group in groups.values():
        group.add_to(m)
    current = [r for r in data.rings if r.is_current] or list(data.rings[:1])
    if current:
        radius = current[0].radius_m
        d_lat = radius / METRES_PER_DEGREE_LAT
        fit_to(
            m,
            [
                (centre[0] - d_lat, centre[1] - d_lat * 1.25),
                (centre[0] + d_lat, centre[1] + d_lat * 1.25),
            ],
        )
    return m, {name: group.get_name() for name, group in groups.items()}


def alert_map_parts(data: AlertMapData, tiles: TileSettings) -> AlertMapParts:
    """build_alert_map, rendered for the dashboard."""
    m, layers = build_alert_map(data, tiles)
    return AlertMapParts(parts=render_parts(m), layers=layers)


def place_picker_parts(
    centre: LatLon, tiles: TileSettings, places: Sequence[Place] = (), zoom: int = 15
) -> MapParts:
    """A base map to click a place on (the start and close forms); known places as hints."""
    m = new_map(centre, tiles, zoom=zoom)
    group = folium.FeatureGroup(name="places")
    for place in places:
        add_point(group, place, PLACE_COLOR, 7, "wn-place", permanent=True)
    group.add_to(m)
    return render_parts(m)
