"""A Web Push service stand-in on 127.0.0.1, checking what a real push service checks.

Like FCM, Mozilla's autopush or Apple's service it refuses a message without a valid VAPID
token (RFC 8292: `Authorization: vapid t=<JWT>,k=<key>`, ES256 signed by k, `aud` = its own
origin, `exp` in the future and at most 24 hours ahead, `sub` a mailto: or https: contact)
with 401/403, a key other than the one the browser subscribed with (403), a message without
TTL (400), an unknown subscription (404), and more than 4096 bytes (413). It decrypts the
aes128gcm body (RFC 8291) with the subscription's private key, as the browser would, and
records (endpoint, headers, decrypted JSON). It answers 410 (or anything) for chosen
endpoints.

`subscribe()` makes what a browser's `pushManager.subscribe()` makes: a P-256 key pair and a
16-byte auth secret, and an endpoint on this service.

Run alone (the benchmark does) it prints "ready" and answers GET /stats:
    python tests/notifications/push_support.py --port 8765 --seed bench --decrypt-every 100
Subscriptions /push/d/<n> then have keys derived from (seed, n) (see derived_subscription),
so another process can make 10,000 subscriptions without asking for them.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.server
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MAX_BODY = 4096
URGENCIES = {"very-low", "low", "normal", "high"}
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def point_of(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


@dataclass
class BrowserSubscription:
    """What the browser keeps (the private key) and what it hands the page (toJSON())."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    application_server_key: str | None = None

    @property
    def p256dh(self) -> str:
        return b64url(point_of(self.private_key))

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }

    @property
    def address(self) -> str:
        """The push Delivery's address: the subscription JSON without expirationTime."""
        data = self.to_json()
        return json.dumps({"endpoint": data["endpoint"], "keys": data["keys"]})


def derived_subscription(
    origin: str, seed: str, n: int, application_server_key: str | None = None
) -> BrowserSubscription:
    """Subscription number n of a seed: the same keys in every process that asks."""
    digest = hashlib.sha256(f"{seed}:{n}".encode()).digest()
    scalar = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    auth = hashlib.sha256(f"{seed}:{n}:auth".encode()).digest()[:16]
    return BrowserSubscription(f"{origin}/push/d/{n}", key, auth, application_server_key)


@dataclass
class Received:
    endpoint: str
    headers: dict[str, str]
    payload: dict[str, Any] | None  # None when the stand-in skipped decrypting this one
    claims: dict[str, Any]
    body: bytes = b""  # as it came: encrypted
    at: float = field(default_factory=time.time)


class Refusal(Exception):
    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


