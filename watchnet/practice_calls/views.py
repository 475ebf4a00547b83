"""Practice-call pages for staff: the confirmation from a drill, the reach of one call, its
CSV and closing it; and the supporters page's section on the district's latest calls."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Sequence
from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from watchnet.auth.access import get_in_district_or_404, staff_required, visible_district_ids
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.labels import label
from watchnet.core.refusal import refuse_form
from watchnet.core.timefmt import to_local
from watchnet.drills.models import Drill
from watchnet.people.panels import Panel, register_supporters_panel
from watchnet.practice_calls import services
from watchnet.practice_calls.forms import CloseForm, PracticeCallForm
from watchnet.practice_calls.models import PracticeAudience, PracticeCall
from watchnet.practice_calls.reach import (
    CallReach,
    call_reach,
    channel_label,
    district_practice_reach,
)

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


def _iso(value: datetime | None) -> str:
    return to_local(value).isoformat(timespec="seconds") if value is not None else ""


def reach_csv(reach: CallReach) -> bytes:
    """One row per person and channel tried (a person without any channel: one row), with
    the times of each step; UTF-8 with BOM, as Excel opens it."""
    words = {
        "reached": _("Reached"),
        "waiting": _("Not sent yet"),
        "sent": _("Sent, not opened"),
        "failed": _("Not delivered"),
        "no_channel": _("No channel"),
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            _("Name"),
            _("Reach"),
            _("Opened from"),
            _("Opened at"),
            _("Answer"),
            _("Answered at"),
            _("Sent → opened (s)"),
            _("Channel"),
            _("Step"),
            _("Status"),
            _("Sent at"),
            _("Delivered at"),
            _("Opened at (this channel)"),
            _("Answered at (this channel)"),
            _("Last error"),
        ]
    )
    answers = {"yes": _("I can take part"), "no": _("I can't now")}
    for person in reach.people:
        head = [
            person.name,
            words[person.state],
            channel_label(person.opened_via),
            _iso(person.opened_at),
            answers.get(person.answer or "", ""),
            _iso(person.answered_at),
            "" if person.open_s is None else str(int(round(person.open_s))),
        ]
        if not person.attempts:
            writer.writerow([*head, "", "", "", "", "", "", "", ""])
        for a in person.attempts:
            writer.writerow(
                [
                    *head,
                    channel_label(a.channel),
                    a.tier + 1,
                    _status_word(a.status),
                    _iso(a.sent_at),
                    _iso(a.delivered_at),
                    _iso(a.opened_at),
                    _iso(a.answered_at),
                    a.last_error or "",
                ]
            )
    return out.getvalue().encode("utf-8-sig")


def _status_word(status: str) -> str:
    return {
        "pending": _("Waiting to send"),
        "sending": _("Sending…"),
        "sent": _("Sent"),
        "failed": _("Not delivered"),
        "skipped": _("Not needed (opened before)"),
    }.get(status, status)


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
