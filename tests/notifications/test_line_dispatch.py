"""LINE messages through the real fan-out and dispatcher to the Messaging API stand-in: an
alert-like message arrives with its two answer buttons, its link and its retry key; a retry
after a lost answer is not delivered twice; a permanent refusal is not retried; a LINE user
that does not exist switches the link off; without a token the demo's folder gets the file."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from line_support import new_user_id

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.jobs.deliveries import deliver_due_notifications
from watchnet.notifications.models import Delivery, DeliveryChannel, DeliveryStatus
from watchnet.notifications.transports.line import parse_postback_data, retry_key
from watchnet.people.models import LineLink
from watchnet.people.notify import Recipient, Text, fan_out

LINK = "https://watch.example.jp/a/personal-token"


def linked_supporter(make_supporter: Any, district: Any, user_id: str | None = None) -> Any:
    supporter = make_supporter(district, email=None)  # LINE only: nothing else to send
    db.session.add(LineLink(supporter_id=supporter.id, line_user_id=user_id or new_user_id()))
    db.session.commit()
    return supporter


def queue_alert_like(supporter: Any, key: str = "alert:99") -> Delivery:
    fan_out(
        key=key,
        kind="alert",
        topic="alert",
        topic_id=99,
        recipients=[Recipient(supporter.id, LINK)],
        make_text=lambda: Text(
            subject="【捜索のお願い】八幡地区",
            body="長い本文（メール用）",
            summary="八幡地区で80代の女性が行方不明です。",
        ),
        real=True,
        answer_topic="alert:99",
    )
    db.session.commit()
    [delivery] = db.session.scalars(
        sa.select(Delivery).where(Delivery.supporter_id == supporter.id)
    )
    return delivery


def fresh(delivery: Delivery) -> Delivery:
    db.session.expire_all()
    row = db.session.get(Delivery, delivery.id)
    assert row is not None
    return row


def test_an_alert_like_message_arrives_with_two_answer_buttons_the_link_and_the_retry_key(
    line_on, make_supporter, district
):
    supporter = linked_supporter(make_supporter, district)
    delivery = queue_alert_like(supporter)
    assert delivery.channel == DeliveryChannel.line

    assert deliver_due_notifications() == 1

    [push] = line_on.pushes
    link = db.session.scalar(sa.select(LineLink).where(LineLink.supporter_id == supporter.id))
    assert push["to"] == link.line_user_id
    assert push["retry_key"] == retry_key(delivery.dedupe_key)
    template = push["messages"][0]["template"]
    assert template["text"] == "八幡地区で80代の女性が行方不明です。"
    yes, no, open_link = template["actions"]
    assert [yes["label"], no["label"]] == ["捜索に参加する", "今は参加できない"]
    assert {parse_postback_data(a["data"]).answer for a in (yes, no)} == {"yes", "no"}
    assert parse_postback_data(yes["data"]).answer_topic == "alert:99"
    assert parse_postback_data(yes["data"]).delivery_id == delivery.id
    assert open_link["uri"] == f"{LINK}?via=line"  # the page learns the channel that reached
    row = fresh(delivery)
    assert row.status == DeliveryStatus.sent
    assert row.provider_ref == push["request_id"]


def test_a_retried_push_after_a_lost_answer_is_not_delivered_twice(
    line_on, make_supporter, district
):
    delivery = queue_alert_like(linked_supporter(make_supporter, district))
    line_on.lose_answers = 1  # LINE takes the push; its answer never arrives

    deliver_due_notifications()
    row = fresh(delivery)
    assert row.status == DeliveryStatus.pending and "HTTP 500" in (row.last_error or "")
    row.next_attempt_at = utcnow()  # the backoff has passed
    db.session.commit()
    deliver_due_notifications()

    assert len(line_on.pushes) == 1  # one message reached the supporter's LINE
    assert [r["status"] for r in line_on.requests] == [500, 409]
    assert {r["retry_key"] for r in line_on.requests} == {retry_key(delivery.dedupe_key)}
    row = fresh(delivery)
    assert row.status == DeliveryStatus.sent and row.attempts == 2
    assert row.provider_ref == line_on.pushes[0]["request_id"]


def test_a_refused_message_is_not_retried(line_on, make_supporter, district):
    delivery = queue_alert_like(linked_supporter(make_supporter, district))
    line_on.fail_next.append(400)

    deliver_due_notifications()

    row = fresh(delivery)
    assert row.status == DeliveryStatus.failed and row.attempts == 1
    assert "HTTP 400" in (row.last_error or "")
    assert db.session.scalar(sa.select(LineLink.is_enabled)) is True  # the address is fine


def test_a_bad_token_is_retried_and_says_so(line_on, make_supporter, district):
    delivery = queue_alert_like(linked_supporter(make_supporter, district))
    line_on.fail_next.append(401)

    deliver_due_notifications()

    row = fresh(delivery)
    assert row.status == DeliveryStatus.pending
    assert "channel access token" in (row.last_error or "")


def test_a_line_user_that_does_not_exist_switches_the_link_off(line_on, make_supporter, district):
    supporter = linked_supporter(make_supporter, district, user_id="U" + "0" * 31)  # LINE: 400
    delivery = queue_alert_like(supporter)

    deliver_due_notifications()

    assert fresh(delivery).status == DeliveryStatus.failed
    assert db.session.scalar(sa.select(LineLink.is_enabled)) is False


def test_without_a_token_the_message_is_a_file_in_the_instance_outbox(
    app, make_supporter, district, monkeypatch
):
    monkeypatch.setitem(app.config, "LINE_CHANNEL_ACCESS_TOKEN", None)
    delivery = queue_alert_like(linked_supporter(make_supporter, district), key="alert:demo")

    deliver_due_notifications()

    assert fresh(delivery).status == DeliveryStatus.sent
    path = f"{app.instance_path}/outbox/line/push-{retry_key(delivery.dedupe_key)}.json"
    with open(path, encoding="utf-8") as fh:
        document = json.load(fh)
    assert document["delivery_key"] == delivery.dedupe_key
    actions = document["messages"][0]["template"]["actions"]
    assert [a["label"] for a in actions] == ["捜索に参加する", "今は参加できない", "詳しく見る"]
