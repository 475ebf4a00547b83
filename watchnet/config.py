"""Configuration: defaults -> instance/watchnet.toml -> WATCHNET_* environment -> test mapping.

Bad values fail loudly at start-up rather than surfacing as odd behaviour later.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

GSI_STD_TILES = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
GSI_ATTRIBUTION = (
    '<a href="https://maps.gsi.go.jp/development/ichiran.html" target="_blank" '
    'rel="noopener">国土地理院</a>'
)

DEFAULTS: dict[str, Any] = {
    "SQLALCHEMY_DATABASE_URI": None,  # filled in from DATABASE_URL or the instance folder
    "SQLALCHEMY_ENGINE_OPTIONS": {},  # pool_pre_ping is added for server databases below
    "SECRET_KEY": None,  # generated once into the instance folder when not configured
    "LANGUAGES": ["ja", "en"],
    "BABEL_DEFAULT_LOCALE": "ja",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Tokyo",
    "DISPLAY_TIMEZONE": "Asia/Tokyo",
    "TILE_URL": GSI_STD_TILES,
    "TILE_ATTRIBUTION": GSI_ATTRIBUTION,
    "TILE_MAX_ZOOM": 18,
    # Uploads (CSV, GPX) are small; anything larger is refused with 413 before it is read.
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,  # room for two phone photos in one form
    "WTF_CSRF_TIME_LIMIT": None,
    "WTF_I18N_ENABLED": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Phones stay signed in for half a year (until the link is revoked); the cookie is not
    # re-signed on every request, which costs each position report as much as its insert.
    "PERMANENT_SESSION_LIFETIME": 180 * 24 * 3600,
    "SESSION_REFRESH_EACH_REQUEST": False,
    "LOGIN_MAX_FAILURES": 5,  # per account within LOGIN_WINDOW_S
    "LOGIN_MAX_FAILURES_PER_IP": 20,
    "LOGIN_WINDOW_S": 900,
    "WALKING_SPEED_MPS": 1.0,  # an elder's pace, used for walking-time estimates
    "API_TITLE": "watchnet API",
    "API_VERSION": "1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "PUBLIC_BASE_URL": None,  # e.g. https://watch.example.jp: links on handouts and in alerts
    # Outgoing e-mail (the dispatcher process sends; web requests only write the outbox).
    "SMTP_HOST": "localhost",
    "SMTP_PORT": 25,
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": False,
    "SMTP_TIMEOUT_S": 10,
    "MAIL_FROM": "watchnet <noreply@localhost>",
    "MAIL_MAILDIR": "",  # deliver e-mail into this Maildir instead of SMTP (the demo uses it)
    "DELIVERY_MAX_ATTEMPTS": 8,
    "DELIVERY_BACKOFF_S": 30,
    "DELIVERY_BACKOFF_MAX_S": 3600,
    "DELIVERY_CLAIM_S": 120,  # must exceed 3 × the longer network timeout + 1 s
    "WEBHOOK_TIMEOUT_S": 10.0,  # network timeout of a webhook post
    # Reverse geocoding for "where am I" (Nominatim API), e.g. "http://127.0.0.1:8080"; None = off.
    "GEOCODER_URL": None,
    "GEOCODER_TIMEOUT_S": 2.0,
    "HELP_CALL_NEAREST": 2,  # how many of the nearest other participants a help call reaches
    "POSITION_MAX_BATCH": 100,  # positions per request from a phone
    # Server-sent events (a phone's field page, the organizer's live view). 0 s: each stream
    # answers what is new and closes, and the browser reconnects after STREAM_RETRY_MS with
    # Last-Event-ID; no worker is held, so sync workers serve drill day. With threaded workers
    # (`watchnet serve --threads N`) streams may stay open, e.g. 300 s, holding one thread each.
    "FIELD_SSE_LIFETIME_S": 0.0,
    "LIVE_STREAM_MAX_S": 0.0,
    "STREAM_RETRY_MS": 1000,
    # --- Real alerts ---
    # The search radius grows with the time since the person was last seen, in steps
    # "minutes:metres". The distances come from lost-person statistics for people living with
    # dementia: the Grampian Police study (Missing Persons: Understanding, Planning,
    # Responding, 2007, as quoted by misper.uk) found half within 1.2 km and 90 % within
    # 9.5 km; Koester's US data put 89 % within 1.6 km; in Japan most of those found dead
    # were within 5 km. The times follow an elder's walking pace (about 3 km/h, slowing).
    "ALERT_RADIUS_SCHEDULE": ["0:1200", "30:1600", "90:5000", "180:9500"],
    # Also reach supporters whose phone reported a position this recently (any drill or alert).
    "ALERT_RECENT_POSITION_MIN": 120,
    "ALERT_REMIND_AFTER_MIN": 15,  # remind those who have not answered
    "ALERT_MIN_SEARCHERS": 3,  # fewer searching than this after ALERT_ESCALATE_AFTER_MIN:
    "ALERT_ESCALATE_AFTER_MIN": 20,  # ... the district's coordinators are told
    "ALERT_RETENTION_DAYS": 30,  # positions, sightings, photos of closed alerts are deleted
    "ALERT_SECTOR_RESOLUTION": 8,  # H3 resolution of search sectors (res 8: ~0.74 km² cells)
    "PHOTO_MAX_BYTES": 6 * 1024 * 1024,  # upload limit per photo before re-encoding
    "PHOTO_MAX_SIDE_PX": 1600,  # re-encoded photos are at most this wide/high
    # --- Web hardening (read by watchnet.core.security) ---
    # Session cookie only over HTTPS: None = on when PUBLIC_BASE_URL starts with https://.
    "SESSION_COOKIE_SECURE": None,
    # Behind a reverse proxy: how many proxies to trust for X-Forwarded-For/-Proto/-Host
    # (1 for one nginx). 0 = ignore those headers, which any client could send.
    "PROXY_FIX": 0,
}

_INT_KEYS = {
    "MAX_CONTENT_LENGTH", "LOGIN_MAX_FAILURES", "LOGIN_MAX_FAILURES_PER_IP",
    "LOGIN_WINDOW_S", "TILE_MAX_ZOOM", "SMTP_PORT", "DELIVERY_MAX_ATTEMPTS",
    "DELIVERY_BACKOFF_S", "DELIVERY_BACKOFF_MAX_S", "DELIVERY_CLAIM_S",
    "HELP_CALL_NEAREST", "POSITION_MAX_BATCH", "ALERT_RECENT_POSITION_MIN",
    "ALERT_REMIND_AFTER_MIN", "ALERT_MIN_SEARCHERS", "ALERT_ESCALATE_AFTER_MIN",
    "ALERT_RETENTION_DAYS", "ALERT_SECTOR_RESOLUTION", "PHOTO_MAX_BYTES", "PHOTO_MAX_SIDE_PX",
    "STREAM_RETRY_MS",
}
_BOOL_KEYS = {"SMTP_STARTTLS"}
_FLOAT_KEYS = {"WALKING_SPEED_MPS", "SMTP_TIMEOUT_S", "GEOCODER_TIMEOUT_S", "WEBHOOK_TIMEOUT_S",
               "FIELD_SSE_LIFETIME_S", "LIVE_STREAM_MAX_S"}
_LIST_KEYS = {"LANGUAGES", "ALERT_RADIUS_SCHEDULE"}


class ConfigError(RuntimeError):
    """Raised when a configuration value cannot be used."""


def _coerce(key: str, raw: str) -> Any:
    if key in _INT_KEYS:
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"WATCHNET_{key} must be a whole number, got {raw!r}") from exc
    if key in _FLOAT_KEYS:
        try:
            return float(raw)
        except ValueError as exc:
            raise ConfigError(f"WATCHNET_{key} must be a number, got {raw!r}") from exc
    if key in _BOOL_KEYS:
        if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
            raise ConfigError(f"WATCHNET_{key} must be true or false, got {raw!r}")
        return raw.lower() in {"1", "true", "yes"}
    if key in _LIST_KEYS:
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def normalise_database_url(url: str) -> str:
    """Make a DATABASE_URL usable by SQLAlchemy with psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _secret_key(instance_path: Path) -> str:
    # Every worker process must sign with the same key, so it lives in a file, not in memory.
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key.encode())
    finally:
        os.close(fd)
    return key


