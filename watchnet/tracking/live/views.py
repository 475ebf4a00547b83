"""The organizer's side of a live drill: the live view, its snapshot and event stream, and the
drill's life (start, end, automatic scheduling)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
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

from watchnet.auth.access import get_in_district_or_404, staff_required
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.sse import last_event_id, sse_response
from watchnet.drills.forms import ConfirmForm
from watchnet.drills.map_data import drill_map_data
from watchnet.drills.models import Drill
from watchnet.drills.services import district_landmarks
from watchnet.maps.drill_maps import drill_map_parts, tile_settings
from watchnet.tracking import lifecycle
from watchnet.tracking.live.state import live_snapshot, parse_since, staff_event_stream
from watchnet.tracking.models import HelpCall, HelpCallResolution
from watchnet.tracking.services import (
    HelpCallEnded,
    help_resolved_payload,
    resolve_help_call,
    respond_to_help_call,
)

bp = Blueprint("live", __name__, url_prefix="/drills/<int:drill_id>")


def _load_drill(drill_id: int) -> Drill:
    return get_in_district_or_404(current_user, Drill, drill_id)


@bp.get("/live")
@staff_required()
def live_view(drill_id: int) -> str:
    """The live view: map, teams, checkpoints and feed; static/js/live.js keeps it current."""
    drill = _load_drill(drill_id)
    parts = drill_map_parts(
        drill_map_data(drill),
        district_landmarks(drill.district_id),
        tile_settings(current_app.config),
    )
    return render_template("live/view.html", drill=drill, map_parts=parts)


@bp.get("/live/state")
@staff_required()
def live_state(drill_id: int) -> Response:
    """A JSON snapshot of the drill for the live view to draw once."""
    return jsonify(live_snapshot(_load_drill(drill_id)))


@bp.get("/live/events")
@staff_required()
def live_events(drill_id: int) -> Response:
    """Server-sent events: the drill's staff events and participants' moves (core/sse.py);
    the browser then reconnects with Last-Event-ID."""
    drill = _load_drill(drill_id)
    cfg = current_app.config
    stream = staff_event_stream(
        drill.id,
        last_event_id("after") or 0,
        parse_since(request.args.get("since")),
        max_s=float(cfg["LIVE_STREAM_MAX_S"]),
        retry_ms=int(cfg["STREAM_RETRY_MS"]),
        poll_s=float(cfg.get("LIVE_STREAM_POLL_S", 0.5)),
        heartbeat_s=float(cfg.get("LIVE_STREAM_HEARTBEAT_S", 15)),
    )
    return sse_response(stream)


def _lifecycle_page(drill_id: int, action: str) -> ResponseReturnValue:
    drill = _load_drill(drill_id)
    form = ConfirmForm()
    # Starting on another day than planned is usually a slip (the wrong drill, a test click):
    # the page says so with the planned date and asks for a tick before it starts.
    other_day = action == "start" and lifecycle.planned_for_another_day(drill)
    page = {"drill": drill, "form": form, "action": action, "other_day": other_day}
    if form.validate_on_submit():
        if other_day and not request.form.get("other_day_ok"):
            return render_template(
                "live/confirm.html",
                **page,
                other_day_error=_("Tick the box to start this drill on another day than planned."),
            ), 422
        try:
            if action == "start":
                lifecycle.start_drill(drill)
            else:
                lifecycle.end_drill(drill)
        except UserInputError as exc:
            db.session.rollback()
            return render_template("live/confirm.html", **page, error=str(exc)), 409
        db.session.commit()
        if action == "start":
            flash(_("The drill is live. Phones can now share their position."), "success")
            return redirect(url_for(".live_view", drill_id=drill.id))
        flash(_("The drill has ended. Positions are no longer taken."), "success")
        return redirect(url_for("drills.show_drill", drill_id=drill.id))
    status = 400 if form.is_submitted() else 200
    return render_template("live/confirm.html", **page), status


@bp.route("/start", methods=["GET", "POST"])
@staff_required()
def start_drill(drill_id: int) -> ResponseReturnValue:
    """Ask, then start the drill (planned → live)."""
    return _lifecycle_page(drill_id, "start")


@bp.route("/end", methods=["GET", "POST"])
@staff_required()
def end_drill(drill_id: int) -> ResponseReturnValue:
    """Ask, then end the drill (live → ended)."""
    return _lifecycle_page(drill_id, "end")


@bp.post("/schedule")
@staff_required()
def schedule_drill(drill_id: int) -> ResponseReturnValue:
    """Let the scheduler start and end the drill at its planned times (or stop doing so)."""
    drill = _load_drill(drill_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Please go back, reload the page and try again."), "error")
        return redirect(url_for("drills.show_drill", drill_id=drill.id)), 303
    try:
        lifecycle.schedule_drill(drill, request.form.get("auto") == "1")
    except UserInputError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(
            _("The drill will start and end automatically at its planned times.")
            if drill.is_auto_scheduled
            else _("The drill will be started and ended by hand."),
            "success",
        )
    return redirect(url_for("drills.show_drill", drill_id=drill.id))


@bp.post("/help/<int:help_call_id>/respond")
@staff_required()
def respond_to_help(drill_id: int, help_call_id: int) -> ResponseReturnValue:
    """The organizer answers a help call "on my way" (JSON; the live view posts it)."""
    call = _load_help_call(drill_id, help_call_id)
    if call is None:
        return jsonify({"code": 404, "message": _("This help call does not exist.")}), 404
    try:
        responders = respond_to_help_call(call, current_user._get_current_object())
    except HelpCallEnded:
        db.session.rollback()
        return jsonify({"code": 409, "message": _("This call for help has already ended.")}), 409
    db.session.commit()
    return jsonify({"responders": responders})


@bp.post("/help/<int:help_call_id>/resolve")
@staff_required()
def resolve_help(drill_id: int, help_call_id: int) -> ResponseReturnValue:
    """「対応済み」: the organizer ends a help call (JSON; the live view posts it). Again after it
    ended, it answers how it ended."""
    call = _load_help_call(drill_id, help_call_id)
    if call is None:
        return jsonify({"code": 404, "message": _("This help call does not exist.")}), 404
    resolve_help_call(call, HelpCallResolution.staff_handled, current_user._get_current_object())
    db.session.commit()
    return jsonify(help_resolved_payload(call))


def _load_help_call(drill_id: int, help_call_id: int) -> HelpCall | None:
    """The drill's help call, or None; another district's drill is a 404 of its own."""
    drill = _load_drill(drill_id)
    call = db.session.get(HelpCall, help_call_id)
    return call if call is not None and call.drill_id == drill.id else None
