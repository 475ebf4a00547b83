"""Exports of an alert: CAP 1.2, GeoJSON, printable flyer.

Coordinators (and admins) of the alert's district only; each export carries personal data
(the description, searchers' tracks), so every one is recorded in the audit log."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from flask import Blueprint, current_app, make_response, render_template, request, url_for
from flask_login import current_user
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from watchnet.alerts.exports.cap import CONTENT_TYPE as CAP_CONTENT_TYPE
from watchnet.alerts.exports.cap import build_cap
from watchnet.alerts.exports.flyer import flyer_context
from watchnet.alerts.exports.geojson import GEOJSON_CONTENT_TYPE, search_geojson
from watchnet.alerts.models import Alert
from watchnet.audit.reads import audited_read, note_read
from watchnet.auth.access import get_in_district_or_404, staff_required
from watchnet.people.models import StaffRole

bp = Blueprint("alert_exports", __name__)


def _alert(alert_id: int) -> Alert:
    return get_in_district_or_404(current_user, Alert, alert_id)


def _audit(alert: Alert, action: str) -> None:
    # Every export is a row (not throttled): each one carries the data out of the app.
    note_read(
        action, "alert", alert.id, alert.district_id, throttle=False, status=alert.status.value
    )


def cap_sender() -> str:
    """The CAP sender: this installation's public host. PUBLIC_BASE_URL keeps it the same
    whatever host name a request came in by, so later messages' <references> match."""
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    host = urlsplit(base).hostname or "localhost"
    return f"watchnet@{host}"


def _no_store(response: Response) -> Response:
    # Personal data: never kept by a shared browser cache or a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/alerts/<int:alert_id>/cap.xml")
@staff_required(StaffRole.coordinator)
@audited_read
def cap(alert_id: int) -> Response:
    """The alert's current CAP 1.2 message (Alert, Update or Cancel)."""
    alert = _alert(alert_id)
    body = build_cap(alert, sender=cap_sender())
    _audit(alert, "export_alert_cap")
    response = make_response(body)
    response.headers["Content-Type"] = CAP_CONTENT_TYPE
    response.headers["Content-Disposition"] = f'inline; filename="alert-{alert.id}.cap.xml"'
    return _no_store(response)


@bp.get("/alerts/<int:alert_id>/search.geojson")
@staff_required(StaffRole.coordinator)
@audited_read
def geojson(alert_id: int) -> Response:
    """The search as GeoJSON: last-seen point, rings, sectors, sightings, searchers' tracks."""
    alert = _alert(alert_id)
    body = json.dumps(search_geojson(alert), ensure_ascii=False, separators=(",", ":"))
    _audit(alert, "export_alert_geojson")
    response = make_response(body)
    response.headers["Content-Type"] = GEOJSON_CONTENT_TYPE
    response.headers["Content-Disposition"] = f'inline; filename="alert-{alert.id}.geojson"'
    return _no_store(response)


@bp.get("/alerts/<int:alert_id>/flyer")
@staff_required(StaffRole.coordinator)
@audited_read
def flyer(alert_id: int) -> Response:
    """A printable A4 flyer; once the alert is closed, only that the search is over."""
    alert = _alert(alert_id)
    context = flyer_context(alert)
    try:
        context["back_url"] = url_for("alerts.show_alert", alert_id=alert.id)
    except BuildError:  # the coordinator's alert page is not there (yet)
        context["back_url"] = None
    _audit(alert, "view_alert_flyer")
    return _no_store(make_response(render_template("alerts/flyer.html", **context)))
