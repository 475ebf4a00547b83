"""A Twilio-compatible gateway on 127.0.0.1 for the SMS and voice tests.

It checks what the real API checks for the two calls watchnet makes (Basic auth with the
account SID and auth token, the account in the path, the form fields, E.164 numbers, our own
From number, the length limits, well-formed TwiML), answers as Twilio does (201 with the new
resource's JSON and SID, or an error object {code, message, status}), counts SMS segments
the way carriers do, and can play the callee and the carrier afterwards: press a key (a
signed Digits request to the Gather action URL) or report a message delivered (a signed
status callback), signed as Twilio signs: base64(HMAC-SHA1(auth token, URL + each parameter
name and value in name order)). The signing and the segment counting are written here from
the specifications, not taken from the app, so a mistake on either side shows.
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
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET  # noqa: S405 - parses TwiML the app itself wrote
from dataclasses import dataclass, field
from typing import Any

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "stand-in-auth-token-0123456789ab"
FROM_NUMBER = "+815012345678"

# GSM 03.38: the default alphabet (one septet each) and the extension table (escape + one).
_GSM_DEFAULT = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = "\f^{}\\[~]|€"


def count_segments(body: str) -> tuple[int, str]:
    """(segments, "GSM-7" or "UCS-2") as a carrier splits the body."""
    septets: list[list[str]] = []
    for ch in body:
        if ch in _GSM_DEFAULT and ch != "\x1b":
            septets.append([ch])
        elif ch in _GSM_EXTENDED:
            septets.append(["\x1b", ch])
        else:
            break
    else:
        return _pack([len(s) for s in septets], 160, 153), "GSM-7"
    units = body.encode("utf-16-be")
    sizes = []
    i = 0
    while i < len(units):
        high = int.from_bytes(units[i : i + 2], "big")
        size = 2 if 0xD800 <= high <= 0xDBFF else 1  # a surrogate pair stays together
        sizes.append(size)
        i += 2 * size
    return _pack(sizes, 70, 67), "UCS-2"


def _pack(sizes: list[int], single: int, per_part: int) -> int:
    if sum(sizes) <= single:
        return 1
    parts, room = 1, per_part
    for size in sizes:
        if size > room:
            parts, room = parts + 1, per_part
        room -= size
    return parts


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature of a form POST to `url`."""
    data = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Sent:
    """One Message or Call the gateway accepted."""

    sid: str
    kind: str  # "sms" or "call"
    fields: dict[str, str]
    headers: dict[str, str]
    segments: int = 0
    encoding: str = ""
    twiml: ET.Element | None = None
    said: list[str] = field(default_factory=list)

    @property
    def to(self) -> str:
        return self.fields["To"]

    @property
    def body(self) -> str:
        return self.fields.get("Body", "")

    def gather(self) -> ET.Element | None:
        return None if self.twiml is None else self.twiml.find("Gather")


def spoken(twiml: ET.Element) -> list[str]:
    """Every <Say> text, in order."""
    return [say.text or "" for say in twiml.iter("Say")]


