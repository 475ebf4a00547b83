"""Drills: the route, its checkpoints, teams and participants."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from watchnet.core.dbtypes import UTCDateTime, utcnow
from watchnet.core.enums import enum_column_type
from watchnet.core.extensions import Model
from watchnet.core.labels import register_labels
from watchnet.districts.models import District
from watchnet.people.models import StaffUser, Supporter


class DrillStatus(StrEnum):
    planned = "planned"
    live = "live"
    ended = "ended"


register_labels(
    DrillStatus,
    {
        "planned": _l("Planned"),
        "live": _l("Live"),
        "ended": _l("Ended"),
    },
)


class ExpectedContact(StrEnum):
    family = "family"
    anshin_center = "anshin_center"
    police = "police"
    organizer = "organizer"


register_labels(
    ExpectedContact,
    {
        "family": _l("Family"),
        "anshin_center": _l("Anshin center"),
        "police": _l("Police"),
        "organizer": _l("Organizer"),
    },
)


class Drill(Model):
    """A walking drill (まち歩き見守り声掛け訓練)."""

    __tablename__ = "drill"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(sa.ForeignKey("district.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    meeting_place: Mapped[str] = mapped_column(sa.String(200), default="")
    purpose: Mapped[str] = mapped_column(sa.Text, default="")
    background: Mapped[str] = mapped_column(sa.Text, default="")
    # Whom supporters phone on the day (the organizer's mobile, the community hall): shown
    # as a call button on their phones and printed on the handouts.
    contact_phone: Mapped[str] = mapped_column(sa.String(30), default="")
    contact_label: Mapped[str] = mapped_column(sa.String(100), default="")
    status: Mapped[DrillStatus] = mapped_column(
        enum_column_type(DrillStatus), default=DrillStatus.planned
    )
    # When set, the scheduler process starts the drill at starts_at and ends it at ends_at.
    is_auto_scheduled: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff_user.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    district: Mapped[District] = relationship()
    created_by: Mapped[StaffUser | None] = relationship()
    route_points: Mapped[list[RoutePoint]] = relationship(
        back_populates="drill", cascade="all, delete-orphan", order_by="RoutePoint.seq"
    )
    checkpoints: Mapped[list[Checkpoint]] = relationship(
        back_populates="drill", cascade="all, delete-orphan", order_by="Checkpoint.seq"
    )
    teams: Mapped[list[Team]] = relationship(
        back_populates="drill", cascade="all, delete-orphan", order_by="Team.id"
    )
    participants: Mapped[list[Participant]] = relationship(
        back_populates="drill", cascade="all, delete-orphan", order_by="Participant.id"
    )

    @property
    def route_latlons(self) -> list[tuple[float, float]]:
        return [(p.lat, p.lon) for p in self.route_points]


class RoutePoint(Model):
    """One vertex of the drill's route, in walking order."""

    __tablename__ = "route_point"
    __table_args__ = (sa.UniqueConstraint("drill_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(sa.ForeignKey("drill.id", ondelete="CASCADE"))
    seq: Mapped[int]
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)

    drill: Mapped[Drill] = relationship(back_populates="route_points")


class Checkpoint(Model):
    """A place on the route where a role-player waits (ポイント)."""

    __tablename__ = "checkpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(sa.ForeignKey("drill.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(sa.String(100))
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    role_player: Mapped[str] = mapped_column(sa.String(100), default="")
    scenario_wear: Mapped[str] = mapped_column(sa.String(1000), default="")
    scenario_say: Mapped[str] = mapped_column(sa.String(1000), default="")
    scenario_do: Mapped[str] = mapped_column(sa.String(1000), default="")
    expected_contact: Mapped[ExpectedContact] = mapped_column(
        enum_column_type(ExpectedContact), default=ExpectedContact.anshin_center
    )
    expected_contact_note: Mapped[str] = mapped_column(sa.String(200), default="")
    # The checklist observed at this checkpoint, one short item per entry.
    checklist: Mapped[list[str]] = mapped_column(sa.JSON, default=list)

    drill: Mapped[Drill] = relationship(back_populates="checkpoints")


class Team(Model):
    """Supporters who walk together (グループ / 班)."""

    __tablename__ = "team"
    __table_args__ = (sa.UniqueConstraint("drill_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(sa.ForeignKey("drill.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(100))
    color: Mapped[str] = mapped_column(sa.String(7), default="#1f77b4")

    drill: Mapped[Drill] = relationship(back_populates="teams")
    members: Mapped[list[Participant]] = relationship(
        back_populates="team", order_by="Participant.id"
    )


class ParticipantRole(StrEnum):
    walker = "walker"
    observer = "observer"
    role_player = "role_player"


register_labels(
    ParticipantRole,
    {
        "walker": _l("Walker"),
        "observer": _l("Observer"),
        "role_player": _l("Role-player"),
    },
)


class Participant(Model):
    """A supporter invited to a drill, optionally in a team."""

    __tablename__ = "participant"
    __table_args__ = (sa.UniqueConstraint("drill_id", "supporter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(sa.ForeignKey("drill.id", ondelete="CASCADE"))
    supporter_id: Mapped[int] = mapped_column(sa.ForeignKey("supporter.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("team.id", ondelete="SET NULL"), nullable=True
    )
    role: Mapped[ParticipantRole] = mapped_column(
        enum_column_type(ParticipantRole), default=ParticipantRole.walker
    )
    # The supporter agreed on their phone to share position while the drill is live.
    position_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    drill: Mapped[Drill] = relationship(back_populates="participants")
    supporter: Mapped[Supporter] = relationship()
    team: Mapped[Team | None] = relationship(back_populates="members")
