"""A stand-in of LINE's Messaging API on 127.0.0.1, and helpers that play LINE's webhook.

The stand-in checks what the real API checks for our two calls (push, reply): the bearer
token, the retry key's UUID form, a repeated retry key answered 409 with the first request's
id in `x-line-accepted-request-id`, the message objects and their limits (a buttons template's
altText ≤ 400, text ≤ 160, at most 4 actions, labels ≤ 20, postback data ≤ 300 ...), and reply
tokens that it issued, single use. It records every accepted push and reply, and every raw
request (also the refused ones) with the client port it came from (one per connection).

The webhook side builds events as LINE sends them (webhookEventId, replyToken, source ...)
and posts them to the app signed with the channel secret, or wrongly signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

TOKEN = "test-channel-token"  # noqa: S105 - the stand-in's channel access token
SECRET = "test-channel-secret"  # noqa: S105 - the channel secret the tests sign with
USER_ID = re.compile(r"^U[0-9a-f]{32}$")
_ULID_CHARS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def new_user_id() -> str:
    return "U" + secrets.token_hex(16)


def new_event_id() -> str:
    """A webhookEventId (a ULID: 26 characters of Crockford's base 32)."""
    return "".join(secrets.choice(_ULID_CHARS) for _ in range(26))


def _length_error(prop: str, value: Any, low: int, high: int) -> list[dict[str, str]]:
    if not isinstance(value, str) or not low <= utf16_len(value) <= high:
        return [{"message": f"Length must be between {low} and {high}", "property": prop}]
    return []


def _action_errors(prop: str, action: Any) -> list[dict[str, str]]:
    if not isinstance(action, dict):
        return [{"message": "Must be an object", "property": prop}]
    errors = _length_error(f"{prop}.label", action.get("label"), 1, 20)
    kind = action.get("type")
    if kind == "postback":
        errors += _length_error(f"{prop}.data", action.get("data"), 1, 300)
        if "displayText" in action:
            errors += _length_error(f"{prop}.displayText", action["displayText"], 1, 300)
    elif kind == "uri":
        uri = action.get("uri")
        errors += _length_error(f"{prop}.uri", uri, 1, 1000)
        if isinstance(uri, str) and not re.match(r"^(https?|line|tel):", uri):
            errors.append({"message": "invalid uri scheme", "property": f"{prop}.uri"})
    elif kind != "message":
        errors.append({"message": "unsupported action type", "property": f"{prop}.type"})
    return errors


def message_errors(messages: Any) -> list[dict[str, str]]:
    """What LINE would say about a list of message objects (empty when it would take it)."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return [{"message": "Size must be between 1 and 5", "property": "messages"}]
    errors: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        prop = f"messages[{i}]"
        if not isinstance(message, dict):
            errors.append({"message": "Must be an object", "property": prop})
            continue
        if message.get("type") == "text":
            errors += _length_error(f"{prop}.text", message.get("text"), 1, 5000)
        elif message.get("type") == "template":
            errors += _length_error(f"{prop}.altText", message.get("altText"), 1, 400)
            template = message.get("template")
            if not isinstance(template, dict) or template.get("type") != "buttons":
                errors.append({"message": "unsupported template", "property": f"{prop}.template"})
                continue
            with_title = bool(template.get("title") or template.get("thumbnailImageUrl"))
            errors += _length_error(
                f"{prop}.template.text", template.get("text"), 1, 60 if with_title else 160
            )
            actions = template.get("actions")
            if not isinstance(actions, list) or not 1 <= len(actions) <= 4:
                size = "Size must be between 1 and 4"
                errors.append({"message": size, "property": f"{prop}.template.actions"})
                continue
            for j, action in enumerate(actions):
                errors += _action_errors(f"{prop}.template.actions[{j}]", action)
        else:
            errors.append({"message": "unsupported message type", "property": f"{prop}.type"})
    return errors


class LineStandIn:
    """The Messaging API's push and reply endpoints, as LINE answers them."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.lock = threading.Lock()
        self.pushes: list[dict[str, Any]] = []  # accepted: retry_key, to, messages, request_id
        self.replies: list[dict[str, Any]] = []  # accepted: reply_token, messages
        self.requests: list[dict[str, Any]] = []  # every request: path, status, retry_key, port
        self.accepted: dict[str, str] = {}  # retry key -> the request id that was accepted
        self.reply_tokens: set[str] = set()  # issued, not yet used
        self.fail_next: list[int] = []  # statuses to answer the next pushes with (then normal)
        # Accept this many next pushes but answer 500, as when LINE took the message and its
        # answer was lost (the sender cannot tell, and retries with the same key).
        self.lose_answers = 0
        self.connections: set[int] = set()
        self.changed = threading.Condition(self.lock)
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, headers, body = standin.handle(
                    self.path, dict(self.headers), raw, self.client_address[1]
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LineStandIn:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    # ------------------------------------------------------------------ the API

    def handle(
        self, path: str, headers: dict[str, str], raw: bytes, port: int
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        request_id = str(uuid.uuid4())
        lower = {k.lower(): v for k, v in headers.items()}
        key = lower.get("x-line-retry-key")
        status, extra, body = self._answer(path, lower, raw, request_id, key)
        with self.changed:
            self.connections.add(port)
            self.requests.append(
                {"path": path, "status": status, "retry_key": key, "port": port, "id": request_id}
            )
            self.changed.notify_all()
        return status, {"x-line-request-id": request_id, **extra}, body

    def _answer(
        self, path: str, headers: dict[str, str], raw: bytes, request_id: str, key: str | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        if headers.get("authorization") != f"Bearer {self.token}":
            return (
                401,
                {},
                {
                    "message": "Authentication failed. Confirm that the access token "
                    "in the authorization header is valid."
                },
            )
        if path not in ("/v2/bot/message/push", "/v2/bot/message/reply"):
            return 404, {}, {"message": "Not found"}
        if not headers.get("content-type", "").startswith("application/json"):
            return 415, {}, {"message": "Unsupported Media Type"}
        try:
            payload = json.loads(raw)
        except ValueError:
            return 400, {}, {"message": "The request body could not be parsed as JSON"}
        if path == "/v2/bot/message/reply":
            return self._reply(payload, key)
        return self._push(payload, key, request_id)

    def _push(
        self, payload: dict[str, Any], key: str | None, request_id: str
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        if key is not None:
            try:
                if str(uuid.UUID(key)) != key.lower():
                    raise ValueError(key)
            except ValueError:
                invalid = "The value for the 'X-Line-Retry-Key' header is invalid"
                return 400, {}, {"message": invalid}
        with self.lock:
            if key is not None and key in self.accepted:
                return (
                    409,
                    {"x-line-accepted-request-id": self.accepted[key]},
                    {"message": "The retry key is already accepted"},
                )
            if self.fail_next:
                status = self.fail_next.pop(0)
                return status, {}, {"message": f"stand-in answers {status}"}
        if not isinstance(payload.get("to"), str) or not USER_ID.match(payload["to"]):
            return 400, {}, {"message": "Failed to send messages"}
        errors = message_errors(payload.get("messages"))
        if errors:
            return (
                400,
                {},
                {"message": f"The request body has {len(errors)} error(s)", "details": errors},
            )
        with self.changed:
            if key is not None:
                self.accepted[key] = request_id
            self.pushes.append(
                {
                    "retry_key": key,
                    "to": payload["to"],
                    "messages": payload["messages"],
                    "request_id": request_id,
                }
            )
            self.changed.notify_all()
            if self.lose_answers > 0:
                self.lose_answers -= 1
                return 500, {}, {"message": "stand-in lost the answer"}
        return 200, {}, {"sentMessages": [{"id": str(time.time_ns()), "quoteToken": "q"}]}

    def _reply(
        self, payload: dict[str, Any], key: str | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        if key is not None:  # only the sending APIs take a retry key
            return 400, {}, {"message": "X-Line-Retry-Key is not supported by this API"}
        token = payload.get("replyToken")
        errors = message_errors(payload.get("messages"))
        if errors:
            return (
                400,
                {},
                {"message": f"The request body has {len(errors)} error(s)", "details": errors},
            )
        with self.changed:
            if token not in self.reply_tokens:
                return 400, {}, {"message": "Invalid reply token"}
            self.reply_tokens.discard(token)
            self.replies.append({"reply_token": token, "messages": payload["messages"]})
            self.changed.notify_all()
        return 200, {}, {"sentMessages": [{"id": str(time.time_ns()), "quoteToken": "q"}]}

    def reset(self) -> None:
        """Forget everything (between tests sharing one stand-in)."""
        with self.lock:
            self.pushes.clear()
            self.replies.clear()
            self.requests.clear()
            self.accepted.clear()
            self.reply_tokens.clear()
            self.fail_next.clear()
            self.connections.clear()
            self.lose_answers = 0

    def wait_for(self, condition: Any, timeout_s: float = 10.0) -> None:
        """Wait until condition(self) is true (replies go out after the webhook's response)."""
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while not condition(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("the LINE stand-in did not get what was expected")
                self.changed.wait(left)

    def reply_texts(self, reply_token: str) -> list[str]:
        """The texts of the reply to one event."""
        with self.lock:
            return [
                m.get("text", "")
                for r in self.replies
                if r["reply_token"] == reply_token
                for m in r["messages"]
            ]

    # ------------------------------------------------------------------ webhook events

    def _event(self, kind: str, user_id: str, reply: bool = True, **extra: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": kind,
            "mode": "active",
            "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": user_id},
            "webhookEventId": new_event_id(),
            "deliveryContext": {"isRedelivery": False},
            **extra,
        }
        if reply:
            token = secrets.token_hex(16)
            with self.lock:
                self.reply_tokens.add(token)
            event["replyToken"] = token
        return event

    def follow(self, user_id: str) -> dict[str, Any]:
        return self._event("follow", user_id, follow={"isUnblocked": False})

    def unfollow(self, user_id: str) -> dict[str, Any]:
        return self._event("unfollow", user_id, reply=False)

    def text(self, user_id: str, text: str) -> dict[str, Any]:
        message = {"id": str(time.time_ns()), "type": "text", "quoteToken": "q", "text": text}
        return self._event("message", user_id, message=message)

    def postback(self, user_id: str, data: str) -> dict[str, Any]:
        return self._event("postback", user_id, postback={"data": data})


def redelivered(event: dict[str, Any]) -> dict[str, Any]:
    """The same event as LINE redelivers it (same webhookEventId)."""
    return {**event, "deliveryContext": {"isRedelivery": True}}


def signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_body(*events: dict[str, Any]) -> bytes:
    return json.dumps(
        {"destination": "U" + "0" * 32, "events": list(events)}, ensure_ascii=False
    ).encode()


def post_events(
    client: Any, secret: str, *events: dict[str, Any], sign_with: str | None = None
) -> Any:
    """POST the events to /hooks/line as LINE does, signed with `secret` (or `sign_with`)."""
    body = webhook_body(*events)
    return client.post(
        "/hooks/line",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Line-Signature": signature(sign_with or secret, body),
        },
        buffered=True,  # closes the response, as a server does: the replies go out then
    )


FRIEND_URL = "https://line.me/R/ti/p/@watchnet-test"


@pytest.fixture(scope="module")
def line_standin() -> Iterator[LineStandIn]:
    """One stand-in for a test module."""
    with running_standin() as standin:
        yield standin


@pytest.fixture()
def line_on(app: Any, line_standin: LineStandIn, monkeypatch: pytest.MonkeyPatch) -> LineStandIn:
    """The app talks to the stand-in as to LINE (the settings a city would set)."""
    line_standin.reset()
    settings = {
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "LINE_API_BASE": line_standin.url,
        "LINE_ADD_FRIEND_URL": FRIEND_URL,
    }
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    return line_standin


@contextmanager
def running_standin(token: str = TOKEN) -> Iterator[LineStandIn]:
    standin = LineStandIn(token).start()
    try:
        yield standin
    finally:
        standin.stop()
