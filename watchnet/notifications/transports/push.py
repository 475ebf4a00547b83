"""Web Push (RFC 8030): an encrypted message to one browser subscription.

The payload is encrypted for the subscription (aes128gcm, RFC 8291) by pywebpush's WebPusher
and signed for the push service with VAPID (RFC 8292, watchnet.notifications.vapid). It carries
nothing personal — a headline, a generic line, the personal link and a tag — so nothing
personal rests at the push service; the page fetches the details through the link.

The delivery key travels as the `Topic` header (a digest of it: the header allows 32 base64url
characters): a push service replaces a message still waiting for the phone with a newer one of
the same topic, so a repeat after a dispatcher crash replaces rather than duplicates.
"""

from __future__ import annotations

import binascii
import hashlib
import ipaddress
import json
import logging
import os
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import requests
from babel.support import NullTranslations, Translations
from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPusher

from watchnet.notifications.models import DeliveryChannel
from watchnet.notifications.transports.base import Message, TransportError, register_transport
from watchnet.notifications.vapid import (
    VapidSigner,
    b64url,
    b64url_decode,
    origin_of,
    subject_is_reachable,
)

log = logging.getLogger(__name__)

_TRANSLATIONS_DIR = Path(__file__).resolve().parents[2] / "translations"

# A push message may carry at most 4096 bytes of ciphertext (RFC 8291 §4): the aes128gcm
# header (86 bytes), the tag (16) and the padding delimiter leave 3,993 bytes of JSON.
MAX_PAYLOAD_BYTES = 3993
TITLE_MAX = 120


def N_(text: str) -> str:  # noqa: N802 - the gettext marker name pybabel extracts
    """Mark a string for the catalogue; it is translated when the message is built."""
    return text


# The notification's second line. Generic on purpose: nothing about the person or the place.
LINE_ANSWER = N_("Open it to answer: I'll search, or I can't now.")
LINE_OPEN = N_("Tap to open the details.")


@dataclass(frozen=True)
class Subscription:
    """A browser's PushSubscription (its toJSON()): where to post and the keys to encrypt for."""

    endpoint: str
    p256dh: str
    auth: str

    def as_info(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_subscription(data: Any) -> Subscription:
    """A subscription from its JSON object, or ValueError saying what is wrong with it.

    The endpoint must be https (push services are; plain http only to this machine, for local
    stand-ins), p256dh an uncompressed P-256 point and auth 16 bytes (RFC 8291 §3)."""
    if not isinstance(data, Mapping):
        raise ValueError("a subscription is a JSON object")
    endpoint, keys = data.get("endpoint"), data.get("keys")
    if not isinstance(endpoint, str) or len(endpoint) > 2048:
        raise ValueError("endpoint: a URL is required")
    parts = urllib.parse.urlsplit(endpoint)
    host = parts.hostname or ""
    if not host or parts.username or parts.password:
        raise ValueError("endpoint: not a push service URL")
    if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(host)):
        raise ValueError("endpoint: push services are reached over https")
    if not isinstance(keys, Mapping):
        raise ValueError("keys: p256dh and auth are required")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not isinstance(auth, str):
        raise ValueError("keys: p256dh and auth are required")
    try:
        point, secret = b64url_decode(p256dh), b64url_decode(auth)
    except (ValueError, binascii.Error) as exc:
        raise ValueError("keys: not base64url") from exc
    if len(point) != 65 or point[0] != 4:
        raise ValueError("keys.p256dh: not an uncompressed P-256 public key")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as exc:
        raise ValueError("keys.p256dh: not a point on P-256") from exc
    if len(secret) != 16:
        raise ValueError("keys.auth: must be 16 bytes")
    return Subscription(endpoint, b64url(point), b64url(secret))


@lru_cache(maxsize=20_000)
def parse_subscription(address: str) -> Subscription:
    """The subscription a push Delivery's address holds (its JSON), checked; ValueError if not
    usable. Cached: a broadcast's repeats and retries parse each address once."""
    try:
        data = json.loads(address)
    except ValueError as exc:
        raise ValueError("not JSON") from exc
    return check_subscription(data)


def topic_of(dedupe_key: str) -> str:
    """The push `Topic` for a delivery key: 32 base64url characters of its SHA-256 (the
    header allows no more; 192 bits keep distinct keys apart)."""
    return b64url(hashlib.sha256(dedupe_key.encode()).digest())[:32]


@lru_cache(maxsize=4)
def _translations(language: str) -> NullTranslations:
    if language == "en":
        return NullTranslations()
    return Translations.load(str(_TRANSLATIONS_DIR), [language])


def _language_of(text: str) -> str:
    """The language a headline was written in: the message was composed in the recipient's
    language upstream, and the transport is not told which it was. Kana or kanji: Japanese."""
    japanese = any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text)
    return "ja" if japanese else "en"


def payload_of(message: Message) -> dict[str, str]:
    """The JSON the service worker receives: no names, no descriptions, no places."""
    title = (message.summary or message.subject).strip()
    if len(title) > TITLE_MAX:
        title = title[: TITLE_MAX - 1] + "…"
    line = LINE_ANSWER if message.answer_topic else LINE_OPEN
    return {
        "title": title,
        "body": _translations(_language_of(title)).gettext(line),
        "url": message.link,
        # The service worker shows one notification per tag: the reminder of an alert replaces
        # the alert's notification, and a repeated delivery its first arrival.
        "tag": message.answer_topic or topic_of(message.dedupe_key),
    }


