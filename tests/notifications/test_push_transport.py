"""The Web Push transport against a push-service stand-in that checks VAPID and decrypts the
payload as the browser would: what arrives, what the push service sees, and how each of its
answers is classified."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.notifications.push_support import PushServiceStandIn
from watchnet.notifications.models import DeliveryChannel
from watchnet.notifications.transports import TransportError
from watchnet.notifications.transports.push import PushTransport, check_subscription, topic_of
from watchnet.notifications.vapid import VapidSigner, public_key_b64

SUBJECT = "mailto:kaigo@city.example.jp"


@dataclass
class Msg:
    address: str
    dedupe_key: str = "alert:7:r1:supporter:42:push:3"
    subject: str = "【訓練】行方不明の方の捜索にご協力ください"
    body: str = "八幡 ハナさん（82歳）、青いシャツ。最終目撃：八幡公民館の前"
    summary: str = ""
    link: str = "https://watch.example.jp/a/tok-123"
    answer_topic: str = ""
    id: int = 1
    channel: DeliveryChannel = DeliveryChannel.push
    channel_ref: str = "push:3"
    supporter_id: int | None = 42


@pytest.fixture
def vapid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def transport(vapid_key: ec.EllipticCurvePrivateKey) -> Iterator[PushTransport]:
    t = PushTransport(VapidSigner(vapid_key, SUBJECT), ttl_s=3600, timeout_s=2)
    yield t
    t.close()


@pytest.fixture
def service() -> Iterator[PushServiceStandIn]:
    with PushServiceStandIn() as s:
        yield s


def subscribe(service: PushServiceStandIn, key: ec.EllipticCurvePrivateKey) -> str:
    return service.subscribe(application_server_key=public_key_b64(key)).address


def test_the_browser_decrypts_a_headline_a_line_and_the_personal_link(
    transport: PushTransport, service: PushServiceStandIn, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    address = subscribe(service, vapid_key)
    sent = transport.send(Msg(address, summary="【訓練】捜索のお願い", answer_topic="alert:7"))
    assert sent is None  # no provider id: nothing calls back about a push message
    (got,) = service.wait_for(1)
    assert got.payload == {
        "title": "【訓練】捜索のお願い",
        "body": "開いて「捜索に参加する」か「今は参加できない」を選んでください。",
        "url": "https://watch.example.jp/a/tok-123",
        "tag": "alert:7",
    }
    assert got.endpoint == json.loads(address)["endpoint"]


def test_nothing_personal_reaches_the_push_service_or_the_payload(
    transport: PushTransport, service: PushServiceStandIn, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    transport.send(Msg(subscribe(service, vapid_key)))
    (got,) = service.wait_for(1)
    seen = json.dumps(got.payload, ensure_ascii=False) + json.dumps(got.headers)
    for personal in ("ハナ", "82", "青いシャツ", "公民館", "supporter:42"):
        assert personal not in seen
    # Without a summary the subject is the headline; the line only says what a tap does.
    assert got.payload is not None
    assert got.payload["title"] == "【訓練】行方不明の方の捜索にご協力ください"
    assert got.payload["body"] == "タップすると詳しい内容が開きます。"


def test_an_english_headline_gets_the_english_line(
    transport: PushTransport, service: PushServiceStandIn, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    address = subscribe(service, vapid_key)
    transport.send(Msg(address, subject="[Exercise] Please help look", answer_topic="alert:7"))
    (got,) = service.wait_for(1)
    assert got.payload is not None
    assert got.payload["body"] == "Open it to answer: I'll search, or I can't now."


def test_the_push_service_sees_vapid_ttl_urgency_and_the_topic(
    transport: PushTransport, service: PushServiceStandIn, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    address = subscribe(service, vapid_key)
    transport.send(Msg(address, answer_topic="alert:7"))
    transport.send(Msg(address, dedupe_key="alert:7:all_clear:supporter:42:push:3"))
    asks, tells = service.wait_for(2)
    assert asks.claims["aud"] == service.origin and asks.claims["sub"] == SUBJECT
    assert asks.headers["authorization"].endswith(f",k={public_key_b64(vapid_key)}")
    assert asks.headers["ttl"] == "3600" and asks.headers["content-encoding"] == "aes128gcm"
    assert (asks.headers["urgency"], tells.headers["urgency"]) == ("high", "normal")
    topic = asks.headers["topic"]
    assert topic == topic_of("alert:7:r1:supporter:42:push:3") and len(topic) == 32
    assert tells.headers["topic"] != topic
    # The same delivery sent again carries the same topic: the push service replaces it.
    transport.send(Msg(address, answer_topic="alert:7"))
    assert service.wait_for(3)[2].headers["topic"] == topic


def test_the_signed_token_is_reused_and_each_message_encrypted_afresh(
    transport: PushTransport, service: PushServiceStandIn, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    address = subscribe(service, vapid_key)
    for _ in range(3):
        transport.send(Msg(address))
    got = service.wait_for(3)
    assert len({r.headers["authorization"] for r in got}) == 1
    # Each body has its own salt and ephemeral key (RFC 8291): nothing links two messages.
    assert len({r.body[:16] for r in got}) == 3
    assert len({r.body[21:86] for r in got}) == 3


def test_messages_from_one_thread_share_one_kept_alive_connection(
    transport: PushTransport, service: PushServiceStandIn, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    addresses = [subscribe(service, vapid_key) for _ in range(5)]
    for address in addresses:
        transport.send(Msg(address))
    assert len(service.connections) == 1
    threads = [threading.Thread(target=lambda a=a: transport.send(Msg(a))) for a in addresses[:2]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    service.wait_for(7)
    assert len(service.connections) == 3  # one more per sending thread


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_no_longer_knows_is_gone(
    transport: PushTransport,
    service: PushServiceStandIn,
    vapid_key: ec.EllipticCurvePrivateKey,
    status: int,
) -> None:
    address = subscribe(service, vapid_key)
    service.answer(json.loads(address)["endpoint"], status)
    with pytest.raises(TransportError) as caught:
        transport.send(Msg(address))
    assert caught.value.permanent and caught.value.gone
    assert f"HTTP {status}" in caught.value.reason


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_busy_or_failing_push_service_is_tried_again_later(
    transport: PushTransport,
    service: PushServiceStandIn,
    vapid_key: ec.EllipticCurvePrivateKey,
    status: int,
) -> None:
    address = subscribe(service, vapid_key)
    service.answer(json.loads(address)["endpoint"], status, {"Retry-After": "30"})
    with pytest.raises(TransportError) as caught:
        transport.send(Msg(address))
    assert not caught.value.permanent and not caught.value.gone


@pytest.mark.parametrize("status", [400, 413])
def test_a_refused_message_is_not_tried_again(
    transport: PushTransport,
    service: PushServiceStandIn,
    vapid_key: ec.EllipticCurvePrivateKey,
    status: int,
) -> None:
    address = subscribe(service, vapid_key)
    service.answer(json.loads(address)["endpoint"], status)
    with pytest.raises(TransportError) as caught:
        transport.send(Msg(address))
    assert caught.value.permanent and not caught.value.gone


def test_a_subscription_made_with_another_vapid_key_is_refused_for_good(
    transport: PushTransport, service: PushServiceStandIn
) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(TransportError) as caught:
        transport.send(Msg(service.subscribe(application_server_key=public_key_b64(other)).address))
    assert caught.value.permanent and not caught.value.gone
    assert "403" in caught.value.reason
    assert service.received == []


def test_an_unreachable_push_service_is_tried_again_later(
    transport: PushTransport, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    with PushServiceStandIn() as gone_away:
        address = subscribe(gone_away, vapid_key)
    with pytest.raises(TransportError) as caught:
        transport.send(Msg(address))
    assert not caught.value.permanent and "unreachable" in caught.value.reason


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("not json", "not JSON"),
        ('{"endpoint": "https://fcm.googleapis.com/x"}', "keys"),
        ('{"endpoint": "http://push.example.com/x", "keys": {}}', "https"),
        (
            '{"endpoint": "https://p.example/x", "keys": {"p256dh": "AAAA", "auth": "AAAA"}}',
            "P-256",
        ),
    ],
)
def test_an_unusable_subscription_is_refused_without_posting(
    transport: PushTransport, address: str, problem: str
) -> None:
    with pytest.raises(TransportError, match=problem) as caught:
        transport.send(Msg(address))
    assert caught.value.permanent


def test_the_auth_secret_must_be_sixteen_bytes(service: PushServiceStandIn) -> None:
    data = service.subscribe().to_json()
    check_subscription(data)
    data["keys"]["auth"] = data["keys"]["auth"][:-4]
    with pytest.raises(ValueError, match="16 bytes"):
        check_subscription(data)


# --- the stand-in refuses what a real push service refuses -----------------------------------


def test_the_stand_in_refuses_a_token_for_another_push_service(
    service: PushServiceStandIn, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    class WrongAudience(VapidSigner):
        def authorization(self, endpoint: str) -> str:
            return super().authorization("https://fcm.googleapis.com/fcm/send/x")

    t = PushTransport(WrongAudience(vapid_key, SUBJECT), ttl_s=60, timeout_s=2)
    with pytest.raises(TransportError, match="403"):
        t.send(Msg(subscribe(service, vapid_key)))
    assert "aud" in service.refused[-1][2]


def test_the_stand_in_refuses_a_token_valid_for_more_than_a_day(
    service: PushServiceStandIn, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    class LongLived(VapidSigner):
        TOKEN_LIFETIME_S = 25 * 3600

    t = PushTransport(LongLived(vapid_key, SUBJECT), ttl_s=60, timeout_s=2)
    with pytest.raises(TransportError, match="403"):
        t.send(Msg(subscribe(service, vapid_key)))
    assert "24 hours" in service.refused[-1][2]


def test_the_stand_in_refuses_a_token_signed_by_another_key(
    service: PushServiceStandIn, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    forger = VapidSigner(ec.generate_private_key(ec.SECP256R1()), SUBJECT)
    forger.public_key = public_key_b64(vapid_key)  # claims to be us
    t = PushTransport(forger, ttl_s=60, timeout_s=2)
    with pytest.raises(TransportError, match="403"):
        t.send(Msg(subscribe(service, vapid_key)))
    assert "signature" in service.refused[-1][2]


def test_the_stand_in_decrypts_only_with_the_subscription_keys(
    transport: PushTransport, service: PushServiceStandIn, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    data = json.loads(subscribe(service, vapid_key))
    data["keys"]["auth"] = "AQEBAQEBAQEBAQEBAQEBAQ"  # not the browser's secret
    with pytest.raises(TransportError, match="400"):
        transport.send(Msg(json.dumps(data)))
    assert "decrypt" in service.refused[-1][2]


def test_a_proxy_set_in_the_environment_is_used_unless_no_proxy_names_the_host(
    service: PushServiceStandIn,
    vapid_key: ec.EllipticCurvePrivateKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with PushServiceStandIn() as closed:  # a proxy address where nothing listens any more
        dead_proxy = closed.origin
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", dead_proxy)
    address = subscribe(service, vapid_key)
    through_proxy = PushTransport(VapidSigner(vapid_key, SUBJECT), ttl_s=60, timeout_s=2)
    with pytest.raises(TransportError, match="unreachable"):
        through_proxy.send(Msg(address))
    through_proxy.close()

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    direct = PushTransport(VapidSigner(vapid_key, SUBJECT), ttl_s=60, timeout_s=2)
    direct.send(Msg(address))
    direct.close()
    assert len(service.wait_for(1)) == 1
