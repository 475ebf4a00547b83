"""Folium map builders for drills and districts.

Builders take plain data (the dataclasses below, built by the caller from its models) and tile
settings, and return a folium.Map or its parts for embedding in a page template. They import no
models and never touch the session (an import-linter contract in pyproject.toml checks this).
Every user-supplied string that goes into a tooltip or popup passes through `escape_for_map`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import folium
from markupsafe import Markup

LatLon = tuple[float, float]


class NamedPoint(Protocol):
    """Anything with a name and a position: a MapPoint, or a Landmark row already loaded."""

    @property
    def name(self) -> str: ...

    @property
    def lat(self) -> float: ...

    @property
    def lon(self) -> float: ...


@dataclass(frozen=True)
class MapPoint:
    name: str
    lat: float
    lon: float


# Colours chosen to stay distinguishable for common colour-vision differences.
ROUTE_COLOR = "#0b5cad"
CHECKPOINT_COLOR = "#b3261e"
LANDMARK_COLOR = "#555555"


def escape_for_map(text: str) -> str:
    """Escape text for folium popups and tooltips.

    Folium puts popup and tooltip text inside a JavaScript template literal without escaping,
    so HTML escaping alone is not enough: backticks, `${` and backslashes are escaped too.
    """
    escaped = html.escape(text, quote=True)
    return escaped.replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")


@dataclass(frozen=True)
class TileSettings:
    url: str
    attribution: str
    max_zoom: int = 18


@dataclass(frozen=True)
class MapParts:
    """A rendered map split for a page: header goes in <head>, html in the body, script last."""

    name: str
    header: Markup
    html: Markup
    script: Markup


def new_map(center: LatLon, tiles: TileSettings, zoom: int = 16) -> folium.Map:
    """An empty map with the configured tile layer (GSI by default) and no CDN assets."""
    m = folium.Map(
        location=list(center),
        zoom_start=zoom,
        tiles=None,
        control_scale=True,
        prefer_canvas=False,
        max_zoom=tiles.max_zoom,
    )
    folium.TileLayer(
        tiles=tiles.url,
        attr=tiles.attribution,
        name="tiles",
        max_zoom=tiles.max_zoom,
        control=False,
    ).add_to(m)
    return m


def add_route(m: folium.Map, points: Sequence[LatLon], name: str = "route") -> folium.FeatureGroup:
    """Draw the route as a line; returns the feature group holding it."""
    group = folium.FeatureGroup(name=name)
    if len(points) >= 2:
        folium.PolyLine(list(points), color=ROUTE_COLOR, weight=5, opacity=0.85).add_to(group)
    group.add_to(m)
    return group


def checkpoint_icon(number: int) -> folium.DivIcon:
    """A round numbered badge for a checkpoint (no icon fonts needed)."""
    return folium.DivIcon(
        html=f'<div class="wn-cp-badge">{int(number)}</div>',
        icon_size=(30, 30),
        icon_anchor=(15, 15),
        class_name="wn-cp-icon",
    )


def add_checkpoints(
    m: folium.Map, checkpoints: Iterable[tuple[int, str, float, float]], name: str = "checkpoints"
) -> folium.FeatureGroup:
    """Numbered checkpoint markers with their (escaped) names as tooltips."""
    group = folium.FeatureGroup(name=name)
    for number, label, lat, lon in checkpoints:
        folium.Marker(
            [lat, lon],
            icon=checkpoint_icon(number),
            tooltip=folium.Tooltip(escape_for_map(label)),
        ).add_to(group)
    group.add_to(m)
    return group


# Leaflet's marker pane is at z-index 600, its overlay pane (lines, circles) at 400.
LANDMARK_LABEL_PANE = "wnLandmarkLabels"


def add_landmarks(
    m: folium.Map, landmarks: Iterable[NamedPoint], name: str = "landmarks"
) -> folium.FeatureGroup:
    """Grey dots for the district's named landmarks, name as a permanent label.

    The labels live in a pane of their own between the route and the markers: a checkpoint
    badge next to a landmark stays readable on top of the landmark's label."""
    folium.map.CustomPane(LANDMARK_LABEL_PANE, z_index=590).add_to(m)
    group = folium.FeatureGroup(name=name)
    for lm in landmarks:
        folium.CircleMarker(
            [lm.lat, lm.lon],
            radius=6,
            color=LANDMARK_COLOR,
            fill=True,
            fill_opacity=0.9,
            tooltip=folium.Tooltip(
                escape_for_map(lm.name),
                permanent=True,
                direction="right",
                class_name="wn-landmark-label user-text",
                pane=LANDMARK_LABEL_PANE,
            ),
        ).add_to(group)
    group.add_to(m)
    return group


def fit_to(m: folium.Map, points: Sequence[LatLon]) -> None:
    """Zoom the map to show all points (does nothing for fewer than two)."""
    if len(points) >= 2:
        lats = [p[0] for p in points]
        lons = [p[1] for p in points]
        m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(30, 30))


_FOLIUM_VIEWPORT = re.compile(r"<meta\s+name=\"viewport\"[^>]*>", re.IGNORECASE)


def render_parts(m: folium.Map) -> MapParts:
    """Render a map once and split it for embedding in a page."""
    root = m.get_root()
    assert isinstance(root, folium.Figure)
    root.render()
    # Folium's output is markup by design; user text inside it went through escape_for_map.
    # Folium's own viewport tag forbids pinch-zoom (user-scalable=no, maximum-scale=1): the
    # page's layout has a zoomable one, and older eyes need to zoom.
    header = _FOLIUM_VIEWPORT.sub("", root.header.render())
    return MapParts(
        name=m.get_name(),
        header=Markup(header),  # noqa: S704
        html=Markup(root.html.render()),  # noqa: S704
        script=Markup(root.script.render()),  # noqa: S704
    )
