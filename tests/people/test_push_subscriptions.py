"""A supporter turns push notifications on and off for a phone: the browser's subscription is
stored (one row per device, taken over by whoever turns it on last), deleted when turned off,
and anything else is refused field by field. Over HTTP with the real database."""

from __future__ import annotations

import base64
import os
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from support import login, signin_supporter

from watchnet.core.extensions import db
from watchnet.people.models import PushSubscription

URL = "/me/push-subscriptions"
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def subscription(endpoint_id: str = "abc123", **overrides: Any) -> dict[str, Any]:
    """What PushSubscription.toJSON() gives in Chrome (a made-up FCM endpoint)."""
    body: dict[str, Any] = {
        "endpoint": f"https://fcm.googleapis.com/fcm/send/{endpoint_id}",
        "expirationTime": None,
        "keys": {"p256dh": b64(b"\x04" + os.urandom(64)), "auth": b64(os.urandom(16))},
    }
    body.update(overrides)
    return body


def rows() -> list[PushSubscription]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(PushSubscription).order_by(PushSubscription.id)))


def test_turning_notifications_on_stores_this_phones_subscription(
    supporter_client: FlaskClient, supporter: Any
) -> None:
    body = subscription()
    response = supporter_client.post(URL, json=body, headers={"User-Agent": ANDROID_CHROME})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["enabled"] is True
    [row] = rows()
    assert (row.supporter_id, row.endpoint) == (supporter.id, body["endpoint"])
    assert (row.p256dh, row.auth) == (body["keys"]["p256dh"], body["keys"]["auth"])
    assert row.label == "Android Chrome"  # system and browser, nothing finer
    assert row.is_enabled

    # The page asks again (a second tap, a reload): still one row, now 200.
    again = supporter_client.post(URL, json=body, headers={"User-Agent": ANDROID_CHROME})
    assert again.status_code == 200
    assert len(rows()) == 1


def test_a_subscription_switched_off_by_the_push_service_is_switched_on_again(
    supporter_client: FlaskClient, supporter: Any
) -> None:
    body = subscription()
    supporter_client.post(URL, json=body)
    row = rows()[0]
    row.is_enabled, row.disabled_reason = False, "410 Gone"
    db.session.commit()
    assert supporter_client.post(URL, json=body).status_code == 200
    row = rows()[0]
    assert row.is_enabled and row.disabled_reason is None


def test_the_phone_goes_to_whoever_turns_notifications_on_last(
    app: Flask, make_supporter: Any, district: Any, supporter: Any, supporter_client: FlaskClient
) -> None:
    body = subscription()
    supporter_client.post(URL, json=body)
    other = make_supporter(district, name="家族 次郎", name_kana="かぞく じろう")
    other_phone = signin_supporter(app.test_client(), other)
    assert other_phone.post(URL, json=body).status_code == 200
    assert [r.supporter_id for r in rows()] == [other.id]