class TwilioStandIn:
    """The gateway. `refuse[number] = (http status, error code)` refuses messages and calls to
    a number ("sms:<number>" or "call:<number>": only those);
    `fail_next` holds statuses to answer (with no resource made) before working normally."""

    def __init__(self, auth_token: str = AUTH_TOKEN) -> None:
        self.auth_token = auth_token
        self.sent: list[Sent] = []
        self.requests: list[dict[str, Any]] = []
        self.connections: set[int] = set()
        self.refuse: dict[str, tuple[int, int]] = {}
        self.fail_next: list[int] = []
        self.lock = threading.Lock()
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = stand_in._handle(self, raw)
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> TwilioStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def config(self) -> dict[str, Any]:
        """The app settings that point watchnet at this gateway."""
        return {
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_API_BASE": self.url,
        }

    # --- the REST API ---

    @staticmethod
    def _error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
        return status, {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }

    def _handle(self, handler: Any, raw: bytes) -> tuple[int, dict[str, Any]]:
        headers = dict(handler.headers)
        with self.lock:
            self.connections.add(handler.client_address[1])
            self.requests.append({"path": handler.path, "headers": headers, "raw": raw})
            if self.fail_next:
                status = self.fail_next.pop(0)
                return self._error(status, 20429 if status == 429 else 20500, "try again")
        match = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)/(Messages|Calls)\.json", handler.path)
        if match is None:
            return self._error(404, 20404, "The requested resource was not found")
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{self.auth_token}".encode()).decode()
        if headers.get("Authorization") != expected or match.group(1) != ACCOUNT_SID:
            return self._error(401, 20003, "Authenticate")
        if not headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return self._error(400, 20001, "form-encoded parameters expected")
        fields = {
            k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode(), strict_parsing=True).items()
        }
        to = fields.get("To", "")
        if not to:
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not re.fullmatch(r"\+[1-9]\d{7,14}", to):
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if fields.get("From") != FROM_NUMBER:
            return self._error(400, 21212, "The 'From' number is not a valid phone number.")
        kind = "sms" if match.group(2) == "Messages" else "call"
        refusal = self.refuse.get(f"{kind}:{to}") or self.refuse.get(to)
        if refusal is not None:
            status, code = refusal
            return self._error(status, code, f"refused for {to}")
        callback = fields.get("StatusCallback", "")
        if callback and not callback.startswith(("http://", "https://")):
            return self._error(400, 21609, "Invalid StatusCallback URL")
        if match.group(2) == "Messages":
            return self._message(fields, headers)
        return self._call(fields, headers)

    def _message(
        self, fields: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        body = fields.get("Body", "")
        if not body:
            return self._error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return self._error(400, 21617, "The concatenated message body exceeds 1600 characters.")
        segments, encoding = count_segments(body)
        sent = Sent("SM" + secrets.token_hex(16), "sms", fields, headers, segments, encoding)
        with self.lock:
            self.sent.append(sent)
        return 201, {
            "sid": sent.sid,
            "account_sid": ACCOUNT_SID,
            "to": fields["To"],
            "from": fields["From"],
            "body": body,
            "status": "queued",
            "num_segments": str(segments),
            "api_version": "2010-04-01",
        }

    def _call(self, fields: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        twiml_text = fields.get("Twiml", "")
        if not twiml_text and not fields.get("Url"):
            return self._error(400, 21205, "Url, Twiml or ApplicationSid is required.")
        if len(twiml_text) > 4000:
            return self._error(400, 13004, "Twiml exceeds 4000 characters")
        try:
            twiml = ET.fromstring(twiml_text)  # noqa: S314 - TwiML the app wrote
        except ET.ParseError:
            return self._error(400, 12100, "Document parse failure")
        if twiml.tag != "Response":
            return self._error(400, 12100, "the root element must be Response")
        sent = Sent("CA" + secrets.token_hex(16), "call", fields, headers, twiml=twiml)
        sent.said = spoken(twiml)
        with self.lock:
            self.sent.append(sent)
        return 201, {
            "sid": sent.sid,
            "account_sid": ACCOUNT_SID,
            "to": fields["To"],
            "from": fields["From"],
            "status": "queued",
            "api_version": "2010-04-01",
        }

    # --- playing the callee and the carrier ---

    def messages(self) -> list[Sent]:
        with self.lock:
            return [s for s in self.sent if s.kind == "sms"]

    def calls(self) -> list[Sent]:
        with self.lock:
            return [s for s in self.sent if s.kind == "call"]

    def signed(self, url: str, params: dict[str, str]) -> dict[str, str]:
        """The headers Twilio sends with a callback to `url`."""
        return {
            "X-Twilio-Signature": twilio_signature(self.auth_token, url, params),
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
        }

    def press_params(self, call: Sent, digits: str) -> tuple[str, dict[str, str]]:
        """The Gather action URL and the parameters the gateway posts when `digits` are
        pressed on `call`."""
        gather = call.gather()
        assert gather is not None, "the call asked for no key"
        assert gather.get("method", "POST") == "POST"
        url = gather.get("action") or ""
        params = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": call.sid,
            "CallStatus": "in-progress",
            "Called": call.to,
            "Caller": FROM_NUMBER,
            "Digits": digits,
            "Direction": "outbound-api",
            "FinishedOnKey": "",
            "From": FROM_NUMBER,
            "To": call.to,
            "msg": "Gather End",
        }
        return url, params

    def status_params(
        self, sent: Sent, status: str, error_code: int | None = None
    ) -> tuple[str, dict[str, str]]:
        """The status callback URL and parameters of a delivery report for `sent`."""
        url = sent.fields.get("StatusCallback", "")
        assert url, "no StatusCallback was asked for"
        params = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "From": FROM_NUMBER,
            "To": sent.to,
        }
        if sent.kind == "sms":
            params |= {
                "MessageSid": sent.sid,
                "SmsSid": sent.sid,
                "MessageStatus": status,
                "SmsStatus": status,
            }
        else:
            params |= {
                "CallSid": sent.sid,
                "CallStatus": status,
                "Direction": "outbound-api",
                "CallDuration": "21",
            }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return url, params

    def post(self, url: str, params: dict[str, str], client: Any = None) -> tuple[int, str]:
        """Post a signed callback, through a Flask test client when given (the URL's path on
        it), else over HTTP; returns (status, body)."""
        headers = self.signed(url, params)
        if client is not None:
            parts = urllib.parse.urlsplit(url)
            response = client.post(
                parts.path + (f"?{parts.query}" if parts.query else ""),
                data=params,
                headers={"X-Twilio-Signature": headers["X-Twilio-Signature"]},
                base_url=f"{parts.scheme}://{parts.netloc}",
            )
            return response.status_code, response.get_data(as_text=True)
        request = urllib.request.Request(
            url, data=urllib.parse.urlencode(params).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def press(self, call: Sent, digits: str, client: Any = None) -> tuple[int, str]:
        """The callee presses `digits`."""
        url, params = self.press_params(call, digits)
        return self.post(url, params, client)

    def report(
        self, sent: Sent, status: str, error_code: int | None = None, client: Any = None
    ) -> tuple[int, str]:
        """The carrier reports what became of `sent` (delivered, undelivered, completed ...)."""
        url, params = self.status_params(sent, status, error_code)
        return self.post(url, params, client)
