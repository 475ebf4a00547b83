"""Error responses: JSON under /api/, a page in the user's language elsewhere. Never a bare 500."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from watchnet.core.extensions import db

log = logging.getLogger("watchnet.errors")


class UserInputError(ValueError):
    """A domain rule refused the input; the message is shown to the user."""

    def __init__(self, message: Any, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


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
    # A JSON body (the phones' reports, the route editor, the KPT board) gets a JSON answer.
    return (
        request.path.startswith("/api/")
        or request.is_json
        or request.accept_mimetypes.best == "application/json"
    )


def _headers(exc: HTTPException) -> dict[str, str]:
    """The exception's own headers (Allow on 405, Retry-After ...) without its Content-Type,
    plus any set on it as `headers` (WWW-Authenticate of the API's 401)."""
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    headers.update(getattr(exc, "headers", None) or {})
    return headers


def handle_http_exception(exc: HTTPException, error_id: str | None = None) -> ResponseReturnValue:
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
        if error_id:
            body["error_id"] = error_id
        return jsonify(body), code, _headers(exc)
    message = _messages().get(code, exc.description)
    if isinstance(exc, CSRFError):
        message = _("The form expired. Please go back, reload the page and try again.")
    try:
        page = render_template("errors/error.html", code=code, message=message, error_id=error_id)
    except Exception:  # the page itself failed (the database is gone ...): plain text
        if error_id is None:
            raise
        log.exception("error page failed for error %s", error_id)
        page = f"{message} ({code}, {error_id})"
    return page, code, _headers(exc)


def new_error_id() -> str:
    """A short id the user can quote and the log can be searched for."""
    return secrets.token_hex(6)


def handle_unexpected(exc: Exception) -> ResponseReturnValue:
    error_id = new_error_id()
    # Logged with the traceback and the id shown to the user, so a report can be traced.
    log.error("unexpected error %s on %s %s", error_id, request.method, request.path, exc_info=exc)
    try:
        db.session.rollback()
    except Exception:
        log.exception("rollback failed after error %s", error_id)
    return handle_http_exception(InternalServerError(original_exception=exc), error_id)


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on the app (flask-smorest's own handler is not used)."""
    app.register_error_handler(HTTPException, handle_http_exception)
    if not app.testing or not app.config.get("PROPAGATE_EXCEPTIONS"):
        app.register_error_handler(Exception, handle_unexpected)


def json_error(
    code: int, message: str, errors: Mapping[str, list[str]] | None = None, **extra: Any
) -> tuple[Response, int]:
    """The JSON error of the app's own scripts: {"code", "message", "errors": {field: [reason]}}
    plus any extra keys (signed_out ...), with the status code. (The public API keeps
    flask-smorest's documented shape, {"errors": {"json": {field: [reason]}}}.)"""
    body: dict[str, Any] = {"code": code, "message": message, "errors": dict(errors or {})}
    body.update(extra)
    return jsonify(body), code
