"""Folium maps of a registered person: home and usual places (read-only), and the base map of
the registration form (static/js/registry_form.js draws and edits the points on it).

Takes plain data (PersonMap, built by watchnet.registry.map_data.person_map_data); imports no
models and never queries the database. Place names are escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import folium

from watchnet.maps.builders import (
    LatLon,
    MapParts,
    MapPoint,
    NamedPoint,
    TileSettings,
    add_landmarks,
    escape_for_map,
    fit_to,
    new_map,
    render_parts,
)

HOME_COLOR = "#1d6b35"
PLACE_COLOR = "#7a3e9d"


# A house drawn, not a word: the badge reads the same in every language (the marker's tooltip
# says "home" in words). static/js/registry_form.js draws the same badge.
HOME_BADGE_SVG = (
    '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">'
    '<path d="M12 3 2 12h3v8h5v-5h4v5h5v-8h3z" fill="currentColor"/></svg>'
)


def home_icon(label: str) -> folium.DivIcon:
    """A square "home" badge (a house), distinct from the round numbered place badges; `label`
    names it for screen readers (Leaflet makes the marker a focusable button)."""
    return folium.DivIcon(
        html=(
            f'<div class="wn-home-badge">{HOME_BADGE_SVG}'
            f'<span class="visually-hidden">{escape_for_map(label)}</span></div>'
        ),
        icon_size=(32, 32),
        icon_anchor=(16, 16),
        class_name="wn-home-icon",
    )


def place_icon(number: int) -> folium.DivIcon:
    """A round numbered badge for a usual place."""
    return folium.DivIcon(
        html=f'<div class="wn-place-badge">{int(number)}</div>',
        icon_size=(30, 30),
        icon_anchor=(15, 15),
        class_name="wn-place-icon",
    )


@dataclass(frozen=True)
class PersonMap:
    """What a person's map shows: home (if known), the usual places in order, and the
    district's centre for a person with neither."""

    home: LatLon | None
    home_address: str
    places: Sequence[MapPoint]
    district_center: LatLon


def _points(person: PersonMap) -> list[LatLon]:
    points = [(p.lat, p.lon) for p in person.places]
    if person.home is not None:
        points.insert(0, person.home)
    return points


def _center(district_center: LatLon, points: Sequence[LatLon]) -> LatLon:
    if points:
        return points[0]
    return district_center


def person_map_parts(
    person: PersonMap, landmarks: Sequence[NamedPoint], tiles: TileSettings, home_label: str
) -> MapParts:
    """The person's home and numbered usual places, with the district's landmarks."""
    points = _points(person)
    m = new_map(_center(person.district_center, points), tiles, zoom=16)
    add_landmarks(m, landmarks)
    group = folium.FeatureGroup(name="person")
    if person.home is not None:
        folium.Marker(
            list(person.home),
            icon=home_icon(home_label),
            tooltip=folium.Tooltip(escape_for_map(person.home_address or home_label)),
        ).add_to(group)
    for number, place in enumerate(person.places, start=1):
        folium.Marker(
            [place.lat, place.lon],
            icon=place_icon(number),
            tooltip=folium.Tooltip(escape_for_map(place.name)),
        ).add_to(group)
    group.add_to(m)
    fit_to(m, points)
    return render_parts(m)


def person_form_map_parts(
    district_center: LatLon,
    points: Sequence[LatLon],
    landmarks: Sequence[NamedPoint],
    tiles: TileSettings,
) -> MapParts:
    """The form's base map: tiles and landmarks, centred on the points already entered."""
    m = new_map(_center(district_center, points), tiles, zoom=16)
    add_landmarks(m, landmarks)
    fit_to(m, points)
    return render_parts(m)
