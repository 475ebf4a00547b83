"""LINE: the section of the supporter's own page that links their LINE, and the official
account's webhook (POST /hooks/line), both on the people blueprint.

The webhook answers LINE at once and sends its replies after the response has gone out
(`call_on_close`): LINE waits only briefly for a webhook's answer and redelivers on a
timeout, and a reply is a courtesy that needs no retry (its token is single use), so it must
not hold up the answer that tells LINE the event arrived.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from watchnet.auth.access import supporter_required
from watchnet.core.extensions import csrf, db
from watchnet.core.urls import safe_redirect_target
from watchnet.notifications.transports.line import (
    SIGNATURE_HEADER,
    LineTransport,
    line_transport,
    valid_signature,
)
from watchnet.people import line_link
from watchnet.people.models import LineLink, Supporter
from watchnet.people.qr import qr_svg
from watchnet.people.views import bp

log = logging.getLogger(__name__)

_SESSION_CODE = "line_code"  # {"s": supporter id, "c": code}: shown again until used or expired
WEBHOOK_MAX_BYTES = 1024 * 1024  # LINE's webhook bodies are a few kB


# ---------------------------------------------------------------------------------------------
# The supporter's page


@dataclass(frozen=True)
class LineSection:
    """What the page's LINE section shows."""

    offered: bool  # the city has an official account (LINE_ADD_FRIEND_URL is set)
    link: LineLink | None
    friend_url: str
    friend_qr: Markup | None
    code: str | None  # "123 456"
    code_expires_at: datetime | None


def line_section(supporter: Supporter) -> LineSection:
    """The LINE section of a supporter's page (their link, and their code when one is open)."""
    friend_url = str(current_app.config.get("LINE_ADD_FRIEND_URL") or "")
    link = line_link.line_link_of(supporter.id)
    code, expires_at = None, None
    held = session.get(_SESSION_CODE)
    linked = link is not None and link.is_enabled
    if isinstance(held, dict) and held.get("s") == supporter.id and not linked:
        raw = str(held.get("c") or "")
        if line_link.code_is_current(supporter.id, raw):
            code = f"{raw[:3]} {raw[3:]}"
            row = db.session.get(line_link.LineLinkCode, supporter.id)
            expires_at = row.expires_at if row is not None else None
    if code is None and held is not None:
        session.pop(_SESSION_CODE, None)
    return LineSection(
        offered=bool(friend_url),
        link=link,
        friend_url=friend_url,
        friend_qr=qr_svg(friend_url) if friend_url and not linked else None,
        code=code,
        code_expires_at=expires_at,
    )


def _me() -> Response:
    # Back to the page the section was on (/me or /me/channels), at the LINE section.
    back = safe_redirect_target(request.form.get("next"), url_for("people.supporter_home"))
    return redirect(back.split("#")[0] + "#line", code=303)


@bp.post("/me/line/code")
@supporter_required
def line_code() -> Response:
    """Show a new one-time code on the page (kept in the phone's session until it is used or
    runs out, so a reload shows the same code; the database holds only its hash)."""
    supporter = current_user._get_current_object()
    if not current_app.config.get("LINE_ADD_FRIEND_URL"):
        flash(_("LINE is not set up for this city yet."), "error")
        return _me()
    issued = line_link.issue_link_code(supporter)
    db.session.commit()
    session[_SESSION_CODE] = {"s": supporter.id, "c": issued.code}
    return _me()


@bp.post("/me/line/unlink")
@supporter_required
def line_unlink() -> Response:
    """Unlink the supporter's LINE: nothing more is sent there."""
    supporter = current_user._get_current_object()
    if line_link.unlink_line(supporter):
        db.session.commit()
        flash(_("LINE is unlinked. Nothing more will be sent there."), "success")
    session.pop(_SESSION_CODE, None)
    return _me()


# ---------------------------------------------------------------------------------------------
# The webhook


def _refuse(status: int, why: str) -> tuple[Response, int]:
    # Logged with the address: a stream of these is someone probing the endpoint.
    log.warning("LINE webhook refused (%s) from %s", why, request.remote_addr)
    response = current_app.response_class(json.dumps({"message": why}), mimetype="application/json")
    return response, status


@bp.post("/hooks/line")
@csrf.exempt
def line_webhook() -> Response | tuple[Response, int]:
    """Events from the official account, signed by LINE with the channel secret."""
    secret = current_app.config.get("LINE_CHANNEL_SECRET")
    if not secret:
        return _refuse(404, "LINE is not configured (no channel secret)")
    if (request.content_length or 0) > WEBHOOK_MAX_BYTES:
        return _refuse(413, "body too large")
    body = request.get_data(cache=False)  # the raw bytes are what LINE signed
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        return _refuse(400, "no X-Line-Signature")
    if not valid_signature(secret, body, signature):
        return _refuse(401, "wrong X-Line-Signature")
    try:
        payload = json.loads(body)
        events = payload["events"]
        if not isinstance(events, list):
            raise TypeError("events is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        return _refuse(400, f"not a webhook body: {exc}")
    replies, failed = [], 0
    for event in events:
        if not isinstance(event, dict):
            continue
        try:
            reply = line_link.handle_event(event)
            db.session.commit()
        except Exception:  # noqa: BLE001 - one bad event must not lose the others
            db.session.rollback()
            failed += 1
            log.exception("LINE event %s failed", event.get("webhookEventId"))
            continue
        if reply is not None:
            replies.append(reply)
    # A failed event's claim was rolled back: a 500 makes LINE redeliver the request, and the
    # events already handled are skipped by their webhookEventId.
    response = current_app.response_class("{}", status=500 if failed else 200)
    response.mimetype = "application/json"
    if replies:
        response.call_on_close(_reply_later(_reply_transport(), replies))
    return response


def _reply_transport() -> LineTransport:
    return line_transport({**current_app.config, "INSTANCE_PATH": current_app.instance_path})


def _reply_later(transport: LineTransport, replies: list[line_link.Reply]) -> Callable[[], None]:
    def send() -> None:
        try:
            for reply in replies:
                transport.reply(reply.reply_token, reply.messages, reply.name)
        except Exception:  # noqa: BLE001 - after the response nothing may raise
            log.exception("LINE replies failed")
        finally:
            transport.close()

    return send
