"""Drill planning pages: list, create/edit, the drill page, the route editor, checkpoints, GPX."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from watchnet.auth.access import get_in_district_or_404, staff_required, visible_districts
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.labels import select_choices
from watchnet.core.refusal import refuse_form
from watchnet.drills import services
from watchnet.drills.copying import copy_drill as copy_drill_plan
from watchnet.drills.forms import (
    CheckpointForm,
    ConfirmForm,
    CopyDrillForm,
    DrillForm,
    GpxImportForm,
)
from watchnet.drills.gpx import MAX_BYTES as MAX_GPX_BYTES
from watchnet.drills.map_data import drill_map_data
from watchnet.drills.models import Checkpoint, Drill
from watchnet.drills.schemas import GeometryError, parse_route_geometry
from watchnet.kpt.services import open_action_items
from watchnet.maps.drill_maps import drill_map_parts, route_editor_map_parts, tile_settings
from watchnet.practice_calls.reach import drill_practice_summaries

bp = Blueprint("drills", __name__, url_prefix="/drills")


def _speed() -> float:
    return float(current_app.config["WALKING_SPEED_MPS"])


def _load_drill(drill_id: int) -> Drill:
    return get_in_district_or_404(current_user, Drill, drill_id)


def _drill_form(form_cls: type[DrillForm] = DrillForm, **kwargs: Any) -> DrillForm:
    form = form_cls(**kwargs)
    districts = visible_districts(current_user)
    form.district_id.choices = select_choices(((d.id, d.name) for d in districts), user_data=True)
    return form


@bp.get("/")
@staff_required()
def list_drills() -> str:
    """The staff home: drills of the user's districts, upcoming first."""
    listing = services.list_drills(current_user, _speed())
    return render_template("drills/list.html", listing=listing)


@bp.route("/new", methods=["GET", "POST"])
@staff_required()
def new_drill() -> ResponseReturnValue:
    """Plan a new drill."""
    form = _drill_form()
    if form.validate_on_submit():
        try:
            drill = services.plan_drill(form.to_fields(), created_by=current_user)
        except UserInputError as exc:
            db.session.rollback()
            refuse_form(form, exc)
        else:
            db.session.commit()
            flash(_("The drill has been created."), "success")
            return redirect(url_for(".show_drill", drill_id=drill.id))
    status = 400 if form.is_submitted() else 200
    return render_template("drills/form.html", form=form, drill=None), status


@bp.route("/<int:drill_id>/edit", methods=["GET", "POST"])
@staff_required()
def edit_drill(drill_id: int) -> ResponseReturnValue:
    """Change a drill's facts."""
    drill = _load_drill(drill_id)
    form = _drill_form()
    if not form.is_submitted():
        form.fill_from(drill)
    elif form.validate():
        try:
            services.update_drill(drill, form.to_fields())
        except UserInputError as exc:
            db.session.rollback()
            refuse_form(form, exc)
        else:
            db.session.commit()
            flash(_("The drill has been saved."), "success")
            return redirect(url_for(".show_drill", drill_id=drill.id))
    status = 400 if form.is_submitted() else 200
    return render_template("drills/form.html", form=form, drill=drill), status


@bp.route("/<int:drill_id>/copy", methods=["GET", "POST"])
@staff_required()
def copy_drill(drill_id: int) -> ResponseReturnValue:
    """Plan a new drill from this one: route, checkpoints, scenarios (teams if asked)."""
    source = _load_drill(drill_id)
    form = _drill_form(form_cls=CopyDrillForm)
    assert isinstance(form, CopyDrillForm)
    if not form.is_submitted():
        form.fill_from_source(source)
    elif form.validate():
        try:
            drill = copy_drill_plan(
                source,
                form.to_fields(),
                with_teams=bool(form.copy_teams.data),
                created_by=current_user,
            )
        except UserInputError as exc:
            db.session.rollback()
            refuse_form(form, exc)
        else:
            db.session.commit()
            flash(_("The drill has been copied. Check the date and the checkpoints."), "success")
            return redirect(url_for(".show_drill", drill_id=drill.id))
    status = 400 if form.is_submitted() else 200
    return render_template("drills/form.html", form=form, drill=None, source=source), status


@bp.route("/<int:drill_id>/delete", methods=["GET", "POST"])
@staff_required()
def delete_drill(drill_id: int) -> ResponseReturnValue:
    """Ask, then delete a planned drill."""
    drill = _load_drill(drill_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            services.delete_drill(drill)
        except UserInputError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".show_drill", drill_id=drill_id))
        db.session.commit()
        flash(_("The drill has been deleted."), "success")
        return redirect(url_for(".list_drills"))
    return render_template("drills/delete.html", drill=drill, form=form)


