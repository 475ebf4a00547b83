"""The supporter's practice-call page (personal link /p/<token>) and its two actions.

No sign-in: the token names exactly one recipient, so, as on the alert page, the blueprint is
exempt from CSRF tokens (a forged request would need the token, and whoever has it can act
anyway). The GET only shows the page: the page's script then reports the opening with a POST
(with the `via` the link carried), so a link checker or a prefetch that fetches the URL does
not count as the person having read it. Without scripts, an answer counts as opened too.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from watchnet.auth.services import record_refused_access
from watchnet.core.errors import UserInputError, _messages, handle_http_exception, json_error
from watchnet.core.extensions import csrf, db
from watchnet.notifications.hooks import Answer
from watchnet.practice_calls import services
from watchnet.practice_calls.models import PracticeCallRecipient

bp = Blueprint("practice_field", __name__, url_prefix="/p")
csrf.exempt(bp)

# Tokens are secrets.token_urlsafe(32): 43 characters. Anything else is not worth a query.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,64}")
PAGE_ENDPOINTS = frozenset({"practice_field.phone_page"})


@bp.after_request
def _private(response: Response) -> Response:
    """The page and its answers carry the token: never cached, never sent on as a Referer,
    never indexed."""
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> ResponseReturnValue:
    if request.endpoint in PAGE_ENDPOINTS or _is_form_post():
        return handle_http_exception(exc)
    code = exc.code or 500
    return json_error(code, _messages().get(code, exc.description or ""))


class _LinkEnded(Exception):
    """The supporter's access was ended (revoked link, deactivated)."""


@bp.errorhandler(_LinkEnded)
def _link_ended(exc: _LinkEnded) -> ResponseReturnValue:
    if request.endpoint in PAGE_ENDPOINTS or _is_form_post():
        return render_template("auth/link_invalid.html"), 403
    message = _(
        "This link no longer works. Please ask the organizer of your district for a new link."
    )
    return json_error(403, message, signed_out=True)


def _is_form_post() -> bool:
    return request.method == "POST" and not request.is_json


def _recipient(token: str) -> PracticeCallRecipient:
    """The link's recipient, or 404 (unknown) / 403 (the supporter's access was ended)."""
    recipient = services.recipient_by_token(token) if _TOKEN_RE.fullmatch(token) else None
    if recipient is None:
        abort(404)
    if not services.link_is_valid(recipient):
        supporter = recipient.supporter
        record_refused_access(
            supporter,
            "practice_call_link",
            practice_call_id=recipient.practice_call_id,
            recipient_id=recipient.id,
            endpoint=request.endpoint or "",
            reason="inactive" if not supporter.is_active else "revoked",
        )
        raise _LinkEnded()
    return recipient


def _body() -> dict[str, Any]:
    if request.is_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {}
    return request.form.to_dict()


def _state(recipient: PracticeCallRecipient) -> dict[str, Any]:
    return {
        "opened": recipient.opened_at is not None,
        "opened_via": recipient.opened_via,
        "answer": recipient.answer.value if recipient.answer is not None else None,
        "closed": not recipient.practice_call.is_open,
    }


def _closed_answer() -> ResponseReturnValue:
    db.session.rollback()
    return json_error(410, str(services.CALL_CLOSED), closed=True)


@bp.get("/<token>")
def phone_page(token: str) -> ResponseReturnValue:
    """The practice call on the phone: it is a practice, and two buttons to answer."""
    recipient = _recipient(token)
    via = services.channel_or_none(request.args.get("via"))
    return render_template(
        "practice_calls/phone.html",
        recipient=recipient,
        call=recipient.practice_call,
        token=token,
        via=via.value if via is not None else "",
        state=_state(recipient),
        error=None,
    )


@bp.post("/<token>/opened")
def opened(token: str) -> ResponseReturnValue:
    """The page's script reports that the page was opened, from the channel in `via`."""
    recipient = _recipient(token)
    if not recipient.practice_call.is_open:
        return _closed_answer()
    via = services.channel_or_none(_body().get("via"))
    first = services.record_practice_opened(recipient, via)
    db.session.commit()
    return jsonify({**_state(recipient), "first": first})


@bp.post("/<token>/answer")
def answer(token: str) -> ResponseReturnValue:
    """「参加できます」(yes) / 「今は参加できない」(no), as JSON from the script or as the page's
    own form without scripts (then back to the page)."""
    recipient = _recipient(token)
    body = _body()
    via = services.channel_or_none(body.get("via"))
    try:
        value = Answer(str(body.get("answer")))
    except ValueError:
        message = _("Answer “yes” or “no”.")
        if _is_form_post():
            return _page_with_error(recipient, token, via, message, 422)
        return json_error(422, _("Some of the values are not valid."), {"answer": [message]})
    try:
        services.answer_practice_call(recipient, value, via)
    except UserInputError as exc:
        if _is_form_post():
            db.session.rollback()
            return _page_with_error(recipient, token, via, str(exc.message), 410)
        return _closed_answer()
    db.session.commit()
    if _is_form_post():
        page = url_for(".phone_page", token=token)
        return redirect(page + (f"?via={via.value}" if via is not None else ""), 303)
    return jsonify(_state(recipient))


def _page_with_error(
    recipient: PracticeCallRecipient, token: str, via: Any, message: str, status: int
) -> ResponseReturnValue:
    return render_template(
        "practice_calls/phone.html",
        recipient=recipient,
        call=recipient.practice_call,
        token=token,
        via=via.value if via is not None else "",
        state=_state(recipient),
        error=message,
    ), status
