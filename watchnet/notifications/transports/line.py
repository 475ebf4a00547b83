"""LINE through the city's or district's official account (Messaging API).

A push goes to `/v2/bot/message/push` with the channel access token. A message that asks for
an answer (`answer_topic`) is a buttons template with the two answers as postback actions and
the personal link as a URI action; any other message is a text with the link. The webhook's
replies (linking, answers) go through `reply`. Without an access token (the demo) every
message is written as a JSON file into `<instance>/outbox/line/` instead.

Every push carries `X-Line-Retry-Key` derived from the delivery key, so LINE accepts one
message per delivery however often the dispatcher retries it (see `retry_key`).

Plain http.client over kept-alive connections, one per sending thread, as the webhook
transport does; line-bot-sdk is not used (README: "LINE").
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import logging
import os
import ssl
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from babel.support import Translations

from watchnet.notifications.models import DeliveryChannel
from watchnet.notifications.transports.base import Message, TransportError, register_transport

log = logging.getLogger(__name__)

PUSH_PATH = "/v2/bot/message/push"
REPLY_PATH = "/v2/bot/message/reply"
SIGNATURE_HEADER = "X-Line-Signature"
RETRY_KEY_HEADER = "X-Line-Retry-Key"

# LINE's limits (Messaging API reference), counted in UTF-16 code units as LINE counts them.
ALT_TEXT_MAX = 400
BUTTONS_TEXT_MAX = 160  # a buttons template without title or image
LABEL_MAX = 20
POSTBACK_DATA_MAX = 300
DISPLAY_TEXT_MAX = 300
TEXT_MAX = 5000
URI_MAX = 1000

# The namespace of our retry keys. Never change it: a retry after an upgrade would get a new
# key and LINE would deliver the message a second time.
RETRY_KEY_NAMESPACE = uuid.UUID("6f0b4a52-8c1e-4d4e-9a57-2f2a3c7b9e10")

ANSWERS = ("yes", "no")


def retry_key(dedupe_key: str) -> str:
    """The X-Line-Retry-Key of a delivery.

    LINE only takes a UUID there (a hexadecimal UUID, 8-4-4-4-12), while our delivery keys are
    free-form ("alert:12:supporter:3:line:5"). uuid5 (a SHA-1 name-based UUID in our own
    namespace) maps each key to the same UUID every time, in every dispatcher process, with
    nothing stored, and different keys to different UUIDs. LINE keeps a retry key for 24 hours;
    the dispatcher's retries of one message end well within that (DELIVERY_MAX_ATTEMPTS with
    backoff capped at DELIVERY_BACKOFF_MAX_S)."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, dedupe_key))


def utf16_len(text: str) -> int:
    """The length LINE counts (an emoji outside the BMP counts two)."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-16 units, with an ellipsis when cut."""
    if utf16_len(text) <= limit:
        return text
    out: list[str] = []
    used = 0
    for char in text:
        size = utf16_len(char)
        if used + size > limit - 1:
            break
        out.append(char)
        used += size
    return "".join(out).rstrip() + "…"


@dataclass(frozen=True)
class AnswerLabels:
    """The words on the buttons."""

    yes: str
    no: str
    open: str


_TRANSLATIONS = Path(__file__).resolve().parents[2] / "translations"


def answer_labels(locale: str) -> AnswerLabels:
    """The buttons' words in `locale`, read from the app's catalogue without Flask: the
    dispatcher's sending threads, which build transports, have no app context. The outbox
    row carries no language, so the buttons are in the default language (BABEL_DEFAULT_LOCALE,
    Japanese) while the headline is in the recipient's."""
    catalogue = Translations.load(str(_TRANSLATIONS), [locale])
    return AnswerLabels(
        yes=catalogue.gettext("I'll search"),
        no=catalogue.gettext("I can't now"),
        open=catalogue.gettext("See the details"),
    )


@dataclass(frozen=True)
class Postback:
    """What a tapped answer button sends back."""

    answer_topic: str  # "alert:12"
    answer: str  # "yes" | "no"
    delivery_id: int | None


def postback_data(answer_topic: str, answer: str, delivery_id: int) -> str:
    """The data of an answer button: the topic, the answer and the message it came with."""
    return urlencode({"t": answer_topic, "a": answer, "d": str(delivery_id)})