class PushTransport:
    """Posts encrypted messages to push services over kept-alive connections, one
    requests.Session per sending thread (like WebhookTransport's connections)."""

    # Client errors that another try may cure; other 4xx are permanent (400 malformed, 401/403
    # a VAPID key or subject the push service refuses, 413 too large). 404/410: the
    # subscription is gone for good (unsubscribed, expired, app removed).
    RETRYABLE_4XX = {408, 425, 429}
    GONE = {404, 410}

    def __init__(self, signer: VapidSigner, *, ttl_s: int, timeout_s: float) -> None:
        self.signer = signer
        self.ttl_s = int(ttl_s)
        self.timeout_s = float(timeout_s)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[requests.Session] = set()

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> PushTransport:
        """The transport of an app whose config went through vapid.init_vapid."""
        signer = VapidSigner.from_config(cfg)
        if not subject_is_reachable(signer.subject):
            # Not an error: Chrome's and Firefox's push services accept it. Said once per
            # dispatcher start, so the deployment sets a real contact before iPhones join.
            log.warning(
                "VAPID_SUBJECT %s is not at a real domain: Apple's push service (iPhone, "
                "Safari) refuses such messages; set WATCHNET_VAPID_SUBJECT",
                signer.subject,
            )
        return cls(signer, ttl_s=int(cfg["PUSH_TTL_S"]), timeout_s=float(cfg["PUSH_TIMEOUT_S"]))

    def _sessions(self) -> dict[str, requests.Session]:
        sessions: dict[str, requests.Session] | None = getattr(self._local, "sessions", None)
        if sessions is None:
            sessions = self._local.sessions = {}
        return sessions

    def _session(self, origin: str) -> requests.Session:
        """This thread's session for one push service (there are a handful: FCM, Mozilla,
        Apple, Microsoft), its keep-alive connection reused from message to message."""
        session = self._sessions().get(origin)
        if session is None:
            session = requests.Session()
            # A push service answers, it does not redirect; following one would turn the POST
            # into a GET elsewhere. TooManyRedirects is raised instead (permanent below).
            session.max_redirects = 0
            # requests reads the environment (proxies, no_proxy, CA bundle, ~/.netrc) again
            # for every request, 70-120 µs of a message's ~650 µs here. It does not change
            # while the dispatcher runs, so it is read once per push service instead.
            session.trust_env = False
            session.proxies = requests.utils.get_environ_proxies(origin)
            session.verify = (
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            )
            self._sessions()[origin] = session
            with self._lock:
                self._open.add(session)
        return session

    def _drop_session(self, origin: str) -> None:
        session = self._sessions().pop(origin, None)
        if session is not None:
            with self._lock:
                self._open.discard(session)
            session.close()

    def headers_for(self, message: Message, endpoint: str) -> dict[str, str]:
        """Every header but the encryption's own (Content-Encoding, set by WebPusher)."""
        return {
            "Authorization": self.signer.authorization(endpoint),
            "Urgency": "high" if message.answer_topic else "normal",
            "Topic": topic_of(message.dedupe_key),
            "Content-Type": "application/octet-stream",
        }

    def send(self, message: Message) -> None:
        """Send one message. Returns no provider id: the push service's message URL (its
        Location) serves no later callback, and recording it would cost an UPDATE per
        message of a broadcast."""
        try:
            subscription = parse_subscription(message.address)
        except ValueError as exc:
            raise TransportError(f"not a usable push subscription: {exc}", permanent=True) from exc
        data = json.dumps(payload_of(message), ensure_ascii=False, separators=(",", ":")).encode()
        if len(data) > MAX_PAYLOAD_BYTES:
            raise TransportError(f"push payload too large ({len(data)} bytes)", permanent=True)
        headers = self.headers_for(message, subscription.endpoint)
        response = self._post(subscription, data, headers)
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = (response.text or "").strip().replace("\n", " ")[:200]
        reason = f"push service answered HTTP {status} {response.reason or ''}".strip()
        if detail:
            reason += f": {detail}"
        if status in self.GONE:
            raise TransportError(reason, permanent=True, gone=True)
        raise TransportError(
            reason, permanent=400 <= status < 500 and status not in self.RETRYABLE_4XX
        )

    def _post(
        self, subscription: Subscription, data: bytes, headers: dict[str, str]
    ) -> requests.Response:
        # A fresh ephemeral key and salt per message (RFC 8291): never reuse the encryption.
        origin = origin_of(subscription.endpoint)
        pusher = WebPusher(subscription.as_info(), requests_session=self._session(origin))
        for attempt in (1, 2):
            try:
                response = pusher.send(
                    data,
                    headers,
                    ttl=self.ttl_s,
                    content_encoding="aes128gcm",
                    timeout=self.timeout_s,
                )
                return cast(requests.Response, response)  # not curl=True: a Response
            except requests.TooManyRedirects as exc:
                raise TransportError("push service answered a redirect", permanent=True) from exc
            except requests.ConnectionError as exc:
                self._drop_session(origin)
                # Once more on a fresh connection: the push service may have closed the
                # kept-alive one while it sat idle. The Topic makes a repeat replace the first.
                if attempt == 1 and not isinstance(exc, requests.ConnectTimeout):
                    pusher = WebPusher(
                        subscription.as_info(), requests_session=self._session(origin)
                    )
                    continue
                raise TransportError(f"push service unreachable: {exc}"[:500]) from exc
            except requests.RequestException as exc:
                self._drop_session(origin)
                raise TransportError(f"push service unreachable: {exc}"[:500]) from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            sessions, self._open = list(self._open), set()
        for session in sessions:
            session.close()


register_transport(DeliveryChannel.push, PushTransport.from_config)
