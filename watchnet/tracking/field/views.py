"""The supporter's phone in the field: JSON endpoints, the phone's event stream, and the field
page. Every route is for a signed-in supporter who takes part in the drill (else 404)."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from watchnet.auth.access import (
    end_phone_session,
    signed_out_message,
    supporter_required,
    supporter_session_fresh,
)
from watchnet.auth.services import record_refused_access
from watchnet.core.dbtypes import utcnow
from watchnet.core.errors import _messages, handle_http_exception, json_error
from watchnet.core.extensions import db
from watchnet.core.sse import event_stream, last_event_id, sse_response
from watchnet.core.timefmt import to_local
from watchnet.core.validation import safe_color
from watchnet.core.webapp import mark_offline_copy
from watchnet.drills.map_data import drill_map_data
from watchnet.drills.models import Drill, DrillStatus, Participant
from watchnet.drills.participations import upcoming_participations
from watchnet.drills.services import district_landmarks
from watchnet.maps.drill_maps import drill_map_parts, tile_settings
from watchnet.people.models import Supporter
from watchnet.tracking import services
from watchnet.tracking.events import phone_reader
from watchnet.tracking.models import HelpCall, HelpCallResolution
from watchnet.tracking.schemas import (
    InvalidPayload,
    parse_consent,
    parse_help,
    parse_help_ref,
    parse_latlon_query,
    parse_note,
    parse_positions,
    parse_step,
)

bp = Blueprint("field", __name__, url_prefix="/field")

# ---------------------------------------------------------------------------------------------
# JSON and event-stream routes (the phone's API). Errors are JSON here, whatever Accept says;
# the HTML pages of this blueprint keep the app's error pages.

PAGE_ENDPOINTS = frozenset({"field.home", "field.drill_page"})


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> ResponseReturnValue:
    if request.endpoint in PAGE_ENDPOINTS:
        return handle_http_exception(exc)
    code = exc.code or 500
    return json_error(code, _messages().get(code, exc.description or ""))


@bp.errorhandler(InvalidPayload)
def _invalid(exc: InvalidPayload) -> ResponseReturnValue:
    db.session.rollback()
    return json_error(422, _("Some of the values are not valid."), exc.errors)


@bp.errorhandler(services.DrillNotLive)
def _not_live(exc: services.DrillNotLive) -> ResponseReturnValue:
    db.session.rollback()
    return json_error(409, _("The drill is not live now, so nothing was recorded."))


@bp.errorhandler(services.ConsentRequired)
def _no_consent(exc: services.ConsentRequired) -> ResponseReturnValue:
    db.session.rollback()
    return json_error(409, _("Position sharing is off. Turn it on to share your position."))


@bp.errorhandler(services.SignedOut)
def _signed_out(exc: services.SignedOut) -> ResponseReturnValue:
    db.session.rollback()
    return json_error(403, signed_out_message(), signed_out=True)


@bp.errorhandler(services.HelpCallEnded)
def _help_ended(exc: services.HelpCallEnded) -> ResponseReturnValue:
    db.session.rollback()
    return json_error(409, _("This call for help has already ended."))


@bp.errorhandler(services.NotParticipant)
def _not_participant(exc: services.NotParticipant) -> ResponseReturnValue:
    db.session.rollback()
    return json_error(404, _messages()[404])


def _json_body() -> Any:  # JSON from the phone: checked field by field by the schema
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise _BadJson()
    return body


class _BadJson(Exception):
    pass


@bp.errorhandler(_BadJson)
def _bad_json(exc: _BadJson) -> ResponseReturnValue:
    return json_error(400, _("Send a JSON body."))


def _participant(drill_id: int) -> Participant:
    participant = services.get_participant(drill_id, current_user.id)
    if participant is None:
        raise services.NotParticipant()
    return participant


@bp.post("/drills/<int:drill_id>/consent")
@supporter_required
def set_consent(drill_id: int) -> ResponseReturnValue:
    participant = _participant(drill_id)
    shared = services.set_position_consent(participant, parse_consent(_json_body()))
    db.session.commit()
    return {"share": shared}


def _session_supporter() -> tuple[int, int]:
    """(supporter id, link version) of the signed session, without loading the supporter.

    Only for the position endpoint, the hot path: record_positions checks the version and
    participation in the statement that stores the positions.
    """
    kind, _, rest = str(session.get("_user_id", "")).partition(":")
    supporter_id, _, version = rest.partition(":")
    if kind != "supporter" or not supporter_id.isdigit() or not version.isdigit():
        abort(403)
    if not supporter_session_fresh():  # unused for longer than its lifetime (cookie only)
        end_phone_session()
        abort(403)
    return int(supporter_id), int(version)


def _refused_sender(supporter_id: int, version: int) -> None:
    """The link was revoked or the supporter deactivated: sign the phone out and audit it."""
    db.session.rollback()
    end_phone_session()
    supporter = db.session.get(Supporter, supporter_id)
    if supporter is not None:
        record_refused_access(
            supporter,
            "positions",
            link_version=version,
            reason="inactive" if not supporter.is_active else "revoked",
            path=request.path,
        )


@bp.post("/drills/<int:drill_id>/positions")
def post_positions(drill_id: int) -> ResponseReturnValue:
    supporter_id, version = _session_supporter()
    # Participation is checked inside record_positions' insert; only a refused body costs a
    # look-up of its own, so strangers get 404, not validation messages.
    try:
        rows = parse_positions(
            _json_body(), int(current_app.config["POSITION_MAX_BATCH"]), utcnow()
        )
    except (InvalidPayload, _BadJson):
        try:
            services.check_position_sender(drill_id, supporter_id, version)
        except services.SignedOut:
            _refused_sender(supporter_id, version)
            raise
        raise
    # record_positions commits on its own connection; the request's session stays unused.
    try:
        accepted, duplicates = services.record_positions(drill_id, supporter_id, version, rows)
    except services.SignedOut:
        _refused_sender(supporter_id, version)
        raise
    return {"accepted": accepted, "duplicates": duplicates}


@bp.post("/drills/<int:drill_id>/steps")
@supporter_required
def post_step(drill_id: int) -> ResponseReturnValue:
    participant = _participant(drill_id)
    data = parse_step(_json_body(), utcnow())
    step, created = services.record_step(participant, data)
    db.session.commit()
    body = services.step_to_dict(step, {cp.id: cp.name for cp in participant.drill.checkpoints})
    return body, 201 if created else 200


@bp.get("/drills/<int:drill_id>/steps")
@supporter_required
def get_steps(drill_id: int) -> ResponseReturnValue:
    """The phone's log: its steps (corrections applied) and the notes it saved."""
    participant = _participant(drill_id)
    return {"steps": services.list_steps(participant), "notes": services.list_notes(participant)}


