"""The Twilio-compatible REST API that SMS and voice share: creating a Message or a Call,
classifying the gateway's refusals, and the folder the demo writes them into instead.

Why not the `twilio` package's REST client: its API host is fixed ("https://api.twilio.com"
in twilio/rest/api/ApiBase.py; `edge`/`region` only insert sub-domains), so another
Twilio-compatible gateway or a test's stand-in could only be reached through a custom
HttpClient rewriting every URL; and its one `requests` session is shared by every thread.
The two calls watchnet makes are single form posts, so they go over plain http.client
connections kept alive per sending thread (as the webhook transport does): a broadcast to
hundreds of phones does not pay a TLS handshake per message. The package is still used where
it fits: RequestValidator for inbound signatures, VoiceResponse for the TwiML.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import ssl
import tempfile
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchnet.core.config import twilio_configured
from watchnet.notifications.transports.base import DELIVERY_HEADER, TransportError

# Where the gateway calls back. The views (twilio_views.py) serve these paths; the transports
# build absolute URLs from PUBLIC_BASE_URL because the dispatcher has no request.
STATUS_PATH = "/hooks/twilio/status"
VOICE_PATH = "/hooks/twilio/voice/{delivery_id}"

# Twilio error codes that say the number itself cannot take the message: it will not work
# next time either, so the channel is switched off (TransportError gone) rather than retried.
#   21211 invalid 'To' number; 21214 'To' number cannot be reached (voice);
#   21217 number not a valid phone number (voice); 21407 SMS not supported for this number;
#   21610 the recipient replied STOP (unsubscribed); 21612 cannot route to this number;
#   21614 'To' is not a mobile number (an SMS to a landline).
NUMBER_GONE_CODES = frozenset({21211, 21214, 21217, 21407, 21610, 21612, 21614})
# Client errors worth another try (like every 5xx and network error): timeouts, conflicts,
# and 429 Too Many Requests, which Twilio answers when the account's queue is full.
RETRYABLE_4XX = frozenset({408, 409, 425, 429})


@dataclass(frozen=True)
class TwilioSettings:
    """The gateway's account and where things are sent; from the app config."""

    account_sid: str
    auth_token: str
    from_number: str
    api_base: str
    public_base_url: str  # "" in the demo: callbacks are written as paths only
    outbox_dir: str  # the demo's folder: <instance>/outbox
    timeout_s: float = 4.0

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and self.auth_token and self.from_number)

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> TwilioSettings:
        configured = twilio_configured(config)
        return cls(
            account_sid=str(config.get("TWILIO_ACCOUNT_SID") or "") if configured else "",
            auth_token=str(config.get("TWILIO_AUTH_TOKEN") or "") if configured else "",
            from_number=str(config.get("TWILIO_FROM_NUMBER") or "") if configured else "",
            api_base=str(config.get("TWILIO_API_BASE") or "https://api.twilio.com").rstrip("/"),
            public_base_url=str(config.get("PUBLIC_BASE_URL") or "").rstrip("/"),
            outbox_dir=os.path.join(str(config.get("INSTANCE_PATH") or ""), "outbox"),
            timeout_s=float(config.get("TWILIO_TIMEOUT_S") or 4.0),
        )

    def callback_url(self, path: str) -> str:
        """The absolute URL the gateway calls back on (and signs)."""
        return self.public_base_url + path

    def status_callback(self) -> str:
        return self.callback_url(STATUS_PATH)

    def voice_action(self, delivery_id: int) -> str:
        return self.callback_url(VOICE_PATH.format(delivery_id=delivery_id))


class TwilioClient:
    """Creates Messages and Calls over HTTP connections kept alive per sending thread."""

    def __init__(self, settings: TwilioSettings) -> None:
        self.settings = settings
        base = urllib.parse.urlsplit(settings.api_base)
        self._secure = base.scheme == "https"
        self._host = base.hostname or "api.twilio.com"
        self._port = base.port or (443 if self._secure else 80)
        self._prefix = base.path.rstrip("/")  # some compatible gateways live under a path
        token = f"{settings.account_sid}:{settings.auth_token}".encode()
        self._auth = "Basic " + base64.b64encode(token).decode("ascii")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()

    def resource_path(self, resource: str) -> str:
        """The path of an account resource: "Messages" → /2010-04-01/Accounts/AC…/Messages.json."""
        sid = urllib.parse.quote(self.settings.account_sid, safe="")
        return f"{self._prefix}/2010-04-01/Accounts/{sid}/{resource}.json"

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._secure:
                conn = http.client.HTTPSConnection(
                    self._host,
                    self._port,
                    timeout=self.settings.timeout_s,
                    context=ssl.create_default_context(),
                )
            else:
                conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self.settings.timeout_s
                )
            self._local.conn = conn
            with self._lock:
                self._open.add(conn)
        return conn

    def _forget(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def create(self, resource: str, fields: Mapping[str, str], delivery_key: str) -> str:
        """POST one resource (Messages, Calls) and return its SID; TransportError otherwise."""
        body = urllib.parse.urlencode(fields).encode()
        headers = {
            "Authorization": self._auth,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            # No idempotency key exists in this API; the header lets a gateway (or a proxy in
            # front of it) recognise a repeat after a dispatcher crash, as webhooks do.
            DELIVERY_HEADER: delivery_key,
        }
        path = self.resource_path(resource)
        reused = getattr(self._local, "conn", None) is not None
        try:
            conn = self._connection()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if not reused:
                    raise
                # The gateway closed the idle kept-alive connection: once more on a fresh one.
                self._forget()
                conn = self._connection()
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._forget()
            reason = f"SMS/voice gateway unreachable: {exc or type(exc).__name__}"
            raise TransportError(reason) from exc
        if response.will_close:
            self._forget()
        return _sid_or_error(response.status, raw)

    def close(self) -> None:
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            conn.close()


def _sid_or_error(status: int, raw: bytes) -> str:
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    if 200 <= status < 300:
        sid = answer.get("sid")
        if not isinstance(sid, str) or not sid:
            raise TransportError(f"the gateway answered HTTP {status} without a sid")
        return sid
    code = answer.get("code")
    message = str(answer.get("message") or "").strip()
    reason = f"gateway answered HTTP {status}" + (f", error {code}" if code else "")
    if message:
        reason += f": {message}"
    if status == 401:
        reason += " (check WATCHNET_TWILIO_ACCOUNT_SID and WATCHNET_TWILIO_AUTH_TOKEN)"
    if isinstance(code, int) and code in NUMBER_GONE_CODES:
        raise TransportError(reason[:500], gone=True)  # the number itself: see above
    permanent = 400 <= status < 500 and status not in RETRYABLE_4XX
    raise TransportError(reason[:500], permanent=permanent)


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def write_outbox_file(folder: str | os.PathLike[str], name: str, content: str) -> Path:
    """Write one message into the demo's outbox folder: into a temporary file first, then
    renamed into place, so a reader never sees half a message (as a Maildir does). A repeat
    of the same delivery replaces its own file rather than adding a second one."""
    target_dir = Path(folder)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / _UNSAFE_NAME.sub("_", name)
    fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise TransportError(f"outbox folder {target_dir}: {exc}"[:500]) from exc
    return target
