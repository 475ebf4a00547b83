"""Keep / Problem / Try items, action items carried to the next drill, newsletter drafts."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from watchnet.core.dbtypes import UTCDateTime, utcnow
from watchnet.core.enums import enum_column_type
from watchnet.core.extensions import Model
from watchnet.drills.models import Drill

KPT_TEXT_MAX = 500
ACTION_TITLE_MAX = 200
ACTION_OWNER_MAX = 100
NEWSLETTER_SECTION_MAX = 5000


class KptKind(StrEnum):
    keep = "keep"
    problem = "problem"
    try_ = "try"


class ActionStatus(StrEnum):
    open = "open"
    in_progress = "in_progress"
    done = "done"


class KptBoard(Model):
    """One counter per drill, bumped on every change: open boards poll "anything since N?"."""

    __tablename__ = "kpt_board"

    drill_id: Mapped[int] = mapped_column(
        sa.ForeignKey("drill.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(default=0)


class KptItem(Model):
    """One sticky note on the Keep / Problem / Try board of a drill's reflection."""

    __tablename__ = "kpt_item"
    __table_args__ = (sa.Index("ix_kpt_item_drill_kind", "drill_id", "kind", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(sa.ForeignKey("drill.id", ondelete="CASCADE"))
    kind: Mapped[KptKind] = mapped_column(enum_column_type(KptKind))
    text: Mapped[str] = mapped_column(sa.String(KPT_TEXT_MAX))
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    drill: Mapped[Drill] = relationship()


class ActionItem(Model):
    """Something to do before the district's next drill (今後の取り組み), usually from a Try."""

    __tablename__ = "action_item"
    # The next drill's page lists a district's open items.
    __table_args__ = (sa.Index("ix_action_item_district_status", "district_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(sa.ForeignKey("district.id", ondelete="CASCADE"))
    drill_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("drill.id", ondelete="SET NULL"), nullable=True
    )
    kpt_item_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("kpt_item.id", ondelete="SET NULL"), nullable=True
    )
    title: Mapped[str] = mapped_column(sa.String(ACTION_TITLE_MAX))
    owner: Mapped[str] = mapped_column(sa.String(ACTION_OWNER_MAX), default="")
    due_date: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    status: Mapped[ActionStatus] = mapped_column(
        enum_column_type(ActionStatus), default=ActionStatus.open
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_in_drill_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("drill.id", ondelete="SET NULL"), nullable=True
    )

    drill: Mapped[Drill | None] = relationship(foreign_keys=[drill_id])
    closed_in_drill: Mapped[Drill | None] = relationship(foreign_keys=[closed_in_drill_id])

    @property
    def is_open(self) -> bool:
        return self.status != ActionStatus.done


class NewsletterDraft(Model):
    """The newsletter text of a drill under the four headings 【目的】【経緯】【様子】【今後】."""

    __tablename__ = "newsletter_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(
        sa.ForeignKey("drill.id", ondelete="CASCADE"), unique=True
    )
    purpose: Mapped[str] = mapped_column(sa.Text, default="")
    background: Mapped[str] = mapped_column(sa.Text, default="")
    happenings: Mapped[str] = mapped_column(sa.Text, default="")
    future: Mapped[str] = mapped_column(sa.Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
