"""KPT board (projector page + JSON), district action items, printable report, newsletter."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from watchnet.auth.access import ensure_district, get_in_district_or_404, staff_required
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.refusal import refuse_json
from watchnet.drills.map_data import drill_map_data
from watchnet.drills.models import Drill
from watchnet.drills.services import district_landmarks
from watchnet.feedback.labels import VIEWPOINT_LABELS
from watchnet.feedback.services import feedback_for_drill
from watchnet.kpt import services
from watchnet.kpt.forms import CloseActionForm, NewsletterForm
from watchnet.kpt.models import KPT_TEXT_MAX, KptKind
from watchnet.maps.drill_maps import drill_map_parts, tile_settings

bp = Blueprint("kpt", __name__)


@bp.app_context_processor
def inject_open_actions() -> dict[str, object]:
    """The close form class for templates/kpt/_open_actions.html."""
    return {"close_action_form": CloseActionForm}


def _load_drill(drill_id: int) -> Drill:
    return get_in_district_or_404(current_user, Drill, drill_id)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


@bp.get("/drills/<int:drill_id>/kpt")
@staff_required()
def board(drill_id: int) -> str:
    """The projector-friendly Keep / Problem / Try board; static/js/kpt_board.js edits it."""
    drill = _load_drill(drill_id)
    # What participants wrote, by viewpoint, to turn into a note with one click (no names:
    # the board is projected in the reflection hour).
    quotes = [
        (str(VIEWPOINT_LABELS.get(f.viewpoint.value, f.viewpoint.value)), f.text.strip())
        for f in feedback_for_drill(drill)
        if f.text.strip()
    ]
    return render_template(
        "kpt/board.html",
        drill=drill,
        kinds=list(KptKind),
        state=services.board_state(drill),
        quotes=quotes,
        text_max=KPT_TEXT_MAX,
    )


@bp.get("/drills/<int:drill_id>/kpt/items")
@staff_required()
def board_state(drill_id: int) -> ResponseReturnValue:
    """The board as JSON; with ?since=N only the version when nothing changed."""
    drill = _load_drill(drill_id)
    return jsonify(services.board_state(drill, request.args.get("since", type=int)))


@bp.post("/drills/<int:drill_id>/kpt/items")
@staff_required()
def add_item(drill_id: int) -> ResponseReturnValue:
    """Add a Keep, Problem or Try (JSON {kind, text})."""
    drill = _load_drill(drill_id)
    data = _body()
    try:
        services.add_kpt_item(drill, data.get("kind"), data.get("text"))
    except UserInputError as exc:
        return refuse_json(exc)
    db.session.commit()
    return jsonify(services.board_state(drill)), 201


@bp.post("/drills/<int:drill_id>/kpt/items/<int:kpt_item_id>")
@staff_required()
def edit_item(drill_id: int, kpt_item_id: int) -> ResponseReturnValue:
    """Change a note's text or column (JSON {text, kind?})."""
    drill = _load_drill(drill_id)
    data = _body()
    try:
        services.edit_kpt_item(drill, kpt_item_id, data.get("text"), data.get("kind"))
    except LookupError:
        abort(404)
    except UserInputError as exc:
        return refuse_json(exc)
    db.session.commit()
    return jsonify(services.board_state(drill))


@bp.post("/drills/<int:drill_id>/kpt/items/<int:kpt_item_id>/delete")
@staff_required()
def delete_item(drill_id: int, kpt_item_id: int) -> ResponseReturnValue:
    """Remove a note."""
    drill = _load_drill(drill_id)
    try:
        services.delete_kpt_item(drill, kpt_item_id)
    except LookupError:
        abort(404)
    db.session.commit()
    return jsonify(services.board_state(drill))


@bp.post("/drills/<int:drill_id>/kpt/items/<int:kpt_item_id>/action")
@staff_required()
def make_action_item(drill_id: int, kpt_item_id: int) -> ResponseReturnValue:
    """Turn a Try into an action item (JSON {owner, due_date, title?})."""
    drill = _load_drill(drill_id)
    data = _body()
    try:
        services.create_action_item(
            drill, kpt_item_id, data.get("owner"), data.get("due_date"), data.get("title")
        )
    except LookupError:
        abort(404)
    except UserInputError as exc:
        return refuse_json(exc)
    db.session.commit()
    return jsonify(services.board_state(drill)), 201


@bp.get("/districts/<int:district_id>/actions")
@staff_required()
def list_actions(district_id: int) -> str:
    """Every action item of the district, open ones first."""
    ensure_district(current_user, district_id)
    return render_template(
        "kpt/actions.html", district_id=district_id, actions=services.list_action_items(district_id)
    )


@bp.post("/districts/<int:district_id>/actions/<int:action_item_id>/close")
@staff_required()
def close_action(district_id: int, action_item_id: int) -> ResponseReturnValue:
    """Close an action item; from a drill page, note that drill and go back to it."""
    ensure_district(current_user, district_id)
    form = CloseActionForm()
    if not form.validate_on_submit():
        abort(400)
    drill_id = form.closed_in_drill_id.data
    drill = _load_drill(int(drill_id)) if str(drill_id or "").isdigit() else None
    try:
        services.close_action_item(district_id, action_item_id, drill)
    except LookupError:
        abort(404)
    db.session.commit()
    if drill is not None:
        return redirect(url_for("drills.show_drill", drill_id=drill.id) + "#open-actions")
    return redirect(url_for("kpt.list_actions", district_id=district_id))


@bp.get("/drills/<int:drill_id>/report")
@staff_required()
def report(drill_id: int) -> str:
    """The printable A4 report of the drill and its reflection."""
    drill = _load_drill(drill_id)
    route_map = drill_map_parts(
        drill_map_data(drill),
        district_landmarks(drill.district_id),
        tile_settings(current_app.config),
    )
    return render_template(
        "kpt/report.html",
        drill=drill,
        map_parts=route_map,
        viewpoint_labels=VIEWPOINT_LABELS,
        **services.report_context(drill),
    )


@bp.route("/drills/<int:drill_id>/newsletter", methods=["GET", "POST"])
@staff_required()
def newsletter(drill_id: int) -> ResponseReturnValue:
    """The newsletter draft (【目的】【経緯】【様子】【今後】): drafted, edited, saved."""
    drill = _load_drill(drill_id)
    sections, is_saved = services.get_newsletter(drill)
    form = NewsletterForm(data=sections)
    if request.method == "POST" and request.form.get("redraft"):
        sections = services.draft_newsletter(drill)
        form = NewsletterForm(formdata=None, data=sections)
    elif form.validate_on_submit():
        try:
            services.save_newsletter(drill, form.data)
        except UserInputError as exc:
            db.session.rollback()
            getattr(form, exc.field or "purpose").errors = [str(exc)]
        else:
            db.session.commit()
            return redirect(url_for("kpt.newsletter", drill_id=drill.id, saved=1))
    elif request.method == "POST":
        sections = {k: form.data.get(k) or "" for k in services.NEWSLETTER_HEADINGS}
    status = 422 if form.errors else 200
    return render_template(
        "kpt/newsletter.html",
        drill=drill,
        form=form,
        is_saved=is_saved,
        headings=services.NEWSLETTER_HEADINGS,
        text=services.newsletter_text(sections),
        just_saved=bool(request.args.get("saved")),
        message=_("Saved."),
    ), status
