"""Audited reads (watchnet/audit/reads.py): a GET records who saw personal data, once a minute
per viewer and subject while a page polls, in a transaction of its own, and nothing else."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.alerts.alert_exports_support import make_alert
from tests.support import login
from watchnet.audit.models import AuditEvent
from watchnet.audit.reads import audited_read, note_read
from watchnet.core.extensions import db
from watchnet.people.models import Supporter


def _reads(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def test_a_dashboard_kept_open_is_recorded_once_a_minute_not_once_per_poll(
    app: Flask, district: Any, coordinator: Any
) -> None:
    alert = make_alert(district)
    client = login(app.test_client(), coordinator)
    assert client.get(f"/alerts/{alert.id}").status_code == 200
    for _ in range(3):
        assert client.get(f"/alerts/{alert.id}/state").status_code == 200
    [first] = _reads("view_alert")
    assert (first.actor, first.subject_id, first.district_id) == (
        f"staff:{coordinator.id}",
        alert.id,
        district.id,
    )
    first.at -= timedelta(seconds=61)  # a minute later the page is still open
    db.session.commit()
    assert client.get(f"/alerts/{alert.id}/state").status_code == 200
    assert len(_reads("view_alert")) == 2


def test_another_viewer_is_recorded_although_the_first_one_was_just_now(
    app: Flask, district: Any, coordinator: Any, make_staff: Any
) -> None:
    alert = make_alert(district)
    admin = make_staff([], role="admin")
    login(app.test_client(), coordinator).get(f"/alerts/{alert.id}")
    login(app.test_client(), admin).get(f"/alerts/{alert.id}")
    assert {r.actor for r in _reads("view_alert")} == {
        f"staff:{coordinator.id}",
        f"staff:{admin.id}",
    }


def test_every_export_is_recorded_even_within_the_minute(
    app: Flask, district: Any, coordinator: Any
) -> None:
    alert = make_alert(district)
    client = login(app.test_client(), coordinator)
    for _ in range(2):
        assert client.get(f"/alerts/{alert.id}/cap.xml").status_code == 200
    assert len(_reads("export_alert_cap")) == 2


def test_a_refused_request_records_no_read(
    app: Flask, district: Any, other_district: Any, make_staff: Any
) -> None:
    alert = make_alert(district)
    elsewhere = make_staff([other_district], role="coordinator")
    assert login(app.test_client(), elsewhere).get(f"/alerts/{alert.id}").status_code == 404
    assert _reads("view_alert") == []


def test_an_audited_read_commits_its_record_and_nothing_else(
    app: Flask, district: Any, supporter: Any
) -> None:
    supporter_id = supporter.id

    @audited_read
    def careless_view() -> str:
        # A view that (wrongly) changed something besides noting what it showed.
        db.session.get(Supporter, supporter_id).name = "書き換え"  # type: ignore[union-attr]
        note_read("view_test", "supporter", supporter_id, district.id, page="test")
        return "shown"

    with app.test_request_context("/anything"):
        assert careless_view().status_code == 200
    db.session.expire_all()
    assert db.session.get(Supporter, supporter_id).name != "書き換え"  # type: ignore[union-attr]
    [read] = _reads("view_test")
    assert (read.actor, read.subject_id, read.detail) == ("system", supporter_id, {"page": "test"})


def test_a_failed_response_records_nothing(app: Flask, district: Any) -> None:
    @audited_read
    def not_found() -> tuple[str, int]:
        note_read("view_test", "district", district.id, district.id)
        return "missing", 404

    with app.test_request_context("/anything"):
        assert not_found().status_code == 404
    assert _reads("view_test") == []


def test_noting_a_read_outside_an_audited_view_is_a_programming_error(app: Flask) -> None:
    with app.test_request_context("/anything"), pytest.raises(RuntimeError, match="audited_read"):
        note_read("view_test", "district", 1)
