"""The audit record: who did or saw what, when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from watchnet.core.dbtypes import UTCDateTime, utcnow
from watchnet.core.extensions import Model


class AuditEvent(Model):
    """One recorded action. Never updated or deleted by the app."""

    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(sa.String(64))  # "staff:3", "supporter:9", "system"
    action: Mapped[str] = mapped_column(sa.String(64))
    subject_type: Mapped[str] = mapped_column(sa.String(32), default="")
    subject_id: Mapped[int | None] = mapped_column(nullable=True)
    district_id: Mapped[int | None] = mapped_column(nullable=True)
    remote_addr: Mapped[str] = mapped_column(sa.String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
