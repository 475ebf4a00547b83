"""Web Push through the real outbox: fan_out writes a push row for a supporter's subscription,
the dispatcher encrypts and signs it for the push-service stand-in, and the service's answers
come back as the outbox's outcomes — a 410 switches the subscription off for good."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.notifications.push_support import BrowserSubscription, PushServiceStandIn
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.jobs.deliveries import deliver_due_notifications
from watchnet.notifications.models import Delivery, DeliveryChannel, DeliveryStatus
from watchnet.people.models import PushSubscription
from watchnet.people.notify import Recipient, Text, fan_out

LINK = "https://watch.example.jp/a/tok-abc"


@pytest.fixture
def service() -> Iterator[PushServiceStandIn]:
    with PushServiceStandIn() as s:
        yield s


@pytest.fixture
def phone(
    app: Flask, district: Any, make_supporter: Any, service: PushServiceStandIn
) -> tuple[Any, BrowserSubscription, PushSubscription]:
    """A supporter whose only channel is push on one phone, subscribed with the app's key."""
    supporter = make_supporter(district, email=None)
    browser = service.subscribe(application_server_key=app.config["VAPID_PUBLIC_KEY"])
    keys = browser.to_json()["keys"]
    row = PushSubscription(
        supporter_id=supporter.id,
        endpoint=browser.endpoint,
        p256dh=keys["p256dh"],
        auth=keys["auth"],
        label="Android Chrome",
    )
    db.session.add(row)
    db.session.commit()
    return supporter, browser, row


def queue_alert(supporter: Any, key: str = "alert:1:r1") -> int:
    count = fan_out(
        key=key,
        kind="alert",
        topic="alert",
        topic_id=1,
        recipients=[Recipient(supporter.id, LINK)],
        make_text=lambda: Text(
            subject="【訓練】行方不明の方の捜索にご協力ください",
            body="八幡 ハナさん（82歳）、青いシャツ。リンク：\ue000link\ue000",
            summary="【訓練】捜索のお願い",
        ),
        real=True,
        answer_topic="alert:1",
    )
    db.session.commit()
    return count


def test_an_alert_reaches_the_phone_as_an_encrypted_push_message(
    phone: tuple[Any, BrowserSubscription, PushSubscription], service: PushServiceStandIn
) -> None:
    supporter, browser, subscription = phone
    assert queue_alert(supporter) == 1
    row = db.session.scalars(sa.select(Delivery)).one()
    assert (row.channel, row.channel_ref) == (DeliveryChannel.push, f"push:{subscription.id}")

    assert deliver_due_notifications() == 1
    (got,) = service.wait_for(1)
    assert got.endpoint == browser.endpoint
    assert got.payload == {
        "title": "【訓練】捜索のお願い",
        "body": "開いて「捜索に参加する」か「今は参加できない」を選んでください。",
        "url": f"{LINK}?via=push",
        "tag": "alert:1",
    }
    assert got.headers["urgency"] == "high" and got.headers["ttl"] == "43200"
    db.session.expire_all()
    row = db.session.scalars(sa.select(Delivery)).one()
    assert row.status == DeliveryStatus.sent and row.attempts == 1


def test_a_subscription_answering_410_is_switched_off_and_gets_nothing_more(
    phone: tuple[Any, BrowserSubscription, PushSubscription], service: PushServiceStandIn
) -> None:
    supporter, browser, subscription = phone
    service.answer(browser.endpoint, 410)
    queue_alert(supporter)
    deliver_due_notifications()
    db.session.expire_all()
    row = db.session.scalars(sa.select(Delivery)).one()
    assert row.status == DeliveryStatus.failed and "HTTP 410" in (row.last_error or "")
    sub = db.session.get(PushSubscription, subscription.id)
    assert sub is not None and sub.is_enabled is False
    assert "410" in (sub.disabled_reason or "")

    # The next message of the search has no push row for that phone, and nothing is posted.
    assert queue_alert(supporter, key="alert:1:r2") == 0
    assert deliver_due_notifications() == 0
    assert service.received == [] and len(service.refused) == 1


def test_a_busy_push_service_is_tried_again_later(
    phone: tuple[Any, BrowserSubscription, PushSubscription], service: PushServiceStandIn
) -> None:
    supporter, browser, subscription = phone
    service.answer(browser.endpoint, 429, {"Retry-After": "60"})
    queue_alert(supporter)
    before = utcnow()
    deliver_due_notifications()
    db.session.expire_all()
    row = db.session.scalars(sa.select(Delivery)).one()
    assert row.status == DeliveryStatus.pending and row.attempts == 1
    assert "HTTP 429" in (row.last_error or "")
    assert row.next_attempt_at is not None and row.next_attempt_at > before + timedelta(seconds=5)
    sub = db.session.get(PushSubscription, subscription.id)
    assert sub is not None and sub.is_enabled is True

    # Once the push service takes messages again, the retry is delivered.
    del service.answers[browser.endpoint]
    row.next_attempt_at = utcnow()
    db.session.commit()
    assert deliver_due_notifications() == 1
    assert len(service.wait_for(1)) == 1


def test_a_refused_message_is_not_retried_and_the_subscription_stays(
    phone: tuple[Any, BrowserSubscription, PushSubscription], service: PushServiceStandIn
) -> None:
    supporter, browser, subscription = phone
    service.answer(browser.endpoint, 400)
    queue_alert(supporter)
    deliver_due_notifications()
    db.session.expire_all()
    row = db.session.scalars(sa.select(Delivery)).one()
    assert row.status == DeliveryStatus.failed and row.attempts == 1
    sub = db.session.get(PushSubscription, subscription.id)
    assert sub is not None and sub.is_enabled is True
    assert deliver_due_notifications() == 0
    assert len(service.refused) == 1