def parse_postback_data(data: str) -> Postback | None:
    """The answer of a postback; None when the data is not one of ours."""
    if not isinstance(data, str) or len(data) > POSTBACK_DATA_MAX:
        return None
    try:
        fields = parse_qs(data, strict_parsing=True, max_num_fields=5)
    except ValueError:
        return None
    topic = fields.get("t", [""])[0]
    answer = fields.get("a", [""])[0]
    raw_id = fields.get("d", [""])[0]
    if answer not in ANSWERS or ":" not in topic or len(topic) > 64:
        return None
    delivery_id = int(raw_id) if raw_id.isdigit() and len(raw_id) < 12 else None
    return Postback(answer_topic=topic, answer=answer, delivery_id=delivery_id)


def _headline(message: Message) -> str:
    return (message.summary or message.subject or "watchnet").strip() or "watchnet"


def line_messages(message: Message, labels: AnswerLabels) -> list[dict[str, Any]]:
    """The LINE message objects for one outbox message."""
    headline = _headline(message)
    link = message.link if utf16_len(message.link) <= URI_MAX else ""
    if not message.answer_topic:
        text = f"{headline}\n{link}" if link else headline
        return [{"type": "text", "text": clip(text, TEXT_MAX)}]
    actions: list[dict[str, Any]] = [
        {
            "type": "postback",
            "label": clip(label, LABEL_MAX),
            "data": postback_data(message.answer_topic, answer, message.id),
            "displayText": clip(label, DISPLAY_TEXT_MAX),
        }
        for answer, label in (("yes", labels.yes), ("no", labels.no))
    ]
    if link:
        actions.append({"type": "uri", "label": clip(labels.open, LABEL_MAX), "uri": link})
    # The alternative text is what notifications, the chat list and clients that cannot show
    # templates display: the headline and, whole, the link.
    alt = f"{clip(headline, ALT_TEXT_MAX - utf16_len(link) - 1)}\n{link}" if link else headline
    return [
        {
            "type": "template",
            "altText": clip(alt, ALT_TEXT_MAX),
            "template": {
                "type": "buttons",
                "text": clip(headline, BUTTONS_TEXT_MAX),
                "actions": actions,
            },
        }
    ]


def text_message(text: str) -> dict[str, Any]:
    """A plain LINE text message (replies to the supporter)."""
    return {"type": "text", "text": clip(text, TEXT_MAX)}


def valid_signature(channel_secret: str, body: bytes, signature: str | None) -> bool:
    """X-Line-Signature = base64(HMAC-SHA256(channel secret, raw body)), compared in constant
    time so that the comparison's duration tells an attacker nothing."""
    if not channel_secret or not signature:
        return False
    expected = base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace"))


