"""Messages through the real dispatcher to local stand-ins (an SMTP server, a webhook
receiver): quiet hours hold drill messages and not real alerts; a test press reports per
channel what arrived and what did not, in plain words; staff see the last successful
delivery on each channel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.timefmt import to_local
from watchnet.jobs.deliveries import deliver_due_notifications
from watchnet.notifications.models import Delivery, DeliveryStatus
from watchnet.people.models import (
    ChannelTest,
    LineLink,
    NotificationAddress,
    PushSubscription,
    Supporter,
)
from watchnet.people.notify import notify_supporter

PRESS = "p" * 22


def _quiet_around_now() -> tuple[time, time]:
    local = to_local(utcnow())
    start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0, tzinfo=None)
    end = (local + timedelta(hours=1)).time().replace(second=0, microsecond=0, tzinfo=None)
    return start, end


def _drain() -> None:
    for _ in range(20):
        if not deliver_due_notifications(batch=50, threads=2):
            return


def test_in_quiet_hours_a_drill_message_waits_until_the_end_and_a_real_alert_does_not(
    smtp_sink, supporter
):
    supporter.quiet_start, supporter.quiet_end = _quiet_around_now()
    db.session.commit()
    common: dict[str, Any] = {"kind": "reminder", "topic": "drill", "body": "本文"}
    notify_supporter(supporter, key="drill:1:reminder", subject="訓練のお知らせ", **common)
    notify_supporter(supporter, key="alert:1:first", subject="捜索依頼", real=True, **common)
    db.session.commit()
    _drain()
    assert [m["Subject"] for m in smtp_sink.to(supporter.email)] == ["捜索依頼"]
    drill = db.session.scalar(sa.select(Delivery).where(Delivery.dedupe_key.like("drill:1:%")))
    assert drill is not None and drill.status == DeliveryStatus.pending
    # It is due at the end of the quiet hours, Japan time (to the minute).
    due = to_local(drill.next_attempt_at)
    assert (due.hour, due.minute) == (supporter.quiet_end.hour, supporter.quiet_end.minute)
    assert timedelta(minutes=55) < drill.next_attempt_at - utcnow() <= timedelta(minutes=61)


def test_outside_quiet_hours_a_drill_message_goes_at_once(smtp_sink, supporter):
    start, end = _quiet_around_now()
    supporter.quiet_start, supporter.quiet_end = end, start  # the other 22 hours
    db.session.commit()
    notify_supporter(
        supporter, key="drill:2:reminder", kind="reminder", topic="drill", subject="訓練", body="b"
    )
    db.session.commit()
    _drain()
    assert [m["Subject"] for m in smtp_sink.to(supporter.email)] == ["訓練"]


def test_a_test_press_reports_per_channel_in_plain_words(
    smtp_sink, webhook_sink, supporter, supporter_client
):
    webhook_sink.fail_with["/gone"] = 410
    db.session.add_all(
        [
            NotificationAddress(supporter_id=supporter.id, url=webhook_sink.url("/ok")),
            NotificationAddress(supporter_id=supporter.id, url=webhook_sink.url("/gone")),
        ]
    )
    supporter.quiet_start, supporter.quiet_end = _quiet_around_now()
    db.session.commit()
    supporter_client.post("/me/channels/test", data={"press_key": PRESS})
    test = db.session.scalar(sa.select(ChannelTest))
    _drain()
    assert len(smtp_sink.to(supporter.email)) == 1
    assert len(webhook_sink.to("/ok")) == 1
    body = supporter_client.get(f"/me/channels/tests/{test.id}").get_json()
    assert body["done"] is True
    states = {(o["channel"], o["state"]) for o in body["outcomes"]}
    assert states == {("email", "sent"), ("webhook", "sent"), ("webhook", "failed")}
    failed = next(o for o in body["outcomes"] if o["state"] == "failed")
    # The plain reason, not "webhook answered HTTP 410 Gone".
    assert "HTTP" not in failed["reason"]
    assert failed["reason"] == "この連絡手段は使えなくなったため、オフにしました。"
    html = supporter_client.get(f"/me/channels?test={test.id}").get_data(as_text=True)
    assert html.count('data-state="sent"') == 2
    assert "届きました" in html and "届きませんでした" in html


def test_staff_see_each_channel_with_its_last_successful_delivery(
    smtp_sink, webhook_sink, supporter, organizer_client
):
    webhook_sink.fail_with["/gone"] = 410
    db.session.add(NotificationAddress(supporter_id=supporter.id, url=webhook_sink.url("/gone")))
    db.session.commit()
    notify_supporter(
        supporter, key="k:1", kind="all_clear", topic="alert", subject="s", body="b", real=True
    )
    db.session.commit()
    _drain()
    sent = db.session.scalar(
        sa.select(Delivery.sent_at).where(
            Delivery.channel_ref == "email", Delivery.dedupe_key.like("k:1:%")
        )
    )
    assert sent is not None
    html = organizer_client.get(f"/supporters/{supporter.id}").get_data(as_text=True)
    from watchnet.core.timefmt import format_datetime

    with organizer_client.application.test_request_context():
        shown = format_datetime(sent)
    row = _row(html, "email")
    assert supporter.email in row and shown in row
    gone = _row(html, "addr:")
    assert "停止中" in gone
    assert "webhook answered HTTP 410" in gone  # staff see the technical reason
    assert "まだありません" in gone


def test_the_last_successful_deliveries_are_read_in_one_query(app, supporter):
    from watchnet.people.channel_services import last_successful_deliveries

    statements: list[str] = []
    supporter_id = supporter.id

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert last_successful_deliveries(supporter_id) == {}
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1


def _row(html: str, ref: str) -> str:
    import re

    match = re.search(rf'<tr data-channel="[a-z]+" data-ref="{ref}[^"]*">(.*?)</tr>', html, re.S)
    assert match is not None, ref
    return match.group(1)


def test_a_supporter_deleted_later_leaves_the_outbox_alone(supporter):
    # The index on delivery.supporter_id serves the SET NULL of this delete.
    notify_supporter(supporter, key="x:1", kind="alert", topic="alert", subject="s", body="b")
    db.session.commit()
    db.session.delete(db.session.get(Supporter, supporter.id))
    db.session.commit()
    assert db.session.scalar(sa.select(Delivery.supporter_id)) is None


@pytest.fixture()
def gateway(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The SMS and voice gateway stand-in, with the app's settings pointing at it."""
    from notifications.twilio_support import TwilioStandIn

    stand_in = TwilioStandIn().start()
    for key, value in stand_in.config().items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://watch.example.jp")
    yield stand_in
    stand_in.stop()


