"""Escalation across channels, end to end (issue 11, point 7): a real SMTP server and a real
webhook receiver on 127.0.0.1, the dispatcher run in-process, and a chain of e-mail first and
a webhook five minutes later (CHANNEL_CHAINS "alert=email > webhook"). Each supporter is
told once per channel; the later channel reaches only those who neither opened nor
answered; the reminder and the update escalate the same way and stop the same way; closing
skips what is still waiting. The browser test opens the link of a real e-mail in Chromium
and watches the coordinator's page show the reach."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alert_core_support import ago, alert_input, place_supporter, point_at
from alert_reach_support import by_channel, rows_of, time_passes
from flask import Flask
from flask.testing import FlaskClient
from support import answer_tiles_offline, browser_login, login

from watchnet.alerts.models import AlertRecipient, AlertStatus, Sighting, SightingStatus
from watchnet.alerts.services import (
    close_alert,
    recentre_alert,
    remind_unanswered,
    review_sighting,
    start_alert,
)
from watchnet.core.extensions import db
from watchnet.core.timefmt import format_time
from watchnet.jobs.deliveries import deliver_due_notifications
from watchnet.notifications.models import DeliveryStatus

KINDS = ("alert", "alert_reminder", "alert_update")


@pytest.fixture()
def chain(app: Flask) -> Iterator[None]:
    """E-mail first, a webhook five minutes later, for the alert, its reminder and update;
    the all-clear on the same chain without steps: the first of the two each person has.
    (Only the app that queues needs it: the pages do not read the chain.)"""
    settings = {
        "CHANNEL_CHAINS": [f"{kind}=email > webhook" for kind in (*KINDS, "all_clear")],
        "ESCALATION_STEPS": [f"{kind}=5" for kind in KINDS],
    }
    saved = {k: app.config[k] for k in settings}
    app.config.update(settings)
    yield
    app.config.update(saved)


class People:
    """Four supporters: three with e-mail and a webhook, one with a webhook only."""

    def __init__(self, make_supporter: Callable[..., Any], district: Any, hooks: Any) -> None:
        def person(name: str, path: str, distance: float, email: str | None) -> Any:
            return place_supporter(
                make_supporter,
                district,
                distance,
                name=name,
                email=email,
                notification_urls=[hooks.url(path)],
            )

        self.opens = person("開く 一郎", "/opens", 200, "opens@example.jp")
        self.silent = person("黙る 二郎", "/silent", 300, "silent@example.jp")
        self.answers = person("答える 三子", "/answers", 400, "answers@example.jp")
        self.hook_only = person("通知だけ 四郎", "/hook-only", 500, None)

    def token(self, alert_id: int, supporter: Any) -> str:
        return str(
            db.session.scalar(
                sa.select(AlertRecipient.token).where(
                    AlertRecipient.alert_id == alert_id,
                    AlertRecipient.supporter_id == supporter.id,
                )
            )
        )


def deliver() -> int:
    total = deliver_due_notifications(batch=200)
    db.session.expire_all()
    return total


def subjects(smtp_sink: Any, address: str) -> list[str]:
    return [str(m["Subject"]) for m in smtp_sink.to(address)]


def link_in(message: Any) -> str:
    """The personal link of an e-mail as it arrived (the path: tests have no public host)."""
    body = message.get_body(preferencelist=("plain",)).get_content()
    found = re.search(r"/a/[A-Za-z0-9_-]{20,64}\?via=email", body)
    assert found, body
    return found.group(0)


def test_the_webhook_follows_only_for_those_who_did_not_open_or_answer(
    app: Flask,
    chain: None,
    district: Any,
    coordinator: Any,
    make_supporter: Callable[..., Any],
    smtp_sink: Any,
    webhook_sink: Any,
) -> None:
    people = People(make_supporter, district, webhook_sink)
    alert = start_alert(district, coordinator, alert_input())
    client = app.test_client()

    # Tier 0 at once: the e-mails, and the webhook of the one who has no e-mail.
    assert deliver() == 4
    smtp_sink.wait_for(3)
    for person in (people.opens, people.silent, people.answers):
        assert len(smtp_sink.to(str(person.email))) == 1
    assert len(webhook_sink.to("/hook-only")) == 1
    assert not any(webhook_sink.to(p) for p in ("/opens", "/silent", "/answers"))
    hooked = by_channel(rows_of(alert.id, people.hook_only.id))
    assert set(hooked) == {"webhook"} and hooked["webhook"].tier == 0

    # One opens the link of the e-mail (the page's POST), one answers on the page.
    opens_mail = smtp_sink.to("opens@example.jp")[0]
    path = link_in(opens_mail)
    assert client.get(path).status_code == 200
    token = path.split("/")[2].split("?")[0]
    assert client.post(f"/a/{token}/opened", json={"via": "email"}).status_code == 200
    answer = client.post(
        f"/a/{people.token(alert.id, people.answers)}/ack", json={"answer": "searching"}
    )
    assert answer.status_code == 200

    # Nothing is due before the five minutes are over.
    assert deliver() == 0
    time_passes(5)
    assert deliver() == 1
    assert len(webhook_sink.to("/silent")) == 1
    assert webhook_sink.to("/opens") == [] and webhook_sink.to("/answers") == []
    assert by_channel(rows_of(alert.id, people.opens.id))["webhook"].status == (
        DeliveryStatus.skipped
    )
    # Everybody was told once per channel: nothing more goes out however long we wait.
    time_passes(60)
    assert deliver() == 0
    assert len(smtp_sink.messages) == 3 and len(webhook_sink.posts) == 2

    # The reminder (to those who have not answered) escalates and stops the same way.
    assert remind_unanswered(alert, coordinator) == 3
    db.session.commit()
    assert deliver() == 3  # two e-mails, the webhook-only supporter's webhook
    assert len(subjects(smtp_sink, "opens@example.jp")) == 2
    reminder_path = link_in(smtp_sink.to("opens@example.jp")[1])
    assert reminder_path == path  # the same personal page: opening it again stops the reminder
    assert client.post(f"/a/{token}/opened", json={"via": "email"}).status_code == 200
    time_passes(5)
    assert deliver() == 1
    assert len(webhook_sink.to("/silent")) == 2 and webhook_sink.to("/opens") == []

    # The update after a confirmed sighting: to everyone told; the one who opens it is not
    # followed up, the others are.
    lat, lon = point_at(150, 10)
    sighting = Sighting(
        alert_id=alert.id, client_id="seen-1", seen_at=ago(1), lat=lat, lon=lon, description="駅へ"
    )
    db.session.add(sighting)
    db.session.commit()
    review_sighting(sighting, SightingStatus.confirmed, coordinator)
    recentre_alert(alert, sighting, coordinator)
    db.session.commit()
    assert deliver() == 4  # three e-mails and the webhook-only supporter's webhook
    silent_token = people.token(alert.id, people.silent)
    opened = client.post(f"/a/{silent_token}/opened", json={"via": "email"})
    assert opened.status_code == 200
    time_passes(5)
    assert deliver() == 2  # the update's webhook to the two who did not open it
    assert len(webhook_sink.to("/opens")) == 1 and len(webhook_sink.to("/answers")) == 1
    assert len(webhook_sink.to("/silent")) == 2

    # Closing: the all-clear on the first channel each has; nothing waits any more.
    remind_unanswered(alert, coordinator)  # nobody left to remind (once each)
    close_alert(alert, outcome=AlertStatus.found, actor=coordinator)
    db.session.commit()
    assert deliver() == 4
    time_passes(60)
    assert deliver() == 0
    for person in (people.opens, people.silent, people.answers):
        assert subjects(smtp_sink, str(person.email))[-1].startswith("発見のお知らせ")
    assert len(webhook_sink.to("/hook-only")) == 4  # alert, reminder, update, all-clear


def test_closing_before_the_next_channel_is_due_sends_it_to_nobody(
    app: Flask,
    chain: None,
    district: Any,
    coordinator: Any,
    make_supporter: Callable[..., Any],
    smtp_sink: Any,
    webhook_sink: Any,
) -> None:
    people = People(make_supporter, district, webhook_sink)
    alert = start_alert(district, coordinator, alert_input())
    assert deliver() == 4
    close_alert(alert, outcome=AlertStatus.cancelled, actor=coordinator)
    db.session.commit()
    time_passes(10)
    assert deliver() == 4  # the all-clear only
    assert len(webhook_sink.to("/silent")) == 0
    assert by_channel(rows_of(alert.id, people.silent.id, ":alert:"))["webhook"].status == (
        DeliveryStatus.skipped
    )


def _state(client: FlaskClient, alert_id: int) -> dict[str, Any]:
    body = client.get(f"/alerts/{alert_id}/state").get_json()
    assert isinstance(body, dict)
    return body


def _row(state: dict[str, Any], supporter_id: int) -> dict[str, Any]:
    return next(r for r in state["recipients"] if r["supporter_id"] == supporter_id)


def test_the_coordinators_page_shows_each_channel_s_reach_and_the_step_still_waiting(
    app: Flask,
    chain: None,
    district: Any,
    coordinator: Any,
    make_supporter: Callable[..., Any],
    smtp_sink: Any,
    webhook_sink: Any,
) -> None:
    people = People(make_supporter, district, webhook_sink)
    alert = start_alert(district, coordinator, alert_input())
    staff = login(app.test_client(), coordinator)
    deliver()
    token = people.token(alert.id, people.opens)
    assert app.test_client().post(f"/a/{token}/opened", json={"via": "email"}).status_code == 200
    state = _state(staff, alert.id)

    silent = {d["channel"]: d for d in _row(state, people.silent.id)["deliveries"]}
    step_at = format_time(rows_of(alert.id, people.silent.id)[-1].next_attempt_at)
    assert [d["channel"] for d in _row(state, people.silent.id)["deliveries"]] == [
        "email",
        "webhook",
    ]
    assert silent["email"]["label"].startswith("配信済み（")
    assert silent["webhook"]["label"] == f"{step_at}に送ります（それまでに開封されなければ）"
    assert silent["webhook"]["waiting_step"] is True and silent["webhook"]["trouble"] is False
    opens = _row(state, people.opens.id)
    assert opens["opened_via"] == "email" and opens["opened_via_label"] == "メール"
    lines = {d["channel"]: d for d in opens["deliveries"]}
    assert (
        lines["email"]["reach"]
        == f"{format_time(rows_of(alert.id, people.opens.id)[0].opened_at)} 開封"
    )
    assert lines["webhook"]["label"] == "送りませんでした（不要になりました）"

    reach = state["reach"]
    assert (reach["told"], reach["reached"], reach["opened"], reach["answered"]) == (4, 4, 1, 0)
    assert reach["unreachable"] == 0
    channels = {c["channel"]: c for c in reach["by_channel"]}
    assert channels["email"]["text"] == "メール：3人に届き、1人が開封"
    assert channels["webhook"]["text"] == "通知アプリ：1人に届き、0人が開封"
    html = staff.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert f"通知アプリ: {step_at}に送ります（それまでに開封されなければ）" in html
    assert "メール：3人に届き、1人が開封" in html
    assert 'id="count-reached">4<' in html


@pytest.mark.browser
def test_opening_the_e_mail_link_in_a_browser_stops_the_webhook_and_the_coordinator_sees_it(
    app: Flask,
    chain: None,
    live_server: Any,
    browser: Any,
    district: Any,
    coordinator: Any,
    make_supporter: Callable[..., Any],
    smtp_sink: Any,
    webhook_sink: Any,
) -> None:
    people = People(make_supporter, district, webhook_sink)
    alert = start_alert(district, coordinator, alert_input(is_exercise=True))
    deliver()
    mail = smtp_sink.wait_for(3) and smtp_sink.to("opens@example.jp")[0]
    assert str(mail["Subject"]).startswith("【訓練】")

    staff_context = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo")
    phone_context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, locale="ja-JP"
    )
    try:
        answer_tiles_offline(staff_context)
        answer_tiles_offline(phone_context)
        staff = staff_context.new_page()
        browser_login(staff, live_server, coordinator)
        staff.goto(f"{live_server.url}/alerts/{alert.id}")
        row = staff.locator(f'#recipient-rows tr[data-supporter-id="{people.opens.id}"]')
        assert row.locator("td.opened").inner_text() == "—"
        waiting = row.locator('.delivery-line[data-channel="webhook"]')
        assert "に送ります（それまでに開封されなければ）" in waiting.inner_text()

        phone = phone_context.new_page()
        phone.goto(live_server.url + link_in(mail))
        phone.wait_for_selector("body[data-opened='1']")

        # The coordinator's page redraws by itself: opened from the e-mail, webhook not needed.
        opened_cell = f'#recipient-rows tr[data-supporter-id="{people.opens.id}"] td.opened'
        staff.wait_for_function(
            f"""() => {{
              const cell = document.querySelector('{opened_cell}');
              return cell !== null && cell.textContent.includes('(メール)');
            }}""",
            timeout=15000,
        )
        assert "送りませんでした（不要になりました）" in waiting.inner_text()
        assert staff.locator("#count-opened").inner_text() == "1"
        assert "メール：3人に届き、1人が開封" in staff.locator("#reach-channels").inner_text()
    finally:
        staff_context.close()
        phone_context.close()
    time_passes(5)
    assert deliver() == 2  # the two who did not open (nobody answered)
    assert webhook_sink.to("/opens") == [] and len(webhook_sink.to("/silent")) == 1
