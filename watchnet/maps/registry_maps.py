"""Folium maps of a registered person: home and usual places (read-only), and the base map of
the registration form (static/js/registry_form.js draws and edits the points on it).

Takes already-loaded objects; never queries the database. Place names are escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

import folium

from watchnet.districts.models import District, Landmark
from watchnet.maps.builders import (
    LatLon,
    MapParts,
    TileSettings,
    add_landmarks,
    escape_for_map,
    fit_to,
    new_map,
    render_parts,
)
from watchnet.registry.models import AtRiskPerson

HOME_COLOR = "#1d6b35"
PLACE_COLOR = "#7a3e9d"


def home_icon() -> folium.DivIcon:
    """A square "home" badge (家), distinct from the round numbered place badges."""
    return folium.DivIcon(
        html='<div class="wn-home-badge">家</div>',
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


def _points(person: AtRiskPerson) -> list[LatLon]:
    points = [(p.lat, p.lon) for p in person.places]
    if person.home_lat is not None and person.home_lon is not None:
        points.insert(0, (person.home_lat, person.home_lon))
    return points


def _center(district: District, points: Sequence[LatLon]) -> LatLon:
    if points:
        return points[0]
    return district.center_lat, district.center_lon


def person_map_parts(
    person: AtRiskPerson, landmarks: Sequence[Landmark], tiles: TileSettings, home_label: str
) -> MapParts:
    """The person's home and numbered usual places, with the district's landmarks."""
    points = _points(person)
    m = new_map(_center(person.district, points), tiles, zoom=16)
    add_landmarks(m, landmarks)
    group = folium.FeatureGroup(name="person")
    if person.home_lat is not None and person.home_lon is not None:
        folium.Marker(
            [person.home_lat, person.home_lon],
            icon=home_icon(),
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
    district: District, points: Sequence[LatLon], landmarks: Sequence[Landmark], tiles: TileSettings
) -> MapParts:
    """The form's base map: tiles and landmarks, centred on the points already entered."""
    m = new_map(_center(district, points), tiles, zoom=16)
    add_landmarks(m, landmarks)
    fit_to(m, points)
    return render_parts(m)
