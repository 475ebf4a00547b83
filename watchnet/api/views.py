"""The JSON API (flask-smorest): districts, drills, checkpoints, routes, landmarks, supporters.

Every operation needs a staff bearer token (watchnet.api.auth) and sees only the token owner's
districts: another district's ids answer 404 exactly like unknown ids. Input is validated by
the schemas (422 with field messages); domain rules come from the feature services.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, NoReturn

import sqlalchemy as sa
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Api, abort

from watchnet.api.auth import (
    BEARER_SCHEME_DOC,
    SECURITY_SCHEME,
    ApiBlueprint,
    actor,
    api_staff,
    ensure_visible_district,
    load_or_404,
    visible_ids,
)
from watchnet.api.operations import add_checkpoint, move_checkpoint, remove_checkpoint
from watchnet.api.schemas import (
    CheckpointPatchSchema,
    CheckpointSchema,
    DistrictSchema,
    DrillPatchSchema,
    DrillQuerySchema,
    DrillSchema,
    LandmarkPatchSchema,
    LandmarkSchema,
    RouteSchema,
    SupporterPatchSchema,
    SupporterQuerySchema,
    SupporterSchema,
    supporter_out,
)
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import csrf, db
from watchnet.core.timefmt import from_local
from watchnet.districts.models import District, Landmark
from watchnet.districts.services import add_landmark, remove_landmark, update_landmark
from watchnet.drills.models import Checkpoint, Drill
from watchnet.drills.schemas import GeometryError, parse_route_geometry
from watchnet.drills.services import (
    CheckpointFields,
    DrillFields,
    check_drill_times,
    delete_drill,
    editor_state,
    plan_drill,
    save_route,
    update_checkpoint,
    update_drill,
)
from watchnet.people.models import Supporter
from watchnet.people.queries import supporters_query
from watchnet.people.services import register_supporter, set_supporter_active, update_supporter

PREFIX = "/api/v1"

districts_bp = ApiBlueprint(
    "api_districts",
    __name__,
    url_prefix=f"{PREFIX}/districts",
    description="Districts the token's owner works for.",
)
landmarks_bp = ApiBlueprint(
    "api_landmarks", __name__, url_prefix=PREFIX, description="Named landmarks of a district."
)
drills_bp = ApiBlueprint(
    "api_drills",
    __name__,
    url_prefix=PREFIX,
    description="Drills with their route and checkpoints.",
)
supporters_bp = ApiBlueprint(
    "api_supporters",
    __name__,
    url_prefix=f"{PREFIX}/supporters",
    description="Registered supporters.",
)
BLUEPRINTS = (districts_bp, landmarks_bp, drills_bp, supporters_bp)

# Services name a few fields as their page forms do; the API names them as its schemas do.
_FIELD_NAMES = {"end_time": "ends_at", "start_time": "starts_at", "date": "starts_at"}


def refuse(exc: UserInputError | str, field: str | None = None) -> NoReturn:
    """Answer 422 in flask-smorest's shape: {"errors": {"json": {field: [reason]}}}."""
    name = field or getattr(exc, "field", None) or "_schema"
    db.session.rollback()
    abort(422, messages={"json": {_FIELD_NAMES.get(name, name): [str(exc)]}})
    raise AssertionError("abort() returned")  # pragma: no cover - abort always raises


def commit() -> None:
    db.session.commit()


# ---------------------------------------------------------------------------------------------
# Districts


@districts_bp.route("/")
class Districts(MethodView):
    @districts_bp.response(200, DistrictSchema(many=True))
    def get(self) -> Sequence[District]:
        """The districts the token's owner works for."""
        return db.session.scalars(
            sa.select(District).where(District.id.in_(visible_ids())).order_by(District.id)
        ).all()


# ---------------------------------------------------------------------------------------------
# Landmarks


