"""Checking what the route editor (and the API's route replacement) sends: the route's points
and the checkpoints placed on it, as plain data for drills.services.save_route.

Field-level errors keyed by path ("route[3].lat", "checkpoints[0].name"), raised together as
GeometryError so the editor can mark every bad point at once; nothing is saved then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from watchnet.core.geo import is_valid_latlon
from watchnet.core.validation import clean_line
from watchnet.drills import gpx
from watchnet.drills.models import Drill

MAX_ROUTE_POINTS = gpx.MAX_ROUTE_POINTS
MAX_CHECKPOINTS = gpx.MAX_CHECKPOINTS
CHECKPOINT_NAME_MAX = 100


class GeometryError(ValueError):
    """The route editor sent geometry that cannot be saved; errors maps field paths to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid geometry")
        self.errors = errors


@dataclass(frozen=True)
class CheckpointPlacement:
    """A checkpoint where the editor put it: its id when it exists already (keeps its
    scenario), else None (a new one)."""

    id: int | None
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class RouteGeometry:
    """The checked route (lat, lon in order) and checkpoints (in the order given)."""

    route: list[tuple[float, float]]
    checkpoints: list[CheckpointPlacement]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _parse_latlon(item: Any, path: str, errors: dict[str, list[str]]) -> tuple[float, float] | None:
    if isinstance(item, list | tuple) and len(item) == 2:
        item = {"lat": item[0], "lon": item[1]}
    if not isinstance(item, dict):
        errors.setdefault(path, []).append(_("Expected a point with lat and lon."))
        return None
    lat, lon = _number(item.get("lat")), _number(item.get("lon"))
    ok = True
    if lat is None or not math.isfinite(lat) or not -90 <= lat <= 90:
        errors.setdefault(f"{path}.lat", []).append(
            _("Latitude must be a number between -90 and 90.")
        )
        ok = False
    if lon is None or not math.isfinite(lon) or not -180 <= lon <= 180:
        errors.setdefault(f"{path}.lon", []).append(
            _("Longitude must be a number between -180 and 180.")
        )
        ok = False
    if not ok or lat is None or lon is None or not is_valid_latlon(lat, lon):
        return None
    return lat, lon


def parse_route_geometry(payload: Any, drill: Drill) -> RouteGeometry:
    """Validate what the route editor sent; raises GeometryError with field paths."""
    errors: dict[str, list[str]] = {}
    if not isinstance(payload, dict):
        raise GeometryError({"": [_("Expected a JSON object with route and checkpoints.")]})
    raw_route = payload.get("route", [])
    raw_cps = payload.get("checkpoints", [])
    if not isinstance(raw_route, list):
        errors["route"] = [_("Expected a list of points.")]
        raw_route = []
    if not isinstance(raw_cps, list):
        errors["checkpoints"] = [_("Expected a list of checkpoints.")]
        raw_cps = []
    if len(raw_route) > MAX_ROUTE_POINTS:
        errors["route"] = [_("A route has at most %(max)d points.", max=MAX_ROUTE_POINTS)]
        raw_route = []
    if len(raw_cps) > MAX_CHECKPOINTS:
        errors["checkpoints"] = [_("A drill has at most %(max)d checkpoints.", max=MAX_CHECKPOINTS)]
        raw_cps = []

    route = []
    for i, item in enumerate(raw_route):
        point = _parse_latlon(item, f"route[{i}]", errors)
        if point is not None:
            route.append(point)

    own_ids = {cp.id for cp in drill.checkpoints}
    seen: set[int] = set()
    placed: list[tuple[float, int, CheckpointPlacement]] = []
    for i, item in enumerate(raw_cps):
        path = f"checkpoints[{i}]"
        point = _parse_latlon(item, path, errors)
        if not isinstance(item, dict):
            continue
        cp_id = item.get("id")
        if cp_id is not None and (
            isinstance(cp_id, bool)
            or not isinstance(cp_id, int)
            or cp_id not in own_ids
            or cp_id in seen
        ):
            errors.setdefault(f"{path}.id", []).append(_("Unknown checkpoint."))
        elif cp_id is not None:
            seen.add(cp_id)
        name = item.get("name")
        name = clean_line(name) if isinstance(name, str) else ""  # no NUL, bidi, zero-width
        if not name:
            errors.setdefault(f"{path}.name", []).append(_("Please enter a name."))
        elif len(name) > CHECKPOINT_NAME_MAX:
            errors.setdefault(f"{path}.name", []).append(
                _("Names have at most %(max)d characters.", max=CHECKPOINT_NAME_MAX)
            )
        order = _number(item.get("order"))
        if item.get("order") is not None and (order is None or not math.isfinite(order)):
            errors.setdefault(f"{path}.order", []).append(_("Expected a number."))
        if point is not None:
            placed.append(
                (
                    order if order is not None and math.isfinite(order) else float(i),
                    i,
                    CheckpointPlacement(
                        cp_id if isinstance(cp_id, int) else None, name, point[0], point[1]
                    ),
                )
            )
    if errors:
        raise GeometryError(errors)
    placed.sort(key=lambda t: (t[0], t[1]))
    return RouteGeometry(route=route, checkpoints=[p for _o, _i, p in placed])
