"""Feedback pages: the supporter's phone form, the organizer's entry form, the list with its
CSV export, and the viewpoints page (both sides of each theme, quotes for the newsletter)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from watchnet.auth.access import get_in_district_or_404, staff_required, supporter_required
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.refusal import refuse_form
from watchnet.drills.models import Drill, DrillStatus
from watchnet.feedback import services
from watchnet.feedback.forms import CurateForm, ThemeForm, feedback_form, staff_feedback_form
from watchnet.feedback.labels import (
    GAVE_NAME_LABELS,
    QUESTIONS,
    SCALE_ENDS,
    SCALE_FIELDS,
    VIEWPOINT_CHOICES,
    VIEWPOINT_LABELS,
    theme_label,
    viewpoint_label,
)
from watchnet.feedback.models import Viewpoint

bp = Blueprint("feedback", __name__)

LABELS = {
    "questions": QUESTIONS,
    "scale_ends": SCALE_ENDS,
    "scale_fields": SCALE_FIELDS,
    "viewpoint_label": viewpoint_label,
    "theme_label": theme_label,
    "viewpoint_labels": VIEWPOINT_LABELS,
    "gave_name_labels": GAVE_NAME_LABELS,
}


def _viewpoint(allowed: tuple[Viewpoint, ...]) -> Viewpoint | None:
    value = request.args.get("viewpoint", "")
    return Viewpoint(value) if value in {v.value for v in allowed} else None


def _teams(drill: Drill) -> list[tuple[int, str]]:
    return [(t.id, t.name) for t in drill.teams]


# ---------------------------------------------------------------------------------------------
# The supporter's phone


@bp.route("/field/drills/<int:drill_id>/feedback", methods=["GET", "POST"])
@supporter_required
def give_feedback(drill_id: int) -> ResponseReturnValue:
    """Choose a viewpoint, then answer a few big questions; a repeated send is stored once."""
    drill = db.session.get(Drill, drill_id)
    participant = services.get_participation(drill, current_user) if drill else None
    if drill is None or participant is None:
        abort(404)
    is_open = drill.status != DrillStatus.planned
    viewpoint = _viewpoint(services.PHONE_VIEWPOINTS)
    context: dict[str, Any] = {
        "drill": drill,
        "participant": participant,
        "is_open": is_open,
        **LABELS,
        "suggested": services.suggested_viewpoint(participant),
        "choices": VIEWPOINT_CHOICES,
        "teams_done": services.teams_given_feedback(drill, current_user),
    }
    if viewpoint is None or not is_open:
        status = 200 if request.method == "GET" else (409 if not is_open else 422)
        return render_template("feedback/choose.html", **context), status
    form = feedback_form(_teams(drill))
    if form.validate_on_submit():
        try:
            services.record_feedback(drill, form.answers(viewpoint), supporter=current_user)
        except UserInputError as exc:
            refuse_form(form, exc)
        else:
            db.session.commit()
            flash(_("Thank you. Your feedback was saved."), "success")
            return redirect(url_for("feedback.give_feedback", drill_id=drill.id))
    status = 422 if request.method == "POST" else 200
    return render_template("feedback/give.html", form=form, viewpoint=viewpoint, **context), status


# ---------------------------------------------------------------------------------------------
# Staff pages


def _drill(drill_id: int) -> Drill:
    return get_in_district_or_404(current_user, Drill, drill_id)


@bp.route("/drills/<int:drill_id>/feedback/new", methods=["GET", "POST"])
@staff_required()
def add_feedback(drill_id: int) -> ResponseReturnValue:
    """The organizer's own feedback, or a participant's typed in from paper."""
    drill = _drill(drill_id)
    viewpoint = _viewpoint(tuple(Viewpoint)) or Viewpoint.organizer
    people = [(p.supporter_id, p.supporter.name) for p in drill.participants]
    form = staff_feedback_form(_teams(drill), people)
    if form.validate_on_submit():
        supporter = next(
            (p.supporter for p in drill.participants if p.supporter_id == form.supporter_id.data),
            None,
        )
        try:
            if form.supporter_id.data and supporter is None:
                raise UserInputError(
                    _("This supporter does not take part in the drill."), field="supporter_id"
                )
            services.record_feedback(
                drill, form.answers(viewpoint), supporter=supporter, staff=current_user
            )
        except UserInputError as exc:
            refuse_form(form, exc)
        else:
            db.session.commit()
            flash(_("The feedback was saved."), "success")
            return redirect(url_for("feedback.list_feedback", drill_id=drill.id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "feedback/add.html",
        drill=drill,
        form=form,
        viewpoint=viewpoint,
        viewpoints=list(Viewpoint),
        **LABELS,
    ), status


@bp.get("/drills/<int:drill_id>/feedback")
@staff_required()
def list_feedback(drill_id: int) -> str:
    """All feedback of the drill in a table, with the averages per viewpoint."""
    drill = _drill(drill_id)
    return render_template(
        "feedback/list.html",
        drill=drill,
        items=services.feedback_for_drill(drill),
        summary=services.feedback_summary(drill),
        **LABELS,
    )


@bp.get("/drills/<int:drill_id>/feedback.csv")
@staff_required()
def export_feedback_csv(drill_id: int) -> Response:
    """The drill's feedback as CSV for Excel (UTF-8 with BOM)."""
    drill = _drill(drill_id)
    body = "\ufeff" + services.feedback_csv(drill)
    return Response(
        body,
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="feedback-drill-{drill.id}.csv"'},
    )


