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
    """How a message reaches someone (the glossary's `channel`)."""

    push = "push"  # Web Push to one device's subscription
    line = "line"  # the LINE official account, Messaging API
    email = "email"
    sms = "sms"
    voice = "voice"  # an automated call that reads the message and takes 1 / 2
    webhook = "webhook"  # webhooks and chat services, addressed by apprise URLs


class DeliveryStatus(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"  # permanently: a reason is recorded and shown to coordinators
    skipped = "skipped"  # a later step of an escalation that was not needed (the chain stopped)


class Delivery(Model):
    """One message to one address. `dedupe_key` makes enqueueing idempotent."""

    __tablename__ = "delivery"
    # The dispatcher's claim query scans due rows by status and time.
    __table_args__ = (
        sa.Index("ix_delivery_due", "status", "next_attempt_at"),
        sa.Index("ix_delivery_topic", "topic", "topic_id"),
        sa.Index("ix_delivery_chain", "chain_key"),
        sa.Index("ix_delivery_provider_ref", "provider_ref"),
        # A supporter's own messages: the last delivery per channel on the staff page, and
        # the SET NULL when a supporter is deleted (which otherwise scans the outbox).
        sa.Index("ix_delivery_supporter", "supporter_id"),
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
    # Which of the recipient's channels this is: "email", "addr:<id>", "push:<id>",
    # "line:<id>", "phone:<id>" (the owner of the address interprets it; the outbox does not).
    channel_ref: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")
    # The page the message points at (a personal link), for channels that carry a link
    # apart from the text (push, LINE buttons, SMS); "" when there is none.
    link: Mapped[str] = mapped_column(sa.String(1000), default="", server_default="")
    # A short headline for push, LINE, SMS and voice (the body is the long e-mail text).
    summary: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    # "" or "<topic>:<id>": the message asks for the two answers (yes: I'll search / no: I
    # can't now), which LINE postbacks and voice digits send back (notifications.hooks).
    answer_topic: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    # Escalation: the rows of one message to one person share a chain key; tier 0 goes out at
    # once, tier n later unless stop_chain() ran first (the person opened or answered).
    chain_key: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    tier: Mapped[int] = mapped_column(default=0, server_default="0")
    # What the channel reported back: delivered (SMS status, call completed), opened (the
    # link was followed from this channel), answered (a postback, a digit, a tap).
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The gateway's id of this message (a Twilio SID, a LINE request id), for its callbacks.
    provider_ref: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
