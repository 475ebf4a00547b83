"""The supporter's alert page (personal link /a/<token>) and its JSON actions.

No sign-in: the token in the link is the recipient's secret and names exactly one recipient,
so every action here is theirs and nobody else's. The same secret is why the blueprint is
exempt from CSRF tokens: a forged cross-site request would need the token, and whoever has it
can act anyway — while a page left open through a long search would outlive a CSRF token.

While the alert is active the page shows the description, the photo (if shared) and the
search; once it is closed every route answers with the outcome and a thank-you only.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from watchnet.alerts import services as alert_services
from watchnet.alerts.field import services as fs
from watchnet.alerts.field.schemas import parse_sighting
from watchnet.alerts.models import Acknowledgement, AlertRecipient
from watchnet.alerts.sectors import SectorError
from watchnet.auth.services import record_refused_access
from watchnet.core.dbtypes import utcnow
from watchnet.core.errors import _messages, handle_http_exception, json_error
from watchnet.core.extensions import csrf, db
from watchnet.core.phones import tel_href
from watchnet.core.webapp import is_offline_fill, mark_offline_copy
from watchnet.maps.builders import add_landmarks, new_map, render_parts
from watchnet.maps.drill_maps import tile_settings
from watchnet.notifications.models import DeliveryChannel
from watchnet.tracking.schemas import InvalidPayload, parse_positions

bp = Blueprint("alert_field", __name__, url_prefix="/a")
csrf.exempt(bp)

# Tokens are secrets.token_urlsafe(32): 43 characters. Anything else is not worth a query.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,64}")
PAGE_ENDPOINTS = frozenset({"alert_field.show", "alert_field.photo"})


@bp.after_request
def _private(response: Response) -> Response:
    """Every answer of the link (pages, photos, JSON, errors) may carry personal details and
    the token: never cached, never sent on as a Referer, never indexed. (The one exception is
    the supporter's own service worker keeping the active page, which its response allows
    with the Watchnet-Offline-Copy header: see watchnet/core/webapp.py.)"""
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


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


@bp.errorhandler(SectorError)
def _sector_refused(exc: SectorError) -> ResponseReturnValue:
    db.session.rollback()
    return json_error(exc.status, str(exc), {"cell": [str(exc)]})


@bp.errorhandler(fs.NotSearching)
def _not_searching(exc: fs.NotSearching) -> ResponseReturnValue:
    db.session.rollback()
    return json_error(409, _("Tap “I'll search” first to share your position."))


@bp.errorhandler(fs.AlertClosed)
def _closed_meanwhile(exc: fs.AlertClosed) -> ResponseReturnValue:
    # Closed between the check at the top of the view and the service call.
    return _closed(_recipient(str((request.view_args or {}).get("token", ""))))


class _BadJson(Exception):
    pass


@bp.errorhandler(_BadJson)
def _bad_json(exc: _BadJson) -> ResponseReturnValue:
    return json_error(400, _("Send a JSON body."), {"_body": [_("Send a JSON object.")]})


def _closed(recipient: AlertRecipient) -> ResponseReturnValue:
    """410 with the outcome: the phone shows the thank-you and forgets the details."""
    db.session.rollback()
    state = fs.closed_state(recipient.alert)
    return json_error(410, state["message"], state=state)


class _LinkEnded(Exception):
    """A link whose supporter's access was ended (revoked link, deactivation)."""


@bp.errorhandler(_LinkEnded)
def _link_ended(exc: _LinkEnded) -> ResponseReturnValue:
    """403: the page says the link no longer works; JSON carries a closed-like state so an
    open page forgets the person's details as it does when the alert ends."""
    db.session.rollback()
    message = _(
        "This link no longer works. Please ask the organizer of your district for a new link."
    )
    if request.endpoint in PAGE_ENDPOINTS:
        return render_template("auth/link_invalid.html"), 403
    return json_error(
        403,
        message,
        signed_out=True,
        state={"status": "revoked", "closed": True, "message": message, "is_exercise": False},
    )


def _recipient(token: str) -> AlertRecipient:
    """The link's recipient, or 404 (unknown) / 403 (the supporter's access was ended).

    The lookup is the token's unique index, then the supporter by primary key: ended access
    replaced the token (auth.services.end_personal_access), so an old token is not found, and
    `is_active` covers a supporter deactivated by any other path. Only a refusal costs more.
    """
    recipient = alert_services.recipient_by_token(token) if _TOKEN_RE.fullmatch(token) else None
    if recipient is not None and recipient.supporter.is_active:
        return recipient
    if recipient is None and _TOKEN_RE.fullmatch(token):
        recipient = db.session.scalar(
            sa.select(AlertRecipient).where(AlertRecipient.revoked_token == token)
        )
    if recipient is None:
        abort(404)
    # A supporter taken off the register, or whose link was replaced, no longer sees what
    # their old messages point to.
    supporter = recipient.supporter
    record_refused_access(
        supporter,
        "alert_link",
        alert_id=recipient.alert_id,
        recipient_id=recipient.id,
        endpoint=request.endpoint or "",
        reason="inactive" if not supporter.is_active else "revoked",
    )
    raise _LinkEnded()


def _json_object() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise _BadJson()
    if not isinstance(body, dict):
        raise InvalidPayload({"_body": [_("Send a JSON object.")]})
    return body


# ---------------------------------------------------------------------------------------------
# Pages


