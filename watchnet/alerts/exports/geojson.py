"""The search as GeoJSON (RFC 7946) for GIS tools and the police: the last-seen point, the
radius rings (circles as polygons, labelled with the statistic each comes from), the sectors
(H3 hexagons: taken, walked or untouched), sightings and the searchers' tracks.

Coordinates are [longitude, latitude] in WGS 84, as RFC 7946 requires (the opposite of
Leaflet's order), rounded to 6 decimals (about 10 cm).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime
from typing import Any

import h3
import sqlalchemy as sa
from flask_babel import gettext as _

from watchnet.alerts.models import Alert, SearchPosition, Sighting
from watchnet.alerts.sectors import search_radius_m, sector_states, short_name
from watchnet.alerts.targeting import radius_schedule, ring_source
from watchnet.core.extensions import db
from watchnet.core.geo import EARTH_RADIUS_M
from watchnet.core.timefmt import to_local
from watchnet.people.models import Supporter

GEOJSON_CONTENT_TYPE = "application/geo+json"
CIRCLE_VERTICES = 72  # every 5°: smooth at any zoom a printed map needs

Feature = dict[str, Any]
Position = list[float]


def _pos(lat: float, lon: float) -> Position:
    return [round(lon, 6), round(lat, 6)]


def _time(value: datetime | None) -> str | None:
    return None if value is None else to_local(value).replace(microsecond=0).isoformat()


def _feature(geometry: dict[str, Any], **properties: Any) -> Feature:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def circle_ring(
    lat: float, lon: float, radius_m: float, vertices: int = CIRCLE_VERTICES
) -> list[Position]:
    """A closed linear ring approximating a circle on the sphere, counter-clockwise (RFC 7946's
    winding for exterior rings: the bearing decreases from north through west)."""
    phi1, lambda1 = math.radians(lat), math.radians(lon)
    delta = radius_m / EARTH_RADIUS_M
    ring = []
    for i in range(vertices):
        theta = math.radians(-360.0 * i / vertices)
        phi2 = math.asin(
            math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * math.cos(theta)
        )
        lambda2 = lambda1 + math.atan2(
            math.sin(theta) * math.sin(delta) * math.cos(phi1),
            math.cos(delta) - math.sin(phi1) * math.sin(phi2),
        )
        ring.append(_pos(math.degrees(phi2), (math.degrees(lambda2) + 540) % 360 - 180))
    ring.append(ring[0])
    return ring


def cell_polygon(cell: str) -> list[list[Position]]:
    """An H3 cell as a GeoJSON polygon: its corners counter-clockwise, closed."""
    ring = [_pos(lat, lon) for lat, lon in h3.cell_to_boundary(cell)]
    if _signed_area(ring) < 0:  # h3 gives corners counter-clockwise; make sure of it
        ring.reverse()
    ring.append(ring[0])
    return [ring]


def _signed_area(ring: list[Position]) -> float:
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1], strict=True))


def ring_features(alert: Alert) -> list[Feature]:
    """The schedule's rings around the last-seen point, and the coordinator's radius when it
    is not one of them."""
    current = search_radius_m(alert)
    features = []
    radii = set()
    for step in radius_schedule():
        radii.add(round(step.radius_m))
        features.append(
            _feature(
                {
                    "type": "Polygon",
                    "coordinates": [
                        circle_ring(alert.last_seen_lat, alert.last_seen_lon, step.radius_m)
                    ],
                },
                kind="ring",
                radius_m=step.radius_m,
                after_min=step.minutes,
                label=step.source,
                reached=step.radius_m <= current,
                current=round(step.radius_m) == round(current),
            )
        )
    if current and round(current) not in radii:
        features.append(
            _feature(
                {
                    "type": "Polygon",
                    "coordinates": [circle_ring(alert.last_seen_lat, alert.last_seen_lon, current)],
                },
                kind="ring",
                radius_m=current,
                after_min=None,
                label=(
                    _("Radius set by the coordinator")
                    if alert.radius_override_m
                    else ring_source(current)
                ),
                reached=True,
                current=True,
            )
        )
    return features


def sector_features(alert: Alert) -> list[Feature]:
    """Every sector with its state: taken (by whom, short name only), walked or untouched."""
    return [
        _feature(
            {"type": "Polygon", "coordinates": cell_polygon(s.cell)},
            kind="sector",
            cell=s.cell,
            state=s.state,
            taken_by=s.taken_by_name or None,
            walked=s.walked,
            priority=s.priority,
        )
        for s in sector_states(alert).values()
    ]


def sighting_features(alert: Alert) -> list[Feature]:
    """Sightings as points, oldest first."""
    sightings = db.session.scalars(
        sa.select(Sighting)
        .where(Sighting.alert_id == alert.id)
        .order_by(Sighting.seen_at, Sighting.id)
    )
    return [
        _feature(
            {"type": "Point", "coordinates": _pos(s.lat, s.lon)},
            kind="sighting",
            id=s.id,
            seen_at=_time(s.seen_at),
            status=s.status.value,
            certainty=s.certainty.value,
            direction=s.direction.value,
            place_source=s.place_source,
            description=s.description,
            has_photo=s.photo is not None,
            recentred=s.recentred,
        )
        for s in sightings
    ]


def track_features(alert: Alert) -> list[Feature]:
    """Each searcher's shared positions as one line in time order (a point if only one)."""
    rows = db.session.execute(
        sa.select(
            SearchPosition.supporter_id,
            SearchPosition.lat,
            SearchPosition.lon,
            SearchPosition.recorded_at,
        )
        .where(SearchPosition.alert_id == alert.id)
        .order_by(SearchPosition.supporter_id, SearchPosition.recorded_at, SearchPosition.id)
    ).all()
    tracks: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        tracks[row.supporter_id].append(row)
    names: dict[int, str] = {}
    if tracks:
        for supporter_id, name in db.session.execute(
            sa.select(Supporter.id, Supporter.name).where(Supporter.id.in_(list(tracks)))
        ):
            names[supporter_id] = name
    features = []
    for supporter_id, points in tracks.items():
        coords = [_pos(p.lat, p.lon) for p in points]
        geometry = (
            {"type": "LineString", "coordinates": coords}
            if len(coords) > 1
            else {"type": "Point", "coordinates": coords[0]}
        )
        features.append(
            _feature(
                geometry,
                kind="track",
                supporter_id=supporter_id,
                name=short_name(names.get(supporter_id, "")),
                points=len(coords),
                started_at=_time(points[0].recorded_at),
                ended_at=_time(points[-1].recorded_at),
            )
        )
    return features


def point_features(alert: Alert) -> list[Feature]:
    """The last-seen point, and where the person was found once closed as found."""
    features = [
        _feature(
            {"type": "Point", "coordinates": _pos(alert.last_seen_lat, alert.last_seen_lon)},
            kind="last_seen",
            at=_time(alert.last_seen_at),
            place=alert.last_seen_place,
            revision=alert.revision,
        )
    ]
    if alert.found_lat is not None and alert.found_lon is not None:
        features.append(
            _feature(
                {"type": "Point", "coordinates": _pos(alert.found_lat, alert.found_lon)},
                kind="found",
                at=_time(alert.closed_at),
                place=alert.found_place,
            )
        )
    return features


def search_geojson(alert: Alert) -> dict[str, Any]:
    """The whole search as a FeatureCollection (foreign members say which alert it is)."""
    return {
        "type": "FeatureCollection",
        "alert_id": alert.id,
        "status": alert.status.value,
        "is_exercise": alert.is_exercise,
        "radius_m": search_radius_m(alert),
        "features": [
            *ring_features(alert),
            *sector_features(alert),
            *point_features(alert),
            *sighting_features(alert),
            *track_features(alert),
        ],
    }
