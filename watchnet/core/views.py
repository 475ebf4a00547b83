"""Home, health, language switch and the vendored front-end assets."""

from __future__ import annotations

from pathlib import Path

import folium
import sqlalchemy as sa
import xstatic.pkg.jquery
import xstatic.pkg.leaflet
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user

from watchnet.core.extensions import db
from watchnet.core.urls import safe_redirect_target

bp = Blueprint("core", __name__)

# Library name -> the folder an installed package keeps its files in.
VENDOR_DIRS: dict[str, str] = {
    "leaflet": xstatic.pkg.leaflet.BASE_DIR,
    "jquery": xstatic.pkg.jquery.BASE_DIR,
    "folium": str(Path(folium.__file__).parent / "templates"),
}


@bp.get("/vendor/<lib>/<path:filename>")
def vendor(lib: str, filename: str) -> Response:
    """Serve a third-party script or stylesheet from its installed package."""
    directory = VENDOR_DIRS.get(lib)
    if directory is None:
        abort(404)
    return send_from_directory(directory, filename, max_age=86400)


@bp.route("/ping", methods=["GET", "POST"])
def ping() -> Response:
    """The cheapest answer the app can give (no database): for load balancers, and the
    baseline that bench/ compares real endpoints with under the same server and settings.
    A POST parses its JSON body, as the phone endpoints do."""
    if request.method == "POST":
        request.get_json(silent=True)
    return jsonify(ok=True)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 with the database's state, 503 when it does not answer."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        dialect = db.engine.dialect.name
        return jsonify(status="ok", database={"state": "ok", "dialect": dialect}), 200
    except sa.exc.SQLAlchemyError as exc:
        current_app.logger.warning("health check failed: %s", exc)
        return jsonify(status="error", database={"state": "unavailable"}), 503


@bp.post("/lang/<code>")
def switch_language(code: str) -> ResponseReturnValue:
    """Switch the UI language; saved on the account when logged in."""
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session["lang"] = code
    if current_user.is_authenticated:
        current_user.locale = code
        db.session.commit()
    target = safe_redirect_target(
        request.form.get("next") or request.referrer, url_for("core.index")
    )
    return redirect(target)


@bp.get("/")
def index() -> ResponseReturnValue:
    """Staff go to their dashboard, supporters to their page, everyone else to the login."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.is_supporter:
        return redirect(url_for("people.supporter_home"))
    return redirect(url_for("drills.list_drills"))


@bp.app_context_processor
def inject_layout() -> dict[str, object]:
    return {"languages": current_app.config["LANGUAGES"]}
