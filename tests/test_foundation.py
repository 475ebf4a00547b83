"""The app starts, answers its health check, and keeps times in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa

from watchnet.audit.models import AuditEvent
from watchnet.core.extensions import db


def test_healthz_reports_the_database_state(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["database"]["state"] == "ok"


def test_times_come_back_timezone_aware_in_utc(district, make_drill):
    jst = timezone(timedelta(hours=9))
    drill = make_drill(district, starts_at=datetime(2026, 3, 13, 9, 30, tzinfo=jst))
    db.session.expire_all()
    starts = db.session.get(type(drill), drill.id).starts_at
    assert starts.tzinfo is not None
    assert starts == datetime(2026, 3, 13, 0, 30, tzinfo=UTC)


def test_anonymous_visitor_is_sent_to_the_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_login_page_is_japanese_by_default(client):
    html = client.get("/login").get_data(as_text=True)
    assert "ログイン" in html


def test_login_records_an_audit_event(organizer_client, organizer):
    actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert "staff.login" in actions
