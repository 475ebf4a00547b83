"""What linking a supporter's LINE needs besides the link itself (LineLink, in models.py):
the one-time codes shown on the supporter's page, the webhook events already handled, and
wrong codes per LINE user (to stop guessing)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from watchnet.core.dbtypes import UTCDateTime, utcnow
from watchnet.core.extensions import Model


class LineLinkCode(Model):
    """A supporter's current one-time code (at most one: a new one replaces it).

    Only a keyed hash is stored (HMAC-SHA256 with the app's secret key): six digits are found
    by trying all of them against a plain hash, not without the key. Unique, so that the code
    a LINE user sends names one supporter; a new code that collides with another live one is
    drawn again."""

    __tablename__ = "line_link_code"

    supporter_id: Mapped[int] = mapped_column(
        sa.ForeignKey("supporter.id", ondelete="CASCADE"), primary_key=True
    )
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LineWebhookEvent(Model):
    """A webhook event already handled: LINE redelivers events (same webhookEventId) when our
    answer did not reach it, and a redelivered one must change nothing twice."""

    __tablename__ = "line_webhook_event"

    event_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    # Rows older than a week are deleted as new events come in (the index serves that).
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class LineCodeFailure(Model):
    """A wrong or expired code sent by a LINE user; a few within the code lifetime stop that
    user's further tries for a while (a million codes cannot be guessed five at a time)."""

    __tablename__ = "line_code_failure"
    __table_args__ = (sa.Index("ix_line_code_failure_user", "line_user_id", "failed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_user_id: Mapped[str] = mapped_column(sa.String(64))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
