"""One transport per channel kind. A transport only sends and classifies failures;
retries, backoff, claiming and recording live once, in watchnet.jobs.deliveries.

Transports are shared by the dispatcher's sending threads: connections are kept per thread
(an SMTP session, HTTP keep-alive connections) and reused from one message to the next, which
is what makes a broadcast of thousands of messages take seconds rather than minutes.
Every message carries its stable delivery key (`X-Watchnet-Delivery` header; for e-mail also a
stable Message-ID) so a receiver can drop a repeat: see the guarantee in jobs/deliveries.py.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import mailbox
import smtplib
import ssl
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from functools import lru_cache
from typing import Any, Protocol

import apprise
from apprise.plugins.custom_json import JSONPayloadField, NotifyJSON

from watchnet.notifications.models import DeliveryChannel

DELIVERY_HEADER = "X-Watchnet-Delivery"


class TransportError(Exception):
    """Sending failed; `permanent` means retrying cannot help (bad address, refused); `gone`
    means the address no longer exists (push 404/410)."""

    def __init__(self, reason: str, permanent: bool = False, gone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.gone = gone


class Message(Protocol):
    """What a transport needs of a message (a Delivery row or the dispatcher's snapshot)."""

    @property
    def id(self) -> int: ...
    @property
    def dedupe_key(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def body(self) -> str: ...


class Transport(Protocol):
    def send(self, delivery: Message) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: bool
    sender: str
    timeout_s: float = 10.0
    # A Maildir folder that takes the e-mail instead of an SMTP server (the demo; a mail
    # system that picks up files). Empty: SMTP.
    maildir: str = ""


@dataclass
class _SmtpSession:
    smtp: smtplib.SMTP
    sent: int = 0
    last_used: float = field(default_factory=time.monotonic)


class EmailTransport:
    """Plain SMTP (with optional STARTTLS and login). 5xx answers are permanent.

    Each sending thread keeps its own SMTP session open across messages (one connection and
    EHLO/login per up to MAX_PER_SESSION messages instead of per message)."""

    MAX_PER_SESSION = 100  # some relays refuse more messages per session
    IDLE_CHECK_S = 5.0  # a session idle this long is checked with NOOP before it is reused

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[smtplib.SMTP] = set()

    def build_message(self, delivery: Message) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.settings.sender
        msg["To"] = delivery.address
        msg["Subject"] = delivery.subject
        msg["Date"] = formatdate(localtime=False)
        # A stable Message-ID lets mail systems (and our tests) spot a repeated delivery.
        msg["Message-ID"] = f"<delivery-{delivery.id}@watchnet>"
        msg[DELIVERY_HEADER] = delivery.dedupe_key
        msg.set_content(delivery.body)
        return msg

    def _file(self, delivery: Message) -> None:
        """Put the message into the Maildir (each message its own file, written through tmp/
        and renamed as Maildir prescribes, so several dispatchers may share the folder)."""
        try:
            mailbox.Maildir(self.settings.maildir, create=True).add(self.build_message(delivery))
        except OSError as exc:
            raise TransportError(f"maildir {self.settings.maildir}: {exc}"[:500]) from exc

    def _connect(self) -> _SmtpSession:
        s = self.settings
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        try:
            if s.starttls:
                smtp.starttls()
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        with self._lock:
            self._open.add(smtp)
        return _SmtpSession(smtp)

    def _drop(self, session: _SmtpSession | None) -> None:
        self._local.session = None
        if session is None:
            return
        with self._lock:
            self._open.discard(session.smtp)
        with contextlib.suppress(OSError):
            session.smtp.close()

    def _session(self) -> _SmtpSession:
        session: _SmtpSession | None = getattr(self._local, "session", None)
        if session is not None and session.sent >= self.MAX_PER_SESSION:
            self._quit(session)
            session = None
        if session is not None and time.monotonic() - session.last_used > self.IDLE_CHECK_S:
            # The server may have closed an idle session; find out before handing it a message.
            try:
                if session.smtp.noop()[0] != 250:
                    raise smtplib.SMTPServerDisconnected("NOOP refused")
            except (smtplib.SMTPException, OSError):
                self._drop(session)
                session = None
        if session is None:
            session = self._connect()
            self._local.session = session
        return session

    def _quit(self, session: _SmtpSession) -> None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            session.smtp.quit()
        self._drop(session)

    def send(self, delivery: Message) -> None:
        if self.settings.maildir:
            self._file(delivery)
            return
        session = None
        try:
            session = self._session()
            session.smtp.send_message(self.build_message(delivery))
            session.sent += 1
            session.last_used = time.monotonic()
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise TransportError(
                f"recipient refused: {exc.recipients}", permanent=all(500 <= c < 600 for c in codes)
            ) from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            # smtplib has reset the transaction; the session stays usable.
            raise TransportError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=500 <= exc.smtp_code < 600
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            self._drop(session)
            raise TransportError(f"SMTP login refused ({exc.smtp_code})") from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop(session)
            raise TransportError(f"SMTP unreachable: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            sessions, self._open = list(self._open), set()
        for smtp in sessions:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


class AppriseTransport:
    """Webhooks and chat services through apprise URLs (json://, slack://, discord:// ...)."""

    def send(self, delivery: Message) -> None:
        notifier = apprise.Apprise()
        if not notifier.add(delivery.address):
            raise TransportError("not a usable notification address", permanent=True)
        with apprise.LogCapture(level=apprise.logging.WARNING) as log:
            ok = notifier.notify(title=delivery.subject, body=delivery.body)
            detail = log.getvalue().strip().splitlines()
        if not ok:
            raise TransportError(detail[-1][:500] if detail else "notification service failed")

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

    def send(self, delivery: Message) -> None:
        target = webhook_target(delivery.address)
        if target is None:
            self.fallback.send(delivery)
            return
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
            return
        if 300 <= status < 400:
            # Not taken (a redirect): apprise follows redirects, so let it post this one.
            self.fallback.send(delivery)
            return
        reason = f"webhook answered HTTP {status} {response.reason}".strip()
        raise TransportError(
            reason, permanent=400 <= status < 500 and status not in self.RETRYABLE_4XX
        )

    def close(self) -> None:
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            conn.close()


class TransportSet:
    """The transports of one dispatcher, shared by its sending threads."""

    def __init__(self, smtp: SmtpSettings, webhook_timeout_s: float = 10.0) -> None:
        self.email = EmailTransport(smtp)
        self.webhook = WebhookTransport(webhook_timeout_s)

    def for_channel(self, channel: DeliveryChannel) -> Transport:
        return self.email if channel == DeliveryChannel.email else self.webhook

    def send(self, channel: DeliveryChannel, message: Message) -> None:
        self.for_channel(channel).send(message)

    def close(self) -> None:
        self.email.close()
        self.webhook.close()


def transport_for(channel: DeliveryChannel, smtp: SmtpSettings) -> Transport:
    """A stand-alone transport for a channel (no connection shared with anything else)."""
    if channel == DeliveryChannel.email:
        return EmailTransport(smtp)
    return WebhookTransport()
