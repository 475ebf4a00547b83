"""Error responses: JSON under /api/, a page in the user's language elsewhere. Never a bare 500."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from watchnet.extensions import db


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        403: _("You do not have access to this page."),
        404: _("This page does not exist, or you do not have access to it."),
        405: _("This action is not allowed here."),
        413: _("The file is too large. Please choose a smaller file."),
        422: _("Some of the values are not valid."),
        429: _("Too many attempts. Please wait a while and try again."),
        500: _("Something went wrong on our side. Nothing was saved; please try again."),
    }


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def handle_http_exception(exc: HTTPException) -> Any:
    code = exc.code or 500
    if _wants_json():
        body: dict[str, Any] = {
            "code": code,
            "status": exc.name,
            "message": _messages().get(code, exc.description),
        }
        errors = getattr(exc, "data", {}).get("messages") if hasattr(exc, "data") else None
        if errors:
            body["errors"] = errors
        elif getattr(exc, "errors", None):
            body["errors"] = exc.errors  # type: ignore[attr-defined]
        return jsonify(body), code, getattr(exc, "headers", None) or {}
    message = _messages().get(code, exc.description)
    if isinstance(exc, CSRFError):
        message = _("The form expired. Please go back, reload the page and try again.")
    return render_template("errors/error.html", code=code, message=message), code


def handle_unexpected(exc: Exception) -> Any:
    db.session.rollback()
    return handle_http_exception(InternalServerError(original_exception=exc))


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on the app (flask-smorest's own handler is not used)."""
    app.register_error_handler(HTTPException, handle_http_exception)
    if not app.testing or not app.config.get("PROPAGATE_EXCEPTIONS"):
        app.register_error_handler(Exception, handle_unexpected)
