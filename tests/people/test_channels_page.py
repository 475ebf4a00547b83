"""The supporter's channels page (/me/channels): what is on in plain words, e-mail on or off,
quiet hours, and 「テスト通知を送る」 (one test per press, at most one a minute), with field
errors (422) and nothing written when a form is refused."""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.notifications.models import Delivery, DeliveryChannel
from watchnet.people.models import (
    ChannelTest,
    LineLink,
    NotificationAddress,
    PhoneChannel,
    PushSubscription,
    Supporter,
)

PRESS = "k" * 22


def _fresh(supporter: Any) -> Supporter:
    db.session.expire_all()
    found = db.session.get(Supporter, supporter.id)
    assert found is not None
    return found


def _with_every_channel(supporter: Any) -> None:
    db.session.add_all(
        [
            PushSubscription(
                supporter_id=supporter.id,
                endpoint="https://push.example/abc",
                p256dh="p",
                auth="a",
                label="Android Chrome",
            ),
            LineLink(supporter_id=supporter.id, line_user_id="U" + "1" * 32),
            PhoneChannel(supporter_id=supporter.id, number="+819012345678", sms=True, voice=True),
            NotificationAddress(
                supporter_id=supporter.id,
                url="json://hooks.example:8080/secret-token",
                is_enabled=False,
                disabled_reason="webhook answered HTTP 410 Gone",
            ),
        ]
    )
    db.session.commit()


def _test_rows(supporter: Any) -> list[Delivery]:
    return list(
        db.session.scalars(
            sa.select(Delivery)
            .where(Delivery.supporter_id == supporter.id, Delivery.topic == "test")
            .order_by(Delivery.id)
        )
    )


def test_my_page_leads_to_the_channels_page(supporter_client):
    html = supporter_client.get("/me").get_data(as_text=True)
    assert 'href="/me/channels"' in html
    assert "連絡の受け取り方" in html


def test_the_page_says_in_japanese_which_channels_are_on(supporter_client, supporter):
    _with_every_channel(supporter)
    response = supporter_client.get("/me/channels")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="ja">' in html
    for words in (
        "スマートフォンへの通知",
        "Android Chrome",
        "LINE",
        "メール",
        supporter.email,
        "SMS（ショートメッセージ）",
        "自動音声の電話",
        "090-1234-5678",
        "連携サービス（担当者が設定）",
        "テスト通知を送る",
        "通知を止める時間帯",
        "本当の捜索依頼はこの時間帯でも届きます",
    ):
        assert words in html, words
    # The webhook is off, with its reason; its secret path is never shown.
    assert "json://hooks.example" in html
    assert "secret-token" not in html
    assert "webhook answered HTTP 410 Gone" in html
    assert html.count("オン：ここに届きます") == 5  # push, LINE, e-mail, SMS, call


def test_a_signed_out_phone_gets_the_signed_out_page(client):
    response = client.get("/me/channels")
    assert response.status_code == 403
    assert 'id="signed-out"' in response.get_data(as_text=True)


def test_staff_cannot_open_a_supporters_own_page(organizer_client):
    assert organizer_client.get("/me/channels").status_code == 403


