"""Delivery trouble on the coordinator's alert page (issue 9, point 3): for each message the
attempts so far and the last error in plain words, a banner while messages are retried, and
the supporters no message reaches — with a real webhook receiver answering 500, a closed port,
an SMTP server refusing a mailbox, and the dispatcher run in-process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from alert_core_support import alert_input, place_supporter
from flask import Flask
from flask.testing import FlaskClient
from support import free_port, login

from watchnet.alerts.services import start_alert
from watchnet.alerts.staff.dashboard import classify_error, error_label
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.timefmt import format_time
from watchnet.jobs.deliveries import deliver_due_notifications
from watchnet.notifications.models import Delivery, DeliveryStatus
from watchnet.people.models import NotificationAddress


@pytest.fixture()
def coordinator_client(app: Flask, coordinator: Any) -> FlaskClient:
    return login(app.test_client(), coordinator)


def state_of(client: FlaskClient, alert_id: int, version: str | None = None) -> dict[str, Any]:
    url = f"/alerts/{alert_id}/state" + (f"?v={version}" if version is not None else "")
    response = client.get(url)
    assert response.status_code == 200
    body = response.get_json()
    assert isinstance(body, dict)
    return body


def recipient(state: dict[str, Any], supporter_id: int) -> dict[str, Any]:
    return next(r for r in state["recipients"] if r["supporter_id"] == supporter_id)


def deliver_once() -> int:
    """One dispatcher batch; a retried message is not due again for DELIVERY_BACKOFF_S."""
    return deliver_due_notifications(batch=200)


@pytest.mark.parametrize(
    ("text", "kind", "code", "words"),
    [
        (
            "webhook answered HTTP 500 Internal Server Error",
            "http_5xx",
            "500",
            "受信側のサーバーの障害（HTTP 500）",
        ),
        (
            "webhook unreachable: [Errno 111] Connection refused",
            "refused",
            None,
            "接続を拒否されました",
        ),
        (
            "webhook unreachable: timed out",
            "timeout",
            None,
            "時間内に応答がありません（タイムアウト）",
        ),
        (
            "SMTP unreachable: [Errno -2] Name or service not known",
            "unreachable",
            None,
            "宛先に到達できません",
        ),
        (
            "recipient refused: {'x@example.jp': (550, b'5.1.1 mailbox unavailable')}",
            "rejected",
            None,
            "宛先が受け付けられませんでした",
        ),
        (
            "webhook answered HTTP 404 Not Found",
            "rejected",
            "404",
            "宛先が受け付けられませんでした（404）",
        ),
        (
            "gave up after 8 attempts: webhook answered HTTP 503 Service Unavailable",
            "http_5xx",
            "503",
            "受信側のサーバーの障害（HTTP 503）",
        ),
        ("not a usable notification address", "rejected", None, "宛先が受け付けられませんでした"),
        ("internal error: ValueError('x')", "other", None, "その他のエラー"),
    ],
)
def test_dispatcher_reasons_read_in_plain_words(
    app: Flask, text: str, kind: str, code: str | None, words: str
) -> None:
    assert classify_error(text) == (kind, code)
    with app.test_request_context(headers={"Accept-Language": "ja"}):
        assert error_label(kind, code) == words


def test_a_webhook_answering_500_shows_as_retrying_with_its_error_and_a_banner(
    app: Flask,
    coordinator_client: FlaskClient,
    district: Any,
    coordinator: Any,
    make_supporter: Callable[..., Any],
    smtp_sink: Any,
    webhook_sink: Any,
) -> None:
    webhook_sink.fail_with["/broken"] = 500
    closed = f"json://127.0.0.1:{free_port()}/nobody-listens"
    hook500 = place_supporter(
        make_supporter,
        district,
        300,
        name="障害 一子",
        email=None,
        phone="090-1111-2222",
        notification_urls=[webhook_sink.url("/broken")],
    )
    refused = place_supporter(
        make_supporter,
        district,
        400,
        name="拒否 二郎",
        email=None,
        phone="090-3333-4444",
        notification_urls=[closed],
    )
    fine = place_supporter(make_supporter, district, 500, name="無事 三郎", email="fine@example.jp")
    bounced = place_supporter(
        make_supporter,
        district,
        600,
        name="不達 四郎",
        email="gone@example.jp",
        phone="090-5555-6666",
    )
    nothing = place_supporter(
        make_supporter, district, 700, name="連絡先 なし", email=None, phone="090-7777-8888"
    )
    switched_off = place_supporter(
        make_supporter,
        district,
        800,
        name="停止 五郎",
        email=None,
        notification_urls=[webhook_sink.url("/off")],
    )
    db.session.execute(
        sa.update(NotificationAddress)
        .where(NotificationAddress.supporter_id == switched_off.id)
        .values(is_enabled=False, disabled_reason="HTTP 410")
    )
    db.session.commit()
    smtp_sink.refuse.add("gone@example.jp")
    alert = start_alert(district, coordinator, alert_input())

    before = state_of(coordinator_client, alert.id)
    assert before["retrying"]["count"] == 0
    assert recipient(before, hook500.id)["deliveries"][0]["label"] == "送信待ち"
    assert deliver_once() == 4  # the hook, the closed port, two e-mails
    db.session.expire_all()

    # The poll's version covers the outbox: the page redraws although no event was added.
    after = state_of(coordinator_client, alert.id, version=before["version"])
    assert after.get("unchanged") is None and after["version"] != before["version"]
    retry = db.session.scalars(sa.select(Delivery).where(Delivery.supporter_id == hook500.id)).one()
    assert retry.status == DeliveryStatus.pending and retry.attempts == 1
    next_at = format_time(retry.next_attempt_at)

    banner = after["retrying"]
    assert banner["count"] == 2
    assert banner["text"] == (
        f"2件のメッセージがまだ届かず、再送しています。次の再送は{next_at}です。"
    )
    hook_line = recipient(after, hook500.id)["deliveries"][0]
    assert hook_line["attempts"] == 1 and hook_line["retrying"] is True
    assert hook_line["error_kind"] == "http_5xx"
    assert hook_line["label"] == (
        f"再送中（これまで1回、次は{next_at}）：受信側のサーバーの障害（HTTP 500）"
    )
    assert "HTTP 500" in hook_line["error_raw"]
    refused_line = recipient(after, refused.id)["deliveries"][0]
    assert refused_line["label"].startswith("再送中（これまで1回")
    assert refused_line["label"].endswith("接続を拒否されました")
    bounced_line = recipient(after, bounced.id)["deliveries"][0]
    assert bounced_line["status"] == "failed"
    assert bounced_line["label"] == "届きませんでした（1回試行）：宛先が受け付けられませんでした"
    assert recipient(after, fine.id)["deliveries"][0]["label"].startswith("配信済み（")
    assert recipient(after, nothing.id)["deliveries"] == []

    unreachable = {u["supporter_id"]: u for u in after["unreachable"]}
    assert set(unreachable) == {hook500.id, refused.id, bounced.id, nothing.id, switched_off.id}
    assert unreachable[hook500.id]["reason"] == "retrying"
    assert unreachable[bounced.id]["reason"] == "failed"
    assert unreachable[nothing.id]["reason"] == "none"
    assert unreachable[switched_off.id]["reason"] == "disabled"
    assert nothing.phone and unreachable[nothing.id]["phone"] == nothing.phone

    # The page as served (before any script runs) says the same.
    html = coordinator_client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert f"2件のメッセージがまだ届かず、再送しています。次の再送は{next_at}です。" in html
    assert 'id="retry-banner" hidden' not in html
    assert (
        f"通知アプリ: 再送中（これまで1回、次は{next_at}）：受信側のサーバーの障害（HTTP 500）"
    ) in html
    assert "webhook answered HTTP 500" in html  # the raw text, secondary
    assert "メール: 届きませんでした（1回試行）：宛先が受け付けられませんでした" in html
    assert f'href="tel:{nothing.phone}"' in html
    assert "連絡手段（メール・アプリ・LINE・電話）が登録されていません" in html
    assert "連絡手段はすべて停止中か、捜索依頼に使わない設定です" in html

    # The receiver recovers: the next try delivers, the banner goes, the list shrinks.
    webhook_sink.fail_with.clear()
    db.session.execute(
        sa.update(Delivery)
        .where(Delivery.status == DeliveryStatus.pending)
        .values(next_attempt_at=utcnow())
    )  # the backoff is over
    db.session.commit()
    deliver_once()
    db.session.expire_all()
    healed = state_of(coordinator_client, alert.id)
    assert healed["retrying"]["count"] == 1  # the closed port is still closed
    assert recipient(healed, hook500.id)["deliveries"][0]["label"].startswith("配信済み")
    assert hook500.id not in {u["supporter_id"] for u in healed["unreachable"]}
    assert len(webhook_sink.to("/broken")) == 1


def test_another_districts_supporter_shows_plain_words_only(
    app: Flask,
    coordinator_client: FlaskClient,
    district: Any,
    other_district: Any,
    coordinator: Any,
    make_supporter: Callable[..., Any],
    webhook_sink: Any,
    smtp_sink: Any,
) -> None:
    """Targeting crosses district lines; the other district's addresses, phone numbers and
    the dispatcher's raw text stay with that district's coordinators."""
    webhook_sink.fail_with["/theirs"] = 503
    neighbour = place_supporter(
        make_supporter,
        other_district,
        300,
        name="隣町 花子",
        email="neighbour@example.jp",
        phone="090-9999-0000",
        notification_urls=[webhook_sink.url("/theirs")],
    )
    smtp_sink.refuse.add("neighbour@example.jp")
    alert = start_alert(district, coordinator, alert_input())
    deliver_once()
    db.session.expire_all()
    state = state_of(coordinator_client, alert.id)
    lines = {d["channel"]: d for d in recipient(state, neighbour.id)["deliveries"]}
    assert lines["webhook"]["error_label"] == "受信側のサーバーの障害（HTTP 503）"
    assert lines["webhook"]["error_raw"] == "" and lines["email"]["error_raw"] == ""
    (listed,) = state["unreachable"]
    assert listed["supporter_id"] == neighbour.id and listed["other_district"] is True
    assert listed["phone"] == ""
    (failure,) = state["failures"]
    assert failure["address"] == "—" and failure["reason"] == "宛先が受け付けられませんでした"
    html = coordinator_client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert neighbour.phone and neighbour.phone not in html
    assert "neighbour@example.jp" not in html
    assert "他地区の支援者です" in html


def test_outsiders_do_not_see_the_delivery_state(
    app: Flask,
    outsider_client: FlaskClient,
    district: Any,
    coordinator: Any,
    make_supporter: Callable[..., Any],
    webhook_sink: Any,
) -> None:
    webhook_sink.fail_with["/broken"] = 500
    place_supporter(
        make_supporter, district, 300, email=None, notification_urls=[webhook_sink.url("/broken")]
    )
    alert = start_alert(district, coordinator, alert_input())
    deliver_once()
    assert outsider_client.get(f"/alerts/{alert.id}/state").status_code in (403, 404)
    assert outsider_client.get(f"/alerts/{alert.id}").status_code in (403, 404)