def test_turning_off_deletes_only_ones_own_subscription(
    app: Flask, make_supporter: Any, district: Any, supporter_client: FlaskClient
) -> None:
    mine, theirs = subscription("mine"), subscription("theirs")
    supporter_client.post(URL, json=mine)
    other = make_supporter(district, name="家族 次郎", name_kana="かぞく じろう")
    signin_supporter(app.test_client(), other).post(URL, json=theirs)

    refused = supporter_client.delete(URL, json={"endpoint": theirs["endpoint"]})
    assert refused.status_code == 200 and refused.get_json() == {"deleted": 0}
    deleted = supporter_client.delete(URL, json={"endpoint": mine["endpoint"]})
    assert deleted.get_json() == {"deleted": 1}
    assert [r.endpoint for r in rows()] == [theirs["endpoint"]]
    # Turning off twice is harmless.
    assert supporter_client.delete(URL, json={"endpoint": mine["endpoint"]}).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([1, 2], "_body"),
        ({"keys": {}}, "endpoint"),
        (subscription(endpoint="http://fcm.googleapis.com/fcm/send/x"), "endpoint"),
        (subscription(endpoint="https://127.0.0.1:8443/push"), "endpoint"),
        (subscription(endpoint="https://evil.example/fcm.googleapis.com"), "endpoint"),
        (subscription(endpoint="https://user:pw@fcm.googleapis.com/x"), "endpoint"),
        (subscription(endpoint="https://fcm.googleapis.com:99999/x"), "endpoint"),
        (subscription(endpoint="https://fcm.googleapis.com/" + "x" * 1000), "endpoint"),
        (subscription(endpoint=12), "endpoint"),
        (subscription(keys="abc"), "keys"),
        (
            subscription(keys={"p256dh": b64(b"\x04" + b"1" * 10), "auth": b64(b"a" * 16)}),
            "keys.p256dh",
        ),
        (
            subscription(keys={"p256dh": b64(b"\x05" + b"1" * 64), "auth": b64(b"a" * 16)}),
            "keys.p256dh",
        ),
        (subscription(keys={"p256dh": "not base64!", "auth": b64(b"a" * 16)}), "keys.p256dh"),
        (
            subscription(keys={"p256dh": b64(b"\x04" + b"1" * 64), "auth": b64(b"a" * 8)}),
            "keys.auth",
        ),
        (subscription(keys={"p256dh": b64(b"\x04" + b"1" * 64), "auth": None}), "keys.auth"),
    ],
)
def test_a_subscription_that_cannot_be_used_is_refused_field_by_field(
    supporter_client: FlaskClient, body: Any, field: str
) -> None:
    response = supporter_client.post(URL, json=body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert rows() == []


def test_a_body_that_is_not_json_is_a_400_with_a_reason(supporter_client: FlaskClient) -> None:
    for method in (supporter_client.post, supporter_client.delete):
        response = method(URL, data="{not json", content_type="application/json")
        assert response.status_code == 400
        assert response.get_json()["errors"] == {"_body": ["JSON オブジェクトを送信してください。"]}
    response = supporter_client.delete(URL, json={"endpoint": ""})
    assert response.status_code == 422 and "endpoint" in response.get_json()["errors"]


def test_other_push_services_can_be_allowed_by_the_setting(
    app: Flask, supporter_client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = subscription(endpoint="https://push.example.jp/v1/abc")
    assert supporter_client.post(URL, json=body).status_code == 422
    monkeypatch.setitem(app.config, "PUSH_ENDPOINT_HOSTS", ["example.jp"])
    assert supporter_client.post(URL, json=body).status_code == 201


def test_only_a_signed_in_supporter_may_store_a_subscription(
    client: FlaskClient, organizer: Any
) -> None:
    anonymous = client.post(URL, json=subscription())
    assert anonymous.status_code == 403 and anonymous.get_json()["signed_out"] is True
    staff = login(client, organizer).post(URL, json=subscription())
    assert staff.status_code == 403
    assert rows() == []


def test_with_csrf_protection_the_token_of_the_supporters_page_is_needed(
    csrf_app: Flask, supporter: Any
) -> None:
    phone = signin_supporter(csrf_app.test_client(), supporter)
    assert phone.post(URL, json=subscription()).status_code == 400  # no token
    page = phone.get("/me").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert token
    response = phone.post(URL, json=subscription(), headers={"X-CSRFToken": token.group(1)})
    assert response.status_code == 201
    removed = phone.delete(
        URL, json={"endpoint": rows()[0].endpoint}, headers={"X-CSRFToken": token.group(1)}
    )
    assert removed.get_json() == {"deleted": 1}


def test_the_page_offers_the_button_with_the_servers_key_and_this_supporters_endpoints(
    app: Flask,
    supporter_client: FlaskClient,
    make_supporter: Any,
    district: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "VAPID_PUBLIC_KEY", "BPublicKeyOfTheServer")
    mine, off = subscription("mine"), subscription("off")
    supporter_client.post(URL, json=mine)
    supporter_client.post(URL, json=off)
    other = make_supporter(district, name="家族 次郎", name_kana="かぞく じろう")
    signin_supporter(app.test_client(), other).post(URL, json=subscription("theirs"))
    rows()[1].is_enabled = False
    db.session.commit()
    page = supporter_client.get("/me").get_data(as_text=True)
    assert "通知をオンにする" in page
    config = re.search(r'<script type="application/json" id="me-config">(.*?)</script>', page)
    assert config
    import json

    push = json.loads(config.group(1))["push"]
    assert push == {"key": "BPublicKeyOfTheServer", "url": URL, "endpoints": [mine["endpoint"]]}


def test_without_a_vapid_key_the_page_offers_no_button(
    app: Flask, supporter_client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "VAPID_PUBLIC_KEY", "")
    page = supporter_client.get("/me").get_data(as_text=True)
    assert 'id="notify-btn"' not in page
    assert "ホーム画面に追加" in page  # the install guide is there all the same
