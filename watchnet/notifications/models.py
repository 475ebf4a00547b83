"""The outbox: one row per message per channel per recipient, written in the same transaction
as whatever caused it, delivered by the dispatcher process."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from watchnet.core.dbtypes import UTCDateTime, utcnow
from watchnet.core.enums import enum_column_type
from watchnet.core.extensions import Model


class DeliveryChannel(StrEnum):
    email = "email"
    apprise = "apprise"  # webhooks and chat services, addressed by apprise URLs


class DeliveryStatus(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"  # permanently: a reason is recorded and shown to coordinators


class Delivery(Model):
    """One message to one address. `dedupe_key` makes enqueueing idempotent."""

    __tablename__ = "delivery"
    # The dispatcher's claim query scans due rows by status and time.
    __table_args__ = (
        sa.Index("ix_delivery_due", "status", "next_attempt_at"),
        sa.Index("ix_delivery_topic", "topic", "topic_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    channel: Mapped[DeliveryChannel] = mapped_column(enum_column_type(DeliveryChannel))
    address: Mapped[str] = mapped_column(sa.String(1000))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    supporter_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("supporter.id", ondelete="SET NULL"), nullable=True
    )
    staff_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff_user.id", ondelete="SET NULL"), nullable=True
    )
    notification_address_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("notification_address.id", ondelete="SET NULL"), nullable=True
    )
    district_id: Mapped[int | None] = mapped_column(nullable=True)
    topic: Mapped[str] = mapped_column(sa.String(32), default="")
    topic_id: Mapped[int | None] = mapped_column(nullable=True)
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column_type(DeliveryStatus), default=DeliveryStatus.pending
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.String(1000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