class PushServiceStandIn:
    """The push service. Use as a context manager; `origin` is its http://127.0.0.1:port."""

    def __init__(
        self,
        *,
        port: int = 0,
        decrypt_every: int = 1,
        seed: str | None = None,
        application_server_key: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.decrypt_every = decrypt_every
        self.seed = seed
        self.application_server_key = application_server_key
        self.clock = clock
        self.lock = threading.Condition()
        self.subscriptions: dict[str, BrowserSubscription] = {}
        self.answers: dict[str, tuple[int, dict[str, str]]] = {}  # endpoint -> forced answer
        self.received: list[Received] = []
        self.refused: list[tuple[str, int, str]] = []
        self.connections: set[int] = set()
        self.first_by_topic: dict[str, float] = {}
        self.raw = 0
        self.decrypted = 0
        self._tokens: dict[tuple[str, str], dict[str, Any]] = {}  # verified (t, k) -> claims
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None

    # --- set-up ---------------------------------------------------------------------------
    def __enter__(self) -> PushServiceStandIn:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def subscribe(self, application_server_key: str | None = None) -> BrowserSubscription:
        """A new browser subscription on this service (applicationServerKey as given to
        pushManager.subscribe; messages must then be signed with its private key)."""
        token = b64url(os.urandom(18))
        sub = BrowserSubscription(
            f"{self.origin}/push/{token}",
            ec.generate_private_key(ec.SECP256R1()),
            os.urandom(16),
            application_server_key,
        )
        with self.lock:
            self.subscriptions[sub.endpoint] = sub
        return sub

    def answer(self, endpoint: str, status: int, headers: dict[str, str] | None = None) -> None:
        """From now on, answer this endpoint's messages with status (after the VAPID check)."""
        with self.lock:
            self.answers[endpoint] = (status, headers or {})

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        """Block until at least count messages were taken; returns them."""
        with self.lock:
            self.lock.wait_for(lambda: len(self.received) >= count, timeout_s)
            return list(self.received)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            times = list(self.first_by_topic.values())
            return {
                "raw": self.raw,
                "unique": len(times),
                "first": min(times) if times else None,
                "last": max(times) if times else None,
                "refused": len(self.refused),
                "refusals": self.refused[:5],
                "decrypted": self.decrypted,
            }

    # --- the protocol -----------------------------------------------------------------------
    def _subscription(self, path: str) -> BrowserSubscription | None:
        endpoint = self.origin + path
        with self.lock:
            sub = self.subscriptions.get(endpoint)
        if sub is None and self.seed is not None:
            match = re.fullmatch(r"/push/d/(\d{1,9})", path)
            if match:
                sub = derived_subscription(
                    self.origin, self.seed, int(match[1]), self.application_server_key
                )
        return sub

    def _check_vapid(self, authorization: str | None) -> tuple[dict[str, Any], str]:
        """The token's claims and its key k, or a Refusal (401 missing, 403 invalid)."""
        match = re.fullmatch(r"(?i)vapid\s+(.+)", (authorization or "").strip())
        if not match:
            raise Refusal(401, "missing VAPID authorization")
        params = dict(part.strip().split("=", 1) for part in match[1].split(",") if "=" in part)
        token, k = params.get("t", ""), params.get("k", "")
        if not token or not k:
            raise Refusal(401, "VAPID authorization needs t= and k=")
        claims = self._tokens.get((token, k))
        if claims is None:
            claims = self._verify(token, k)
            self._tokens[(token, k)] = claims
        now = self.clock()
        if claims.get("aud") != self.origin:
            raise Refusal(403, f"aud {claims.get('aud')!r} is not {self.origin}")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= now:
            raise Refusal(403, "token expired")
        if exp > now + 86400:
            raise Refusal(403, "exp more than 24 hours ahead")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.startswith(("mailto:", "https:")):
            raise Refusal(403, "sub must be a mailto: or https: contact")
        return claims, k

    @staticmethod
    def _verify(token: str, k: str) -> dict[str, Any]:
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(b64url_decode(header_b64))
            claims = json.loads(b64url_decode(claims_b64))
            signature = b64url_decode(signature_b64)
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(k))
        except (ValueError, TypeError) as exc:
            raise Refusal(403, f"malformed VAPID token: {exc}") from exc
        if header.get("alg") != "ES256" or len(signature) != 64 or not isinstance(claims, dict):
            raise Refusal(403, "VAPID token must be an ES256 JWT")
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as exc:
            raise Refusal(403, "VAPID signature does not verify with k") from exc
        return claims

    def _take(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        claims, k = self._check_vapid(headers.get("authorization"))
        ttl = headers.get("ttl")
        if ttl is None or not ttl.isdigit():
            raise Refusal(400, "TTL header required")
        urgency = headers.get("urgency")
        if urgency is not None and urgency not in URGENCIES:
            raise Refusal(400, f"bad Urgency {urgency!r}")
        topic = headers.get("topic")
        if topic is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", topic):
            raise Refusal(400, f"bad Topic {topic!r}")
        sub = self._subscription(path)
        if sub is None:
            raise Refusal(404, "no such subscription")
        with self.lock:
            forced = self.answers.get(sub.endpoint)
        if forced is not None:
            raise Refusal(forced[0], "answer chosen by the test", forced[1])
        if sub.application_server_key and b64url_decode(k) != b64url_decode(
            sub.application_server_key
        ):
            raise Refusal(403, "k is not the key this subscription was made with")
        if len(body) > MAX_BODY:
            raise Refusal(413, "payload too large")
        if headers.get("content-encoding") != "aes128gcm":
            raise Refusal(400, "Content-Encoding must be aes128gcm")
        payload = self._open(sub, body)
        now = time.time()
        with self.lock:
            self.raw += 1
            self.first_by_topic.setdefault(topic or f"raw:{self.raw}", now)
            self.received.append(Received(sub.endpoint, headers, payload, claims, body, now))
            if payload is not None:
                self.decrypted += 1
            number = len(self.received)
            self.lock.notify_all()
        return 201, {"Location": f"{self.origin}/message/{number}"}

    def _open(self, sub: BrowserSubscription, body: bytes) -> dict[str, Any] | None:
        # The aes128gcm header (RFC 8188): salt(16) rs(4) idlen(1) keyid(65: the sender's
        # ephemeral P-256 point, RFC 8291 §4), then at least one record with its 16-byte tag.
        if len(body) < 21 + 65 + 17 or body[20] != 65 or body[21] != 4:
            raise Refusal(400, "not an aes128gcm Web Push body")
        if int.from_bytes(body[16:20], "big") < 18:
            raise Refusal(400, "record size too small")
        with self.lock:
            skip = not self.decrypt_every or (self.raw + 1) % self.decrypt_every
        if skip:
            return None
        try:
            plain = http_ece.decrypt(
                body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm"
            )
            payload = json.loads(plain)
        except (http_ece.ECEException, ValueError) as exc:
            raise Refusal(400, f"cannot decrypt: {exc}") from exc
        if not isinstance(payload, dict):
            raise Refusal(400, "payload is not a JSON object")
        return payload

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with service.lock:
                    service.connections.add(self.client_address[1])
                try:
                    status, extra = service._take(self.path, headers, body)
                    self._reply(status, b"", extra)
                except Refusal as refusal:
                    with service.lock:
                        service.refused.append((self.path, refusal.status, refusal.reason))
                    reason = json.dumps({"reason": refusal.reason}).encode()
                    self._reply(refusal.status, reason, refusal.headers)

            def do_GET(self) -> None:  # noqa: N802
                self._reply(200, json.dumps(service.stats()).encode(), {})

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="a Web Push service stand-in on 127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", required=True, help="derive /push/d/<n> subscriptions")
    parser.add_argument("--decrypt-every", type=int, default=1, help="0: never, N: every Nth")
    parser.add_argument("--application-server-key", default=None)
    args = parser.parse_args()
    service = PushServiceStandIn(
        port=args.port,
        decrypt_every=args.decrypt_every,
        seed=args.seed,
        application_server_key=args.application_server_key,
    )
    with service:
        print("ready", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