def build_config(instance_path: Path, test_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the merged configuration for one app."""
    cfg: dict[str, Any] = dict(DEFAULTS)
    toml_file = instance_path / "watchnet.toml"
    if toml_file.exists():
        with toml_file.open("rb") as fh:
            try:
                cfg.update({k.upper(): v for k, v in tomllib.load(fh).items()})
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{toml_file}: {exc}") from exc
    for name, raw in os.environ.items():
        if name.startswith("WATCHNET_") and not name.startswith("WATCHNET_TEST_"):
            cfg[name[len("WATCHNET_"):]] = _coerce(name[len("WATCHNET_"):], raw)
    if os.environ.get("DATABASE_URL"):
        cfg["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if test_config:
        cfg.update(test_config)

    if not cfg["SQLALCHEMY_DATABASE_URI"]:
        instance_path.mkdir(parents=True, exist_ok=True)
        cfg["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance_path / 'watchnet.sqlite3'}"
    cfg["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(cfg["SQLALCHEMY_DATABASE_URI"])
    if not cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A server may drop idle connections; a local SQLite file never does, and the extra
        # round trip would be paid by every request.
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True,
                                            **cfg["SQLALCHEMY_ENGINE_OPTIONS"]}
    if not cfg["SECRET_KEY"]:
        cfg["SECRET_KEY"] = _secret_key(instance_path)

    languages = cfg["LANGUAGES"]
    if not languages or cfg["BABEL_DEFAULT_LOCALE"] not in languages:
        raise ConfigError("BABEL_DEFAULT_LOCALE must be one of LANGUAGES")
    unknown = set(languages) - {"ja", "en"}
    if unknown:
        raise ConfigError(f"no translations for {sorted(unknown)}; available: ja, en")
    try:
        ZoneInfo(cfg["DISPLAY_TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown DISPLAY_TIMEZONE {cfg['DISPLAY_TIMEZONE']!r}") from exc
    if "{z}" not in cfg["TILE_URL"] or "{x}" not in cfg["TILE_URL"]:
        raise ConfigError("TILE_URL must contain {z}, {x} and {y}")
    if cfg["WALKING_SPEED_MPS"] <= 0:
        raise ConfigError("WALKING_SPEED_MPS must be positive")
    return cfg
