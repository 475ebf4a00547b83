"""Alert services against a real database: who is told, what lands in the outbox, answers,
widening, re-centring, reminders, closing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alert_core_support import CENTRE, PHONE, alert_input, place_supporter

from watchnet.alerts.models import AlertEvent, AlertRecipient, AlertStatus
from watchnet.alerts.services import (
    acknowledge_alert,
    alert_summary,
    close_alert,
    recipient_by_token,
    start_alert,
)
from watchnet.audit.models import AuditEvent
from watchnet.extensions import db
from watchnet.notifications.models import Delivery


def _outbox(alert_id: int) -> list[Delivery]:
    return list(db.session.scalars(
        sa.select(Delivery).where(Delivery.topic == "alert", Delivery.topic_id == alert_id)
        .order_by(Delivery.id)))


def test_start_tells_those_inside_on_every_channel(district: Any, coordinator: Any,
                                                   make_supporter: Any) -> None:
    near = place_supporter(make_supporter, district, 500, email="near@example.jp",
                           notification_urls=["json://127.0.0.1:9/hook"])
    far = place_supporter(make_supporter, district, 1500, email="far@example.jp")
    alert = start_alert(district, coordinator, alert_input())
    assert alert.radius_m == 1200
    recipients = list(db.session.scalars(sa.select(AlertRecipient)))
    assert [r.supporter_id for r in recipients] == [near.id]
    assert abs(recipients[0].distance_m - 500) < 1
    rows = _outbox(alert.id)
    assert {(r.channel, r.address) for r in rows} == {
        ("email", "near@example.jp"), ("apprise", "json://127.0.0.1:9/hook")}
    assert far.id not in {r.supporter_id for r in rows}
    for row in rows:
        assert f"/a/{recipients[0].token}" in row.body
        assert "見守 一郎" not in row.body and "みまもり" not in row.body
        assert "いっちゃん" not in row.body
        assert PHONE in row.body and "紺色のジャンパー" in row.body
        assert row.dedupe_key.startswith(f"alert:{alert.id}:")
    assert db.session.scalar(sa.select(AlertEvent.kind).where(AlertEvent.alert_id == alert.id)) \
        == "started"
    assert db.session.scalar(sa.select(AuditEvent.action).where(
        AuditEvent.action == "start_alert")) == "start_alert"


def test_answer_and_close(district: Any, coordinator: Any, make_supporter: Any) -> None:
    a = place_supporter(make_supporter, district, 100, email="a@example.jp")
    place_supporter(make_supporter, district, 200, email="b@example.jp")
    alert = start_alert(district, coordinator, alert_input(), client_key="k1")
    assert start_alert(district, coordinator, alert_input(), client_key="k1").id == alert.id
    r = db.session.scalar(sa.select(AlertRecipient).where(AlertRecipient.supporter_id == a.id))
    assert r is not None
    found = recipient_by_token(r.token)
    assert found is not None and found.id == r.id
    acknowledge_alert(found, "searching")  # type: ignore[arg-type]
    db.session.commit()
    s = alert_summary(alert)
    assert (s.told, s.searching, s.unanswered, s.deliveries_pending) == (2, 1, 1, 2)
    close_alert(alert, outcome=AlertStatus.found, found_place="駅前", actor=coordinator)
    db.session.commit()
    assert alert.status == AlertStatus.found and alert.closed_at is not None
    clears = [d for d in _outbox(alert.id) if ":closed:" in d.dedupe_key]
    assert {d.address for d in clears} == {"a@example.jp", "b@example.jp"}
    for d in clears:
        assert "見守" not in d.body and "/a/" not in d.body
    close_alert(alert, outcome=AlertStatus.found, actor=coordinator)  # twice: nothing new
    db.session.commit()
    assert len([d for d in _outbox(alert.id) if ":closed:" in d.dedupe_key]) == 2
    assert CENTRE