@landmarks_bp.route("/districts/<int:district_id>/landmarks")
class Landmarks(MethodView):
    @landmarks_bp.response(200, LandmarkSchema(many=True))
    def get(self, district_id: int) -> Sequence[Landmark]:
        """The landmarks of one district."""
        ensure_visible_district(district_id)
        return db.session.scalars(
            sa.select(Landmark)
            .where(Landmark.district_id == district_id)
            .order_by(Landmark.name, Landmark.id)
        ).all()

    @landmarks_bp.arguments(LandmarkSchema)
    @landmarks_bp.response(201, LandmarkSchema)
    def post(self, data: dict[str, Any], district_id: int) -> Landmark:
        """Add a landmark to a district (names are unique within a district)."""
        ensure_visible_district(district_id)
        district = db.session.get_one(District, district_id)
        try:
            landmark = add_landmark(
                district, data["name"], data["kind"], data["lat"], data["lon"], actor=actor()
            )
        except UserInputError as exc:
            refuse(exc)
        commit()
        return landmark


@landmarks_bp.route("/landmarks/<int:landmark_id>")
class LandmarkById(MethodView):
    @landmarks_bp.response(200, LandmarkSchema)
    def get(self, landmark_id: int) -> Landmark:
        """One landmark."""
        return load_or_404(Landmark, landmark_id)

    @landmarks_bp.arguments(LandmarkPatchSchema(partial=True))
    @landmarks_bp.response(200, LandmarkSchema)
    def patch(self, data: dict[str, Any], landmark_id: int) -> Landmark:
        """Change a landmark's name, kind or position."""
        landmark = load_or_404(Landmark, landmark_id)
        try:
            update_landmark(
                landmark,
                data.get("name"),
                data.get("kind"),
                data.get("lat"),
                data.get("lon"),
                actor=actor(),
            )
        except UserInputError as exc:
            refuse(exc)
        commit()
        return landmark

    @landmarks_bp.response(204)
    def delete(self, landmark_id: int) -> None:
        """Delete a landmark."""
        remove_landmark(load_or_404(Landmark, landmark_id), actor=actor())
        commit()


# ---------------------------------------------------------------------------------------------
# Drills


def _drill_fields(data: dict[str, Any], drill: Drill | None = None) -> DrillFields:
    """DrillFields from validated input, over the drill's current values for a PATCH."""
    if "district_id" in data and data["district_id"] not in visible_ids():
        refuse(_("Unknown district."), "district_id")
    if drill is None:
        base = DrillFields(
            district_id=data["district_id"], title="", starts_at=data["starts_at"], ends_at=None
        )
    else:
        base = DrillFields(
            drill.district_id,
            drill.title,
            drill.starts_at,
            drill.ends_at,
            drill.meeting_place,
            drill.purpose,
            drill.background,
            drill.status,
            drill.contact_phone,
            drill.contact_label,
        )
    values = {k: v for k, v in data.items() if k in DrillFields.__dataclass_fields__}
    for key in ("starts_at", "ends_at"):
        if values.get(key) is not None:
            values[key] = from_local(values[key])
    fields = replace(base, **values)
    try:
        # The form's rule (the services apply it again when saving).
        check_drill_times(fields.starts_at, fields.ends_at, "ends_at")
    except UserInputError as exc:
        refuse(exc)
    return fields


@drills_bp.route("/drills")
class Drills(MethodView):
    @drills_bp.arguments(DrillQuerySchema, location="query")
    @drills_bp.response(200, DrillSchema(many=True))
    def get(self, query: dict[str, Any]) -> Sequence[Drill]:
        """Drills of the token's districts, newest first (?district_id= for one district)."""
        ids = visible_ids()
        if "district_id" in query:
            ensure_visible_district(query["district_id"])
            ids = {query["district_id"]}
        return db.session.scalars(
            sa.select(Drill)
            .where(Drill.district_id.in_(ids))
            .order_by(Drill.starts_at.desc(), Drill.id)
        ).all()

    @drills_bp.arguments(DrillSchema)
    @drills_bp.response(201, DrillSchema)
    def post(self, data: dict[str, Any]) -> Drill:
        """Plan a drill in one of the token's districts."""
        try:
            drill = plan_drill(_drill_fields(data), created_by=api_staff())
        except UserInputError as exc:
            refuse(exc)
        commit()
        return drill


