"""The supporter's channels page (/me/channels): which channels are on, e-mail on or off,
phone numbers, quiet hours and the test notification with its outcome per channel; and the
staff side of a supporter's channels (the detail page's section and its phone form).

Routes sit on the people blueprint (people.my_channels ...). Every form re-renders the page
with its field errors (422) and nothing written; a test pressed too soon answers 429.
"""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from watchnet.auth.access import supporter_required
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.refusal import refuse_form
from watchnet.people.channel_forms import (
    EmailChoiceForm,
    PhoneChannelForm,
    QuietHoursForm,
    RemoveForm,
    SendTestForm,
)
from watchnet.people.channel_services import (
    ChannelOutcome,
    TooSoon,
    channel_lines,
    interval_between_tests_s,
    next_test_allowed_in_s,
    outcomes_of_test,
    phone_entries,
    send_test_notification,
    set_email_enabled,
    set_quiet_hours,
)
from watchnet.people.channels import add_phone_channel, remove_phone_channel
from watchnet.people.line_views import line_section
from watchnet.people.models import ChannelTest, Supporter
from watchnet.people.push_views import push_button
from watchnet.people.views import bp

POLL_MS = 1500  # how often the page asks for a test's outcome while it is under way


def _me() -> Supporter:
    supporter: Supporter = current_user._get_current_object()
    return supporter


def _own_test(supporter: Supporter, test_id: int | None) -> ChannelTest | None:
    if test_id is None:
        return None
    return db.session.scalar(
        sa.select(ChannelTest).where(
            ChannelTest.id == test_id, ChannelTest.supporter_id == supporter.id
        )
    )


def outcome_json(outcome: ChannelOutcome) -> dict[str, Any]:
    return {
        "channel": outcome.channel.value,
        "ref": outcome.ref,
        "name": outcome.name,
        "shown": outcome.shown,
        "state": outcome.state,
        "reason": outcome.reason,
        "sent_at": outcome.sent_at.isoformat() if outcome.sent_at else None,
    }


def _interval_text(seconds: int) -> str:
    if seconds % 60 == 0 and seconds >= 60:
        return ngettext(
            "You can send one test a minute.",
            "You can send one test every %(num)d minutes.",
            seconds // 60,
        )
    return ngettext(
        "You can send one test every second.",
        "You can send one test every %(num)d seconds.",
        seconds,
    )


def _page(status: int = 200, **forms: Any) -> tuple[str, int]:
    supporter = _me()
    test = _own_test(supporter, request.args.get("test", type=int))
    outcomes = outcomes_of_test(test, supporter) if test else []
    context = {
        "email_form": EmailChoiceForm(formdata=None),
        "quiet_form": QuietHoursForm(formdata=None, obj=supporter),
        "phone_form": PhoneChannelForm(formdata=None),
        "test_form": SendTestForm(formdata=None),
        "remove_form": RemoveForm(formdata=None),
        **forms,
    }
    config = {
        "status_url": url_for("people.my_test_status", test_id=test.id) if test else None,
        "poll_ms": POLL_MS,
        "outcomes": [outcome_json(o) for o in outcomes],
        "strings": {
            "waiting": _("Sending…"),
            "retrying": _("Trying again…"),
            "sent": _("Arrived"),
            "failed": _("Did not arrive"),
            "all_done": _("The test is finished."),
            "none": _("No channel is on, so nothing was sent."),
            "offline": _("No connection. The page will try again."),
        },
    }
    page = render_template(
        "people/channels.html",
        supporter=supporter,
        lines=channel_lines(supporter),
        phones=phone_entries(supporter),
        line=line_section(supporter),
        push=push_button(supporter.id),
        test=test,
        outcomes=outcomes,
        interval_text=_interval_text(interval_between_tests_s()),
        wait_s=next_test_allowed_in_s(supporter),
        channels_config=config,
        **context,
    )
    return page, status


@bp.get("/me/channels")
@supporter_required
def my_channels() -> ResponseReturnValue:
    """The supporter's channels: what is on, and the forms to change it."""
    return _page()


