"""Webhooks and chat services addressed by apprise URLs: plain json:// posted directly over
kept-alive connections, everything else through apprise."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import threading
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import apprise
from apprise.plugins.custom_json import JSONPayloadField, NotifyJSON

from watchnet.notifications.models import DeliveryChannel
from watchnet.notifications.transports.base import (
    DELIVERY_HEADER,
    Message,
    TransportError,
    register_transport,
)


class AppriseTransport:
    """Webhooks and chat services through apprise URLs (json://, slack://, discord:// ...)."""

    def send(self, delivery: Message) -> str | None:
        notifier = apprise.Apprise()
        if not notifier.add(delivery.address):
            raise TransportError("not a usable notification address", permanent=True)
        with apprise.LogCapture(level=apprise.logging.WARNING) as log:
            ok = notifier.notify(title=delivery.subject, body=delivery.body)
            detail = log.getvalue().strip().splitlines()
        if not ok:
            raise TransportError(detail[-1][:500] if detail else "notification service failed")
        return None

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class WebhookTarget:
    """A json:// (jsons://) apprise URL taken apart by apprise itself, ready to post to."""

    secure: bool
    host: str
    port: int
    path: str  # with the query string
    method: str
    headers: tuple[tuple[str, str], ...]
    payload_extras: tuple[tuple[str, str], ...]
    verify: bool
    json_version: str

    def payload(self, title: str, body: str) -> dict[str, Any]:
        """The same JSON object apprise's json:// plugin posts (2.x)."""
        payload: dict[str, Any] = {
            JSONPayloadField.VERSION: self.json_version,
            JSONPayloadField.TITLE: title,
            JSONPayloadField.MESSAGE: body,
            JSONPayloadField.ATTACHMENTS: [],
            JSONPayloadField.MESSAGETYPE: apprise.NotifyType.INFO.value,
        }
        for key, value in self.payload_extras:  # apprise's ":key=value" remapping rules
            if key in payload:
                if value:
                    payload[value] = payload[key]
                del payload[key]
            else:
                payload[key] = value
        return payload


@lru_cache(maxsize=20_000)
def webhook_target(url: str) -> WebhookTarget | None:
    """The target of a plain json:// or jsons:// URL; None when apprise must send it (another
    service, or a proxy configured for the host: our direct connection would bypass it)."""
    if not url.lower().startswith(("json://", "jsons://")):
        return None
    plugin = apprise.Apprise.instantiate(url)
    if not isinstance(plugin, NotifyJSON):
        return None
    try:
        secure = bool(plugin.secure)
        host = str(plugin.host)
        port = int(plugin.port) if isinstance(plugin.port, int) else (443 if secure else 80)
        if _proxied(host, secure):
            return None
        path = plugin.fullpath or "/"
        if plugin.params:
            path += "?" + urllib.parse.urlencode(plugin.params)
        headers = {"User-Agent": str(plugin.app_id), "Content-Type": "application/json"}
        if plugin.user:
            token = f"{plugin.user}:{plugin.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(token).decode("ascii")
        headers.update(plugin.headers)
        return WebhookTarget(
            secure=secure,
            host=host,
            port=port,
            path=path,
            method=str(plugin.method),
            headers=tuple(headers.items()),
            payload_extras=tuple(plugin.payload_extras.items()),
            verify=bool(plugin.verify_certificate),
            json_version=str(plugin.json_version),
        )
    except (AttributeError, TypeError, ValueError):
        return None  # an apprise whose internals moved: let apprise send it


def _proxied(host: str, secure: bool) -> bool:
    proxies = urllib.request.getproxies()
    if not proxies.get("https" if secure else "http"):
        return False
    return not urllib.request.proxy_bypass(host)


class WebhookTransport:
    """Plain json:// webhooks posted directly over kept-alive connections, one set per thread.

    apprise opens a new connection and parses the URL for every message (~4 ms each, see
    TECH-NOTES); a broadcast to thousands needs connection reuse. The URL is still parsed by
    apprise and the JSON body is the one apprise would post, so a receiver cannot tell the
    difference — except the X-Watchnet-Delivery header, its key to drop a repeated message.
    Every other apprise URL goes through apprise."""

    # Client errors that retrying cannot fix (the address is wrong or refuses us); 408, 409,
    # 425 and 429 are worth another try, like every 5xx and network error.
    RETRYABLE_4XX = {408, 409, 425, 429}

    def __init__(self, timeout_s: float = 10.0, fallback: AppriseTransport | None = None) -> None:
        self.timeout_s = timeout_s
        self.fallback = fallback or AppriseTransport()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()

    def _connections(self) -> dict[tuple[bool, str, int, bool], http.client.HTTPConnection]:
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        return conns

    def _new_connection(self, target: WebhookTarget) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if target.secure:
            context = ssl.create_default_context()
            if not target.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection(
                target.host, target.port, timeout=self.timeout_s, context=context
            )
        else:
            conn = http.client.HTTPConnection(target.host, target.port, timeout=self.timeout_s)
        with self._lock:
            self._open.add(conn)
        return conn

    def _forget(self, key: tuple[bool, str, int, bool]) -> None:
        conn = self._connections().pop(key, None)
        if conn is not None:
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def send(self, delivery: Message) -> str | None:
        target = webhook_target(delivery.address)
        if target is None:
            self.fallback.send(delivery)
            return None
        body = json.dumps(target.payload(delivery.subject, delivery.body)).encode()
        headers = dict(target.headers)
        headers[DELIVERY_HEADER] = delivery.dedupe_key
        key = (target.secure, target.host, target.port, target.verify)
        conns = self._connections()
        reused = key in conns
        conn = conns.get(key) or conns.setdefault(key, self._new_connection(target))
        try:
            try:
                conn.request(target.method, target.path, body=body, headers=headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if not reused:
                    raise
                # The receiver closed the kept-alive connection while it sat idle: once more
                # on a fresh one (the delivery key lets the receiver drop it in the rare case
                # the first one had arrived after all).
                self._forget(key)
                conn = conns.setdefault(key, self._new_connection(target))
                conn.request(target.method, target.path, body=body, headers=headers)
                response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._forget(key)
            raise TransportError(f"webhook unreachable: {exc or type(exc).__name__}") from exc
        if response.will_close:
            self._forget(key)
        status = response.status
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            # Not taken (a redirect): apprise follows redirects, so let it post this one.
            self.fallback.send(delivery)
            return None
        reason = f"webhook answered HTTP {status} {response.reason}".strip()
        raise TransportError(
            reason, permanent=400 <= status < 500 and status not in self.RETRYABLE_4XX
        )

    def close(self) -> None:
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            conn.close()


def webhook_timeout_s(config: Mapping[str, Any]) -> float:
    """Network timeout for webhook posts (WEBHOOK_TIMEOUT_S, else the SMTP timeout)."""
    return float(config.get("WEBHOOK_TIMEOUT_S") or config["SMTP_TIMEOUT_S"])


register_transport(
    DeliveryChannel.webhook, lambda config: WebhookTransport(webhook_timeout_s(config))
)
