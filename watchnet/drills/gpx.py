"""GPX in and out: a drill's route as <rte>, its checkpoints as <wpt>.

A checkpoint's role-play scenario travels in a <wpt>'s <extensions> as <wn:scenario> (namespace
SCENARIO_NS), so export and import give the same scenario back, while <desc> carries the same
text for other GPX programs. A file without the extension keeps working: its <desc> becomes
the scenario's "what they do".

Pure functions over plain values; no Flask, no database. Parsing refuses anything that is not
a GPX document (images, plain text, other XML) with a GpxError whose message is translated.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET  # noqa: S405 - only for ParseError; parsing is defusedxml's
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape as xml_escape

import gpxpy
import gpxpy.gpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from flask_babel import lazy_gettext as _l

from watchnet.core.geo import is_valid_latlon
from watchnet.core.validation import clean_block, clean_line

MAX_ROUTE_POINTS = 2000
MAX_CHECKPOINTS = 50
NAME_MAX = 100
DESC_MAX = 1000
# A drill route of 2000 points with times and heights is about 300 KB; a file ten times that is
# not a walking route. Checked before anything is parsed.
MAX_BYTES = 3 * 1024 * 1024
# Elements of any kind the streaming check reads before it gives up (extensions, names ...).
MAX_ELEMENTS = 20 * (MAX_ROUTE_POINTS + MAX_CHECKPOINTS)
_ENCODING_DECL = re.compile(r"""^(\s*<\?xml[^>]*?)\sencoding=["'][^"']*["']""")
_POINTS = {"rtept": "route", "trkpt": "track", "wpt": "wpt"}


class GpxError(ValueError):
    """The uploaded file cannot be used; str(exc) is a message for the user."""


SCENARIO_NS = "https://watchnet.jp/xmlns/gpx-scenario/1"
_SCENARIO_TEXTS = {"role_player": NAME_MAX, "wear": DESC_MAX, "say": DESC_MAX, "do": DESC_MAX}
_CONTACT_NOTE_MAX = 200
_CHECKLIST_MAX_ITEMS, _CHECKLIST_ITEM_MAX = 20, 100


@dataclass(frozen=True)
class GpxScenario:
    """The role-play at a checkpoint (who plays, what they wear, say and do), who the walkers
    are expected to contact, and the observers' checklist."""

    role_player: str = ""
    wear: str = ""
    say: str = ""
    do: str = ""
    expected_contact: str = ""
    expected_contact_note: str = ""
    checklist: tuple[str, ...] = ()


@dataclass(frozen=True)
class GpxWaypoint:
    name: str
    lat: float
    lon: float
    desc: str = ""
    scenario: GpxScenario | None = None


def _scenario_element(scenario: GpxScenario) -> ET.Element:
    # gpxpy writes extension text as it is, unescaped (gpxfield._ETree_to_xml): escape it
    # here, or a "<" in a scenario would make the file unreadable. Reading unescapes it.
    root = ET.Element(f"{{{SCENARIO_NS}}}scenario")
    for tag in ("role_player", "wear", "say", "do", "expected_contact", "expected_contact_note"):
        value = getattr(scenario, tag)
        if value:
            ET.SubElement(root, f"{{{SCENARIO_NS}}}{tag}").text = xml_escape(value)
    if scenario.checklist:
        checklist = ET.SubElement(root, f"{{{SCENARIO_NS}}}checklist")
        for item in scenario.checklist:
            ET.SubElement(checklist, f"{{{SCENARIO_NS}}}item").text = xml_escape(item)
    return root


def _too_long(n: int, what: str, limit: int) -> GpxError:
    return GpxError(
        str(
            _l(
                "Waypoint %(n)d: %(what)s is longer than %(max)d characters.",
                n=n,
                what=what,
                max=limit,
            )
        )
    )


def _read_scenario(n: int, extensions: Sequence[ET.Element]) -> GpxScenario | None:
    """The <wn:scenario> of waypoint n, checked against the checkpoint's limits."""
    for ext in extensions:
        if ext.tag != f"{{{SCENARIO_NS}}}scenario":
            continue
        values: dict[str, str] = {}
        checklist: list[str] = []
        for child in ext:
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "checklist":
                checklist = [clean_line(item.text or "") for item in child if (item.text or "")]
            elif tag in _SCENARIO_TEXTS or tag in ("expected_contact", "expected_contact_note"):
                clean = clean_line if tag in ("role_player", "expected_contact") else clean_block
                values[tag] = clean(child.text or "")
        for tag, limit in {**_SCENARIO_TEXTS, "expected_contact_note": _CONTACT_NOTE_MAX}.items():
            if len(values.get(tag, "")) > limit:
                raise _too_long(n, tag, limit)
        if len(checklist) > _CHECKLIST_MAX_ITEMS or any(
            len(item) > _CHECKLIST_ITEM_MAX for item in checklist
        ):
            raise _too_long(n, "checklist", _CHECKLIST_ITEM_MAX)
        return GpxScenario(
            role_player=values.get("role_player", ""),
            wear=values.get("wear", ""),
            say=values.get("say", ""),
            do=values.get("do", ""),
            expected_contact=values.get("expected_contact", ""),
            expected_contact_note=values.get("expected_contact_note", ""),
            checklist=tuple(item for item in checklist if item),
        )
    return None


