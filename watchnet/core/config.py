"""Configuration: defaults -> instance/watchnet.toml -> WATCHNET_* environment -> test mapping.

Bad values fail loudly at start-up rather than surfacing as odd behaviour later.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

GSI_STD_TILES = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
GSI_ATTRIBUTION = (
    '<a href="https://maps.gsi.go.jp/development/ichiran.html" target="_blank" '
    'rel="noopener">国土地理院</a>'
)

DEFAULTS: dict[str, Any] = {
    "SQLALCHEMY_DATABASE_URI": None,  # filled in from DATABASE_URL or the instance folder
    "SQLALCHEMY_ENGINE_OPTIONS": {},  # server databases get pool and connect options below
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
    # The signed cookie's outer bound (raised to cover SUPPORTER_SESSION_DAYS); the cookie is
    # not re-signed on every request, which costs each position report as much as its insert.
    "PERMANENT_SESSION_LIFETIME": 180 * 24 * 3600,
    # A phone stays signed in this many days after its last use (renewed at most daily), or
    # until the link is revoked or the supporter deactivated.
    "SUPPORTER_SESSION_DAYS": 30,
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
    "SMTP_TIMEOUT_S": 4,  # with WEBHOOK_TIMEOUT_S: 3 × the longer + 1 s must fit the lease
    "MAIL_FROM": "watchnet <noreply@localhost>",
    "MAIL_MAILDIR": "",  # deliver e-mail into this Maildir instead of SMTP (the demo uses it)
    "DELIVERY_MAX_ATTEMPTS": 8,
    "DELIVERY_BACKOFF_S": 30,
    "DELIVERY_BACKOFF_MAX_S": 3600,
    "WEBHOOK_TIMEOUT_S": 4.0,  # network timeout of a webhook post
    # Channels per kind of message, in tiers "a b > c > d" (watchnet/notifications/chains.py):
    # the first tier the person has goes out at once; a kind listed in ESCALATION_STEPS
    # tries the next tier after that many minutes unless the person opened or answered.
    "CHANNEL_CHAINS": ["*=push line email webhook > sms > voice"],
    "ESCALATION_STEPS": ["alert=5", "practice_call=5"],
    # A supporter's 「テスト通知を送る」 queues at most one test per this many seconds (each
    # press sends on every channel they have: SMS and calls cost the city money).
    "TEST_NOTIFICATION_INTERVAL_S": 60,
    # Web Push (watchnet/notifications/vapid.py). The VAPID key pair is generated once into
    # instance/vapid_private_key.pem unless VAPID_PRIVATE_KEY is set (PEM, or the base64url
    # raw 32-byte key most tools print); VAPID_PUBLIC_KEY, when set, must belong to it.
    # VAPID_SUBJECT is the contact push services see: a mailto: or https: URI (default: the
    # address of MAIL_FROM, else PUBLIC_BASE_URL).
    "VAPID_PRIVATE_KEY": None,
    "VAPID_PUBLIC_KEY": None,
    "VAPID_SUBJECT": None,
    # How long a push service keeps a message for a phone that is off or offline.
    "PUSH_TTL_S": 12 * 3600,
    "PUSH_TIMEOUT_S": 4.0,  # network timeout of a post to a push service
    # SMS and automated calls through a Twilio-compatible gateway the city contracts. All three
    # of SID, token and number, or none: without them (the demo) each SMS and call is written
    # as a file into <instance>/outbox/sms and <instance>/outbox/voice instead.
    "TWILIO_ACCOUNT_SID": None,
    "TWILIO_AUTH_TOKEN": None,
    "TWILIO_FROM_NUMBER": None,  # E.164, e.g. +81501234567
    "TWILIO_API_BASE": "https://api.twilio.com",  # another Twilio-compatible API (or a stand-in)
    "TWILIO_TIMEOUT_S": 4.0,  # network timeout of a request to the gateway
    # The text-to-speech voice of calls; it must speak ja-JP (Twilio's default voice does not).
    # Empty: the account's default voice for Japanese.
    "TWILIO_VOICE": "Polly.Mizuki",
    # The geocoder (Nominatim API, core/geocoding.py) for "where am I" and the alert start
    # form's address search, e.g. "http://127.0.0.1:8080"; None = off.
    "GEOCODER_URL": None,
    "GEOCODER_TIMEOUT_S": 2.0,
    # "Where am I" names the address of the nearest imported address point (街区レベル
    # 位置参照情報, `watchnet addresses import`) when it is at most this far; beyond, the
    # geocoder is asked, then the nearest landmark is named.
    "ADDRESS_POINT_RADIUS_M": 150.0,
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
    # --- Background processes (dispatcher, scheduler; see watchnet/jobs/deliveries.py) ---
    # A dispatcher's claim on a batch lasts this long and is renewed every second while it
    # works, so a killed dispatcher's unsent messages are taken over within this time. Must be
    # at least 3 × the longer network timeout + 3 s (a send starts only if it fits the lease).
    "DELIVERY_LEASE_S": 15,
    "SCHEDULER_LEASE_S": 15,  # the scheduler's lease row; renewed every third of it
    "HEARTBEAT_S": 5,  # how often each dispatcher and scheduler writes its worker_heartbeat
    "DB_CONNECT_TIMEOUT_S": 3,  # PostgreSQL connect timeout: outages never block a process
    # /healthz/delivery answers 503 when no dispatcher beat this recently while messages are
    # due, or a due message has waited longer than HEALTH_DELIVERY_MAX_AGE_S.
    "HEALTH_DISPATCHER_STALE_S": 30,
    "HEALTH_SCHEDULER_STALE_S": 90,
    "HEALTH_DELIVERY_MAX_AGE_S": 120,
    # Web Push subscriptions are accepted only for endpoints on these hosts (and hosts below
    # them): the push services of Chrome/Android, Firefox, Safari/iOS and Edge. "*" = any
    # https host. The dispatcher POSTs to the endpoint, so this keeps it off other hosts.
    "PUSH_ENDPOINT_HOSTS": [
        "fcm.googleapis.com",
        "push.services.mozilla.com",
        "push.apple.com",
        "notify.windows.com",
    ],
    # The supporter pages a phone keeps for a reload without network (watchnet/core/webapp.py)
    # are deleted after this many hours, or sooner (alert closed, access ended).
    "OFFLINE_COPY_MAX_AGE_H": 24,
    # --- Web hardening (read by watchnet.core.security) ---
    # Session cookie only over HTTPS: None = on when PUBLIC_BASE_URL starts with https://.
    "SESSION_COOKIE_SECURE": None,
    # Behind a reverse proxy: how many proxies to trust for X-Forwarded-For/-Proto/-Host
    # (1 for one nginx). 0 = ignore those headers, which any client could send.
    "PROXY_FIX": 0,
    # --- LINE (the city's or district's official account, Messaging API) ---
    # Both from the LINE Developers console (Messaging API channel). Without an access token
    # LINE messages are written as JSON files into <instance>/outbox/line/ (the demo); the
    # secret verifies the webhook's X-Line-Signature (POST /hooks/line), which is refused
    # while it is unset.
    "LINE_CHANNEL_SECRET": None,
    "LINE_CHANNEL_ACCESS_TOKEN": None,
    "LINE_API_BASE": "https://api.line.me",  # tests point it at a local stand-in
    "LINE_TIMEOUT_S": 4.0,  # network timeout of a push or reply
    # The account's add-friend link (https://line.me/R/ti/p/@xxxx): shown as a QR code and a
    # button on the supporter's page; unset, the page offers no LINE linking.
    "LINE_ADD_FRIEND_URL": "",
}

# The type of a setting is its default's type; these few have no typed default (None) or
# take fractions although their default is whole.
_BOOL_KEYS = {key for key, value in DEFAULTS.items() if isinstance(value, bool)}
_FLOAT_KEYS = {
    "WALKING_SPEED_MPS",
    "SMTP_TIMEOUT_S",
    "GEOCODER_TIMEOUT_S",
    "WEBHOOK_TIMEOUT_S",
    "FIELD_SSE_LIFETIME_S",
    "LIVE_STREAM_MAX_S",
} | {key for key, value in DEFAULTS.items() if isinstance(value, float)}
_INT_KEYS = {
    key for key, value in DEFAULTS.items() if isinstance(value, int) and not isinstance(value, bool)
} - _FLOAT_KEYS
_LIST_KEYS = {
    "LANGUAGES",
    "ALERT_RADIUS_SCHEDULE",
    "CHANNEL_CHAINS",
    "ESCALATION_STEPS",
    "PUSH_ENDPOINT_HOSTS",
}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}

# Allowed ranges (inclusive) of numeric settings; checked at start-up of every process.
_RANGES: dict[str, tuple[float, float]] = {
    "MAX_CONTENT_LENGTH": (1024, 1 << 31),
    "TILE_MAX_ZOOM": (1, 22),
    "PERMANENT_SESSION_LIFETIME": (60, 10 * 365 * 86400),
    "LOGIN_MAX_FAILURES": (1, 1000),
    "LOGIN_MAX_FAILURES_PER_IP": (1, 100000),
    "LOGIN_WINDOW_S": (1, 86400 * 7),
    "WALKING_SPEED_MPS": (0.05, 10),
    "SMTP_PORT": (1, 65535),
    "SMTP_TIMEOUT_S": (0.1, 600),
    "WEBHOOK_TIMEOUT_S": (0.1, 600),
    "LINE_TIMEOUT_S": (0.1, 600),
    "PUSH_TTL_S": (0, 28 * 86400),  # push services keep a message at most four weeks
    "PUSH_TIMEOUT_S": (0.1, 600),
    "TWILIO_TIMEOUT_S": (0.1, 600),
    "DELIVERY_MAX_ATTEMPTS": (1, 1000),
    "TEST_NOTIFICATION_INTERVAL_S": (0, 86400),
    "DELIVERY_BACKOFF_S": (0, 86400),
    "DELIVERY_BACKOFF_MAX_S": (0, 7 * 86400),
    "GEOCODER_TIMEOUT_S": (0.1, 60),
    "ADDRESS_POINT_RADIUS_M": (10, 2000),
    "HELP_CALL_NEAREST": (0, 100),
    "POSITION_MAX_BATCH": (1, 10000),
    "FIELD_SSE_LIFETIME_S": (0, 86400),
    "LIVE_STREAM_MAX_S": (0, 86400),
    "STREAM_RETRY_MS": (100, 600000),
    "ALERT_RECENT_POSITION_MIN": (0, 7 * 1440),
    "ALERT_REMIND_AFTER_MIN": (1, 1440),
    "ALERT_MIN_SEARCHERS": (0, 10000),
    "ALERT_ESCALATE_AFTER_MIN": (1, 1440),
    "ALERT_RETENTION_DAYS": (0, 3650),
    "ALERT_SECTOR_RESOLUTION": (5, 12),
    "PHOTO_MAX_BYTES": (1024, 1 << 30),
    "PHOTO_MAX_SIDE_PX": (64, 10000),
    "DELIVERY_LEASE_S": (2, 3600),
    "SCHEDULER_LEASE_S": (2, 3600),
    "HEARTBEAT_S": (0.1, 3600),
    "DB_CONNECT_TIMEOUT_S": (1, 600),
    "HEALTH_DISPATCHER_STALE_S": (1, 86400),
    "HEALTH_SCHEDULER_STALE_S": (1, 86400),
    "HEALTH_DELIVERY_MAX_AGE_S": (1, 86400),
    "OFFLINE_COPY_MAX_AGE_H": (1, 24 * 30),
}


# Each channel's network timeout; the dispatcher's lease must cover the longest send
# (watchnet/jobs/deliveries.py). Settings not present are skipped.
TRANSPORT_TIMEOUT_SETTINGS = (
    "SMTP_TIMEOUT_S",
    "WEBHOOK_TIMEOUT_S",
    "PUSH_TIMEOUT_S",
    "LINE_TIMEOUT_S",
    "TWILIO_TIMEOUT_S",
)


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
        if raw.strip().lower() not in _TRUE | _FALSE:
            raise ConfigError(f"WATCHNET_{key} must be true or false, got {raw!r}")
        return raw.strip().lower() in _TRUE
    if key in _LIST_KEYS:
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def normalise_database_url(url: str) -> str:
    """Make a DATABASE_URL usable by SQLAlchemy with psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
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
            cfg[name[len("WATCHNET_") :]] = _coerce(name[len("WATCHNET_") :], raw)
    if os.environ.get("DATABASE_URL"):
        cfg["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if test_config:
        cfg.update(test_config)

    if not cfg["SQLALCHEMY_DATABASE_URI"]:
        instance_path.mkdir(parents=True, exist_ok=True)
        cfg["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance_path / 'watchnet.sqlite3'}"
    cfg["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(cfg["SQLALCHEMY_DATABASE_URI"])
    if not cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A server may drop idle connections. No pool_pre_ping: its round trip cost every
        # request more than a position report's statement; web.py's checkout hook finds the
        # connections the server closed without one, and pool_recycle renews those a network
        # device may have dropped silently (a statement on a dead one fails, and the pool then
        # renews all older connections).
        # connect_timeout: during an outage a connect fails after it instead of hanging, so
        # the dispatcher and the scheduler stay responsive to SIGTERM.
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "pool_pre_ping": False,
            "pool_recycle": 1800,
            "connect_args": {"connect_timeout": int(cfg.get("DB_CONNECT_TIMEOUT_S") or 3)},
            **cfg["SQLALCHEMY_ENGINE_OPTIONS"],
        }
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
    check_settings(cfg)
    days = cfg["SUPPORTER_SESSION_DAYS"]
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        raise ConfigError(
            f"SUPPORTER_SESSION_DAYS must be a whole number of days from 1 to 365, got {days!r}"
        )
    cookie_s = cfg["PERMANENT_SESSION_LIFETIME"]
    cookie_s = cookie_s.total_seconds() if hasattr(cookie_s, "total_seconds") else int(cookie_s)
    # The cookie must outlive the session's lifetime plus one renewal interval.
    cfg["PERMANENT_SESSION_LIFETIME"] = max(int(cookie_s), (days + 1) * 24 * 3600)
    return cfg


def check_settings(cfg: dict[str, Any]) -> None:
    """Type- and range-check every typed setting (whatever its source: the TOML file may give
    "false" as a string too), parse ALERT_RADIUS_SCHEDULE, and check the settings that
    depend on each other; a ConfigError names the setting."""
    for key in sorted(_BOOL_KEYS | _INT_KEYS | _FLOAT_KEYS):
        value = cfg.get(key)
        if value is None and DEFAULTS.get(key) is None:
            continue
        if isinstance(value, str):
            value = cfg[key] = _coerce(key, value)
        if key in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise ConfigError(f"WATCHNET_{key} must be true or false, got {value!r}")
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (key in _INT_KEYS and not isinstance(value, int))
        ):
            kind = "a whole number" if key in _INT_KEYS else "a number"
            raise ConfigError(f"WATCHNET_{key} must be {kind}, got {value!r}")
        low, high = _RANGES.get(key, (float("-inf"), float("inf")))
        if not low <= value <= high:  # also refuses NaN
            raise ConfigError(f"WATCHNET_{key} must be between {low:g} and {high:g}, got {value!r}")
    _check_radius_schedule(cfg)
    _check_twilio(cfg)
    _check_line(cfg)
    timeouts = [k for k in TRANSPORT_TIMEOUT_SETTINGS if cfg.get(k)]
    send_max_s = 3 * max(float(cfg[k]) for k in timeouts) + 1
    if cfg["DELIVERY_LEASE_S"] < send_max_s + 2:
        raise ConfigError(
            f"WATCHNET_DELIVERY_LEASE_S ({cfg['DELIVERY_LEASE_S']} s) must be at least 3 × the "
            f"longest of {', '.join(timeouts)} + 3 s = {send_max_s + 2:g} s"
        )
    if cfg["DELIVERY_BACKOFF_MAX_S"] < cfg["DELIVERY_BACKOFF_S"]:
        raise ConfigError("WATCHNET_DELIVERY_BACKOFF_MAX_S must not be below DELIVERY_BACKOFF_S")


def _check_line(cfg: dict[str, Any]) -> None:
    # Checked here so a typo stops every process at start-up instead of every LINE message
    # failing (or every webhook being refused) at the dispatcher.
    for key in ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN"):
        value = cfg.get(key)
        if value in (None, ""):
            cfg[key] = None
            continue
        if not isinstance(value, str) or value != value.strip() or any(c.isspace() for c in value):
            raise ConfigError(f"WATCHNET_{key} must be the value from the LINE console, no spaces")
    if cfg["LINE_CHANNEL_ACCESS_TOKEN"] and not cfg["LINE_CHANNEL_SECRET"]:
        # Messages would go out, but nobody could link their LINE or answer with its buttons.
        raise ConfigError(
            "WATCHNET_LINE_CHANNEL_ACCESS_TOKEN is set without WATCHNET_LINE_CHANNEL_SECRET: "
            "the webhook (linking, answers) needs the channel secret"
        )
    base = cfg.get("LINE_API_BASE")
    try:
        parts = urllib.parse.urlsplit(base) if isinstance(base, str) else None
        usable = (
            parts is not None
            and parts.scheme in ("https", "http")
            and bool(parts.hostname)
            and (parts.port or 1) > 0
            and not parts.query
            and not parts.fragment
        )
    except ValueError:  # a bad port or bracket
        usable = False
    if not usable or not isinstance(base, str):
        raise ConfigError(
            "WATCHNET_LINE_API_BASE must be an http(s) URL such as https://api.line.me, "
            f"got {base!r}"
        )
    cfg["LINE_API_BASE"] = base.rstrip("/")
    friend = cfg.get("LINE_ADD_FRIEND_URL") or ""
    if not isinstance(friend, str) or (
        friend
        and (not friend.startswith(("https://", "http://")) or any(c.isspace() for c in friend))
    ):
        raise ConfigError(
            "WATCHNET_LINE_ADD_FRIEND_URL must be the account's add-friend link, "
            f"e.g. https://line.me/R/ti/p/@xxxx, got {friend!r}"
        )
    cfg["LINE_ADD_FRIEND_URL"] = friend


def _check_radius_schedule(cfg: dict[str, Any]) -> None:
    # The same rules as watchnet.alerts.targeting.parse_radius_schedule, which reads it when
    # an alert starts or widens: a bad value is refused here, not as a 500 on the alert page.
    items = cfg["ALERT_RADIUS_SCHEDULE"]
    if isinstance(items, str):
        items = cfg["ALERT_RADIUS_SCHEDULE"] = [p.strip() for p in items.split(",") if p.strip()]
    if not isinstance(items, list) or not items:
        raise ConfigError(
            "WATCHNET_ALERT_RADIUS_SCHEDULE must list minutes:metres steps, "
            f"e.g. 0:1200,30:1600; got {items!r}"
        )
    for item in items:
        minutes, sep, metres = str(item).partition(":")
        try:
            step_min, step_m = int(minutes.strip()), float(metres.strip())
        except ValueError:
            step_min, step_m = -1, float("nan")
        if not sep or step_min < 0 or not 0 < step_m <= 100_000:
            raise ConfigError(
                f"WATCHNET_ALERT_RADIUS_SCHEDULE: {item!r} is not minutes:metres "
                "(whole minutes from 0, metres above 0 and at most 100000)"
            )


_TWILIO_KEYS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")


def twilio_configured(cfg: Mapping[str, Any]) -> bool:
    """Whether SMS and calls go to a gateway (else into files in <instance>/outbox)."""
    return all(cfg.get(key) for key in _TWILIO_KEYS)


def _check_twilio(cfg: dict[str, Any]) -> None:
    given = [key for key in _TWILIO_KEYS if cfg.get(key)]
    if not given:
        return
    if len(given) < len(_TWILIO_KEYS):
        missing = ", ".join(f"WATCHNET_{key}" for key in _TWILIO_KEYS if key not in given)
        raise ConfigError(f"the SMS/voice gateway needs {missing} as well (or none of them)")
    # Some Twilio-compatible gateways use a UUID as the account id; it goes into the URL path.
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", str(cfg["TWILIO_ACCOUNT_SID"])):
        raise ConfigError("WATCHNET_TWILIO_ACCOUNT_SID must be letters, digits and hyphens")
    if not re.fullmatch(r"\+[1-9]\d{7,14}", str(cfg["TWILIO_FROM_NUMBER"])):
        raise ConfigError(
            "WATCHNET_TWILIO_FROM_NUMBER must be an E.164 number such as +81501234567, "
            f"got {cfg['TWILIO_FROM_NUMBER']!r}"
        )
    base = urlsplit(str(cfg.get("TWILIO_API_BASE") or ""))
    if base.scheme not in ("http", "https") or not base.hostname or base.query or base.fragment:
        raise ConfigError(
            "WATCHNET_TWILIO_API_BASE must be an http(s) URL such as https://api.twilio.com, "
            f"got {cfg.get('TWILIO_API_BASE')!r}"
        )
    cfg["TWILIO_API_BASE"] = str(cfg["TWILIO_API_BASE"]).rstrip("/")
    # The gateway calls back (delivery reports, the keys pressed in a call) on these URLs, and
    # checks its signature against them: the dispatcher has no request to take a host from.
    if not cfg.get("PUBLIC_BASE_URL"):
        raise ConfigError(
            "the SMS/voice gateway needs WATCHNET_PUBLIC_BASE_URL: its callbacks go to it"
        )
