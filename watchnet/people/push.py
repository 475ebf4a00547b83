"""A supporter's Web Push subscriptions: what the phone's browser sends when the supporter
turns notifications on, checked field by field, and stored one row per device.

The endpoint is where the dispatcher will POST, so it must be an https URL of a push service
(PUSH_ENDPOINT_HOSTS, by host suffix): otherwise anyone with a supporter's link could make the
server send requests to hosts of their choosing. The keys are checked for the shapes RFC 8291
needs (a P-256 point and a 16-byte secret), so the transport never meets a key it cannot use.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import gettext as _

from watchnet.core.extensions import db
from watchnet.core.insert_once import insert_or_get
from watchnet.core.validation import clean_line
from watchnet.people.models import PushSubscription, Supporter

ENDPOINT_MAX = 1000  # the column's length
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


class InvalidSubscription(ValueError):
    """The body cannot be stored; `errors` maps field paths to reasons."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid push subscription")
        self.errors = errors


@dataclass(frozen=True)
class SubscriptionData:
    endpoint: str
    p256dh: str
    auth: str


def _key_bytes(value: Any) -> bytes | None:
    if not isinstance(value, str) or not _B64URL.fullmatch(value) or len(value) > 200:
        return None
    try:
        return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        return None


def host_allowed(host: str, allowed: list[str]) -> bool:
    """True when the host is one of the push services (or below one): "*" allows any."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower().strip().lstrip(".")
        if entry == "*" or host == entry or host.endswith("." + entry):
            return True
    return False


def endpoint_problem(endpoint: Any, allowed_hosts: list[str]) -> str | None:
    """Why this endpoint cannot be used (None when it can)."""
    if not isinstance(endpoint, str) or not endpoint.strip():
        return _("The subscription has no endpoint.")
    if len(endpoint) > ENDPOINT_MAX:
        return _("The endpoint is longer than %(n)d characters.", n=ENDPOINT_MAX)
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return _("The endpoint is not a web address.")
    if parts.scheme != "https" or not host or parts.username or parts.password:
        return _("The endpoint must be an https address of a push service.")
    if not host_allowed(host, allowed_hosts):
        return _("This push service is not accepted here.")
    return None


def parse_subscription(body: Any, allowed_hosts: list[str]) -> SubscriptionData:
    """The browser's PushSubscription.toJSON(): {"endpoint", "keys": {"p256dh", "auth"}}."""
    if not isinstance(body, dict):
        raise InvalidSubscription({"_body": [_("Send a JSON object.")]})
    errors: dict[str, list[str]] = {}
    endpoint = body.get("endpoint")
    problem = endpoint_problem(endpoint, allowed_hosts)
    if problem:
        errors["endpoint"] = [problem]
    keys = body.get("keys")
    if not isinstance(keys, dict):
        errors["keys"] = [_("The subscription has no keys.")]
        keys = {}
    p256dh = _key_bytes(keys.get("p256dh"))
    if "keys" not in errors and (p256dh is None or len(p256dh) != 65 or p256dh[0] != 4):
        errors["keys.p256dh"] = [_("The p256dh key must be a P-256 public key (base64url).")]
    auth = _key_bytes(keys.get("auth"))
    if "keys" not in errors and (auth is None or len(auth) != 16):
        errors["keys.auth"] = [_("The auth secret must be 16 bytes (base64url).")]
    if errors:
        raise InvalidSubscription(errors)
    return SubscriptionData(
        endpoint=str(endpoint).strip(),
        p256dh=str(keys["p256dh"]).rstrip("="),
        auth=str(keys["auth"]).rstrip("="),
    )


def parse_endpoint(body: Any) -> str:
    """{"endpoint": ...} of a subscription to remove (any string of a plausible length)."""
    if not isinstance(body, dict):
        raise InvalidSubscription({"_body": [_("Send a JSON object.")]})
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.strip() or len(endpoint) > ENDPOINT_MAX:
        raise InvalidSubscription({"endpoint": [_("The subscription has no endpoint.")]})
    return endpoint.strip()


_BROWSERS = (
    ("Edg/", "Edge"),
    ("SamsungBrowser", "Samsung Internet"),
    ("Firefox", "Firefox"),
    ("CriOS", "Chrome"),
    ("Chrome", "Chrome"),
    ("Safari", "Safari"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Macintosh", "Mac"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device_label(user_agent: str) -> str:
    """A coarse name for the device ("Android Chrome"), so the supporter can tell their
    devices apart; nothing finer than system and browser is kept."""
    system = next((name for token, name in _SYSTEMS if token in user_agent), "")
    browser = next((name for token, name in _BROWSERS if token in user_agent), "")
    return clean_line(f"{system} {browser}")[:100]


def save_push_subscription(
    supporter: Supporter, data: SubscriptionData, label: str
) -> tuple[PushSubscription, bool]:
    """Store this device's subscription for the supporter: (row, True) when new. A known
    endpoint is taken over and switched on again — the browser holds one subscription, so
    when another supporter signs in on the same phone and turns notifications on, the
    previous one's messages stop going to it. Flushes; the caller commits."""

    def find() -> PushSubscription | None:
        return db.session.scalar(
            sa.select(PushSubscription).where(PushSubscription.endpoint == data.endpoint)
        )

    row = find()
    created = False
    if row is None:
        row, created = insert_or_get(
            PushSubscription(
                supporter_id=supporter.id,
                endpoint=data.endpoint,
                p256dh=data.p256dh,
                auth=data.auth,
                label=label,
            ),
            find,
        )
    if not created:
        row.supporter_id = supporter.id
        row.p256dh = data.p256dh
        row.auth = data.auth
        row.label = label or row.label
        row.is_enabled = True
        row.disabled_reason = None
        db.session.flush()
    return row, created


def remove_push_subscription(supporter: Supporter, endpoint: str) -> int:
    """Delete this supporter's subscription with this endpoint (turned off on the phone);
    the number of rows deleted (0 when it was already gone). Flushes; the caller commits."""
    result = db.session.execute(
        sa.delete(PushSubscription)
        .where(PushSubscription.supporter_id == supporter.id)
        .where(PushSubscription.endpoint == endpoint)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def enabled_push_endpoints(supporter_id: int) -> list[str]:
    """The endpoints push messages go to for this supporter (their page compares them with the
    phone's own subscription to say whether notifications are on for this phone)."""
    return list(
        db.session.scalars(
            sa.select(PushSubscription.endpoint)
            .where(PushSubscription.supporter_id == supporter_id)
            .where(PushSubscription.is_enabled.is_(True))
            .order_by(PushSubscription.id)
        )
    )
