"""The outbox and its dispatcher, against a real SMTP server and a real webhook receiver."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.jobs.deliveries import claim_due_deliveries, deliver_due_notifications
from watchnet.notifications.models import Delivery, DeliveryStatus
from watchnet.notifications.services import enqueue_delivery
from watchnet.people.models import NotificationAddress
from watchnet.people.notify import notify_supporter


def _notify(supporter, key="test:1"):
    deliveries = notify_supporter(
        supporter,
        key=key,
        kind="drill_reminder",
        subject="訓練のお知らせ",
        body="八幡公民館に集合してください。",
        topic="test",
        topic_id=1,
    )
    db.session.commit()
    return deliveries


def test_a_message_reaches_the_supporters_mailbox_and_webhook(
    district, make_supporter, smtp_sink, webhook_sink
):
    supporter = make_supporter(
        district, email="hanako@example.jp", notification_urls=[webhook_sink.url("/hook/hanako")]
    )
    _notify(supporter)
    assert deliver_due_notifications() == 2
    [mail] = smtp_sink.to("hanako@example.jp")
    assert mail["Subject"] == "訓練のお知らせ"
    assert "八幡公民館" in mail.get_content()
    [post] = webhook_sink.to("/hook/hanako")
    assert post["title"] == "訓練のお知らせ" and "八幡公民館" in post["message"]
    statuses = db.session.scalars(sa.select(Delivery.status)).all()
    assert statuses == [DeliveryStatus.sent, DeliveryStatus.sent]


def test_enqueueing_the_same_message_twice_sends_it_once(district, make_supporter, smtp_sink):
    supporter = make_supporter(district)
    _notify(supporter)
    _notify(supporter)
    deliver_due_notifications()
    deliver_due_notifications()
    assert len(smtp_sink.wait_for(1, timeout_s=0.5)) == 1


def test_a_refused_mailbox_is_a_permanent_failure_and_is_not_retried(
    district, make_supporter, smtp_sink
):
    supporter = make_supporter(district, email="gone@example.jp")
    smtp_sink.refuse.add("gone@example.jp")
    _notify(supporter)
    deliver_due_notifications()
    delivery = db.session.scalar(sa.select(Delivery))
    assert delivery.status == DeliveryStatus.failed
    assert "550" in delivery.last_error
    assert delivery.attempts == 1
    assert claim_due_deliveries() == []


def test_a_broken_webhook_address_is_disabled_with_its_reason(district, make_supporter, app):
    supporter = make_supporter(district, email=None, notification_urls=["nosuchscheme://x"])
    _notify(supporter)
    deliver_due_notifications()
    delivery = db.session.scalar(sa.select(Delivery))
    assert delivery.status == DeliveryStatus.failed and delivery.attempts == 1
    address = db.session.scalar(sa.select(NotificationAddress))
    assert address.is_enabled is False and address.disabled_reason


def test_an_unreachable_server_is_retried_with_backoff_then_given_up(
    district, make_supporter, app, webhook_sink
):
    supporter = make_supporter(
        district, email=None, notification_urls=[webhook_sink.url("/hook/down")]
    )
    webhook_sink.fail_with["/hook/down"] = 503
    _notify(supporter)
    deliver_due_notifications()
    delivery = db.session.scalar(sa.select(Delivery))
    assert delivery.status == DeliveryStatus.pending and delivery.attempts == 1
    assert delivery.next_attempt_at > utcnow() + timedelta(seconds=20)
    assert deliver_due_notifications() == 0  # not due yet
    for _ in range(app.config["DELIVERY_MAX_ATTEMPTS"] - 1):
        delivery.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        deliver_due_notifications()
    db.session.refresh(delivery)
    assert delivery.status == DeliveryStatus.failed
    assert delivery.last_error.startswith(f"gave up after {app.config['DELIVERY_MAX_ATTEMPTS']}")
    webhook_sink.fail_with.clear()
    assert webhook_sink.to("/hook/down") == []


def test_two_dispatchers_never_claim_the_same_message(district, make_supporter):
    supporter = make_supporter(district)
    for i in range(10):
        enqueue_delivery(
            dedupe_key=f"k{i}", channel="email", address=supporter.email, subject="s", body="b"
        )
    db.session.commit()
    first = {d.id for d in claim_due_deliveries(batch=6)}
    second = {d.id for d in claim_due_deliveries(batch=6)}
    assert len(first) == 6 and len(second) == 4 and not first & second


def test_a_claim_left_by_a_dead_dispatcher_is_taken_over_when_it_expires(district, make_supporter):
    supporter = make_supporter(district)
    _notify(supporter)
    [claimed] = claim_due_deliveries()
    assert claim_due_deliveries() == []
    claimed.claimed_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert [d.id for d in claim_due_deliveries()] == [claimed.id]


def test_the_dispatcher_command_delivers_what_is_due_and_exits_with_once(
    district, make_supporter, smtp_sink, database_url, tmp_path
):
    import os
    import subprocess
    import sys

    supporter = make_supporter(district, email="cli@example.jp")
    _notify(supporter)
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        WATCHNET_INSTANCE_PATH=str(tmp_path),
        WATCHNET_SMTP_HOST="127.0.0.1",
        WATCHNET_SMTP_PORT=str(smtp_sink.port),
    )
    done = subprocess.run(
        [sys.executable, "-m", "watchnet.cli", "dispatcher", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert len(smtp_sink.to("cli@example.jp")) == 1
    db.session.expire_all()
    assert db.session.scalar(sa.select(Delivery.status)) == DeliveryStatus.sent
