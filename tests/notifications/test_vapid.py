"""The VAPID key pair and contact: generated once into the instance folder or taken from the
settings, checked at start-up, and the public key ready for pushManager.subscribe()."""

from __future__ import annotations

import base64
import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import make_test_app
from tests.notifications.push_support import b64url, b64url_decode
from watchnet.core.config import ConfigError
from watchnet.notifications.vapid import (
    KEY_FILE,
    VapidSigner,
    init_vapid,
    load_private_key,
    public_key_b64,
)


def settled(instance: Path, **settings: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {"MAIL_FROM": "watchnet <noreply@localhost>", **settings}
    init_vapid(cfg, instance)
    return cfg


def raw_private(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def test_the_key_pair_is_generated_once_into_the_instance_folder(tmp_path: Path) -> None:
    first = settled(tmp_path)
    key_file = tmp_path / KEY_FILE
    assert key_file.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = settled(tmp_path)
    assert again["VAPID_PUBLIC_KEY"] == first["VAPID_PUBLIC_KEY"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE]


def test_the_public_key_is_what_push_manager_subscribe_takes(tmp_path: Path) -> None:
    public = settled(tmp_path)["VAPID_PUBLIC_KEY"]
    point = b64url_decode(public)
    assert "=" not in public and len(public) == 87
    assert len(point) == 65 and point[0] == 4  # uncompressed P-256 point
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


def _settle_in_child(instance: str, queue: Any) -> None:
    queue.put(settled(Path(instance))["VAPID_PUBLIC_KEY"])


def test_processes_starting_together_end_up_with_one_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    children = [ctx.Process(target=_settle_in_child, args=(str(tmp_path), queue)) for _ in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(30)
    keys = {queue.get(timeout=5) for _ in children}
    assert len(keys) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE]


def test_create_app_puts_the_public_key_in_the_config(
    database_url: str, instance_path: Path
) -> None:
    app = make_test_app(database_url)
    assert Path(app.instance_path) == instance_path
    instance_key = load_private_key((Path(app.instance_path) / KEY_FILE).read_text())
    assert app.config["VAPID_PUBLIC_KEY"] == public_key_b64(instance_key)


@pytest.mark.parametrize("form", ["pem", "raw", "der"])
def test_a_configured_private_key_is_used_in_each_form(tmp_path: Path, form: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    given = {
        "pem": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode(),
        "raw": raw_private(key),
        "der": base64.urlsafe_b64encode(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ).decode(),
    }[form]
    cfg = settled(tmp_path, VAPID_PRIVATE_KEY=given, VAPID_PUBLIC_KEY=public_key_b64(key))
    assert cfg["VAPID_PUBLIC_KEY"] == public_key_b64(key)
    assert load_private_key(cfg["VAPID_PRIVATE_KEY"]).private_numbers() == key.private_numbers()
    assert not (tmp_path / KEY_FILE).exists()


def test_a_public_key_of_another_pair_stops_the_start(tmp_path: Path) -> None:
    key, other = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    with pytest.raises(ConfigError, match="VAPID_PUBLIC_KEY does not belong"):
        settled(
            tmp_path, VAPID_PRIVATE_KEY=raw_private(key), VAPID_PUBLIC_KEY=public_key_b64(other)
        )


@pytest.mark.parametrize(
    "value",
    [
        "not a key",
        b64url(b"\x01" * 31),
        # A key on another curve.
        base64.b64encode(
            ec.generate_private_key(ec.SECP384R1()).private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ).decode(),
    ],
)
def test_an_unusable_private_key_stops_the_start(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="WATCHNET_VAPID_PRIVATE_KEY"):
        settled(tmp_path, VAPID_PRIVATE_KEY=value)


@pytest.mark.parametrize(
    ("settings", "subject"),
    [
        ({"MAIL_FROM": "高崎市 <kaigo@city.example.jp>"}, "mailto:kaigo@city.example.jp"),
        (
            {"PUBLIC_BASE_URL": "https://watch.city.example.jp/app"},
            "https://watch.city.example.jp",
        ),
        ({}, "mailto:noreply@localhost"),
        ({"VAPID_SUBJECT": "https://watch.example.jp/contact"}, "https://watch.example.jp/contact"),
    ],
)
def test_the_subject_is_derived_from_the_mail_sender_or_the_public_url(
    tmp_path: Path, settings: dict[str, str], subject: str
) -> None:
    assert settled(tmp_path, **settings)["VAPID_SUBJECT"] == subject


@pytest.mark.parametrize(
    "subject", ["kaigo@city.example.jp", "mailto:", "mailto:a b@example.jp", "http://example.jp"]
)
def test_a_subject_push_services_refuse_stops_the_start(
    database_url: str, instance_path: Path, monkeypatch: pytest.MonkeyPatch, subject: str
) -> None:
    monkeypatch.setenv("WATCHNET_VAPID_SUBJECT", subject)
    with pytest.raises(ConfigError, match="WATCHNET_VAPID_SUBJECT"):
        make_test_app(database_url)


def test_the_signed_token_is_reused_per_push_service_for_an_hour(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    key = ec.generate_private_key(ec.SECP256R1())
    signer = VapidSigner(key, "mailto:kaigo@city.example.jp", clock=lambda: now[0])
    fcm = signer.authorization("https://fcm.googleapis.com/fcm/send/abc")
    assert signer.authorization("https://fcm.googleapis.com/fcm/send/other") == fcm
    apple = signer.authorization("https://web.push.apple.com/QF8w7V0M")
    assert apple != fcm
    now[0] += VapidSigner.REUSE_S + 1
    renewed = signer.authorization("https://fcm.googleapis.com/fcm/send/abc")
    assert renewed != fcm

    token = renewed.split("t=", 1)[1].split(",", 1)[0]
    claims = json.loads(b64url_decode(token.split(".")[1]))
    assert claims == {
        "aud": "https://fcm.googleapis.com",
        "exp": int(now[0]) + 12 * 3600,
        "sub": "mailto:kaigo@city.example.jp",
    }
    assert renewed.endswith(f",k={public_key_b64(key)}")