@pytest.fixture()
def push_service() -> Iterator[Any]:
    from notifications.push_support import PushServiceStandIn

    with PushServiceStandIn() as service:
        yield service


def test_a_test_press_reaches_every_kind_of_channel_at_once(
    app, supporter, supporter_client, smtp_sink, webhook_sink, line_on, gateway, push_service
):
    """Push, LINE, e-mail, SMS, a call and a webhook, each through its own stand-in; a number
    the gateway says cannot take SMS fails in plain words and has SMS switched off."""
    from notifications.line_support import new_user_id

    from watchnet.people.channels import add_phone_channel

    device = push_service.subscribe(application_server_key=app.config["VAPID_PUBLIC_KEY"])
    keys = device.to_json()["keys"]
    line_user = new_user_id()
    db.session.add_all(
        [
            PushSubscription(
                supporter_id=supporter.id,
                endpoint=device.endpoint,
                p256dh=keys["p256dh"],
                auth=keys["auth"],
            ),
            LineLink(supporter_id=supporter.id, line_user_id=line_user),
            NotificationAddress(supporter_id=supporter.id, url=webhook_sink.url("/ok")),
        ]
    )
    add_phone_channel(supporter, "090-1234-5678", sms=True, voice=True, consent=True)
    add_phone_channel(supporter, "080-9999-0000", sms=True, voice=False, consent=True)
    gateway.refuse["sms:+818099990000"] = (400, 21610)  # the person replied STOP
    db.session.commit()

    supporter_client.post("/me/channels/test", data={"press_key": PRESS})
    test = db.session.scalar(sa.select(ChannelTest))
    _drain()
    body = supporter_client.get(f"/me/channels/tests/{test.id}").get_json()
    assert body["done"] is True
    got = sorted((o["channel"], o["shown"], o["state"]) for o in body["outcomes"])
    assert got == [
        ("email", supporter.email, "sent"),
        ("line", got[1][1], "sent"),
        ("push", got[2][1], "sent"),
        ("sms", "080-9999-0000", "failed"),
        ("sms", "090-1234-5678", "sent"),
        ("voice", "090-1234-5678", "sent"),
        ("webhook", "json://127.0.0.1", "sent"),
    ]
    refused = next(o for o in body["outcomes"] if o["state"] == "failed")
    assert refused["reason"] == "この連絡手段は使えなくなったため、オフにしました。"
    # Each stand-in got exactly its one message, all of them the test text.
    assert [m["Subject"] for m in smtp_sink.to(supporter.email)] == ["watchnet：テスト通知"]
    assert len(webhook_sink.to("/ok")) == 1
    assert len(push_service.wait_for(1)) == 1
    assert [p["to"] for p in line_on.pushes] == [line_user]
    assert [m.to for m in gateway.messages()] == ["+819012345678"]
    assert [c.to for c in gateway.calls()] == ["+819012345678"]
    assert "テスト" in gateway.messages()[0].body
