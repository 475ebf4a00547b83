"""What phones send during a live drill: positions, encounter steps, help calls; and the
event log that carries live updates to every web worker's open streams."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from watchnet.core.dbtypes import UTCDateTime, utcnow
from watchnet.core.enums import enum_column_type
from watchnet.core.extensions import Model
from watchnet.core.labels import register_labels
from watchnet.drills.models import ExpectedContact
from watchnet.people.models import Supporter

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key for the
# high-volume tables.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class PositionReport(Model):
    """One position a phone reported. `client_id` is made on the phone: a retry is stored once."""

    __tablename__ = "position_report"
    __table_args__ = (
        sa.UniqueConstraint("supporter_id", "client_id"),
        # Replay and tracks read one drill's reports in time order.
        sa.Index("ix_position_report_drill_time", "drill_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    drill_id: Mapped[int] = mapped_column(sa.ForeignKey("drill.id", ondelete="CASCADE"))
    supporter_id: Mapped[int] = mapped_column(sa.ForeignKey("supporter.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(sa.String(64))
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    accuracy_m: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the phone's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LatestPosition(Model):
    """One row per drill and supporter: where they were last. Nearest-supporter queries and the
    live map read this, never the history."""

    __tablename__ = "latest_position"
    __table_args__ = (
        sa.Index("ix_latest_position_drill_latlon", "drill_id", "lat", "lon"),
        # Live streams ask "what moved since I last looked" per drill.
        sa.Index("ix_latest_position_drill_received", "drill_id", "received_at"),
        # Alerts also reach supporters by where their phone was recently, in any drill.
        sa.Index("ix_latest_position_received", "received_at"),
    )

    drill_id: Mapped[int] = mapped_column(
        sa.ForeignKey("drill.id", ondelete="CASCADE"), primary_key=True
    )
    supporter_id: Mapped[int] = mapped_column(
        sa.ForeignKey("supporter.id", ondelete="CASCADE"), primary_key=True
    )
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    accuracy_m: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    supporter: Mapped[Supporter] = relationship()


class EncounterStepKind(StrEnum):
    noticed = "noticed"
    approached_front = "approached_front"
    gave_own_name = "gave_own_name"
    asked_name_or_destination = "asked_name_or_destination"
    contacted = "contacted"
    handed_over = "handed_over"


register_labels(
    EncounterStepKind,
    {
        "noticed": _l("Noticed the person"),
        "approached_front": _l("Approached from the front"),
        "gave_own_name": _l("Gave own name"),
        "asked_name_or_destination": _l("Asked name or destination"),
        "contacted": _l("Contacted someone"),
        "handed_over": _l("Handed over"),
    },
)


class EncounterStep(Model):
    """One step of an encounter, time-stamped with the phone's clock and position.

    A correction is a new row pointing at the original (`corrects_id`); the original is kept.
    """

    __tablename__ = "encounter_step"
    __table_args__ = (
        sa.UniqueConstraint("supporter_id", "client_id"),
        sa.Index("ix_encounter_step_drill_time", "drill_id", "done_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    drill_id: Mapped[int] = mapped_column(sa.ForeignKey("drill.id", ondelete="CASCADE"))
    supporter_id: Mapped[int] = mapped_column(sa.ForeignKey("supporter.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("team.id", ondelete="SET NULL"), nullable=True
    )
    checkpoint_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("checkpoint.id", ondelete="SET NULL"), nullable=True
    )
    client_id: Mapped[str] = mapped_column(sa.String(64))
    step: Mapped[EncounterStepKind] = mapped_column(enum_column_type(EncounterStepKind))
    contact_whom: Mapped[ExpectedContact | None] = mapped_column(
        enum_column_type(ExpectedContact), nullable=True
    )
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    lat: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    accuracy_m: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the phone's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    corrects_id: Mapped[int | None] = mapped_column(
        BigId, sa.ForeignKey("encounter_step.id", ondelete="CASCADE"), nullable=True
    )

    supporter: Mapped[Supporter] = relationship()


class HelpCallResolution(StrEnum):
    """How a help call ended."""

    caller_ok = "caller_ok"  # the caller said 「もう大丈夫」
    staff_handled = "staff_handled"  # an organizer marked it 「対応済み」
    drill_ended = "drill_ended"  # the drill ended while the call was still open


register_labels(
    HelpCallResolution,
    {
        "caller_ok": _l("The caller is all right now"),
        "staff_handled": _l("Marked as handled"),
        "drill_ended": _l("Closed when the drill ended"),
    },
)


class HelpCall(Model):
    """ "I can't cope alone": a supporter asks the nearest others and the organizers for help.

    Open until `resolved_at` is set, once, by a conditional UPDATE (services.resolve_help_call):
    the caller's 「もう大丈夫」, an organizer's 「対応済み」 or the end of the drill."""

    __tablename__ = "help_call"
    __table_args__ = (sa.UniqueConstraint("supporter_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(sa.ForeignKey("drill.id", ondelete="CASCADE"))
    supporter_id: Mapped[int] = mapped_column(sa.ForeignKey("supporter.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(sa.String(64))
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    accuracy_m: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    sentence: Mapped[str] = mapped_column(sa.String(500), default="")
    called_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the phone's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolution: Mapped[HelpCallResolution | None] = mapped_column(
        enum_column_type(HelpCallResolution), nullable=True
    )
    # Who ended it: "supporter:5" (the caller) or "staff:2"; None when the drill's end did.
    resolved_by: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    resolved_by_name: Mapped[str] = mapped_column(sa.String(100), default="", server_default="")
    # Whom the call reached, [{"name", "distance_m", "kind"}]: a retry answers the same list.
    notified: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)

    supporter: Mapped[Supporter] = relationship()
    responses: Mapped[list[HelpResponse]] = relationship(
        back_populates="help_call", order_by="HelpResponse.answered_at"
    )


class HelpResponse(Model):
    """Someone answered a help call ("on my way")."""

    __tablename__ = "help_response"
    __table_args__ = (sa.UniqueConstraint("help_call_id", "responder"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    help_call_id: Mapped[int] = mapped_column(sa.ForeignKey("help_call.id", ondelete="CASCADE"))
    responder: Mapped[str] = mapped_column(sa.String(64))  # "supporter:5" or "staff:2"
    responder_name: Mapped[str] = mapped_column(sa.String(100))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    help_call: Mapped[HelpCall] = relationship(back_populates="responses")


class EncounterNote(Model):
    """A note a supporter saved on the phone with 「メモを保存」 (a note typed before a step is
    kept on that step instead). `client_id` is made on the phone: a retry is stored once."""

    __tablename__ = "encounter_note"
    __table_args__ = (
        sa.UniqueConstraint("supporter_id", "client_id"),
        # The reflection page, report and CSV read one drill's notes in time order.
        sa.Index("ix_encounter_note_drill_time", "drill_id", "written_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    drill_id: Mapped[int] = mapped_column(sa.ForeignKey("drill.id", ondelete="CASCADE"))
    supporter_id: Mapped[int] = mapped_column(sa.ForeignKey("supporter.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("team.id", ondelete="SET NULL"), nullable=True
    )
    checkpoint_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("checkpoint.id", ondelete="SET NULL"), nullable=True
    )
    client_id: Mapped[str] = mapped_column(sa.String(64))
    text: Mapped[str] = mapped_column(sa.String(500))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the phone's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    supporter: Mapped[Supporter] = relationship()


class LiveEvent(Model):
    """An append-only log of what happened in a drill. Server-sent-event streams in any worker
    (or any app process on PostgreSQL) read new rows by id, so updates flow through the database
    rather than one process's memory."""

    __tablename__ = "live_event"
    __table_args__ = (sa.Index("ix_live_event_drill_id", "drill_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    drill_id: Mapped[int] = mapped_column(sa.ForeignKey("drill.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    # Whom the event is for: "" = the drill's organizers; "supporter:5" = one phone.
    audience: Mapped[str] = mapped_column(sa.String(64), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
