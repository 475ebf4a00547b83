"""VAPID (RFC 8292): the application server's key pair and the signed token push services ask for.

The key pair identifies this watchnet to every push service: a browser subscribes with the
public key (`pushManager.subscribe({applicationServerKey})`) and the push service then accepts
only messages signed with the matching private key. Changing the key therefore orphans every
stored subscription, so the pair is generated once into the instance folder (shared by all
processes, like the secret key) unless the configuration sets it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import re
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, MutableMapping
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid.jwt import sign as sign_jwt

from watchnet.core.config import ConfigError

log = logging.getLogger(__name__)

KEY_FILE = "vapid_private_key.pem"


def b64url(data: bytes) -> str:
    """Unpadded base64url, the encoding of every key and token in Web Push."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding (standard base64's +/ accepted too)."""
    cleaned = "".join(text.split()).replace("+", "-").replace("/", "_").rstrip("=")
    if not re.fullmatch(r"[A-Za-z0-9_-]*", cleaned) or len(cleaned) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The public point, uncompressed and base64url-encoded: the applicationServerKey."""
    return b64url(
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    """The private key as PKCS#8 PEM (what the instance file holds)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM, base64url raw (32 bytes) or base64url DER; ValueError if
    it is none of those."""
    text = text.strip()
    key: Any
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (TypeError, UnicodeEncodeError) as exc:  # TypeError: the PEM is encrypted
            raise ValueError(str(exc)) from exc
    else:
        try:
            raw = b64url_decode(text)
        except (ValueError, binascii.Error) as exc:
            raise ValueError("neither PEM nor base64url") from exc
        if len(raw) == 32:
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
        else:
            key = serialization.load_der_private_key(raw, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 (prime256v1) elliptic-curve key")
    return key


def _key_from_file(instance_path: Path) -> ec.EllipticCurvePrivateKey:
    """The instance's key pair, generated on first use. Several processes may start at once:
    the file appears complete or not at all (written aside, then linked into place, which
    fails if another process was first; then its key is the one)."""
    key_file = instance_path / KEY_FILE
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        pem = private_key_pem(ec.generate_private_key(ec.SECP256R1()))
        fd, tmp = tempfile.mkstemp(dir=instance_path, prefix=".vapid-")  # mode 0600
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(pem)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, key_file)
        finally:
            os.unlink(tmp)
    try:
        return load_private_key(key_file.read_text())
    except ValueError as exc:
        raise ConfigError(f"{key_file}: not a usable VAPID private key ({exc})") from exc


def default_subject(cfg: MutableMapping[str, Any]) -> str:
    """The contact push services see when VAPID_SUBJECT is not set: the sender address of
    MAIL_FROM when it is at a real domain, else PUBLIC_BASE_URL when it is https, else the
    MAIL_FROM address whatever it is (fine for Chrome and Firefox; see check_subject)."""
    _name, address = parseaddr(str(cfg.get("MAIL_FROM") or ""))
    if "@" in address and _real_domain(address.rpartition("@")[2]):
        return f"mailto:{address}"
    base = urllib.parse.urlsplit(str(cfg.get("PUBLIC_BASE_URL") or ""))
    if base.scheme == "https" and base.hostname:
        return f"https://{base.netloc}"
    return f"mailto:{address if '@' in address else 'noreply@localhost'}"


def _real_domain(host: str) -> bool:
    host = host.lower().rstrip(".")
    return "." in host and not host.endswith((".localhost", ".local", ".internal"))


def check_subject(subject: str) -> str:
    """VAPID_SUBJECT as given, if it is a mailto: address or an https: URL (RFC 8292 §2.1;
    Apple's push service refuses every message signed with anything else)."""
    if subject.startswith("mailto:"):
        address = subject[len("mailto:") :]
        local, at, domain = address.rpartition("@")
        if at and local and domain and not re.search(r"[\s<>,;]", address):
            return subject
    elif subject.startswith("https://"):
        parts = urllib.parse.urlsplit(subject)
        if parts.hostname and not parts.username and not re.search(r"\s", subject):
            return subject
    raise ConfigError(
        "WATCHNET_VAPID_SUBJECT must be a mailto: address or an https:// URL "
        f"(e.g. mailto:kaigo@city.example.jp), got {subject!r}"
    )


def subject_is_reachable(subject: str) -> bool:
    """False for a subject at localhost or a dotless host: Apple's push service (iPhones)
    answers 403 BadJwtToken to those, while Chrome's and Firefox's accept them."""
    if subject.startswith("mailto:"):
        return _real_domain(subject.rpartition("@")[2])
    return _real_domain(urllib.parse.urlsplit(subject).hostname or "")


def init_vapid(cfg: MutableMapping[str, Any], instance_path: Path) -> None:
    """Settle the VAPID settings at start-up, in every process: VAPID_PRIVATE_KEY becomes a
    PEM string (from the setting or the instance file), VAPID_PUBLIC_KEY the base64url
    public point, VAPID_SUBJECT a checked contact URI. A ConfigError names the setting."""
    configured = cfg.get("VAPID_PRIVATE_KEY")
    if configured:
        try:
            key = load_private_key(str(configured))
        except ValueError as exc:
            raise ConfigError(
                "WATCHNET_VAPID_PRIVATE_KEY must be a P-256 private key in PEM or as base64url "
                f"(32 raw bytes or DER): {exc}"
            ) from exc
        source = "VAPID_PRIVATE_KEY"
    else:
        key = _key_from_file(instance_path)
        source = str(instance_path / KEY_FILE)
    public = public_key_b64(key)
    given_public = cfg.get("VAPID_PUBLIC_KEY")
    if given_public:
        try:
            matches = b64url_decode(str(given_public)) == b64url_decode(public)
        except ValueError:
            matches = False
        if not matches:
            raise ConfigError(
                f"WATCHNET_VAPID_PUBLIC_KEY does not belong to the private key of {source}; "
                f"that key's public key is {public}"
            )
    cfg["VAPID_PRIVATE_KEY"] = private_key_pem(key)
    cfg["VAPID_PUBLIC_KEY"] = public
    cfg["VAPID_SUBJECT"] = check_subject(str(cfg.get("VAPID_SUBJECT") or default_subject(cfg)))


def origin_of(url: str) -> str:
    """scheme://host[:port] of a push endpoint: the `aud` its push service expects."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}".lower()


class VapidSigner:
    """Makes the `Authorization: vapid t=<JWT>,k=<public key>` header for a push endpoint.

    Signing is most of the cost of a push message after the encryption, and the token only
    names the push service (`aud`), so one token per push-service origin is reused for
    REUSE_S. Tokens live TOKEN_LIFETIME_S: push services refuse an `exp` more than 24 hours
    ahead (Apple: one day), and 12 hours leaves room for a clock that runs fast."""

    TOKEN_LIFETIME_S = 12 * 3600
    REUSE_S = 3600

    def __init__(
        self,
        private_key: ec.EllipticCurvePrivateKey,
        subject: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.private_key = private_key
        self.public_key = public_key_b64(private_key)
        self.subject = subject
        self.clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}  # origin -> (header, reuse until)

    @classmethod
    def from_config(cls, cfg: MutableMapping[str, Any] | Any) -> VapidSigner:
        """The signer of an app whose config went through init_vapid."""
        return cls(load_private_key(str(cfg["VAPID_PRIVATE_KEY"])), str(cfg["VAPID_SUBJECT"]))

    def authorization(self, endpoint: str) -> str:
        """The Authorization header value for a message to this endpoint."""
        origin = origin_of(endpoint)
        now = self.clock()
        cached = self._tokens.get(origin)
        if cached is not None and now < cached[1]:
            return cached[0]
        claims = {"aud": origin, "exp": int(now) + self.TOKEN_LIFETIME_S, "sub": self.subject}
        header = f"vapid t={sign_jwt(claims, self.private_key)},k={self.public_key}"
        with self._lock:
            self._tokens[origin] = (header, now + self.REUSE_S)
        return header
