"""GPX in and out: a drill's route as <rte>, its checkpoints as <wpt>.

Pure functions over plain values; no Flask, no database. Parsing refuses anything that is not
a GPX document (images, plain text, other XML) with a GpxError whose message is translated.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - expat refuses entity expansion bombs
from collections.abc import Sequence
from dataclasses import dataclass, field

import gpxpy
import gpxpy.gpx
from flask_babel import lazy_gettext as _l

from watchnet.geo import is_valid_latlon

MAX_ROUTE_POINTS = 2000
MAX_CHECKPOINTS = 50
NAME_MAX = 100
DESC_MAX = 1000


class GpxError(ValueError):
    """The uploaded file cannot be used; str(exc) is a message for the user."""


@dataclass(frozen=True)
class GpxWaypoint:
    name: str
    lat: float
    lon: float
    desc: str = ""


@dataclass(frozen=True)
class GpxContent:
    """What a GPX file holds that a drill can use."""

    route: list[tuple[float, float]] = field(default_factory=list)
    waypoints: list[GpxWaypoint] = field(default_factory=list)


def build_gpx(title: str, route: Sequence[tuple[float, float]],
              waypoints: Sequence[GpxWaypoint], description: str = "") -> str:
    """A GPX 1.1 document with the route as one <rte> and the checkpoints as <wpt>."""
    doc = gpxpy.gpx.GPX()
    doc.creator = "watchnet"
    doc.name = title
    if description:
        doc.description = description
    for wp in waypoints:
        doc.waypoints.append(gpxpy.gpx.GPXWaypoint(
            latitude=wp.lat, longitude=wp.lon, name=wp.name, description=wp.desc or None,
        ))
    rte = gpxpy.gpx.GPXRoute(name=title)
    for lat, lon in route:
        rte.points.append(gpxpy.gpx.GPXRoutePoint(latitude=lat, longitude=lon))
    doc.routes.append(rte)
    return doc.to_xml(version="1.1")


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise GpxError(str(_l("This file is not a GPX file.")))


def _check_is_gpx(text: str) -> None:
    try:
        root = ET.fromstring(text)  # noqa: S314 - only the root name is read
    except ET.ParseError as exc:
        raise GpxError(str(_l("This file is not a GPX file."))) from exc
    except ValueError as exc:  # e.g. an encoding declaration on already decoded text
        try:
            root = ET.fromstring(text.encode("utf-8"))  # noqa: S314
        except ET.ParseError:
            raise GpxError(str(_l("This file is not a GPX file."))) from exc
    if root.tag.rsplit("}", 1)[-1] != "gpx":
        raise GpxError(str(_l("This file is XML but not GPX.")))


def _point(lat: float | None, lon: float | None) -> tuple[float, float]:
    if lat is None or lon is None or not is_valid_latlon(float(lat), float(lon)):
        raise GpxError(str(_l("The file has coordinates out of range.")))
    return float(lat), float(lon)


def parse_gpx(data: bytes) -> GpxContent:
    """Read a route (the first <rte>, else the first track) and the waypoints of a GPX file."""
    text = _decode(data)
    _check_is_gpx(text)
    try:
        doc = gpxpy.parse(text)
    except (gpxpy.gpx.GPXException, ValueError, TypeError) as exc:
        raise GpxError(str(_l("This GPX file could not be read."))) from exc

    route: list[tuple[float, float]] = []
    if doc.routes and doc.routes[0].points:
        route = [_point(p.latitude, p.longitude) for p in doc.routes[0].points]
    elif doc.tracks:
        for segment in doc.tracks[0].segments:
            route.extend(_point(p.latitude, p.longitude) for p in segment.points)
    if len(route) > MAX_ROUTE_POINTS:
        raise GpxError(str(_l("The route has too many points (at most %(max)d).",
                              max=MAX_ROUTE_POINTS)))
    if len(doc.waypoints) > MAX_CHECKPOINTS:
        raise GpxError(str(_l("The file has too many waypoints (at most %(max)d).",
                              max=MAX_CHECKPOINTS)))
    waypoints = []
    for i, wp in enumerate(doc.waypoints, start=1):
        lat, lon = _point(wp.latitude, wp.longitude)
        name = (wp.name or "").strip()[:NAME_MAX] or str(_l("Checkpoint %(n)d", n=i))
        desc = (wp.description or wp.comment or "").strip()[:DESC_MAX]
        waypoints.append(GpxWaypoint(name=name, lat=lat, lon=lon, desc=desc))
    if not route and not waypoints:
        raise GpxError(str(_l("The GPX file has no route, track or waypoints.")))
    return GpxContent(route=route, waypoints=waypoints)