@bp.post("/drills/<int:drill_id>/notes")
@supporter_required
def post_note(drill_id: int) -> ResponseReturnValue:
    """A note saved with 「メモを保存」; the same client_id again gives the stored note."""
    participant = _participant(drill_id)
    data = parse_note(_json_body(), utcnow())
    note, created = services.record_note(participant, data)
    db.session.commit()
    body = services.note_to_dict(note, {cp.id: cp.name for cp in participant.drill.checkpoints})
    return body, 201 if created else 200


@bp.get("/drills/<int:drill_id>/nearest-checkpoint")
@supporter_required
def get_nearest_checkpoint(drill_id: int) -> ResponseReturnValue:
    drill = _participant(drill_id).drill
    lat, lon = parse_latlon_query(request.args)
    return {"checkpoint": services.nearest_checkpoint(drill, lat, lon)}


@bp.get("/drills/<int:drill_id>/where")
@supporter_required
def get_where(drill_id: int) -> ResponseReturnValue:
    drill = _participant(drill_id).drill
    lat, lon = parse_latlon_query(request.args)
    result = services.describe_location(drill, lat, lon)
    db.session.commit()  # the geocoder's answer is cached
    return result


@bp.post("/drills/<int:drill_id>/help")
@supporter_required
def post_help(drill_id: int) -> ResponseReturnValue:
    participant = _participant(drill_id)
    data = parse_help(_json_body(), utcnow())
    call, created = services.record_help_call(participant, data)
    db.session.commit()
    return services.help_call_body(call), 201 if created else 200


