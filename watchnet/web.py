"""Wiring for create_app(): extensions, blueprints, error pages, template helpers."""

from __future__ import annotations

import select
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import Flask
from flask_babel import get_locale, gettext, lazy_gettext, ngettext

from watchnet.core import timefmt
from watchnet.core.extensions import api, babel, csrf, db, login_manager, migrate
from watchnet.core.i18n import fill, japanese, select_locale, select_timezone, user_text
from watchnet.core.phones import phone_text, tel_href

_MIGRATIONS_DIR = __import__("pathlib").Path(__file__).resolve().parent / "migrations"


@sa.event.listens_for(sa.Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers and one writer work at once across web workers; NORMAL sync is safe in
    # WAL mode and several times faster; SQLite ignores foreign keys unless told.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()


@sa.event.listens_for(sa.pool.Pool, "checkout")
def _closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    # Instead of pool_pre_ping, whose round trip every request paid (config.py): a server that
    # ends an idle connection (restart, idle timeout, pg_terminate_backend) sends its goodbye
    # and closes the socket, so the socket of a healthy idle connection has nothing to read.
    # Raising DisconnectionError makes the pool replace the connection and check out again.
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:  # SQLite
        return
    if dbapi_connection.closed or pgconn.status != psycopg.pq.ConnStatus.OK:
        raise sa.exc.DisconnectionError("connection closed")
    readable, _, _ = select.select([pgconn.socket], [], [], 0)
    if readable:
        raise sa.exc.DisconnectionError("connection closed by the server while idle")


def init_app(app: Flask) -> None:
    """Bind extensions and register every blueprint on the app."""
    # Models must be imported before Alembic or create_all look at the metadata.
    from watchnet import models  # noqa: F401
    from watchnet.notifications.chains import check_channel_settings
    from watchnet.notifications.vapid import init_vapid

    check_channel_settings(app.config)

    # The Web Push key pair and contact, settled (and checked) in every process at start-up:
    # pages hand VAPID_PUBLIC_KEY to browsers, the dispatcher signs with the private key.
    init_vapid(app.config, Path(app.instance_path))

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_MIGRATIONS_DIR), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please log in to see this page.")
    login_manager.session_protection = "basic"
    api.init_app(app)

    from watchnet.maps.assets import use_local_assets

    use_local_assets(app.config.get("APPLICATION_ROOT") or "/")

    from watchnet.admin.views import bp as admin_bp
    from watchnet.alerts.exports.views import bp as alert_exports_bp
    from watchnet.alerts.field.views import bp as alert_field_bp
    from watchnet.alerts.staff.views import bp as alerts_bp
    from watchnet.api.views import register_api
    from watchnet.auth.views import bp as auth_bp
    from watchnet.core.errors import register_error_handlers
    from watchnet.core.views import bp as core_bp
    from watchnet.core.webapp import bp as webapp_bp
    from watchnet.districts.views import bp as districts_bp
    from watchnet.drills.views import bp as drills_bp
    from watchnet.feedback.views import bp as feedback_bp
    from watchnet.jobs.health_views import healthz_delivery  # noqa: F401  (adds it to core_bp)
    from watchnet.kpt.views import bp as kpt_bp
    from watchnet.notifications.twilio_views import bp as twilio_hooks_bp
    from watchnet.people import (
        channel_views,  # noqa: F401  (adds /me/channels to people_bp)
        line_views,  # noqa: F401  (adds /me/line/* and /hooks/line)
    )

    # The gateway's callbacks may report a number gone; people switches it off (hooks).
    from watchnet.people import channels as _people_channels  # noqa: F401
    from watchnet.people.push_views import save_push_subscription  # noqa: F401  (on people_bp)
    from watchnet.people.views import bp as people_bp
    from watchnet.practice_calls.field_views import bp as practice_field_bp
    from watchnet.practice_calls.views import bp as practice_calls_bp
    from watchnet.reflection.views import bp as reflection_bp
    from watchnet.registry.views import bp as registry_bp
    from watchnet.supporter_home import supporter_home  # noqa: F401  (adds /me to people_bp)
    from watchnet.teams.views import bp as teams_bp
    from watchnet.tracking.field.views import bp as field_bp
    from watchnet.tracking.live.views import bp as live_bp

    for bp in (
        core_bp,
        webapp_bp,
        admin_bp,
        auth_bp,
        people_bp,
        districts_bp,
        drills_bp,
        teams_bp,
        live_bp,
        field_bp,
        feedback_bp,
        reflection_bp,
        kpt_bp,
        registry_bp,
        alerts_bp,
        alert_field_bp,
        alert_exports_bp,
        practice_calls_bp,
        practice_field_bp,
        twilio_hooks_bp,
    ):
        app.register_blueprint(bp)
    register_api(api)
    register_error_handlers(app)

    from watchnet.core import turns

    turns.init_app(app)

    from watchnet.core import security

    security.init_app(app)  # headers on every response, CSP nonce, Secure cookies, ProxyFix

    app.jinja_env.globals.update(_label_globals())
    app.jinja_env.globals.update(
        _=gettext,
        ngettext=ngettext,
        get_locale=get_locale,
        config_tiles=lambda: {
            "url": app.config["TILE_URL"],
            "attribution": app.config["TILE_ATTRIBUTION"],
        },
    )
    app.jinja_env.filters.update(
        datetime=timefmt.format_datetime,
        time=timefmt.format_time,
        formal_date=timefmt.format_formal_date,
        time_range=timefmt.format_time_range,
        end_time=timefmt.format_end_time,
        tel_href=tel_href,
        phone_text=phone_text,
        user_text=user_text,
        fill=fill,
        japanese=japanese,
    )


def _label_globals() -> dict[str, object]:
    """Label helpers for Jinja; the labels themselves sit beside their enums."""
    from watchnet.core.labels import label
    from watchnet.districts.models import LandmarkKind
    from watchnet.drills.models import DrillStatus, ExpectedContact, ParticipantRole
    from watchnet.people.models import StaffRole, SupporterKind
    from watchnet.registry.models import Build, ConsentScope, PhotoKind, Sex, WalkingAbility
    from watchnet.tracking.models import EncounterStepKind

    return {
        "role_label": lambda v: label(StaffRole, v),
        "kind_label": lambda v: label(SupporterKind, v),
        "landmark_kind_label": lambda v: label(LandmarkKind, v),
        "status_label": lambda v: label(DrillStatus, v),
        "contact_label": lambda v: label(ExpectedContact, v),
        "participant_role_label": lambda v: label(ParticipantRole, v),
        "step_label": lambda v: label(EncounterStepKind, v),
        "sex_label": lambda v: label(Sex, v),
        "build_label": lambda v: label(Build, v),
        "walking_label": lambda v: label(WalkingAbility, v),
        "photo_kind_label": lambda v: label(PhotoKind, v),
        "consent_scope_label": lambda v: label(ConsentScope, v),
    }