@drills_bp.route("/drills/<int:drill_id>")
class DrillById(MethodView):
    @drills_bp.response(200, DrillSchema)
    def get(self, drill_id: int) -> Drill:
        """One drill with its route and checkpoints."""
        return load_or_404(Drill, drill_id)

    @drills_bp.arguments(DrillPatchSchema(partial=True))
    @drills_bp.response(200, DrillSchema)
    def patch(self, data: dict[str, Any], drill_id: int) -> Drill:
        """Change a drill's facts (title, times, place, purpose, background, status)."""
        drill = load_or_404(Drill, drill_id)
        try:
            update_drill(drill, _drill_fields(data, drill))
        except UserInputError as exc:
            refuse(exc)
        commit()
        return drill

    @drills_bp.response(204)
    def delete(self, drill_id: int) -> None:
        """Delete a planned drill with its route, checkpoints and teams."""
        drill = load_or_404(Drill, drill_id)
        try:
            delete_drill(drill)
        except UserInputError as exc:
            db.session.rollback()
            abort(409, message=str(exc))
        commit()


@drills_bp.route("/drills/<int:drill_id>/route", methods=["PUT"])
@drills_bp.arguments(RouteSchema)
@drills_bp.response(200, DrillSchema)
def replace_route(data: dict[str, Any], drill_id: int) -> Drill:
    """Replace the drill's route; its checkpoints stay as they are."""
    drill = load_or_404(Drill, drill_id)
    payload = {
        "route": [list(p) for p in data["route"]],
        "checkpoints": editor_state(drill)["checkpoints"],
    }
    try:
        geometry = parse_route_geometry(payload, drill)
    except GeometryError as exc:
        abort(422, messages={"json": exc.errors})
    save_route(drill, geometry)
    commit()
    return drill


# ---------------------------------------------------------------------------------------------
# Checkpoints


def _checkpoint_fields(data: dict[str, Any], cp: Checkpoint | None = None) -> CheckpointFields:
    if cp is None:
        base = CheckpointFields(name=data["name"])
    else:
        base = CheckpointFields(
            cp.name,
            cp.role_player,
            cp.scenario_wear,
            cp.scenario_say,
            cp.scenario_do,
            cp.expected_contact,
            cp.expected_contact_note,
            tuple(cp.checklist or ()),
        )
    values = {k: v for k, v in data.items() if k in CheckpointFields.__dataclass_fields__}
    if "checklist" in values:
        values["checklist"] = tuple(values["checklist"])
    return replace(base, **values)


@drills_bp.route("/drills/<int:drill_id>/checkpoints")
class Checkpoints(MethodView):
    @drills_bp.response(200, CheckpointSchema(many=True))
    def get(self, drill_id: int) -> list[Checkpoint]:
        """The checkpoints of a drill, in walking order."""
        return load_or_404(Drill, drill_id).checkpoints

    @drills_bp.arguments(CheckpointSchema)
    @drills_bp.response(201, CheckpointSchema)
    def post(self, data: dict[str, Any], drill_id: int) -> Checkpoint:
        """Add a checkpoint (with its role-player, scenario, expected contact and checklist)."""
        drill = load_or_404(Drill, drill_id)
        try:
            checkpoint = add_checkpoint(drill, data["lat"], data["lon"], _checkpoint_fields(data))
        except UserInputError as exc:
            refuse(exc)
        commit()
        return checkpoint


