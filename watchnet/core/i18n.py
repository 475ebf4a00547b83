"""Language selection: the user's saved choice, then the session's, then Japanese."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, has_request_context, session
from flask_login import current_user
from markupsafe import Markup, escape


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


def default_locale() -> str:
    """The configured default language (Japanese unless BABEL_DEFAULT_LOCALE says otherwise)."""
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def recipient_locale(locale: str | None) -> str:
    """The language a message to someone is written in: their saved choice when the app offers
    it, else the default. Every outgoing message (mail, apprise) chooses through here."""
    if locale and locale in current_app.config["LANGUAGES"]:
        return str(locale)
    return default_locale()


def locale_chooser() -> Callable[[str | None], str]:
    """recipient_locale with the settings read once (for loops over many recipients)."""
    languages = set(current_app.config["LANGUAGES"])
    default = default_locale()
    return lambda locale: str(locale) if locale and locale in languages else default


def user_text(value: object) -> Markup:
    """What someone typed (a name, a title, a place), marked as user data: the English walk
    (tests/walk) checks every other text of a page for untranslated Japanese."""
    return Markup('<span class="user-text">{}</span>').format(value)


def fill(template: str, **values: object) -> Markup:
    """A translated string's %(name)s slots filled, each value escaped unless it is markup
    already (user_text): `_("Phone %(whom)s")|fill(whom=label|user_text)` keeps the user's
    words marked inside the translated sentence."""
    return Markup(escape(template)) % values  # noqa: S704 - the template is escaped first


def japanese(value: object) -> Markup:
    """Words that stay Japanese in every language (a kana example for a kana field), marked
    lang="ja" so screen readers read them as Japanese."""
    return Markup('<span lang="ja">{}</span>').format(value)
