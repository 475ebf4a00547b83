"""Practice-call pages for staff: the confirmation from a drill, the reach of one call, its
CSV and closing it; and the supporters page's section on the district's latest calls."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from watchnet.auth.access import get_in_district_or_404, staff_required, visible_district_ids
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.labels import label
from watchnet.core.refusal import refuse_form
from watchnet.drills.models import Drill
from watchnet.people.panels import Panel, register_supporters_panel
from watchnet.practice_calls import services
from watchnet.practice_calls.exports import reach_csv
from watchnet.practice_calls.forms import CloseForm, PracticeCallForm
from watchnet.practice_calls.models import PracticeAudience, PracticeCall
from watchnet.practice_calls.reach import call_reach, channel_label, district_practice_reach

bp = Blueprint("practice_calls", __name__)


def _render_confirm(drill: Drill, form: PracticeCallForm, status: int = 200) -> ResponseReturnValue:
    previews = {a.value: services.preview_practice_call(drill, a) for a in PracticeAudience}
    return render_template(
        "practice_calls/confirm.html",
        drill=drill,
        form=form,
        previews=previews,
        channel_label=channel_label,
    ), status


@bp.get("/drills/<int:drill_id>/practice-call")
@staff_required()
def confirm_practice_call(drill_id: int) -> ResponseReturnValue:
    """Whom a practice call would reach and on which channels; nothing is sent yet."""
    drill = get_in_district_or_404(current_user, Drill, drill_id)
    form = PracticeCallForm(formdata=None)
    form.client_key.data = secrets.token_urlsafe(24)
    has_participants = bool(services.audience_supporter_ids(drill, PracticeAudience.participants))
    form.audience.data = (
        PracticeAudience.participants.value if has_participants else PracticeAudience.district.value
    )
    return _render_confirm(drill, form)


@bp.post("/drills/<int:drill_id>/practice-call")
@staff_required()
def send_practice_call(drill_id: int) -> ResponseReturnValue:
    """Send the practice call that the confirmation page described."""
    drill = get_in_district_or_404(current_user, Drill, drill_id)
    form = PracticeCallForm()
    if form.validate_on_submit():
        try:
            call, created = services.send_practice_call(
                drill, form.audience_value(), current_user, form.client_key.data or None
            )
        except UserInputError as exc:
            refuse_form(form, exc, fallback="audience")
        else:
            db.session.commit()
            if created:
                flash(_("The practice call is on its way."), "success")
            return redirect(url_for(".show_practice_call", practice_call_id=call.id))
    return _render_confirm(drill, form, 400)


def _load_call(practice_call_id: int) -> PracticeCall:
    return get_in_district_or_404(current_user, PracticeCall, practice_call_id)


@bp.get("/practice-calls/<int:practice_call_id>")
@staff_required()
def show_practice_call(practice_call_id: int) -> str:
    """The reach of one practice call: who was reached on which channel, and how fast."""
    call = _load_call(practice_call_id)
    return render_template(
        "practice_calls/show.html",
        call=call,
        reach=call_reach(call),
        close_form=CloseForm(),
        audience_label=lambda value: label(PracticeAudience, value),
    )


@bp.post("/practice-calls/<int:practice_call_id>/close")
@staff_required()
def close_practice_call(practice_call_id: int) -> ResponseReturnValue:
    """End the practice call: waiting messages are dropped, the figures stay as they are."""
    call = _load_call(practice_call_id)
    if not CloseForm().validate_on_submit():
        abort(400)
    services.close_practice_call(call)
    db.session.commit()
    flash(_("The practice call has ended."), "success")
    return redirect(url_for(".show_practice_call", practice_call_id=call.id))


@bp.get("/practice-calls/<int:practice_call_id>/reach.csv")
@staff_required()
def export_reach_csv(practice_call_id: int) -> Response:
    """The reach of one call, per person and channel, as CSV for Excel."""
    call = _load_call(practice_call_id)
    data = reach_csv(call_reach(call, with_previous=False))
    return Response(
        data,
        mimetype="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="practice-call-{call.id}-reach.csv"'
        },
    )


def _supporters_panel(district_ids: Sequence[int]) -> Panel | None:
    """The supporters page's section: each district's latest practice calls."""
    allowed = visible_district_ids(current_user)
    found = district_practice_reach([d for d in district_ids if d in allowed])
    if not found:
        return None
    return Panel("practice_calls/_supporters_panel.html", {"districts": found})


register_supporters_panel(_supporters_panel)
