"""Language selection: the user's saved choice, then the session's, then Japanese."""

from __future__ import annotations

from flask import current_app, has_request_context, session
from flask_login import current_user


def select_locale() -> str:
    """Pick the UI language for this request."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # scheduler and dispatcher jobs: the default language
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    user_locale = getattr(current_user, "locale", None) if current_user else None
    if user_locale in languages:
        return str(user_locale)
    if session.get("lang") in languages:
        return str(session["lang"])
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def select_timezone() -> str:
    """Times are shown in the configured zone (Asia/Tokyo by default)."""
    return str(current_app.config["DISPLAY_TIMEZONE"])