def test_e_mail_is_switched_off_and_on(supporter_client, supporter):
    response = supporter_client.post("/me/channels/email", data={"enabled": "off"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/me/channels#email")
    assert _fresh(supporter).email_enabled is False
    html = supporter_client.get("/me/channels").get_data(as_text=True)
    assert "メールを受け取る" in html
    supporter_client.post("/me/channels/email", data={"enabled": "on"})
    assert _fresh(supporter).email_enabled is True


def test_e_mail_cannot_be_switched_on_without_an_address(supporter_client, supporter):
    supporter.email = None
    supporter.email_enabled = False
    db.session.commit()
    response = supporter_client.post("/me/channels/email", data={"enabled": "on"})
    assert response.status_code == 422
    assert "メールアドレスが登録されていません" in response.get_data(as_text=True)
    assert _fresh(supporter).email_enabled is False


def test_a_made_up_e_mail_choice_is_refused(supporter_client, supporter):
    response = supporter_client.post("/me/channels/email", data={"enabled": "maybe"})
    assert response.status_code == 422
    assert _fresh(supporter).email_enabled is True


def test_quiet_hours_are_saved_and_cleared(supporter_client, supporter):
    response = supporter_client.post(
        "/me/channels/quiet", data={"quiet_start": "21:30", "quiet_end": "07:00"}
    )
    assert response.status_code == 302
    saved = _fresh(supporter)
    assert (saved.quiet_start, saved.quiet_end) == (time(21, 30), time(7, 0))
    html = supporter_client.get("/me/channels").get_data(as_text=True)
    assert "21:30から07:00まで" in html
    assert supporter_client.post("/me/channels/quiet", data={"clear": "1"}).status_code == 302
    cleared = _fresh(supporter)
    assert (cleared.quiet_start, cleared.quiet_end) == (None, None)


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"quiet_start": "22:00", "quiet_end": ""}, "quiet_end", "両方の時刻を入れるか"),
        ({"quiet_start": "", "quiet_end": "06:00"}, "quiet_start", "両方の時刻を入れるか"),
        ({"quiet_start": "22:00", "quiet_end": "22:00"}, "quiet_end", "開始と違う時刻"),
        ({"quiet_start": "25:00", "quiet_end": "06:00"}, "quiet_start", "時間"),
    ],
)
def test_quiet_hours_that_make_no_sense_are_refused_by_field(
    supporter_client, supporter, data, field, words
):
    supporter.quiet_start, supporter.quiet_end = time(23, 0), time(6, 0)
    db.session.commit()
    response = supporter_client.post("/me/channels/quiet", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    errors = re.search(rf'<ul class="errors" id="{field}-err">(.*?)</ul>', html, re.S)
    assert errors is not None and words in errors.group(1), html
    kept = _fresh(supporter)
    assert (kept.quiet_start, kept.quiet_end) == (time(23, 0), time(6, 0))


def test_the_forms_are_in_english_for_an_english_supporter(supporter_client, supporter):
    supporter.locale = "en"
    db.session.commit()
    response = supporter_client.post(
        "/me/channels/quiet", data={"quiet_start": "22:00", "quiet_end": ""}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Please give both times, or clear both." in html
    assert "How watchnet reaches you" in html


def test_a_test_press_queues_one_message_on_every_channel_at_once(supporter_client, supporter):
    _with_every_channel(supporter)
    supporter.quiet_start, supporter.quiet_end = _quiet_around_now()
    db.session.commit()
    before = utcnow()
    response = supporter_client.post("/me/channels/test", data={"press_key": PRESS})
    assert response.status_code == 302
    test = db.session.scalar(sa.select(ChannelTest).where(ChannelTest.supporter_id == supporter.id))
    assert test is not None
    assert response.headers["Location"].endswith(f"/me/channels?test={test.id}#test")
    rows = _test_rows(supporter)
    # Every channel that is on, at once (no escalation tiers), now (not after quiet hours).
    assert sorted(r.channel.value for r in rows) == ["email", "line", "push", "sms", "voice"]
    assert {r.tier for r in rows} == {0}
    assert all(r.next_attempt_at <= utcnow() for r in rows)
    assert all(r.created_at >= before - timedelta(seconds=1) for r in rows)
    assert all(r.topic_id == test.id for r in rows)
    assert all(r.link.startswith("http") and "/me/channels" in r.link for r in rows)
    mail = next(r for r in rows if r.channel == DeliveryChannel.email)
    assert "テスト" in mail.subject and "/me/channels?via=email" in mail.body


def test_a_double_tap_or_a_retry_of_one_press_queues_once(supporter_client, supporter):
    first = supporter_client.post("/me/channels/test", data={"press_key": PRESS})
    again = supporter_client.post("/me/channels/test", data={"press_key": PRESS})
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert len(_test_rows(supporter)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChannelTest)) == 1


def test_a_second_press_within_the_minute_is_refused_and_says_when(supporter_client, supporter):
    assert supporter_client.post("/me/channels/test", data={"press_key": PRESS}).status_code == 302
    response = supporter_client.post("/me/channels/test", data={"press_key": "z" * 22})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    html = response.get_data(as_text=True)
    assert "秒後に送れます" in html
    assert "テスト通知は1分に1回まで送れます" in html
    assert len(_test_rows(supporter)) == 1
    # A minute later the next press goes through.
    for test in db.session.scalars(sa.select(ChannelTest)):
        test.created_at -= timedelta(seconds=61)
    db.session.commit()
    assert (
        supporter_client.post("/me/channels/test", data={"press_key": "z" * 22}).status_code == 302
    )
    assert len(_test_rows(supporter)) == 2


def test_a_press_without_its_key_is_refused(supporter_client, supporter):
    response = supporter_client.post("/me/channels/test", data={"press_key": "<script>"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "ページを読み込み直してください" in html
    assert not _test_rows(supporter)
    # The page gives a fresh key for the next press.
    assert re.search(r'name="press_key" type="hidden" value="[A-Za-z0-9_-]{16,}"', html)


def test_the_status_answers_per_channel_for_the_supporters_own_test_only(
    app, supporter_client, supporter, make_supporter, district, phone
):
    supporter_client.post("/me/channels/test", data={"press_key": PRESS})
    test = db.session.scalar(sa.select(ChannelTest))
    body = supporter_client.get(f"/me/channels/tests/{test.id}").get_json()
    assert body["done"] is False
    assert [(o["channel"], o["state"], o["shown"]) for o in body["outcomes"]] == [
        ("email", "waiting", supporter.email)
    ]
    other = make_supporter(district)
    assert phone(other).get(f"/me/channels/tests/{test.id}").status_code == 404


def test_the_page_after_a_press_shows_the_test_waiting(supporter_client, supporter):
    location = supporter_client.post("/me/channels/test", data={"press_key": PRESS}).headers[
        "Location"
    ]
    html = supporter_client.get(location).get_data(as_text=True)
    assert 'data-state="waiting"' in html
    assert "送信中" in html
    assert "/me/channels/tests/" in html  # the page's script polls it


def test_with_csrf_on_every_form_needs_the_page_token(csrf_app, supporter):
    from watchnet.auth.services import make_signin_token

    client = csrf_app.test_client()
    client.get(f"/s/{make_signin_token(supporter)}")
    for url, data in (
        ("/me/channels/email", {"enabled": "off"}),
        ("/me/channels/quiet", {"quiet_start": "22:00", "quiet_end": "06:00"}),
        ("/me/channels/test", {"press_key": PRESS}),
    ):
        assert client.post(url, data=data).status_code == 400, url
    assert _fresh(supporter).email_enabled is True
    assert not _test_rows(supporter)
    html = client.get("/me/channels").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    response = client.post("/me/channels/email", data={"enabled": "off", "csrf_token": token})
    assert response.status_code == 302
    assert _fresh(supporter).email_enabled is False


def _quiet_around_now() -> tuple[time, time]:
    """Quiet hours from an hour ago until an hour from now, Japan time."""
    from watchnet.core.timefmt import to_local

    local = to_local(utcnow())
    start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0, tzinfo=None)
    end = (local + timedelta(hours=1)).time().replace(second=0, microsecond=0, tzinfo=None)
    return start, end


def test_the_line_section_is_on_the_channels_page_and_its_buttons_come_back_to_it(
    line_on, supporter_client
):
    html = supporter_client.get("/me/channels").get_data(as_text=True)
    assert 'id="line"' in html and "/me/line/code" in html
    response = supporter_client.post("/me/line/code", data={"next": "/me/channels"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/me/channels#line")
    # From /me (or a made-up target) it goes back to /me.
    response = supporter_client.post("/me/line/code", data={"next": "https://evil.example/"})
    assert response.headers["Location"].endswith("/me#line")
