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

import sqlalchemy as sa
from flask import current_app

from watchnet.alerts.models import (
    Alert,
    AlertRecipient,
    AlertStatus,
)
from watchnet.alerts.services import (
    escalate_short_search,
    purge_alert_data,
    remind_unanswered,
    widen_alert,
)
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db

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
    return _each_alert(ids, lambda alert: escalate_short_search(alert, at, actor=SCHEDULER_ACTOR))


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
    return _each_alert(ids, lambda alert: purge_alert_data(alert, at, actor=SCHEDULER_ACTOR))
