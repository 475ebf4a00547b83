"""Alert jobs the scheduler process runs: widen the search on schedule, remind those who have
not answered, tell the coordinators when too few are searching, and delete what a closed
search no longer needs after the retention period.

The state lives in the rows (Alert.radius_m / revision, AlertRecipient.reminded_at,
Alert.escalated_at, Alert.purged_at) and each change is claimed with a conditional UPDATE, so a
restarted scheduler resumes where it stopped and never repeats a message. Each alert is
committed on its own so one bad row does not hold back the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale

from watchnet.alerts import messages
from watchnet.alerts.events import emit_alert_event
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
from watchnet.alerts.services import remind_unanswered, widen_alert
from watchnet.audit.services import record_audit
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.i18n import recipient_locale
from watchnet.notifications.models import Delivery, DeliveryStatus
from watchnet.people.models import StaffRole, StaffUser, staff_district
from watchnet.people.notify import notify_staff
from watchnet.registry.models import Build, Sex

log = logging.getLogger(__name__)

SCHEDULER_ACTOR = "system:scheduler"


def _ids(stmt: sa.Select[int]) -> list[int]:
    ids = list(db.session.scalars(stmt))
    db.session.commit()
    return ids


def _each_alert(ids: list[int], work: Callable[[Alert], int]) -> int:
    """Run work(alert) -> int for each alert id, committing each on its own."""
    done = 0
    for alert_id in ids:
        alert = db.session.get(Alert, alert_id)
        if alert is None:
            continue
        try:
            done += work(alert)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("alert %s: job step failed; retried at the next interval", alert_id)
    return done


def widen_due_alerts(now: datetime | None = None) -> int:
    """Widen every active alert whose schedule has reached the next ring; returns how many
    supporters were newly told."""
    at = now or utcnow()
    ids = _ids(
        sa.select(Alert.id)
        .where(Alert.status == AlertStatus.active, Alert.radius_override_m.is_(None))
        .order_by(Alert.id)
    )
    return _each_alert(ids, lambda alert: widen_alert(alert, now=at, actor=SCHEDULER_ACTOR))


def remind_unanswered_recipients(now: datetime | None = None) -> int:
    """Remind, once, every recipient who has not answered ALERT_REMIND_AFTER_MIN after being
    told; returns how many were reminded."""
    at = now or utcnow()
    cutoff = at - timedelta(minutes=int(current_app.config["ALERT_REMIND_AFTER_MIN"]))
    # Only alerts that have someone due: a quick EXISTS keeps idle runs cheap.
    due = sa.select(AlertRecipient.id).where(
        AlertRecipient.alert_id == Alert.id,
        AlertRecipient.answer.is_(None),
        AlertRecipient.reminded_at.is_(None),
        AlertRecipient.targeted_at <= cutoff,
    )
    ids = _ids(
        sa.select(Alert.id)
        .where(Alert.status == AlertStatus.active, due.exists())
        .order_by(Alert.id)
    )
    return _each_alert(
        ids, lambda alert: remind_unanswered(alert, SCHEDULER_ACTOR, told_before=cutoff)
    )


def _district_coordinators(district_id: int) -> list[StaffUser]:
    return list(
        db.session.scalars(
            sa.select(StaffUser)
            .join(staff_district, staff_district.c.staff_id == StaffUser.id)
            .where(
                staff_district.c.district_id == district_id,
                StaffUser.role == StaffRole.coordinator,
                StaffUser.is_active.is_(True),
            )
            .order_by(StaffUser.id)
        )
    )


def _escalate(alert: Alert, at: datetime) -> int:
    counts = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count(sa.case((AlertRecipient.answer == Acknowledgement.searching, 1))),
        ).where(AlertRecipient.alert_id == alert.id)
    ).one()
    told, searching = int(counts[0]), int(counts[1])
    if searching >= int(current_app.config["ALERT_MIN_SEARCHERS"]):
        return 0
    # Claim: the coordinators are told once per alert, however often the job runs.
    claimed = db.session.execute(
        sa.update(Alert)
        .where(
            Alert.id == alert.id, Alert.escalated_at.is_(None), Alert.status == AlertStatus.active
        )
        .values(escalated_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    db.session.refresh(alert)
    if not claimed:
        return 0
    coordinators = _district_coordinators(alert.district_id)
    for staff in coordinators:
        with force_locale(recipient_locale(staff.locale)):
            subject, body = messages.escalation_message(alert, told=told, searching=searching)
        notify_staff(
            staff,
            key=f"alert:{alert.id}:escalate",
            subject=subject,
            body=body,
            topic="alert",
            topic_id=alert.id,
            district_id=alert.district_id,
        )
    emit_alert_event(
        alert.id,
        "escalated",
        {"told": told, "searching": searching, "coordinators": len(coordinators)},
        actor=SCHEDULER_ACTOR,
    )
    record_audit(
        "escalate_alert",
        "alert",
        alert.id,
        district_id=alert.district_id,
        actor=SCHEDULER_ACTOR,
        told=told,
        searching=searching,
        coordinators=[s.id for s in coordinators],
    )
    db.session.flush()
    return len(coordinators)


def escalate_short_searches(now: datetime | None = None) -> int:
    """Tell the district's coordinators, once per alert, when fewer than ALERT_MIN_SEARCHERS
    are searching ALERT_ESCALATE_AFTER_MIN after the start; returns how many were told."""
    at = now or utcnow()
    cutoff = at - timedelta(minutes=int(current_app.config["ALERT_ESCALATE_AFTER_MIN"]))
    ids = _ids(
        sa.select(Alert.id)
        .where(
            Alert.status == AlertStatus.active,
            Alert.escalated_at.is_(None),
            Alert.started_at <= cutoff,
        )
        .order_by(Alert.id)
    )
    return _each_alert(ids, lambda alert: _escalate(alert, at))


# The description fields blanked by the retention job (the registry keeps its own copy).
_BLANKED: dict[str, Any] = {
    "display_name": "",
    "name_kana": "",
    "age": None,
    "sex": Sex.unknown,
    "height_cm": None,
    "build": Build.unknown,
    "hair": "",
    "features": "",
    "clothing_today": "",
    "belongings": "",
    "handling_notes": "",
    "last_seen_place": "",
    "police_case_number": "",
    "found_place": "",
    "found_condition": "",
    "close_note": "",
    "share_photo": False,
}


def _purge(alert: Alert, at: datetime) -> int:
    claimed = db.session.execute(
        sa.update(Alert)
        .where(Alert.id == alert.id, Alert.purged_at.is_(None), Alert.status != AlertStatus.active)
        .values(purged_at=at, **_BLANKED)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    db.session.refresh(alert)
    if not claimed:
        return 0
    deleted = {}
    for name, model in (
        ("positions", SearchPosition),
        ("sightings", Sighting),
        ("sector_claims", SearchSectorClaim),
        ("walked_sectors", WalkedSector),
    ):
        deleted[name] = int(
            db.session.execute(
                sa.delete(model)
                .where(model.alert_id == alert.id)  # type: ignore[attr-defined]
                .execution_options(synchronize_session=False)
            ).rowcount
            or 0
        )
    # The messages carried the description too: keep the delivery record, drop the text.
    db.session.execute(
        sa.update(Delivery)
        .where(
            Delivery.topic == "alert",
            Delivery.topic_id == alert.id,
            Delivery.status.in_([DeliveryStatus.sent, DeliveryStatus.failed]),
        )
        .values(body="")
        .execution_options(synchronize_session=False)
    )
    record_audit(
        "purge_alert",
        "alert",
        alert.id,
        district_id=alert.district_id,
        actor=SCHEDULER_ACTOR,
        **deleted,
    )
    db.session.flush()
    return 1


def purge_closed_alerts(now: datetime | None = None) -> int:
    """Delete positions, sightings (with their photos) and sector claims of alerts closed more
    than ALERT_RETENTION_DAYS ago and blank their description; returns how many alerts."""
    at = now or utcnow()
    cutoff = at - timedelta(days=int(current_app.config["ALERT_RETENTION_DAYS"]))
    ids = _ids(
        sa.select(Alert.id)
        .where(
            Alert.status != AlertStatus.active, Alert.purged_at.is_(None), Alert.closed_at <= cutoff
        )
        .order_by(Alert.id)
    )
    return _each_alert(ids, lambda alert: _purge(alert, at))
