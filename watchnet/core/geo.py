"""Pure geographic functions: distances, bearings, route lengths, "where am I" phrases.

No Flask, no database: everything here is plain numbers in, plain values out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)

LatLon = tuple[float, float]

COMPASS_JA = ["北", "北東", "東", "南東", "南", "南西", "西", "北西"]
COMPASS_EN = ["north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest"]


def is_valid_latlon(lat: float, lon: float) -> bool:
    """True for a finite latitude in [-90, 90] and longitude in [-180, 180]."""
    return (
        math.isfinite(lat)
        and math.isfinite(lon)
        and -90.0 <= lat <= 90.0
        and -180.0 <= lon <= 180.0
    )


def haversine_m(a: LatLon, b: LatLon) -> float:
    """Great-circle distance in metres (within 0.5 % of geodesic; fast enough for loops)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def bearing_deg(a: LatLon, b: LatLon) -> float:
    """Initial bearing from a to b, degrees clockwise from north in [0, 360)."""
    lat1, lat2 = math.radians(a[0]), math.radians(b[0])
    dlon = math.radians(b[1] - a[1])
    x = math.sin(dlon) * math.cos(lat2)
    y = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlon)
    return (math.degrees(math.atan2(x, y)) + 360.0) % 360.0


def compass_point(bearing: float, language: str = "ja") -> str:
    """The 8-point compass name of a bearing (北東 / northeast)."""
    index = int(((bearing % 360.0) + 22.5) // 45.0) % 8
    return (COMPASS_JA if language == "ja" else COMPASS_EN)[index]


def route_length_m(points: Sequence[LatLon]) -> float:
    """Length of a polyline in metres."""
    return sum(haversine_m(points[i], points[i + 1]) for i in range(len(points) - 1))


def walking_time_s(length_m: float, speed_mps: float = 1.0) -> float:
    """Seconds to walk a distance at a given pace (1.0 m/s is an elder's pace)."""
    if speed_mps <= 0:
        raise ValueError("speed must be positive")
    return length_m / speed_mps


def round_distance_m(distance_m: float) -> int:
    """Distance rounded the way people say it: 10 m steps below 1 km, 100 m steps above."""
    if distance_m < 1000:
        return int(round(distance_m / 10.0) * 10)
    return int(round(distance_m / 100.0) * 100)


def format_distance(distance_m: float, language: str = "ja") -> str:
    """約120m / 約1.2km (ja), about 120 m / about 1.2 km (en)."""
    rounded = round_distance_m(distance_m)
    if rounded >= 1000:
        text = f"{rounded / 1000:.1f}km" if language == "ja" else f"{rounded / 1000:.1f} km"
    else:
        text = f"{rounded}m" if language == "ja" else f"{rounded} m"
    return f"約{text}" if language == "ja" else f"about {text}"


@dataclass(frozen=True)
class NamedPlace:
    name: str
    lat: float
    lon: float


def nearest_place(here: LatLon, places: Iterable[NamedPlace]) -> tuple[NamedPlace, float] | None:
    """The closest named place and its distance in metres, or None when there are none."""
    best: tuple[NamedPlace, float] | None = None
    for place in places:
        d = haversine_m(here, (place.lat, place.lon))
        if best is None or d < best[1]:
            best = (place, d)
    return best


def relative_phrase(here: LatLon, place: NamedPlace, language: str = "ja") -> str:
    """Where `here` is relative to a place: 八幡公民館の北東 約120m."""
    distance = haversine_m((place.lat, place.lon), here)
    if distance < 15:
        return f"{place.name}のすぐそば" if language == "ja" else f"right by {place.name}"
    direction = compass_point(bearing_deg((place.lat, place.lon), here), language)
    if language == "ja":
        return f"{place.name}の{direction} {format_distance(distance, 'ja')}"
    return f"{format_distance(distance, 'en')} {direction} of {place.name}"


def bounding_box(center: LatLon, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, min_lon, max_lat, max_lon) of a box containing the circle (for indexed queries)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    coslat = max(math.cos(math.radians(center[0])), 1e-6)
    dlon = math.degrees(radius_m / (EARTH_RADIUS_M * coslat))
    return center[0] - dlat, center[1] - dlon, center[0] + dlat, center[1] + dlon
