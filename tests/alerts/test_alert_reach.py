"""Reach on the alert side (issue 11, points 6, 7 and the coordinator's view): an answer that
comes back on a channel counts like a tap on the page, the page notes its opening and the
channel it came from with one POST (the GET writes nothing), opening or answering stops the
escalation, closing skips every step still waiting, and the short headline that push, LINE,
SMS and voice carry says nothing personal. Real database; the default channel chain
(push line email webhook > sms > voice, alert=5 minutes)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alert_core_support import alert_input, place_supporter
from alert_reach_support import add_line, add_phone, by_channel, rows_of
from flask import Flask
from flask.testing import FlaskClient

from watchnet.alerts import messages
from watchnet.alerts.models import Acknowledgement, AlertEvent, AlertRecipient, AlertStatus
from watchnet.alerts.services import (
    acknowledge_alert,
    answer_from_channel,
    close_alert,
    recipient_by_token,
    remind_unanswered,
    start_alert,
)
from watchnet.audit.models import AuditEvent
from watchnet.core.extensions import db
from watchnet.core.timefmt import format_time
from watchnet.notifications.hooks import Answer, answer_handler
from watchnet.notifications.models import Delivery, DeliveryChannel, DeliveryStatus
from watchnet.notifications.services import record_answer

PERSONAL = ["見守 一郎", "みまもり", "紺色", "右足", "白髪", "黒い杖", "いっちゃん", "82"]


@pytest.fixture()
def told(district: Any, coordinator: Any, make_supporter: Any) -> Any:
    """An alert told to a supporter with e-mail, LINE, an SMS mobile and a landline for calls:
    e-mail and LINE now, SMS after 5 minutes, the call after 10."""
    supporter = place_supporter(
        make_supporter, district, 300, name="到達 花子", email="hanako@example.jp"
    )
    add_line(supporter)
    add_phone(supporter, "+819000000001", sms=True)
    add_phone(supporter, "+81273000001", voice=True)
    alert = start_alert(district, coordinator, alert_input())
    recipient = db.session.scalars(
        sa.select(AlertRecipient).where(AlertRecipient.alert_id == alert.id)
    ).one()
    return alert, supporter, recipient


def _sent(*rows: Delivery) -> None:
    """The dispatcher handed these to their channels."""
    for row in rows:
        row.status = DeliveryStatus.sent
    db.session.commit()


def _events(alert_id: int, kind: str) -> list[AlertEvent]:
    return list(
        db.session.scalars(
            sa.select(AlertEvent)
            .where(AlertEvent.alert_id == alert_id, AlertEvent.kind == kind)
            .order_by(AlertEvent.id)
        )
    )


# ---------------------------------------------------------------------------------------------
# The escalation as queued


def test_the_alert_goes_out_in_tiers_with_the_headline_and_the_channel_in_each_link(
    told: Any,
) -> None:
    alert, supporter, _recipient = told
    rows = by_channel(rows_of(alert.id, supporter.id))
    assert set(rows) == {"email", "line", "sms", "voice"}
    assert (rows["email"].tier, rows["line"].tier, rows["sms"].tier, rows["voice"].tier) == (
        0,
        0,
        1,
        2,
    )
    start = rows["email"].next_attempt_at
    assert rows["line"].next_attempt_at == start
    assert (rows["sms"].next_attempt_at - start).total_seconds() == 300
    assert (rows["voice"].next_attempt_at - start).total_seconds() == 600
    assert {r.chain_key for r in rows.values()} == {
        f"alert:{alert.id}:r1:alert:supporter:{supporter.id}"
    }
    for channel, row in rows.items():
        assert row.link.endswith(f"?via={channel}") and row.answer_topic == f"alert:{alert.id}"
        seen = f"{alert.district.name}・{format_time(alert.last_seen_at)}ごろ最終目撃"
        assert row.summary == f"行方が分からない方の捜索にご協力ください（{seen}）"
        assert "八幡公民館" not in row.summary  # the place stays behind the personal link
        assert not any(p in row.summary for p in PERSONAL)
    assert rows["email"].link in rows["email"].body  # the e-mail's link says it came by e-mail


def test_headlines_are_short_say_exercise_and_carry_no_name_or_description(
    app: Flask, district: Any, coordinator: Any, make_supporter: Any
) -> None:
    place_supporter(make_supporter, district, 300, email="x@example.jp")
    alert = start_alert(district, coordinator, alert_input(is_exercise=True))
    with app.test_request_context(headers={"Accept-Language": "ja"}):
        lines = {kind: messages.summary_line(alert, kind) for kind in ("alert", "update", "remind")}
        alert.status = AlertStatus.found
        lines["closed"] = messages.summary_line(alert, "closed")
        alert.status = AlertStatus.cancelled
        lines["cancelled"] = messages.summary_line(alert, "closed")
    db.session.rollback()
    assert lines["update"] == "【訓練】続報：目撃情報により捜索の場所が変わりました"
    assert (
        lines["remind"] == "【訓練】捜索が続いています。参加できるか、ワンタップでお知らせください"
    )
    assert lines["closed"] == "【訓練】見つかりました。ご協力ありがとうございました"
    assert lines["cancelled"] == "【訓練】捜索は終了しました。ご協力ありがとうございました"
    assert lines["alert"].startswith("【訓練】行方が分からない方の捜索にご協力ください（")
    assert "公民館" not in lines["alert"] and district.name in lines["alert"]
    for line in lines.values():
        assert len(line) <= 70  # one UCS-2 SMS segment, with room for the link in the second
        assert not any(p in line for p in PERSONAL)


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("the SMS was not delivered (error 30005: unknown number)", "SMSが届きませんでした"),
        ("the line was busy", "話し中でした"),
        ("nobody answered the call", "電話に出ませんでした"),
        (
            "push service answered HTTP 410 Gone",
            "この端末は通知を受け取らなくなりました（停止しました）",
        ),
        ("gateway answered HTTP 400, error 21211", "宛先が受け付けられませんでした（400）"),
    ],
)
def test_failed_sms_calls_and_push_read_in_plain_words(app: Flask, reason: str, words: str) -> None:
    from watchnet.alerts.staff.dashboard import classify_error, error_label

    with app.test_request_context(headers={"Accept-Language": "ja"}):
        assert error_label(*classify_error(reason)) == words


# ---------------------------------------------------------------------------------------------
# Answers that come back on a channel


def test_a_line_postback_counts_like_a_tap_and_stops_the_escalation(told: Any) -> None:
    alert, supporter, recipient = told
    rows = by_channel(rows_of(alert.id, supporter.id))
    _sent(rows["line"], rows["email"])
    assert answer_handler("alert") is answer_from_channel  # registered at import

    assert record_answer(rows["line"], Answer.yes) is True
    db.session.commit()
    db.session.expire_all()
    recipient = db.session.get_one(AlertRecipient, recipient.id)
    assert recipient.answer == Acknowledgement.searching
    assert recipient.answered_via == "line" and recipient.opened_via == "line"
    assert recipient.opened_at is not None and recipient.answered_at is not None
    line = db.session.get_one(Delivery, rows["line"].id)
    assert line.answered_at is not None and line.opened_at is not None
    later = by_channel(rows_of(alert.id, supporter.id))
    assert later["sms"].status == DeliveryStatus.skipped
    assert later["voice"].status == DeliveryStatus.skipped
    # The coordinator's timeline and the audit record name the channel.
    (answered_staff, _answered_phone) = _events(alert.id, "answered")
    assert answered_staff.payload["channel"] == "line"
    audit = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "acknowledge_alert")
    ).one()
    assert audit.detail["channel"] == "line" and audit.detail["answer"] == "searching"


def test_a_voice_digit_2_is_i_cannot_now_and_the_same_answer_again_changes_nothing(
    told: Any,
) -> None:
    alert, supporter, recipient = told
    assert answer_from_channel(alert.id, supporter.id, Answer.no, DeliveryChannel.voice)
    db.session.commit()
    assert answer_from_channel(alert.id, supporter.id, Answer.no, DeliveryChannel.line)
    db.session.commit()
    db.session.expire_all()
    recipient = db.session.get_one(AlertRecipient, recipient.id)
    assert recipient.answer == Acknowledgement.cannot and recipient.answered_via == "voice"
    assert len(_events(alert.id, "answered")) == 2  # staff + the supporter's page, once
    # A tap on the page changes the answer as before; the page is not a channel.
    acknowledge_alert(recipient, Acknowledgement.searching)
    db.session.commit()
    assert recipient.answer == Acknowledgement.searching and recipient.answered_via == ""


def test_no_answer_is_recorded_for_a_closed_alert_or_someone_not_told(
    told: Any, district: Any, coordinator: Any, make_supporter: Any
) -> None:
    alert, supporter, recipient = told
    stranger = make_supporter(district, email="stranger@example.jp")
    assert answer_from_channel(alert.id, stranger.id, Answer.yes, DeliveryChannel.line) is False
    assert (
        answer_from_channel(alert.id + 99, supporter.id, Answer.yes, DeliveryChannel.line) is False
    )
    close_alert(alert, outcome=AlertStatus.cancelled, actor=coordinator)
    db.session.commit()
    line = by_channel(rows_of(alert.id, supporter.id, ":alert:"))["line"]
    assert record_answer(line, Answer.yes) is False
    db.session.commit()
    db.session.expire_all()
    assert db.session.get_one(AlertRecipient, recipient.id).answer is None
    assert db.session.get_one(Delivery, line.id).answered_at is None


def test_a_deactivated_supporters_answer_is_not_recorded(told: Any) -> None:
    alert, supporter, recipient = told
    supporter.is_active = False
    db.session.commit()
    assert answer_from_channel(alert.id, supporter.id, Answer.yes, DeliveryChannel.sms) is False
    db.session.expire_all()
    assert db.session.get_one(AlertRecipient, recipient.id).answer is None


def test_an_answer_on_the_page_stops_the_escalation_too(told: Any, client: FlaskClient) -> None:
    alert, supporter, recipient = told
    response = client.post(f"/a/{recipient.token}/ack", json={"answer": "cannot"})
    assert response.status_code == 200
    later = by_channel(rows_of(alert.id, supporter.id))
    assert later["sms"].status == later["voice"].status == DeliveryStatus.skipped
    assert later["email"].status == DeliveryStatus.pending  # the first tier still goes out


# ---------------------------------------------------------------------------------------------
# Opening the page


def test_the_page_get_writes_no_opening_and_the_post_notes_it_with_its_channel(
    told: Any, client: FlaskClient
) -> None:
    alert, supporter, recipient = told
    rows = by_channel(rows_of(alert.id, supporter.id))
    _sent(rows["line"], rows["email"])
    page = client.get(f"/a/{recipient.token}?via=line")
    assert page.status_code == 200
    assert f"/a/{recipient.token}/opened" in page.get_data(as_text=True)
    assert rows_of(alert.id, supporter.id)[0].opened_at is None
    assert not _events(alert.id, "opened")
    assert by_channel(rows_of(alert.id, supporter.id))["sms"].status == DeliveryStatus.pending

    response = client.post(f"/a/{recipient.token}/opened", json={"via": "line"})
    assert response.status_code == 200 and response.get_json()["via"] == "line"
    after = by_channel(rows_of(alert.id, supporter.id))
    assert after["line"].opened_at is not None
    assert after["email"].opened_at is None  # opened from LINE, not from the e-mail
    assert after["sms"].status == after["voice"].status == DeliveryStatus.skipped
    db.session.expire_all()
    recipient = db.session.get_one(AlertRecipient, recipient.id)
    assert recipient.opened_via == "line"
    (event,) = _events(alert.id, "opened")
    assert event.payload["channel"] == "line"

    # Later the e-mail's link: its message is stamped, the first opening stays as it was.
    first = recipient.opened_at
    assert client.post(f"/a/{recipient.token}/opened", json={"via": "email"}).status_code == 200
    db.session.expire_all()
    assert db.session.get_one(AlertRecipient, recipient.id).opened_at == first
    assert by_channel(rows_of(alert.id, supporter.id))["email"].opened_at is not None
    assert len(_events(alert.id, "opened")) == 1


def test_an_opening_without_a_known_channel_still_stops_the_escalation(
    told: Any, client: FlaskClient
) -> None:
    alert, supporter, recipient = told
    assert client.post(f"/a/{recipient.token}/opened", json={"via": None}).status_code == 200
    rows = by_channel(rows_of(alert.id, supporter.id))
    assert rows["sms"].status == DeliveryStatus.skipped
    db.session.expire_all()
    recipient = db.session.get_one(AlertRecipient, recipient.id)
    assert recipient.opened_at is not None and recipient.opened_via == ""


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"via": "pigeon"}, 422, "via"),
        ({"via": 3}, 422, "via"),
        ([1, 2], 422, "_body"),
        ("not json", 400, "_body"),
    ],
)
def test_a_bad_opening_is_refused_with_the_field_and_changes_nothing(
    told: Any, client: FlaskClient, body: Any, status: int, field: str
) -> None:
    alert, supporter, recipient = told
    if isinstance(body, str):
        response = client.post(
            f"/a/{recipient.token}/opened", data=body, content_type="application/json"
        )
    else:
        response = client.post(f"/a/{recipient.token}/opened", json=body)
    assert response.status_code == status
    assert field in response.get_json()["errors"]
    db.session.expire_all()
    assert db.session.get_one(AlertRecipient, recipient.id).opened_at is None
    assert by_channel(rows_of(alert.id, supporter.id))["sms"].status == DeliveryStatus.pending


def test_opening_a_closed_alert_answers_410_and_an_unknown_link_404(
    told: Any, client: FlaskClient, coordinator: Any
) -> None:
    alert, _supporter, recipient = told
    assert client.post("/a/" + "x" * 43 + "/opened", json={"via": "sms"}).status_code == 404
    close_alert(alert, outcome=AlertStatus.found, actor=coordinator)
    db.session.commit()
    response = client.post(f"/a/{recipient.token}/opened", json={"via": "sms"})
    assert response.status_code == 410 and response.get_json()["state"]["closed"] is True


def test_a_reminder_escalates_too_and_its_opening_stops_it(
    app: Flask, told: Any, client: FlaskClient, coordinator: Any, monkeypatch: Any
) -> None:
    """With the reminder escalating as well (alert_reminder=5), opening the reminder's link
    skips the reminder's SMS and call like the alert's."""
    monkeypatch.setitem(app.config, "ESCALATION_STEPS", ["alert=5", "alert_reminder=5"])
    alert, supporter, recipient = told
    assert remind_unanswered(alert, coordinator) == 1
    db.session.commit()
    reminder = by_channel(rows_of(alert.id, supporter.id, ":remind:"))
    assert reminder["sms"].tier == 1 and reminder["sms"].status == DeliveryStatus.pending
    assert reminder["line"].summary.startswith("捜索が続いています")
    assert client.post(f"/a/{recipient.token}/opened", json={"via": "sms"}).status_code == 200
    for row in rows_of(alert.id, supporter.id):
        if row.tier > 0:
            assert row.status == DeliveryStatus.skipped, row.dedupe_key


# ---------------------------------------------------------------------------------------------
# Closing


def test_closing_skips_every_escalation_step_still_waiting_and_tells_everyone_once(
    told: Any, coordinator: Any
) -> None:
    alert, supporter, _recipient = told
    close_alert(alert, outcome=AlertStatus.found, actor=coordinator)
    db.session.commit()
    first = by_channel(rows_of(alert.id, supporter.id, ":alert:"))
    assert first["sms"].status == first["voice"].status == DeliveryStatus.skipped
    assert first["email"].status == DeliveryStatus.pending  # already due: goes out
    # The all-clear does not escalate: the first tier the person has (e-mail and LINE).
    closed = by_channel(rows_of(alert.id, supporter.id, ":closed:"))
    assert set(closed) == {"email", "line"}
    assert closed["line"].summary == "見つかりました。ご協力ありがとうございました"
    assert closed["line"].answer_topic == ""
    assert recipient_by_token(_recipient.token) is not None


# ---------------------------------------------------------------------------------------------
# The coordinator's page with a big alert


def test_the_coordinators_state_for_ten_thousand_recipients_costs_a_few_statements(
    app: Flask, district: Any, coordinator: Any
) -> None:
    """10,000 told, 500 with LINE and 300 with an SMS mobile besides e-mail; half the
    messages out, some opened, some failed. The state's counts cover everyone from aggregate
    queries; the list stops at 500; the number of statements does not grow with the alert."""
    import time

    from alert_core_support import point_at
    from support import login

    from watchnet.alerts.staff.dashboard import RECIPIENTS_LISTED
    from watchnet.core.dbtypes import utcnow
    from watchnet.people.models import LineLink, PhoneChannel, Supporter

    now = utcnow()
    rows = []
    for i in range(10_000):
        lat, lon = point_at(1100 * ((i % 997) / 997) ** 0.5, (i * 37) % 360)
        rows.append(
            {
                "district_id": district.id,
                "name": f"支援者{i}",
                "kind": "other",
                "email": f"s{i}@example.jp",
                "home_lat": lat,
                "home_lon": lon,
                "dedupe_key": f"k{i}",
                "is_active": True,
                "token_version": 1,
                "note": "",
                "name_kana": "",
                "created_at": now,
                "updated_at": now,
            }
        )
    db.session.execute(sa.insert(Supporter), rows)
    ids = list(db.session.scalars(sa.select(Supporter.id).order_by(Supporter.id)))
    db.session.execute(
        sa.insert(LineLink),
        [{"supporter_id": sid, "line_user_id": f"U{sid:032x}"} for sid in ids[:500]],
    )
    db.session.execute(
        sa.insert(PhoneChannel),
        [{"supporter_id": sid, "number": f"+8190{sid:08d}", "sms": True} for sid in ids[:300]],
    )
    db.session.commit()
    alert = start_alert(district, coordinator, alert_input())
    email_rows = sa.select(Delivery.id).where(
        Delivery.topic_id == alert.id, Delivery.channel == DeliveryChannel.email
    )
    db.session.execute(
        sa.update(Delivery)
        .where(Delivery.id.in_(email_rows), Delivery.supporter_id <= ids[4999])
        .values(status=DeliveryStatus.sent, sent_at=now)
    )
    db.session.execute(
        sa.update(Delivery)
        .where(Delivery.id.in_(email_rows), Delivery.supporter_id > ids[9899])
        .values(status=DeliveryStatus.failed, attempts=1, last_error="recipient refused: 550")
    )
    db.session.execute(
        sa.update(AlertRecipient)
        .where(AlertRecipient.alert_id == alert.id, AlertRecipient.supporter_id <= ids[999])
        .values(opened_at=now, opened_via="email")
    )
    db.session.commit()

    client = login(app.test_client(), coordinator)
    assert client.get(f"/alerts/{alert.id}/state").status_code == 200  # warm
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    started = time.perf_counter()
    try:
        response = client.get(f"/alerts/{alert.id}/state")
    finally:
        elapsed = time.perf_counter() - started
        sa.event.remove(db.engine, "before_cursor_execute", count)
    state = response.get_json()
    print(
        f"coordinator's state, 10,000 recipients, 10,800 messages: {elapsed * 1000:.0f} ms, "
        f"{len(statements)} statements, {len(response.data) / 1024:.0f} KiB"
    )
    assert len(state["recipients"]) == RECIPIENTS_LISTED
    reach = state["reach"]
    assert reach["told"] == 10_000 and reach["reached"] == 5000 and reach["opened"] == 1000
    # The last hundred's only channel failed; the 300 with SMS still have it waiting.
    assert reach["unreachable"] == 100
    assert len(state["unreachable"]) == 100
    channels = {c["channel"]: (c["reached"], c["opened"]) for c in reach["by_channel"]}
    assert channels["email"] == (5000, 0) and channels["line"] == (0, 0)
    assert state["summary"]["deliveries_pending"] == 10_800 - 5000 - 100
    # Bounded by the page's parts, not by the recipients (the time goes in no bound here: a
    # shared machine makes one flaky).
    assert len(statements) <= 40