@bp.post("/me/channels/email")
@supporter_required
def set_my_email() -> ResponseReturnValue:
    """E-mail on or off."""
    form = EmailChoiceForm()
    if form.validate_on_submit():
        try:
            set_email_enabled(_me(), form.wants_on)
        except UserInputError as exc:
            refuse_form(form, exc, fallback="enabled")
        else:
            db.session.commit()
            return redirect(url_for("people.my_channels", _anchor="email"))
    return _page(422, email_form=form)


@bp.post("/me/channels/quiet")
@supporter_required
def set_my_quiet_hours() -> ResponseReturnValue:
    """Set or clear the quiet hours (the clear button sends no times)."""
    if "clear" in request.form:
        if not RemoveForm().validate_on_submit():
            abort(400)
        set_quiet_hours(_me(), None, None)
        db.session.commit()
        return redirect(url_for("people.my_channels", _anchor="quiet"))
    form = QuietHoursForm()
    if form.validate_on_submit():
        try:
            set_quiet_hours(_me(), form.quiet_start.data, form.quiet_end.data)
        except UserInputError as exc:
            refuse_form(form, exc, fallback="quiet_start")
        else:
            db.session.commit()
            return redirect(url_for("people.my_channels", _anchor="quiet"))
    return _page(422, quiet_form=form)


@bp.post("/me/channels/phones")
@supporter_required
def add_my_phone() -> ResponseReturnValue:
    """Add a number for SMS and/or calls, with the consent ticked."""
    form = PhoneChannelForm()
    if form.validate_on_submit():
        try:
            add_phone_channel(
                _me(), form.number.data or "", form.sms, form.voice, consent=bool(form.consent.data)
            )
        except UserInputError as exc:
            refuse_form(form, exc, aliases={"sms": "use", "label": "number"}, fallback="number")
        else:
            db.session.commit()
            flash(
                _("The number was added. Send a test notification to see that it works."), "success"
            )
            return redirect(url_for("people.my_channels", _anchor="phones"))
    return _page(422, phone_form=form)


@bp.post("/me/channels/phones/<int:phone_id>/remove")
@supporter_required
def remove_my_phone(phone_id: int) -> ResponseReturnValue:
    """Remove one of the supporter's own numbers (another's answers 404)."""
    if not RemoveForm().validate_on_submit():
        abort(400)
    if not remove_phone_channel(_me(), phone_id):
        abort(404)
    db.session.commit()
    flash(_("The number was removed. Nothing more is sent to it."), "success")
    return redirect(url_for("people.my_channels", _anchor="phones"))


@bp.post("/me/channels/test")
@supporter_required
def send_my_test() -> ResponseReturnValue:
    """「テスト通知を送る」: one test per press, on every channel at once."""
    form = SendTestForm()
    if form.validate_on_submit():
        try:
            test = send_test_notification(_me(), form.press_key.data or "")
        except TooSoon as exc:
            refuse_form(form, exc)
            page, _status = _page(429, test_form=form)
            return page, 429, {"Retry-After": str(exc.retry_after_s)}
        except UserInputError as exc:
            refuse_form(form, exc)
        else:
            db.session.commit()
            return redirect(url_for("people.my_channels", test=test.id, _anchor="test"))
    # A key that did not pass is replaced, so the next press can go through.
    form.press_key.data = secrets.token_urlsafe(16)
    return _page(422, test_form=form)


@bp.get("/me/channels/tests/<int:test_id>")
@supporter_required
def my_test_status(test_id: int) -> ResponseReturnValue:
    """The outcome of one of the supporter's own tests, per channel (the page polls it)."""
    supporter = _me()
    test = _own_test(supporter, test_id)
    if test is None:
        abort(404)
    outcomes = outcomes_of_test(test, supporter)
    return jsonify(
        {
            "test_id": test.id,
            "done": all(o.is_final for o in outcomes),
            "outcomes": [outcome_json(o) for o in outcomes],
        }
    )