def _viewpoints_page(
    drill: Drill,
    status: int = 200,
    theme_form: ThemeForm | None = None,
    curate_error: tuple[int, str] | None = None,
) -> tuple[str, int]:
    groups = services.viewpoint_board(drill)
    themes = services.list_themes(drill)
    db.session.commit()  # the preset themes, created on first view
    return render_template(
        "feedback/viewpoints.html",
        drill=drill,
        groups=groups,
        themes=themes,
        theme_form=theme_form or ThemeForm(formdata=None),
        curate_error=curate_error,
        quotes=services.chosen_quotes(drill),
        by_team=services.role_player_views(drill),
        **LABELS,
    ), status


@bp.get("/drills/<int:drill_id>/viewpoints")
@staff_required()
def viewpoints(drill_id: int) -> tuple[str, int]:
    """Both viewpoints side by side, grouped by theme."""
    return _viewpoints_page(_drill(drill_id))


@bp.post("/drills/<int:drill_id>/viewpoints/themes")
@staff_required()
def add_theme(drill_id: int) -> ResponseReturnValue:
    """Add a theme of the organizer's own."""
    drill = _drill(drill_id)
    form = ThemeForm()
    if form.validate_on_submit():
        try:
            services.add_theme(drill, form.name.data or "")
        except UserInputError as exc:
            refuse_form(form, exc)
        else:
            db.session.commit()
            flash(_("The theme was added."), "success")
            return redirect(url_for("feedback.viewpoints", drill_id=drill.id))
    return _viewpoints_page(drill, 422, theme_form=form)


@bp.post("/drills/<int:drill_id>/viewpoints/curate")
@staff_required()
def curate_feedback(drill_id: int) -> ResponseReturnValue:
    """Sort one feedback into themes and mark it as a quote for the newsletter."""
    drill = _drill(drill_id)
    form = CurateForm()
    if not form.validate_on_submit():
        abort(400)
    feedback = services.get_feedback_or_404_in(drill, int(form.feedback_id.data))
    if feedback is None:
        abort(404)
    try:
        services.curate_feedback(
            drill, feedback, form.theme_ids.data or [], bool(form.is_quote_chosen.data)
        )
    except UserInputError as exc:
        db.session.rollback()
        return _viewpoints_page(drill, 422, curate_error=(feedback.id, str(exc)))
    db.session.commit()
    flash(_("The feedback was sorted."), "success")
    return redirect(url_for("feedback.viewpoints", drill_id=drill.id) + f"#feedback-{feedback.id}")
