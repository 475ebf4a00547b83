"""Feedback after a drill (ふりかえり感想), the themes it is sorted into, and chosen quotes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from watchnet.core.dbtypes import UTCDateTime, utcnow
from watchnet.core.enums import enum_column_type
from watchnet.core.extensions import Model, db
from watchnet.drills.models import Drill, Team
from watchnet.people.models import StaffUser, Supporter

TEXT_MAX = 2000
THEME_NAME_MAX = 100
CLIENT_ID_MAX = 64


class Viewpoint(StrEnum):
    caller = "caller"  # 声を掛けた側
    called = "called"  # 掛けられた側 (the role-player)
    observer = "observer"
    organizer = "organizer"


class GaveNameFirst(StrEnum):
    yes = "yes"
    no = "no"
    unsure = "unsure"


class PresetTheme(StrEnum):
    """The themes of the Yawata reflection; every drill starts with these."""

    location = "location"  # 現在地を伝える
    confidence_alone = "confidence_alone"  # ひとりで対応できるか
    own_name = "own_name"  # 自分から名乗る
    approach = "approach"  # 近づき方


# Which feedback is sorted into which theme (the organizer tags it on the viewpoints page).
feedback_theme_tag = sa.Table(
    "feedback_theme_tag",
    db.metadata,
    sa.Column("feedback_id", sa.ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("theme_id", sa.ForeignKey("feedback_theme.id", ondelete="CASCADE"), primary_key=True),
)


class FeedbackTheme(Model):
    """A theme of a drill's reflection: one of the presets, or one the organizer added."""

    __tablename__ = "feedback_theme"
    # One row per preset per drill: creating the presets twice must not duplicate them.
    __table_args__ = (sa.UniqueConstraint("drill_id", "preset"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(sa.ForeignKey("drill.id", ondelete="CASCADE"))
    preset: Mapped[PresetTheme | None] = mapped_column(enum_column_type(PresetTheme), nullable=True)
    name: Mapped[str] = mapped_column(sa.String(THEME_NAME_MAX), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    drill: Mapped[Drill] = relationship()


class Feedback(Model):
    """What one participant says after a drill, from one viewpoint.

    Scales are 1–5 and None when not answered. `client_id` is made when the form is shown:
    a repeated submission of the same form is stored once.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        sa.UniqueConstraint("supporter_id", "client_id"),
        sa.UniqueConstraint("staff_id", "client_id"),
        sa.Index("ix_feedback_drill_created", "drill_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(sa.ForeignKey("drill.id", ondelete="CASCADE"))
    supporter_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("supporter.id", ondelete="SET NULL"), nullable=True
    )
    # The staff member who gave it (organizer viewpoint) or typed it in for a supporter.
    staff_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff_user.id", ondelete="SET NULL"), nullable=True
    )
    viewpoint: Mapped[Viewpoint] = mapped_column(enum_column_type(Viewpoint))
    # The team a role-player met (viewpoint "called"); optional for the others.
    team_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("team.id", ondelete="SET NULL"), nullable=True
    )
    safe_approach: Mapped[int | None] = mapped_column(nullable=True)
    gave_name_first: Mapped[GaveNameFirst | None] = mapped_column(
        enum_column_type(GaveNameFirst), nullable=True
    )
    location_ease: Mapped[int | None] = mapped_column(nullable=True)
    confidence_alone: Mapped[int | None] = mapped_column(nullable=True)
    text: Mapped[str] = mapped_column(sa.String(TEXT_MAX), default="")
    is_quote_chosen: Mapped[bool] = mapped_column(default=False)
    client_id: Mapped[str] = mapped_column(sa.String(CLIENT_ID_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    drill: Mapped[Drill] = relationship()
    supporter: Mapped[Supporter | None] = relationship()
    staff: Mapped[StaffUser | None] = relationship()
    team: Mapped[Team | None] = relationship()
    themes: Mapped[list[FeedbackTheme]] = relationship(
        secondary=feedback_theme_tag, order_by=FeedbackTheme.id
    )

    @property
    def author_name(self) -> str:
        """Whose feedback it is: the supporter, else the staff member."""
        if self.supporter is not None:
            return self.supporter.name
        return self.staff.name if self.staff is not None else ""