def _error_detail(body: bytes) -> str:
    """LINE's error message and details, for the reason recorded on the delivery."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if not isinstance(data, dict):
        return ""
    parts = [str(data.get("message") or "")]
    for item in data.get("details") or []:
        if isinstance(item, dict):
            parts.append(f"{item.get('property', '')}: {item.get('message', '')}")
    return "; ".join(p for p in parts if p)[:400]


class LineTransport:
    """Pushes (and replies) to the Messaging API, or files them in the outbox folder."""

    def __init__(
        self,
        *,
        api_base: str,
        access_token: str | None,
        timeout_s: float,
        outbox_dir: str,
        labels: AnswerLabels | None = None,
    ) -> None:
        parts = urlsplit(api_base)
        self.secure = parts.scheme == "https"
        self.host = parts.hostname or "api.line.me"
        self.port = parts.port or (443 if self.secure else 80)
        self.prefix = parts.path.rstrip("/")
        self.access_token = access_token
        self.timeout_s = timeout_s
        self.outbox_dir = outbox_dir
        self.labels = labels or answer_labels("ja")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()

    # ------------------------------------------------------------------ sending

    def send(self, message: Message) -> str | None:
        """Push one message to the LINE user in `message.address`; returns LINE's request id
        (of the first accepted request, when a retry is answered 409)."""
        key = retry_key(message.dedupe_key)
        payload = {"to": message.address, "messages": line_messages(message, self.labels)}
        if not self.access_token:
            self._file(
                f"push-{key}",
                {"kind": "push", "retry_key": key, "delivery_key": message.dedupe_key, **payload},
            )
            return None
        status, headers, body = self._post(PUSH_PATH, payload, {RETRY_KEY_HEADER: key})
        request_id = headers.get("x-line-request-id")
        if 200 <= status < 300:
            return request_id
        if status == 409:
            # LINE already accepted a request with this retry key: the message went out on an
            # earlier attempt whose answer we never saw (a crash, a timeout). Delivered.
            return headers.get("x-line-accepted-request-id") or request_id
        raise self._error(status, body)

    def reply(self, reply_token: str, messages: list[dict[str, Any]], name: str) -> bool:
        """Answer a webhook event (free of charge, shortly after the event). Replies are
        best effort: a lost one is not retried (its token is single use), so this only logs.
        `name` (unique per event) names the outbox file in the demo."""
        payload = {"replyToken": reply_token, "messages": messages}
        if not self.access_token:
            self._file(f"reply-{name}", {"kind": "reply", **payload})
            return True
        try:
            status, _headers, body = self._post(REPLY_PATH, payload, {})
        except TransportError as exc:
            log.warning("LINE reply not sent: %s", exc.reason)
            return False
        if not 200 <= status < 300:
            log.warning("LINE reply not sent: %s", self._error(status, body).reason)
            return False
        return True

    def _error(self, status: int, body: bytes) -> TransportError:
        detail = _error_detail(body)
        said = f" ({detail})" if detail else ""
        if status in (401, 403):
            # Not permanent: the address is fine, the channel's credentials are not, and the
            # messages go out once WATCHNET_LINE_CHANNEL_ACCESS_TOKEN is corrected.
            what = "refused the channel access token" if status == 401 else "denied this channel"
            return TransportError(
                f"LINE {what} (HTTP {status}){said}: check WATCHNET_LINE_CHANNEL_ACCESS_TOKEN "
                "and the channel in the LINE Developers console"
            )
        if status == 429 or status >= 500 or status == 408:
            return TransportError(f"LINE answered HTTP {status}{said}")
        # 400 and the other client errors: this request will never be accepted. LINE answers
        # "Failed to send messages" for a user id that does not exist (for this provider).
        gone = status == 400 and "failed to send messages" in detail.lower()
        return TransportError(
            f"LINE refused the message (HTTP {status}){said}", permanent=True, gone=gone
        )

    # ------------------------------------------------------------------ HTTP

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self.secure:
                context = ssl.create_default_context()
                conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.timeout_s, context=context
                )
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            self._local.conn = conn
            self._local.reused = False
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

    def _post(
        self, path: str, payload: dict[str, Any], extra: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {
            "Authorization": f"Bearer {self.access_token}",
            "Content-Type": "application/json",
            "User-Agent": "watchnet",
            **extra,
        }
        try:
            conn = self._connection()
            reused = bool(getattr(self._local, "reused", False))
            try:
                conn.request("POST", self.prefix + path, body=body, headers=headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if not reused:
                    raise
                # The kept-alive connection was closed while idle: once more on a fresh one
                # (the retry key makes a repeat harmless should the first have arrived).
                self._forget()
                conn = self._connection()
                conn.request("POST", self.prefix + path, body=body, headers=headers)
                response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._forget()
            raise TransportError(f"LINE unreachable: {exc or type(exc).__name__}") from exc
        if response.will_close:
            self._forget()
        else:
            self._local.reused = True
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    # ------------------------------------------------------------------ the demo's folder

    def _file(self, name: str, document: dict[str, Any]) -> None:
        """Write one message as <name>.json: first a temporary file, then a rename, so a reader
        never sees half a file. The name comes from the retry key, so a repeated delivery
        finds its file and adds nothing, as LINE would answer 409."""
        final = os.path.join(self.outbox_dir, f"{name}.json")
        if os.path.exists(final):
            return
        tmp = os.path.join(self.outbox_dir, f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
        document = {"written_at": datetime.now(UTC).isoformat(timespec="seconds"), **document}
        try:
            os.makedirs(self.outbox_dir, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(document, fh, ensure_ascii=False, indent=2)
            os.replace(tmp, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise TransportError(f"LINE outbox folder {self.outbox_dir}: {exc}"[:500]) from exc

    def close(self) -> None:
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            conn.close()


def outbox_dir(config: Mapping[str, Any]) -> str:
    """Where LINE messages go without an access token: <instance>/outbox/line."""
    return os.path.join(str(config.get("INSTANCE_PATH") or "instance"), "outbox", "line")


def line_transport(config: Mapping[str, Any], labels: AnswerLabels | None = None) -> LineTransport:
    """The LINE transport from the app's settings."""
    return LineTransport(
        api_base=str(config.get("LINE_API_BASE") or "https://api.line.me"),
        access_token=config.get("LINE_CHANNEL_ACCESS_TOKEN") or None,
        timeout_s=float(config.get("LINE_TIMEOUT_S") or config.get("WEBHOOK_TIMEOUT_S") or 4.0),
        outbox_dir=outbox_dir(config),
        labels=labels or answer_labels(str(config.get("BABEL_DEFAULT_LOCALE") or "ja")),
    )


register_transport(DeliveryChannel.line, line_transport)