@dataclass(frozen=True)
class GpxContent:
    """What a GPX file holds that a drill can use."""

    route: list[tuple[float, float]] = field(default_factory=list)
    waypoints: list[GpxWaypoint] = field(default_factory=list)


def build_gpx(
    title: str,
    route: Sequence[tuple[float, float]],
    waypoints: Sequence[GpxWaypoint],
    description: str = "",
) -> str:
    """A GPX 1.1 document with the route as one <rte> and the checkpoints as <wpt>."""
    doc = gpxpy.gpx.GPX()
    doc.creator = "watchnet"
    doc.name = title
    doc.nsmap["wn"] = SCENARIO_NS
    if description:
        doc.description = description
    for wp in waypoints:
        point = gpxpy.gpx.GPXWaypoint(
            latitude=wp.lat,
            longitude=wp.lon,
            name=wp.name,
            description=wp.desc or None,
        )
        if wp.scenario is not None:
            point.extensions.append(_scenario_element(wp.scenario))
        doc.waypoints.append(point)
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


def _too_many_points() -> GpxError:
    return GpxError(
        str(_l("The route has too many points (at most %(max)d).", max=MAX_ROUTE_POINTS))
    )


def _too_many_waypoints() -> GpxError:
    return GpxError(
        str(_l("The file has too many waypoints (at most %(max)d).", max=MAX_CHECKPOINTS))
    )


def _check_is_gpx(text: str) -> None:
    """Read the document as a stream (defusedxml: no entities, no external references) and
    stop at the first limit it breaks, so gpxpy only ever sees a bounded document."""
    # The text is decoded already: read it as UTF-8 whatever its declaration said.
    stream = io.BytesIO(_ENCODING_DECL.sub(r"\1", text, count=1).encode("utf-8"))
    counts = {"route": 0, "track": 0, "wpt": 0}
    elements = 0
    root_checked = False
    try:
        for event, elem in iterparse(stream, events=("start", "end")):
            name = elem.tag.rsplit("}", 1)[-1]
            if not root_checked:
                if name != "gpx":
                    raise GpxError(str(_l("This file is XML but not GPX.")))
                root_checked = True
            if event == "start":
                elements += 1
                if elements > MAX_ELEMENTS:
                    raise _too_many_points()
                continue
            if name in ("rte", "trk"):
                counts["route" if name == "rte" else "track"] = 0  # one route or track each
            kind = _POINTS.get(name)
            if kind is not None:
                counts[kind] += 1
                if kind == "wpt" and counts[kind] > MAX_CHECKPOINTS:
                    raise _too_many_waypoints()
                if kind != "wpt" and counts[kind] > MAX_ROUTE_POINTS:
                    raise _too_many_points()
                elem.clear()  # keeps memory flat while reading
    except GpxError:
        raise
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        # ValueError: e.g. an encoding declaration the decoded text no longer matches
        raise GpxError(str(_l("This file is not a GPX file."))) from exc


def _point(lat: float | None, lon: float | None) -> tuple[float, float]:
    if lat is None or lon is None or not is_valid_latlon(float(lat), float(lon)):
        raise GpxError(str(_l("The file has coordinates out of range.")))
    return float(lat), float(lon)


def parse_gpx(data: bytes) -> GpxContent:
    """Read a route (the first <rte>, else the first track) and the waypoints of a GPX file."""
    if len(data) > MAX_BYTES:
        raise GpxError(
            str(_l("The GPX file is too large (at most %(mb)d MB).", mb=MAX_BYTES // (1024 * 1024)))
        )
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
        raise _too_many_points()
    if len(doc.waypoints) > MAX_CHECKPOINTS:
        raise _too_many_waypoints()
    waypoints = []
    for i, wp in enumerate(doc.waypoints, start=1):
        lat, lon = _point(wp.latitude, wp.longitude)
        # A name or text that does not fit is refused with a message, never cut silently.
        name = clean_line(wp.name or "")
        desc = clean_block(wp.description or wp.comment or "")
        if len(name) > NAME_MAX:
            raise GpxError(
                str(
                    _l(
                        "Waypoint %(n)d has a name longer than %(max)d characters.",
                        n=i,
                        max=NAME_MAX,
                    )
                )
            )
        if len(desc) > DESC_MAX:
            raise GpxError(
                str(
                    _l(
                        "Waypoint %(n)d has a description longer than %(max)d characters.",
                        n=i,
                        max=DESC_MAX,
                    )
                )
            )
        name = name or str(_l("Checkpoint %(n)d", n=i))
        scenario = _read_scenario(i, wp.extensions or [])
        waypoints.append(GpxWaypoint(name=name, lat=lat, lon=lon, desc=desc, scenario=scenario))
    if not route and not waypoints:
        raise GpxError(str(_l("The GPX file has no route, track or waypoints.")))
    return GpxContent(route=route, waypoints=waypoints)
