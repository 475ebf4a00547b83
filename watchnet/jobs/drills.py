"""Drill jobs the scheduler process runs: start and end auto-scheduled drills on time, and
queue the reminder the day before.

Each job is idempotent: the state lives in the drill rows (status, reminder_sent_at) and every
change is a conditional UPDATE, so a restarted scheduler, or a second one, never acts twice.
Each drill is committed on its own so one bad row does not hold back the others.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from watchnet.core.dbtypes import utcnow
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.drills.models import Drill, DrillStatus
from watchnet.tracking.lifecycle import end_drill, send_drill_reminders, start_drill

log = logging.getLogger(__name__)

REMINDER_WINDOW = timedelta(hours=24)
SCHEDULER_ACTOR = "system:scheduler"


def _due_ids(stmt: sa.Select[int]) -> list[int]:
    ids = list(db.session.scalars(stmt))
    db.session.commit()
    return ids


def _advance(drill_id: int, action: str, at: datetime) -> bool:
    drill = db.session.get(Drill, drill_id)
    if drill is None:
        return False
    try:
        if action == "start":
            start_drill(drill, actor=SCHEDULER_ACTOR, now=at)
        else:
            end_drill(drill, actor=SCHEDULER_ACTOR, now=at)
    except UserInputError:
        # Someone (an organizer, another scheduler) moved it first: nothing to do.
        db.session.rollback()
        return False
    db.session.commit()
    log.info("drill %s: %s by the scheduler", drill_id, action)
    return True


def advance_drill_lifecycle(now: datetime | None = None) -> int:
    """Start auto-scheduled drills whose start time has come and end those whose end time has
    passed; returns how many drills changed status."""
    at = now or utcnow()
    changed = 0
    to_start = _due_ids(
        sa.select(Drill.id)
        .where(
            Drill.is_auto_scheduled.is_(True),
            Drill.status == DrillStatus.planned,
            Drill.starts_at <= at,
        )
        .order_by(Drill.starts_at, Drill.id)
    )
    for drill_id in to_start:
        changed += _advance(drill_id, "start", at)
    to_end = _due_ids(
        sa.select(Drill.id)
        .where(
            Drill.is_auto_scheduled.is_(True),
            Drill.status == DrillStatus.live,
            Drill.ends_at.is_not(None),
            Drill.ends_at <= at,
        )
        .order_by(Drill.ends_at, Drill.id)
    )
    for drill_id in to_end:
        changed += _advance(drill_id, "end", at)
    return changed


def send_due_reminders(now: datetime | None = None) -> int:
    """Queue the reminder for every planned drill starting within the next 24 hours that has
    not had one; returns how many messages were queued."""
    at = now or utcnow()
    due = _due_ids(
        sa.select(Drill.id)
        .where(
            Drill.status == DrillStatus.planned,
            Drill.reminder_sent_at.is_(None),
            Drill.starts_at > at,
            Drill.starts_at <= at + REMINDER_WINDOW,
        )
        .order_by(Drill.starts_at, Drill.id)
    )
    queued = 0
    for drill_id in due:
        # Claim the drill: only the process whose UPDATE changes the row sends its reminders.
        claimed = db.session.execute(
            sa.update(Drill)
            .where(Drill.id == drill_id, Drill.reminder_sent_at.is_(None))
            .values(reminder_sent_at=at)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if not claimed:
            db.session.rollback()
            continue
        drill = db.session.get(Drill, drill_id)
        assert drill is not None
        db.session.refresh(drill)
        queued += send_drill_reminders(drill)
        db.session.commit()
    return queued
