"""The supporter turns push notifications on or off for the phone in hand (their page /me,
static/js/me.js): the browser's subscription is stored or deleted. JSON in, JSON out; the
CSRF token travels in the X-CSRFToken header as with the other JSON calls."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from watchnet.auth.access import supporter_required
from watchnet.core.errors import json_error
from watchnet.core.extensions import db
from watchnet.people import push
from watchnet.people.views import bp


class _BadJson(Exception):
    pass


@bp.errorhandler(_BadJson)
def _bad_json(exc: _BadJson) -> ResponseReturnValue:
    return json_error(400, _("Send a JSON body."), {"_body": [_("Send a JSON object.")]})


@bp.errorhandler(push.InvalidSubscription)
def _invalid(exc: push.InvalidSubscription) -> ResponseReturnValue:
    db.session.rollback()
    return json_error(422, _("Some of the values are not valid."), exc.errors)


def _json_body() -> Any:
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise _BadJson()
    return body


@bp.post("/me/push-subscriptions")
@supporter_required
def save_push_subscription() -> ResponseReturnValue:
    """Notifications on for this phone: 201 when new, 200 when it was known."""
    data = push.parse_subscription(_json_body(), list(current_app.config["PUSH_ENDPOINT_HOSTS"]))
    label = push.device_label(request.headers.get("User-Agent", ""))
    row, created = push.save_push_subscription(current_user._get_current_object(), data, label)
    db.session.commit()
    return jsonify({"id": row.id, "enabled": True, "label": row.label}), 201 if created else 200


@bp.delete("/me/push-subscriptions")
@supporter_required
def delete_push_subscription() -> ResponseReturnValue:
    """Notifications off for this phone: its subscription is deleted (200 also when it was
    already gone, so turning off twice is harmless)."""
    endpoint = push.parse_endpoint(_json_body())
    deleted = push.remove_push_subscription(current_user._get_current_object(), endpoint)
    db.session.commit()
    return jsonify({"deleted": deleted})


def push_button(supporter_id: int) -> dict[str, Any] | None:
    """What a page's notification button (templates/people/_push_button.html, me.js) needs,
    or None when this server has no VAPID key (then the page offers no button)."""
    key = current_app.config.get("VAPID_PUBLIC_KEY")
    if not key:
        return None
    return {
        "key": str(key),
        "url": url_for("people.save_push_subscription"),
        "endpoints": push.enabled_push_endpoints(supporter_id),
    }
