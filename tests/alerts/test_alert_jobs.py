"""The scheduler's alert jobs: widening on schedule, reminders, escalation to the district's
coordinators and the retention purge; each resumes after a restart without repeating."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from alert_core_support import alert_input, place_supporter

from watchnet.alerts.models import (
    Acknowledgement,
    Alert,
    AlertRecipient,
    AlertStatus,
    SearchPosition,
    SearchSectorClaim,
    Sighting,
    WalkedSector,
)
from watchnet.alerts.services import acknowledge_alert, close_alert, start_alert
from watchnet.audit.models import AuditEvent
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.jobs.alerts import (
    escalate_short_searches,
    purge_closed_alerts,
    remind_unanswered_recipients,
    widen_due_alerts,
)
from watchnet.notifications.models import Delivery, DeliveryStatus


def _restart() -> None:
    """What a scheduler restart leaves: nothing in memory, only the rows."""
    db.session.remove()


def _keys(address: str) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(Delivery.dedupe_key).where(Delivery.address == address).order_by(Delivery.id)
        )
    )


def test_widen_due_alerts_follows_the_schedule(
    district: Any, coordinator: Any, make_supporter: Any
) -> None:
    place_supporter(make_supporter, district, 400, email="in@example.jp")
    place_supporter(make_supporter, district, 1500, email="ring2@example.jp")
    alert = start_alert(district, coordinator, alert_input(minutes_ago=10))
    pinned = start_alert(district, coordinator, alert_input(minutes_ago=10, radius_override_m=1000))
    alert_id, pinned_id = alert.id, pinned.id
    assert widen_due_alerts(now=utcnow()) == 0
    _restart()
    later = utcnow() + timedelta(minutes=21)  # 31 minutes after last seen
    assert widen_due_alerts(now=later) == 1
    _restart()
    assert widen_due_alerts(now=later) == 0  # after a restart: nothing repeated
    assert _keys("ring2@example.jp") == [f"alert:{alert_id}:r2:alert:supporter:2:email"]
    # The one inside from the start was told once by each alert, never again.
    assert _keys("in@example.jp") == [
        f"alert:{alert_id}:r1:alert:supporter:1:email",
        f"alert:{pinned_id}:r1:alert:supporter:1:email",
    ]
    assert db.session.get(Alert, alert_id).radius_m == 1600  # type: ignore[union-attr]
    assert db.session.get(Alert, pinned_id).radius_m == 1000  # type: ignore[union-attr]


def test_reminders_go_once_to_those_who_have_not_answered(
    district: Any, coordinator: Any, make_supporter: Any
) -> None:
    answered = place_supporter(make_supporter, district, 100, email="yes@example.jp")
    place_supporter(make_supporter, district, 200, email="quiet@example.jp")
    alert = start_alert(district, coordinator, alert_input())
    recipient = db.session.scalar(
        sa.select(AlertRecipient).where(AlertRecipient.supporter_id == answered.id)
    )
    assert recipient is not None
    acknowledge_alert(recipient, Acknowledgement.cannot)
    db.session.commit()
    alert_id = alert.id
    assert remind_unanswered_recipients(now=utcnow() + timedelta(minutes=5)) == 0  # too soon
    due = utcnow() + timedelta(minutes=16)
    assert remind_unanswered_recipients(now=due) == 1
    _restart()
    assert remind_unanswered_recipients(now=due + timedelta(minutes=30)) == 0
    assert len(_keys("yes@example.jp")) == 1
    quiet = _keys("quiet@example.jp")
    assert quiet[1] == f"alert:{alert_id}:remind:supporter:2:email"
    refreshed = db.session.get(Alert, alert_id)
    assert refreshed is not None and refreshed.reminded_at is not None


def test_escalation_tells_the_districts_coordinators_once(
    district: Any, other_district: Any, coordinator: Any, make_staff: Any, make_supporter: Any
) -> None:
    second = make_staff([district], role="coordinator", email="sc2@example.jp", locale="en")
    make_staff([district], role="organizer", email="org@example.jp")
    make_staff([other_district], role="coordinator", email="elsewhere@example.jp")
    searcher = place_supporter(make_supporter, district, 100)
    place_supporter(make_supporter, district, 200)
    alert = start_alert(district, coordinator, alert_input())
    r = db.session.scalar(
        sa.select(AlertRecipient).where(AlertRecipient.supporter_id == searcher.id)
    )
    assert r is not None
    acknowledge_alert(r, Acknowledgement.searching)
    db.session.commit()
    alert_id, second_id = alert.id, second.id
    assert escalate_short_searches(now=utcnow() + timedelta(minutes=5)) == 0  # too soon
    due = utcnow() + timedelta(minutes=21)
    assert escalate_short_searches(now=due) == 2
    _restart()
    assert escalate_short_searches(now=due + timedelta(minutes=10)) == 0
    mails = list(
        db.session.scalars(
            sa.select(Delivery).where(Delivery.staff_id.is_not(None)).order_by(Delivery.address)
        )
    )
    assert [m.address for m in mails] == ["coordinator@example.jp", "sc2@example.jp"]
    ja, en = mails
    assert "2人のうち" in ja.body and "1人です" in ja.body and f"/alerts/{alert_id}" in ja.body
    assert "Only 1 of the 2 supporters" in en.body
    assert en.dedupe_key == f"alert:{alert_id}:escalate:staff:{second_id}:email"
    assert en.staff_id == second_id


def test_no_escalation_when_enough_are_searching(
    district: Any, coordinator: Any, make_supporter: Any
) -> None:
    people = [place_supporter(make_supporter, district, 100 + i * 10) for i in range(3)]
    start_alert(district, coordinator, alert_input())
    for person in people:
        r = db.session.scalar(
            sa.select(AlertRecipient).where(AlertRecipient.supporter_id == person.id)
        )
        assert r is not None
        acknowledge_alert(r, Acknowledgement.searching)
    db.session.commit()
    assert escalate_short_searches(now=utcnow() + timedelta(minutes=30)) == 0
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Delivery).where(Delivery.staff_id.is_not(None))
        )
        == 0
    )


def test_purge_deletes_what_a_closed_search_no_longer_needs(
    district: Any, coordinator: Any, make_supporter: Any
) -> None:
    s = place_supporter(make_supporter, district, 100, email="s@example.jp")
    old = start_alert(district, coordinator, alert_input())
    recent = start_alert(district, coordinator, alert_input())
    active = start_alert(district, coordinator, alert_input())
    for alert in (old, recent, active):
        db.session.add_all(
            [
                SearchPosition(
                    alert_id=alert.id,
                    supporter_id=s.id,
                    client_id=f"p{alert.id}",
                    lat=36.33,
                    lon=138.94,
                    recorded_at=utcnow(),
                ),
                Sighting(
                    alert_id=alert.id,
                    client_id=f"s{alert.id}",
                    seen_at=utcnow(),
                    lat=36.33,
                    lon=138.94,
                    photo=b"\xff\xd8jpeg",
                ),
                SearchSectorClaim(alert_id=alert.id, cell="88283082b9fffff", supporter_id=s.id),
                WalkedSector(alert_id=alert.id, cell="88283082b9fffff", first_walked_at=utcnow()),
            ]
        )
    db.session.commit()
    for alert in (old, recent):
        close_alert(alert, outcome=AlertStatus.found, found_place="駅前", actor=coordinator)
    db.session.execute(sa.update(Delivery).values(status=DeliveryStatus.sent))
    db.session.commit()
    old.closed_at = utcnow() - timedelta(days=31)
    db.session.commit()
    old_id, recent_id, active_id = old.id, recent.id, active.id

    assert purge_closed_alerts() == 1
    _restart()
    assert purge_closed_alerts() == 0
    for model in (SearchPosition, Sighting, SearchSectorClaim, WalkedSector):
        alert_ids = set(db.session.scalars(sa.select(model.alert_id)))  # type: ignore[attr-defined]
        assert alert_ids == {recent_id, active_id}, model
    purged = db.session.get(Alert, old_id)
    assert purged is not None and purged.purged_at is not None
    assert (purged.display_name, purged.features, purged.clothing_today, purged.found_place) == (
        "",
        "",
        "",
        "",
    )
    assert purged.age is None and purged.status == AlertStatus.found
    bodies = set(db.session.scalars(sa.select(Delivery.body).where(Delivery.topic_id == old_id)))
    assert bodies == {""}
    kept = db.session.get(Alert, recent_id)
    assert kept is not None and kept.display_name == "見守 一郎" and kept.purged_at is None
    audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "purge_alert"))
    assert audit is not None and audit.subject_id == old_id
    assert audit.detail == {"positions": 1, "sightings": 1, "sector_claims": 1, "walked_sectors": 1}


def test_the_scheduler_runs_the_alert_jobs(
    app: Any, district: Any, coordinator: Any, make_supporter: Any
) -> None:
    from watchnet.scheduler import run_once

    place_supporter(make_supporter, district, 3000, email="ring3@example.jp")
    alert = start_alert(district, coordinator, alert_input(minutes_ago=45))
    assert alert.radius_m == 1600  # already 45 minutes: the second ring at the start
    # An hour later (the scheduler was down): 105 minutes since last seen, the 5 km ring.
    alert.last_seen_at = alert.last_seen_at - timedelta(minutes=60)
    db.session.commit()
    _restart()
    done = run_once(app)
    assert done["widen_due_alerts"] == 1
    assert {
        "remind_unanswered_recipients",
        "escalate_short_searches",
        "purge_closed_alerts",
    } <= set(done)
    assert len(_keys("ring3@example.jp")) == 1
    assert run_once(app)["widen_due_alerts"] == 0
