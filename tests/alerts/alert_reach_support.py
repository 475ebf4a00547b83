"""Helpers for the reach tests: channels a supporter has besides e-mail (LINE, a phone number
for SMS or calls), the outbox rows of an alert per supporter, and time passing for the
escalation's waiting steps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from watchnet.core.extensions import db
from watchnet.notifications.models import Delivery, DeliveryStatus
from watchnet.people.models import LineLink, PhoneChannel


def add_line(supporter: Any, user_id: str | None = None) -> LineLink:
    """A LINE link of the official account (what the LINE webhook writes on follow + code)."""
    link = LineLink(supporter_id=supporter.id, line_user_id=user_id or f"U{supporter.id:032x}")
    db.session.add(link)
    db.session.commit()
    return link


def add_phone(supporter: Any, number: str, *, sms: bool = False, voice: bool = False) -> Any:
    """A phone number for SMS and/or automated calls, registered with consent."""
    phone = PhoneChannel(supporter_id=supporter.id, number=number, sms=sms, voice=voice)
    db.session.add(phone)
    db.session.commit()
    return phone


def rows_of(alert_id: int, supporter_id: int, key_part: str = "") -> list[Delivery]:
    """The alert's outbox rows to one supporter (dedupe keys containing `key_part`), in order."""
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(Delivery)
            .where(
                Delivery.topic == "alert",
                Delivery.topic_id == alert_id,
                Delivery.supporter_id == supporter_id,
                Delivery.dedupe_key.contains(key_part),
            )
            .order_by(Delivery.id)
        )
    )


def by_channel(rows: list[Delivery]) -> dict[str, Delivery]:
    return {str(d.channel): d for d in rows}


def time_passes(minutes: float) -> None:
    """The clock moves on for the outbox: every waiting row falls due `minutes` earlier (the
    dispatcher compares next_attempt_at with the database's now)."""
    # Row by row: date arithmetic in SQL differs between SQLite and PostgreSQL.
    waiting = db.session.execute(
        sa.select(Delivery.id, Delivery.next_attempt_at).where(
            Delivery.status == DeliveryStatus.pending
        )
    ).all()
    for row_id, due in waiting:
        db.session.execute(
            sa.update(Delivery)
            .where(Delivery.id == row_id)
            .values(next_attempt_at=due - timedelta(minutes=minutes))
        )
    db.session.commit()