@bp.post("/drills/<int:drill_id>/help/resolve")
@supporter_required
def resolve_own_help(drill_id: int) -> ResponseReturnValue:
    """「もう大丈夫」: the caller ends their own call, named by the id the phone made for it
    ({"help_client_id": ...}: the phone's queue may send this before it has heard the call's
    server id). Again after it ended, it answers how it ended."""
    participant = _participant(drill_id)
    call = services.own_help_call(participant, parse_help_ref(_json_body()))
    if call is None:
        raise services.NotParticipant()
    services.resolve_help_call(
        call, HelpCallResolution.caller_ok, current_user._get_current_object()
    )
    db.session.commit()
    return services.help_resolved_payload(call)


@bp.post("/help/<int:help_call_id>/respond")
@supporter_required
def respond_help(help_call_id: int) -> ResponseReturnValue:
    call = db.session.get(HelpCall, help_call_id)
    if call is None:
        raise services.NotParticipant()
    _participant(call.drill_id)
    if call.supporter_id == current_user.id:
        raise InvalidPayload({"help_call_id": [_("This is your own call for help.")]})
    responders = services.respond_to_help_call(call, current_user._get_current_object())
    db.session.commit()
    return {"responders": responders}


@bp.get("/drills/<int:drill_id>/events")
@supporter_required
def phone_events(drill_id: int) -> ResponseReturnValue:
    """Server-sent events for this phone: help calls near it, answers to its own (core/sse.py)."""
    supporter_id = _participant(drill_id).supporter_id
    last_id = last_event_id("last_event_id")
    cfg = current_app.config
    stream = event_stream(
        phone_reader(drill_id, supporter_id, last_id),
        last_id,
        lifetime_s=float(cfg["FIELD_SSE_LIFETIME_S"]),
        poll_s=float(cfg.get("FIELD_SSE_POLL_S", 0.5)),
        heartbeat_s=float(cfg.get("FIELD_SSE_HEARTBEAT_S", 15.0)),
        retry_ms=int(cfg["STREAM_RETRY_MS"]),
    )
    return sse_response(stream)


# ---------------------------------------------------------------------------------------------
# End of the JSON and event-stream routes. The HTML pages (field.home, field.drill_page) follow.


@bp.get("/")
@supporter_required
def home() -> ResponseReturnValue:
    """The supporter's drill now: the live one, else today's; otherwise their own page, which
    lists what is coming."""
    participations = upcoming_participations(current_user.id)
    current = next((p for p in participations if _is_drill_of_the_day(p.drill)), None)
    if current is not None:
        return redirect(url_for(".drill_page", drill_id=current.drill_id))
    return redirect(url_for("people.supporter_home"))


@bp.get("/drills/<int:drill_id>")
@supporter_required
def drill_page(drill_id: int) -> ResponseReturnValue:
    """The field page on the phone: the map, sharing position, where am I, the encounter log,
    the approach guide and calling for help."""
    participant = services.get_participant(drill_id, current_user.id)
    if participant is None:
        abort(404)
    drill = participant.drill
    parts = drill_map_parts(
        drill_map_data(drill),
        district_landmarks(drill.district_id),
        tile_settings(current_app.config),
    )
    page = render_template(
        "field/drill.html",
        drill=drill,
        participant=participant,
        map_parts=parts,
        team_color=safe_color(participant.team.color if participant.team else None),
        help_state=services.phone_help_state(participant),
    )
    return mark_offline_copy(make_response(page))  # a reload without network shows it


def _is_drill_of_the_day(drill: Drill) -> bool:
    """Live now, or planned for today (display time zone)."""
    if drill.status == DrillStatus.live:
        return True
    return (
        drill.status == DrillStatus.planned
        and to_local(drill.starts_at).date() == to_local(utcnow()).date()
    )