@drills_bp.route("/checkpoints/<int:checkpoint_id>")
class CheckpointById(MethodView):
    @drills_bp.response(200, CheckpointSchema)
    def get(self, checkpoint_id: int) -> Checkpoint:
        """One checkpoint."""
        return load_or_404(Checkpoint, checkpoint_id)

    @drills_bp.arguments(CheckpointPatchSchema(partial=True))
    @drills_bp.response(200, CheckpointSchema)
    def patch(self, data: dict[str, Any], checkpoint_id: int) -> Checkpoint:
        """Change any field of a checkpoint, its position included."""
        checkpoint = load_or_404(Checkpoint, checkpoint_id)
        try:
            if "lat" in data or "lon" in data:
                move_checkpoint(
                    checkpoint, data.get("lat", checkpoint.lat), data.get("lon", checkpoint.lon)
                )
            update_checkpoint(checkpoint, _checkpoint_fields(data, checkpoint))
        except UserInputError as exc:
            refuse(exc)
        commit()
        return checkpoint

    @drills_bp.response(204)
    def delete(self, checkpoint_id: int) -> None:
        """Delete a checkpoint."""
        remove_checkpoint(load_or_404(Checkpoint, checkpoint_id))
        commit()


# ---------------------------------------------------------------------------------------------
# Supporters


def _supporter_args(data: dict[str, Any], supporter: Supporter | None = None) -> dict[str, Any]:
    current: dict[str, Any] = {}
    if supporter is not None:
        current = {
            k: getattr(supporter, k)
            for k in ("name", "name_kana", "kind", "email", "phone", "home_lat", "home_lon", "note")
        }
        current["notification_urls"] = [a.url for a in supporter.notification_addresses]
    keys = (
        "name",
        "name_kana",
        "kind",
        "email",
        "phone",
        "home_lat",
        "home_lon",
        "notification_urls",
        "note",
    )
    args = {k: data[k] if k in data else current.get(k) for k in keys}
    args["name_kana"] = args["name_kana"] or ""
    args["note"] = args["note"] or ""
    args["notification_urls"] = args["notification_urls"] or []
    return args


@supporters_bp.route("/")
class Supporters(MethodView):
    @supporters_bp.arguments(SupporterQuerySchema, location="query")
    @supporters_bp.response(200, SupporterSchema(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Supporters of the token's districts; filter by district, kind, text, active."""
        if "district_id" in query:
            ensure_visible_district(query["district_id"])
        stmt = supporters_query(
            visible_ids(),
            query.get("district_id"),
            query["kind"].value if "kind" in query else None,
            query.get("q"),
            query.get("active"),
        )
        return [supporter_out(s) for s in db.session.scalars(stmt).unique()]

    @supporters_bp.arguments(SupporterSchema)
    @supporters_bp.response(201, SupporterSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Register a supporter; the same person twice in a district is refused."""
        if data["district_id"] not in visible_ids():
            refuse(_("Unknown district."), "district_id")
        district = db.session.get_one(District, data["district_id"])
        try:
            supporter = register_supporter(district, **_supporter_args(data))
        except UserInputError as exc:
            refuse(exc)
        commit()
        return supporter_out(supporter)


@supporters_bp.route("/<int:supporter_id>")
class SupporterById(MethodView):
    @supporters_bp.response(200, SupporterSchema)
    def get(self, supporter_id: int) -> dict[str, Any]:
        """One supporter."""
        return supporter_out(load_or_404(Supporter, supporter_id))

    @supporters_bp.arguments(SupporterPatchSchema(partial=True))
    @supporters_bp.response(200, SupporterSchema)
    def patch(self, data: dict[str, Any], supporter_id: int) -> dict[str, Any]:
        """Change a supporter's details, or deactivate / reactivate them (is_active)."""
        supporter = load_or_404(Supporter, supporter_id)
        try:
            update_supporter(supporter, supporter.district, **_supporter_args(data, supporter))
            if "is_active" in data and data["is_active"] != supporter.is_active:
                set_supporter_active(supporter, data["is_active"])
        except UserInputError as exc:
            refuse(exc)
        commit()
        return supporter_out(supporter)


def register_api(api: Api) -> None:
    """Register every API blueprint on the Api and describe the bearer scheme."""
    if api.spec is not None and SECURITY_SCHEME not in api.spec.components.security_schemes:
        api.spec.components.security_scheme(SECURITY_SCHEME, BEARER_SCHEME_DOC)
    for blueprint in BLUEPRINTS:
        # Bearer tokens are not cookies: a cross-site request cannot carry them.
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)
