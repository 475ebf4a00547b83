"""A supporter's drills, for their phone pages (people/ knows no drills; drills know people)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, selectinload

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.drills.models import Drill, DrillStatus, Participant


def upcoming_participations(supporter_id: int, now: datetime | None = None) -> list[Participant]:
    """The supporter's live drills, then planned ones from today on, soonest first."""
    now = now or utcnow()
    since = now - timedelta(hours=12)
    stmt = (
        sa.select(Participant)
        .join(Participant.drill)
        .where(
            Participant.supporter_id == supporter_id,
            sa.or_(
                Drill.status == DrillStatus.live,
                sa.and_(Drill.status == DrillStatus.planned, Drill.starts_at >= since),
            ),
        )
        .options(contains_eager(Participant.drill), selectinload(Participant.team))
        .order_by(sa.case((Drill.status == DrillStatus.live, 0), else_=1), Drill.starts_at)
    )
    return list(db.session.scalars(stmt))


def recent_ended_participations(
    supporter_id: int, now: datetime | None = None, days: int = 30
) -> list[Participant]:
    """Drills the supporter took part in that ended in the last `days` days, newest first:
    the ones they can still give feedback on."""
    since = (now or utcnow()) - timedelta(days=days)
    stmt = (
        sa.select(Participant)
        .join(Participant.drill)
        .where(
            Participant.supporter_id == supporter_id,
            Drill.status == DrillStatus.ended,
            Drill.starts_at >= since,
        )
        .options(contains_eager(Participant.drill))
        .order_by(Drill.starts_at.desc())
    )
    return list(db.session.scalars(stmt))