@bp.get("/<token>")
def show(token: str) -> ResponseReturnValue:
    """The alert on the phone: details and the search while active, a thank-you after."""
    recipient = _recipient(token)
    alert = recipient.alert
    if not alert.is_active:
        return render_template("alerts/field/closed.html", state=fs.closed_state(alert))
    # The opening itself (and the channel it came from) is noted by the page's POST /opened,
    # so neither this GET nor the service worker's offline fill counts as opening it.
    fs.record_link_view(recipient, what="offline_copy" if is_offline_fill() else "page")
    db.session.commit()
    tiles = tile_settings(current_app.config)
    area = new_map((alert.last_seen_lat, alert.last_seen_lon), tiles, 14)
    # The landmarks the last-seen place is described from (「八幡公民館の北東 約200m」).
    add_landmarks(area, alert.district.landmarks)
    map_parts = render_parts(area)
    page = render_template(
        "alerts/field/show.html",
        alert=alert,
        recipient=recipient,
        token=token,
        photos=fs.shown_photos(alert),
        state=fs.field_state(recipient),
        tel_href=tel_href(alert.contact_phone),
        map_parts=map_parts,
    )
    # Only the active alert page may be kept by the phone's service worker, and only until the
    # alert closes or the access ends (watchnet/core/webapp.py says how the copy goes).
    return mark_offline_copy(make_response(page))


@bp.get("/<token>/photos/<int:photo_id>")
def photo(token: str, photo_id: int) -> ResponseReturnValue:
    """A shared registry photo, only while the alert is active and sharing is on."""
    recipient = _recipient(token)
    if not recipient.alert.is_active:
        abort(410)
    shown = fs.shown_photo(recipient.alert, photo_id)
    if shown is None:
        abort(404)
    fs.record_link_view(recipient, what=f"photo:{photo_id}")
    db.session.commit()
    return Response(shown.data, mimetype=shown.content_type or "image/jpeg")


# ---------------------------------------------------------------------------------------------
# JSON


@bp.get("/<token>/state")
def state(token: str) -> ResponseReturnValue:
    """The page's live state (polled every few seconds); shapes of the sectors only when the
    search area changed since `have`."""
    recipient = _recipient(token)
    return jsonify(fs.field_state(recipient, request.args.get("have")))


@bp.post("/<token>/opened")
def opened(token: str) -> ResponseReturnValue:
    """The page is open on the phone: {"via": "<channel>"} from the link's ?via= (null when
    the page was reached otherwise). Sent by the page's script once per load; repeating it
    changes nothing but the stamps of a channel not seen before."""
    recipient = _recipient(token)
    if not recipient.alert.is_active:
        return _closed(recipient)
    channel = _channel_of(_json_object().get("via"))
    alert_services.record_alert_opened(recipient, channel)
    db.session.commit()
    opened_at = recipient.opened_at
    return jsonify(
        {
            "opened_at": opened_at.isoformat() if opened_at else None,
            "via": recipient.opened_via or None,
        }
    )


def _channel_of(raw: Any) -> DeliveryChannel | None:
    """The channel a ?via= names; None for none; 422 for anything else."""
    if raw is None or raw == "":
        return None
    try:
        return DeliveryChannel(str(raw))
    except ValueError:
        names = ", ".join(c.value for c in DeliveryChannel)
        raise InvalidPayload(
            {"via": [_("Unknown channel: send one of %(names)s, or null.", names=names)]}
        ) from None


@bp.post("/<token>/ack")
def ack(token: str) -> ResponseReturnValue:
    """Answer "I'll search" / "I can't now" (changeable)."""
    recipient = _recipient(token)
    if not recipient.alert.is_active:
        return _closed(recipient)
    raw = _json_object().get("answer")
    try:
        answer = Acknowledgement(str(raw))
    except ValueError:
        raise InvalidPayload({"answer": [_("Answer “searching” or “cannot”.")]}) from None
    alert_services.acknowledge_alert(recipient, answer)
    db.session.commit()
    return jsonify({"answer": answer.value})


@bp.post("/<token>/sector")
def sector(token: str) -> ResponseReturnValue:
    """{"action": "take", "cell": ...} or {"action": "release"}."""
    recipient = _recipient(token)
    if not recipient.alert.is_active:
        return _closed(recipient)
    body = _json_object()
    action = body.get("action", "take")
    if action == "release":
        released = fs.give_back_sector(recipient)
        db.session.commit()
        return jsonify({"my_sector": None, "released": released})
    if action != "take":
        raise InvalidPayload({"action": [_("Unknown choice.")]})
    cell, created = fs.take_sector(recipient, str(body.get("cell") or ""))
    db.session.commit()
    return jsonify({"my_sector": cell, "created": created}), 201 if created else 200


@bp.post("/<token>/positions")
def positions(token: str) -> ResponseReturnValue:
    """A batch of shared positions while searching (client ids: stored once)."""
    recipient = _recipient(token)
    if not recipient.alert.is_active:
        return _closed(recipient)
    rows = parse_positions(_json_object(), int(current_app.config["POSITION_MAX_BATCH"]), utcnow())
    accepted, duplicates = fs.record_search_positions(recipient, rows)
    db.session.commit()
    return jsonify({"accepted": accepted, "duplicates": duplicates})


@bp.post("/<token>/sightings")
def sightings(token: str) -> ResponseReturnValue:
    """A sighting (multipart form, optional photo re-encoded without EXIF)."""
    recipient = _recipient(token)
    if not recipient.alert.is_active:
        return _closed(recipient)
    data = parse_sighting(request.form, request.files, utcnow())
    sighting, created = fs.report_sighting(recipient, data)
    db.session.commit()
    return jsonify(fs.sighting_body(sighting)), 201 if created else 200
