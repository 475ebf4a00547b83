"""Starting and ending a drill from its page: confirmation, CSRF, status rules, live events,
audit records, and outsiders who must see nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import render_template_string

from tests.conftest import login
from watchnet.audit.models import AuditEvent
from watchnet.core.extensions import db
from watchnet.drills.models import Drill, DrillStatus
from watchnet.tracking.models import LiveEvent


@pytest.fixture()
def english(organizer: Any) -> Any:
    organizer.locale = "en"
    db.session.commit()
    return organizer


@pytest.fixture()
def drill(district: Any, make_drill: Any) -> Drill:
    # Planned for today: starting on another day asks for a tick first (tested below).
    return make_drill(district, title="八幡 見守り訓練", starts_at=datetime.now(UTC))


def _status(drill_id: int) -> DrillStatus:
    db.session.expire_all()
    return db.session.get(Drill, drill_id).status


def _events(drill_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (e.kind, e.audience, e.payload)
        for e in db.session.scalars(
            sa.select(LiveEvent).where(LiveEvent.drill_id == drill_id).order_by(LiveEvent.id)
        )
    ]


def test_an_organizer_starts_a_planned_drill_after_confirming_and_lands_on_the_live_view(
    organizer_client, english, drill
):
    page = organizer_client.get(f"/drills/{drill.id}/start")
    assert page.status_code == 200
    assert "Start the drill now?" in page.get_data(as_text=True)
    assert _status(drill.id) == DrillStatus.planned  # asking changes nothing

    done = organizer_client.post(f"/drills/{drill.id}/start")
    assert done.status_code == 302
    assert done.headers["Location"].endswith(f"/drills/{drill.id}/live")
    assert _status(drill.id) == DrillStatus.live
    assert db.session.get(Drill, drill.id).started_at is not None
    [(kind, audience, payload)] = _events(drill.id)
    assert (kind, audience, payload["status"]) == ("drill_status", "drill", "live")
    assert db.session.scalar(
        sa.select(AuditEvent.action).where(
            AuditEvent.subject_id == drill.id, AuditEvent.action == "drill.started"
        )
    )
    live = organizer_client.get(done.headers["Location"])
    assert "The drill is live." in live.get_data(as_text=True)


def test_an_organizer_ends_a_live_drill_and_phones_hear_of_it(organizer_client, english, drill):
    organizer_client.post(f"/drills/{drill.id}/start")
    done = organizer_client.post(f"/drills/{drill.id}/end", follow_redirects=True)
    assert done.status_code == 200
    assert "The drill has ended." in done.get_data(as_text=True)
    assert _status(drill.id) == DrillStatus.ended
    assert db.session.get(Drill, drill.id).finished_at is not None
    statuses = [(p["status"], a) for k, a, p in _events(drill.id) if k == "drill_status"]
    assert statuses == [("live", "drill"), ("ended", "drill")]
    assert db.session.scalar(
        sa.select(AuditEvent.actor).where(AuditEvent.action == "drill.ended")
    ).startswith("staff:")


def test_a_coordinator_of_the_district_may_start_the_drill(app, coordinator, drill):
    client = login(app.test_client(), coordinator)
    assert client.post(f"/drills/{drill.id}/start").status_code == 302
    assert _status(drill.id) == DrillStatus.live


@pytest.mark.parametrize(
    "status, action, message",
    [
        (DrillStatus.live, "start", "This drill is already live."),
        (DrillStatus.ended, "start", "This drill has already ended."),
        (DrillStatus.planned, "end", "This drill has not started yet."),
        (DrillStatus.ended, "end", "This drill has already ended."),
    ],
)
def test_a_drill_in_the_wrong_status_is_refused_with_a_message(
    organizer_client, english, drill, status, action, message
):
    drill.status = status
    db.session.commit()
    refused = organizer_client.post(f"/drills/{drill.id}/{action}")
    assert refused.status_code == 409
    assert message in refused.get_data(as_text=True)
    assert _status(drill.id) == status
    assert _events(drill.id) == []
    # The confirmation page says so too, and offers no button.
    page = organizer_client.get(f"/drills/{drill.id}/{action}").get_data(as_text=True)
    assert message in page and f'id="confirm-{action}"' not in page


def test_an_organizer_of_another_district_gets_404_and_nothing_changes(outsider_client, drill):
    for action in ("start", "end"):
        assert outsider_client.get(f"/drills/{drill.id}/{action}").status_code == 404
        assert outsider_client.post(f"/drills/{drill.id}/{action}").status_code == 404
    assert outsider_client.get(f"/drills/{drill.id}/live").status_code == 404
    assert outsider_client.get(f"/drills/{drill.id}/live/state").status_code == 404
    assert outsider_client.get(f"/drills/{drill.id}/live/events").status_code == 404
    assert (
        outsider_client.post(f"/drills/{drill.id}/schedule", data={"auto": "1"}).status_code == 404
    )
    assert _status(drill.id) == DrillStatus.planned
    assert db.session.get(Drill, drill.id).is_auto_scheduled is False


def test_a_supporter_cannot_start_a_drill(supporter_client, drill):
    assert supporter_client.post(f"/drills/{drill.id}/start").status_code == 403
    assert _status(drill.id) == DrillStatus.planned


def test_starting_without_the_csrf_token_is_refused(csrf_app, organizer, drill):
    client = csrf_app.test_client()
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    client.post(
        "/login",
        data={"email": organizer.email, "password": "correct horse battery", "csrf_token": token},
    )
    assert client.post(f"/drills/{drill.id}/start").status_code == 400
    assert _status(drill.id) == DrillStatus.planned
    page = client.get(f"/drills/{drill.id}/start").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post(f"/drills/{drill.id}/start", data={"csrf_token": token}).status_code == 302
    assert _status(drill.id) == DrillStatus.live


def test_the_organizer_turns_automatic_start_and_end_on_and_off(organizer_client, english, drill):
    on = organizer_client.post(
        f"/drills/{drill.id}/schedule", data={"auto": "1"}, follow_redirects=True
    )
    assert "will start and end automatically" in on.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Drill, drill.id).is_auto_scheduled is True
    organizer_client.post(f"/drills/{drill.id}/schedule", data={"auto": "0"})
    db.session.expire_all()
    assert db.session.get(Drill, drill.id).is_auto_scheduled is False
    actions = list(
        db.session.scalars(
            sa.select(AuditEvent.action)
            .where(AuditEvent.subject_type == "drill", AuditEvent.subject_id == drill.id)
            .order_by(AuditEvent.id)
        )
    )
    assert actions == ["drill.scheduled", "drill.unscheduled"]


def test_the_controls_partial_offers_what_fits_the_drills_status(
    app, organizer_client, english, drill
):
    organizer_client.get("/drills/")  # a request context with the organizer's locale

    def controls() -> str:
        with app.test_request_context():
            from flask_login import login_user

            login_user(english)
            db.session.refresh(drill)
            return render_template_string('{% include "live/_controls.html" %}', drill=drill)

    planned = controls()
    assert 'id="start-drill"' in planned and 'id="end-drill"' not in planned
    assert "Start and end automatically" in planned
    drill.status = DrillStatus.live
    db.session.commit()
    live = controls()
    assert 'id="end-drill"' in live and 'id="live-view-link"' in live
    drill.status = DrillStatus.ended
    db.session.commit()
    ended = controls()
    assert 'id="start-drill"' not in ended and 'id="end-drill"' not in ended
    assert "/schedule" not in ended


def test_starting_on_another_day_than_planned_asks_for_a_tick_with_the_planned_date(
    organizer_client, district, make_drill
):
    later = make_drill(
        district, title="来週の訓練", starts_at=datetime.now(UTC) + timedelta(days=7)
    )
    page = organizer_client.get(f"/drills/{later.id}/start").get_data(as_text=True)
    warning = re.search(r'id="other-day-warning">(.*?)</div>', page, re.S)
    assert warning is not None and "今日ではなく" in warning.group(1)
    assert later.starts_at.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%-m月%-d日") in page

    refused = organizer_client.post(f"/drills/{later.id}/start")
    assert refused.status_code == 422
    assert 'id="other-day-error"' in refused.get_data(as_text=True)
    assert _status(later.id) == DrillStatus.planned

    done = organizer_client.post(f"/drills/{later.id}/start", data={"other_day_ok": "1"})
    assert done.status_code == 302
    assert _status(later.id) == DrillStatus.live
