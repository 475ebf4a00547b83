"""What /healthz/delivery reports: heartbeat ages of the background processes and the age of
the oldest due message. Three indexed aggregate queries; no row is read in full."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.jobs.models import WorkerHeartbeat
from watchnet.notifications.models import Delivery, DeliveryStatus


def _age_s(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round(max(0.0, (now - then).total_seconds()), 1)


def delivery_health() -> tuple[dict[str, Any], bool]:
    """(report, stuck)."""
    cfg = current_app.config
    now = utcnow()
    beats = dict(
        db.session.execute(
            sa.select(WorkerHeartbeat.kind, sa.func.max(WorkerHeartbeat.beat_at)).group_by(
                WorkerHeartbeat.kind
            )
        ).all()
    )
    oldest_pending = db.session.scalar(
        sa.select(sa.func.min(Delivery.next_attempt_at)).where(
            Delivery.status == DeliveryStatus.pending, Delivery.next_attempt_at <= now
        )
    )
    # A claim whose lease ran out is due as well (its dispatcher died or lost the database).
    oldest_lapsed = db.session.scalar(
        sa.select(sa.func.min(Delivery.claimed_until)).where(
            Delivery.status == DeliveryStatus.sending, Delivery.claimed_until < now
        )
    )
    due = (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Delivery)
            .where(
                sa.or_(
                    sa.and_(
                        Delivery.status == DeliveryStatus.pending, Delivery.next_attempt_at <= now
                    ),
                    sa.and_(
                        Delivery.status == DeliveryStatus.sending, Delivery.claimed_until < now
                    ),
                )
            )
        )
        or 0
    )
    db.session.commit()
    oldest = min((t for t in (oldest_pending, oldest_lapsed) if t is not None), default=None)
    dispatcher_age = _age_s(now, beats.get("dispatcher"))
    scheduler_age = _age_s(now, beats.get("scheduler"))
    oldest_age = _age_s(now, oldest)
    problems = []
    if due and (dispatcher_age is None or dispatcher_age > cfg["HEALTH_DISPATCHER_STALE_S"]):
        problems.append("no_dispatcher")
    if oldest_age is not None and oldest_age > cfg["HEALTH_DELIVERY_MAX_AGE_S"]:
        problems.append("oldest_due_too_old")
    scheduler_ok = scheduler_age is not None and scheduler_age <= cfg["HEALTH_SCHEDULER_STALE_S"]
    report = {
        "status": "stuck" if problems else "ok",
        "problems": problems,
        "dispatcher": {"heartbeat_age_s": dispatcher_age},
        "scheduler": {"heartbeat_age_s": scheduler_age, "state": "ok" if scheduler_ok else "stale"},
        "outbox": {"due": int(due), "oldest_due_age_s": oldest_age},
    }
    return report, bool(problems)