def _render_show(drill: Drill, gpx_form: GpxImportForm, status: int = 200) -> ResponseReturnValue:
    landmarks = services.district_landmarks(drill.district_id)
    parts = drill_map_parts(drill_map_data(drill), landmarks, tile_settings(current_app.config))
    summary = services.summarize_route(drill.route_latlons, _speed())
    return render_template(
        "drills/show.html",
        drill=drill,
        map_parts=parts,
        summary=summary,
        gpx_form=gpx_form,
        delete_form=ConfirmForm(),
        open_actions=open_action_items(drill.district_id),
        practice_calls=drill_practice_summaries(drill.id),
    ), status


@bp.get("/<int:drill_id>")
@staff_required()
def show_drill(drill_id: int) -> ResponseReturnValue:
    """The drill page: facts, map, route length and checkpoints."""
    return _render_show(_load_drill(drill_id), GpxImportForm(formdata=None))


@bp.get("/<int:drill_id>/route")
@staff_required()
def route_editor(drill_id: int) -> str:
    """The route editor page; static/js/route_editor.js does the drawing."""
    drill = _load_drill(drill_id)
    landmarks = services.district_landmarks(drill.district_id)
    parts = route_editor_map_parts(
        drill_map_data(drill), landmarks, tile_settings(current_app.config)
    )
    return render_template(
        "drills/route_editor.html",
        drill=drill,
        map_parts=parts,
        state=services.editor_state(drill),
        speed_mps=_speed(),
    )


@bp.post("/<int:drill_id>/route")
@staff_required()
def save_route(drill_id: int) -> ResponseReturnValue:
    """Save the route editor's geometry (JSON); 422 with field paths when it is refused."""
    drill = _load_drill(drill_id)
    try:
        geometry = parse_route_geometry(request.get_json(silent=True), drill)
    except GeometryError as exc:
        return jsonify(
            message=_("Nothing was saved. Please correct the marked points."), errors=exc.errors
        ), 422
    services.save_route(drill, geometry)
    db.session.commit()
    return jsonify(message=_("Saved."), **services.editor_state(drill))


@bp.route("/<int:drill_id>/checkpoints/<int:checkpoint_id>/edit", methods=["GET", "POST"])
@staff_required()
def edit_checkpoint(drill_id: int, checkpoint_id: int) -> ResponseReturnValue:
    """A checkpoint's role-player, scenario, expected contact and checklist."""
    checkpoint = get_in_district_or_404(current_user, Checkpoint, checkpoint_id)
    if checkpoint.drill_id != drill_id:
        abort(404)
    form = CheckpointForm(obj=None if request.method == "POST" else checkpoint)
    if request.method == "GET":
        form.checklist.data = "\n".join(checkpoint.checklist or [])
    if form.validate_on_submit():
        try:
            services.update_checkpoint(checkpoint, form.to_fields())
        except UserInputError as exc:
            db.session.rollback()
            refuse_form(form, exc)
        else:
            db.session.commit()
            flash(_("The checkpoint has been saved."), "success")
            return redirect(url_for(".show_drill", drill_id=drill_id) + f"#cp-{checkpoint.id}")
    status = 400 if form.is_submitted() else 200
    return render_template(
        "drills/checkpoint_form.html", form=form, checkpoint=checkpoint, drill=checkpoint.drill
    ), status


@bp.get("/<int:drill_id>.gpx")
@staff_required()
def export_gpx(drill_id: int) -> Response:
    """Download the drill as GPX."""
    drill = _load_drill(drill_id)
    return Response(
        services.export_drill_gpx(drill),
        mimetype="application/gpx+xml",
        headers={"Content-Disposition": f'attachment; filename="drill-{drill.id}.gpx"'},
    )


@bp.post("/<int:drill_id>/gpx")
@staff_required()
def import_gpx(drill_id: int) -> ResponseReturnValue:
    """Replace the route and checkpoints from an uploaded GPX file (after confirmation)."""
    drill = _load_drill(drill_id)
    form = GpxImportForm()
    if form.validate_on_submit():
        try:
            # One byte over the limit is enough to refuse; the rest is never read.
            services.import_drill_gpx(drill, form.file.data.stream.read(MAX_GPX_BYTES + 1))
        except UserInputError as exc:
            db.session.rollback()
            refuse_form(form, exc)
        else:
            db.session.commit()
            flash(_("The route and checkpoints were imported."), "success")
            return redirect(url_for(".show_drill", drill_id=drill.id))
    return _render_show(drill, form, 400)
