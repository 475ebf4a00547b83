"""Drill planning use cases: plan and edit drills, save the route and checkpoints, GPX.

Every function validates its input, flushes, and leaves the commit to the caller.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from watchnet.audit.services import record_audit
from watchnet.auth.access import visible_district_ids
from watchnet.core.dbtypes import utcnow
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.geo import is_valid_latlon, route_length_m, walking_time_s
from watchnet.core.phones import is_phone_number, normalise_phone
from watchnet.core.timefmt import from_local
from watchnet.core.validation import clean_line
from watchnet.districts.models import Landmark
from watchnet.drills import gpx
from watchnet.drills.models import Checkpoint, Drill, DrillStatus, ExpectedContact, RoutePoint
from watchnet.people.models import StaffUser

MAX_ROUTE_POINTS = gpx.MAX_ROUTE_POINTS
MAX_CHECKPOINTS = gpx.MAX_CHECKPOINTS
CHECKPOINT_NAME_MAX = 100
CHECKLIST_MAX_ITEMS = 20
CHECKLIST_ITEM_MAX = 100


# ---------------------------------------------------------------------------------------------
# Drills


DAY_PHONE_INVALID = _l(
    "Please enter a number supporters can call on the day, e.g. 027-321-1234 or 090-1234-5678."
)


@dataclass(frozen=True)
class DrillFields:
    """The editable facts of a drill, already parsed (times aware, in UTC)."""

    district_id: int
    title: str
    starts_at: datetime
    ends_at: datetime | None
    meeting_place: str = ""
    purpose: str = ""
    background: str = ""
    status: DrillStatus = DrillStatus.planned
    contact_phone: str = ""
    contact_label: str = ""


# A walking drill takes an afternoon or an evening; an end more than this after the start is a
# typo (10:00 to 09:00 would otherwise be a drill of 23 hours ending the next morning).
MAX_DRILL_HOURS = 12


def drill_times(day: date, start: time, end: time | None) -> tuple[datetime, datetime | None]:
    """A drill's start and end in UTC from a date and two local times, as the form has them.

    An end time earlier than the start time is on the next day: 23:30 to 00:30 is one hour
    across midnight. The result still has to pass check_drill_times."""
    starts_at = from_local(datetime.combine(day, start))
    if end is None:
        return starts_at, None
    end_day = day + timedelta(days=1) if end < start else day
    return starts_at, from_local(datetime.combine(end_day, end))


def check_drill_times(
    starts_at: datetime, ends_at: datetime | None, field: str = "end_time"
) -> None:
    """The one rule for a drill's times, whether they come from the form (through drill_times)
    or the API (full date-times): the end after the start, at most MAX_DRILL_HOURS later."""
    if ends_at is None:
        return
    if ends_at <= starts_at:
        raise UserInputError(_("The end time must be after the start time."), field)
    if ends_at - starts_at > timedelta(hours=MAX_DRILL_HOURS):
        raise UserInputError(
            _(
                "A drill lasts at most %(hours)d hours. An end time earlier "
                "than the start time is on the next day.",
                hours=MAX_DRILL_HOURS,
            ),
            field,
        )


def _check_fields(fields: DrillFields) -> None:
    if not fields.title.strip():
        raise UserInputError(_("Please enter a title."), "title")
    if fields.contact_phone and not is_phone_number(normalise_phone(fields.contact_phone)):
        raise UserInputError(str(DAY_PHONE_INVALID), "contact_phone")
    check_drill_times(fields.starts_at, fields.ends_at)


def plan_drill(fields: DrillFields, created_by: StaffUser | None = None) -> Drill:
    """Create a drill in a district (the caller has checked the district is the user's)."""
    _check_fields(fields)
    drill = Drill(
        district_id=fields.district_id,
        title=fields.title.strip(),
        starts_at=fields.starts_at,
        ends_at=fields.ends_at,
        meeting_place=fields.meeting_place.strip(),
        purpose=fields.purpose.strip(),
        background=fields.background.strip(),
        status=DrillStatus(fields.status),
        created_by_id=created_by.id if created_by else None,
        contact_phone=normalise_phone(fields.contact_phone),
        contact_label=fields.contact_label.strip(),
    )
    db.session.add(drill)
    db.session.flush()
    record_audit("drill.planned", "drill", drill.id, drill.district_id)
    return drill


def update_drill(drill: Drill, fields: DrillFields) -> Drill:
    """Change a drill's facts."""
    _check_fields(fields)
    drill.district_id = fields.district_id
    drill.title = fields.title.strip()
    drill.starts_at = fields.starts_at
    drill.ends_at = fields.ends_at
    drill.meeting_place = fields.meeting_place.strip()
    drill.purpose = fields.purpose.strip()
    drill.background = fields.background.strip()
    drill.status = DrillStatus(fields.status)
    drill.contact_phone = normalise_phone(fields.contact_phone)
    drill.contact_label = fields.contact_label.strip()
    db.session.flush()
    record_audit("drill.updated", "drill", drill.id, drill.district_id)
    return drill


def delete_drill(drill: Drill) -> None:
    """Delete a planned drill with its route, checkpoints and teams."""
    if drill.status != DrillStatus.planned:
        raise UserInputError(_("Only a planned drill can be deleted."), "status")
    record_audit("drill.deleted", "drill", drill.id, drill.district_id, title=drill.title)
    db.session.delete(drill)
    db.session.flush()


@dataclass(frozen=True)
class RouteSummary:
    """Route length and walking time at the configured pace."""

    length_m: float
    walking_s: float
    speed_mps: float

    @property
    def km(self) -> str:
        return f"{self.length_m / 1000:.1f}"

    @property
    def minutes(self) -> int:
        return int(round(self.walking_s / 60))

    @property
    def speed(self) -> str:
        return f"{self.speed_mps:.1f}"


def summarize_route(points: Sequence[tuple[float, float]], speed_mps: float) -> RouteSummary:
    """Length of the route and the time to walk it at speed_mps."""
    length = route_length_m(points)
    return RouteSummary(length, walking_time_s(length, speed_mps), speed_mps)


@dataclass(frozen=True)
class DrillRow:
    drill: Drill
    summary: RouteSummary
    checkpoint_count: int


@dataclass(frozen=True)
class DrillListing:
    upcoming: list[DrillRow]
    past: list[DrillRow]


def list_drills(user: StaffUser, speed_mps: float, now: datetime | None = None) -> DrillListing:
    """The drills of the user's districts: upcoming (soonest first), then past (latest first)."""
    now = now or utcnow()
    ids = visible_district_ids(user)
    drills = db.session.scalars(
        sa.select(Drill)
        .where(Drill.district_id.in_(ids))
        .options(
            joinedload(Drill.district),
            selectinload(Drill.route_points),
            selectinload(Drill.checkpoints),
        )
        .order_by(Drill.starts_at, Drill.id)
    ).all()
    upcoming: list[DrillRow] = []
    past: list[DrillRow] = []
    for drill in drills:
        row = DrillRow(
            drill, summarize_route(drill.route_latlons, speed_mps), len(drill.checkpoints)
        )
        over = drill.status == DrillStatus.ended or (drill.ends_at or drill.starts_at) < now
        (past if over else upcoming).append(row)
    past.reverse()
    return DrillListing(upcoming, past)


def district_landmarks(district_id: int) -> list[Landmark]:
    """The named landmarks of a district, for its maps."""
    return list(
        db.session.scalars(
            sa.select(Landmark).where(Landmark.district_id == district_id).order_by(Landmark.name)
        )
    )


# ---------------------------------------------------------------------------------------------
# Route and checkpoints


class GeometryError(ValueError):
    """The route editor sent geometry that cannot be saved; errors maps field paths to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid geometry")
        self.errors = errors


@dataclass(frozen=True)
class CheckpointPlacement:
    id: int | None
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class RouteGeometry:
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


def _replace_route(drill: Drill, route: Sequence[tuple[float, float]]) -> None:
    # The old points go first: (drill_id, seq) is unique, and the unit of work would
    # otherwise insert the new rows before deleting the orphans.
    drill.route_points.clear()
    db.session.flush()
    drill.route_points.extend(
        RoutePoint(seq=i, lat=lat, lon=lon) for i, (lat, lon) in enumerate(route)
    )


def save_route(drill: Drill, payload: Any) -> RouteGeometry:
    """Replace the route and upsert the checkpoints in the caller's transaction.

    Checkpoints sent with their id keep their scenario; those not sent are deleted.
    Nothing is changed when the payload is refused (GeometryError).
    """
    geometry = parse_route_geometry(payload, drill)
    _replace_route(drill, geometry.route)
    existing = {cp.id: cp for cp in drill.checkpoints}
    kept = {p.id for p in geometry.checkpoints if p.id is not None}
    for cp_id, cp in existing.items():
        if cp_id not in kept:
            drill.checkpoints.remove(cp)
    for seq, placement in enumerate(geometry.checkpoints):
        if placement.id is not None:
            cp = existing[placement.id]
            cp.name, cp.lat, cp.lon, cp.seq = placement.name, placement.lat, placement.lon, seq
        else:
            drill.checkpoints.append(
                Checkpoint(seq=seq, name=placement.name, lat=placement.lat, lon=placement.lon)
            )
    db.session.flush()
    db.session.expire(drill, ["route_points", "checkpoints"])
    record_audit(
        "drill.route_saved",
        "drill",
        drill.id,
        drill.district_id,
        points=len(geometry.route),
        checkpoints=len(geometry.checkpoints),
    )
    return geometry


def editor_state(drill: Drill) -> dict[str, Any]:
    """The route and checkpoints as the route editor reads and sends them."""
    return {
        "route": [{"lat": p.lat, "lon": p.lon} for p in drill.route_points],
        "checkpoints": [
            {"id": cp.id, "name": cp.name, "lat": cp.lat, "lon": cp.lon, "order": i}
            for i, cp in enumerate(drill.checkpoints)
        ],
    }


@dataclass(frozen=True)
class CheckpointFields:
    name: str
    role_player: str = ""
    scenario_wear: str = ""
    scenario_say: str = ""
    scenario_do: str = ""
    expected_contact: ExpectedContact = ExpectedContact.anshin_center
    expected_contact_note: str = ""
    checklist: tuple[str, ...] = ()


def parse_checklist(text: str) -> list[str]:
    """One checklist item per non-empty line."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def update_checkpoint(checkpoint: Checkpoint, fields: CheckpointFields) -> Checkpoint:
    """Change a checkpoint's name, role-player, scenario, expected contact and checklist."""
    name = fields.name.strip()
    if not name or len(name) > CHECKPOINT_NAME_MAX:
        raise UserInputError(
            _("Names have 1 to %(max)d characters.", max=CHECKPOINT_NAME_MAX), "name"
        )
    items = [item.strip() for item in fields.checklist if item.strip()]
    if len(items) > CHECKLIST_MAX_ITEMS or any(len(i) > CHECKLIST_ITEM_MAX for i in items):
        raise UserInputError(
            _(
                "At most %(n)d items of at most %(max)d characters each.",
                n=CHECKLIST_MAX_ITEMS,
                max=CHECKLIST_ITEM_MAX,
            ),
            "checklist",
        )
    checkpoint.name = name
    checkpoint.role_player = fields.role_player.strip()
    checkpoint.scenario_wear = fields.scenario_wear.strip()
    checkpoint.scenario_say = fields.scenario_say.strip()
    checkpoint.scenario_do = fields.scenario_do.strip()
    checkpoint.expected_contact = ExpectedContact(fields.expected_contact)
    checkpoint.expected_contact_note = fields.expected_contact_note.strip()
    checkpoint.checklist = items
    db.session.flush()
    record_audit("checkpoint.updated", "checkpoint", checkpoint.id, checkpoint.drill.district_id)
    return checkpoint


# ---------------------------------------------------------------------------------------------
# GPX


def _checkpoint_desc(cp: Checkpoint) -> str:
    parts = [cp.scenario_do, cp.scenario_wear, cp.scenario_say]
    if cp.role_player:
        parts.insert(0, cp.role_player)
    return "\n".join(p for p in parts if p)


def export_drill_gpx(drill: Drill) -> str:
    """The drill as a GPX document: route as <rte>, checkpoints as <wpt> with name and desc."""
    waypoints = [
        gpx.GpxWaypoint(
            name=cp.name,
            lat=cp.lat,
            lon=cp.lon,
            desc=_checkpoint_desc(cp),
            scenario=gpx.GpxScenario(
                role_player=cp.role_player,
                wear=cp.scenario_wear,
                say=cp.scenario_say,
                do=cp.scenario_do,
                expected_contact=cp.expected_contact.value,
                expected_contact_note=cp.expected_contact_note,
                checklist=tuple(cp.checklist or ()),
            ),
        )
        for cp in drill.checkpoints
    ]
    return gpx.build_gpx(drill.title, drill.route_latlons, waypoints, drill.purpose)


def _checkpoint_from_gpx(seq: int, wp: gpx.GpxWaypoint) -> Checkpoint:
    """A checkpoint from a waypoint: its watchnet scenario when the file has one (our own
    export), else the description as what the role-player does."""
    sc = wp.scenario
    if sc is None:
        return Checkpoint(seq=seq, name=wp.name, lat=wp.lat, lon=wp.lon, scenario_do=wp.desc)
    try:
        contact = ExpectedContact(sc.expected_contact)
    except ValueError:
        contact = ExpectedContact.anshin_center  # not one we know (another version): the default
    return Checkpoint(
        seq=seq,
        name=wp.name,
        lat=wp.lat,
        lon=wp.lon,
        role_player=sc.role_player,
        scenario_wear=sc.wear,
        scenario_say=sc.say,
        scenario_do=sc.do,
        expected_contact=contact,
        expected_contact_note=sc.expected_contact_note,
        checklist=list(sc.checklist),
    )


def import_drill_gpx(drill: Drill, data: bytes) -> gpx.GpxContent:
    """Replace the route and checkpoints with a GPX file's route (or first track) and waypoints.

    Raises UserInputError (field "file") and changes nothing when the file cannot be used.
    """
    try:
        content = gpx.parse_gpx(data)
    except gpx.GpxError as exc:
        raise UserInputError(str(exc), "file") from exc
    _replace_route(drill, content.route)
    drill.checkpoints.clear()
    db.session.flush()
    drill.checkpoints.extend(_checkpoint_from_gpx(i, wp) for i, wp in enumerate(content.waypoints))
    db.session.flush()
    db.session.expire(drill, ["route_points", "checkpoints"])
    record_audit(
        "drill.gpx_imported",
        "drill",
        drill.id,
        drill.district_id,
        points=len(content.route),
        checkpoints=len(content.waypoints),
    )
    return content
