"""A real search for a missing person (行方不明時の捜索依頼): who was told, who answers, who
searches where, what was seen, and how it ended."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from watchnet.core.dbtypes import UTCDateTime, utcnow
from watchnet.core.enums import enum_column_type
from watchnet.core.extensions import Model
from watchnet.districts.models import District
from watchnet.people.models import Supporter
from watchnet.registry.models import AtRiskPerson, Build, Sex

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class AlertStatus(StrEnum):
    active = "active"
    found = "found"
    cancelled = "cancelled"


class Acknowledgement(StrEnum):
    searching = "searching"  # 捜索に参加
    cannot = "cannot"  # 参加できない


class SightingCertainty(StrEnum):
    sure = "sure"
    likely = "likely"
    unsure = "unsure"


class SightingStatus(StrEnum):
    new = "new"
    confirmed = "confirmed"
    doubtful = "doubtful"
    duplicate = "duplicate"


class TravelDirection(StrEnum):
    unknown = "unknown"
    stationary = "stationary"
    n = "n"
    ne = "ne"
    e = "e"
    se = "se"
    s = "s"
    sw = "sw"
    w = "w"
    nw = "nw"


class Alert(Model):
    """One search. The description is copied from the registry at the start (and edited
    freely), so closing the alert can blank it without touching the registry."""

    __tablename__ = "alert"
    __table_args__ = (sa.Index("ix_alert_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(
        sa.ForeignKey("district.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("at_risk_person.id", ondelete="SET NULL"), nullable=True
    )
    # Idempotency for the start form: a double submit starts one alert.
    client_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True, nullable=True)
    is_exercise: Mapped[bool] = mapped_column(default=False)
    status: Mapped[AlertStatus] = mapped_column(
        enum_column_type(AlertStatus), default=AlertStatus.active
    )
    # --- the description (personal data: blanked when the alert closes) ---
    display_name: Mapped[str] = mapped_column(sa.String(100), default="")
    name_kana: Mapped[str] = mapped_column(sa.String(100), default="")
    age: Mapped[int | None] = mapped_column(nullable=True)
    sex: Mapped[Sex] = mapped_column(enum_column_type(Sex), default=Sex.unknown)
    height_cm: Mapped[int | None] = mapped_column(nullable=True)
    build: Mapped[Build] = mapped_column(enum_column_type(Build), default=Build.unknown)
    hair: Mapped[str] = mapped_column(sa.String(200), default="")
    features: Mapped[str] = mapped_column(sa.String(1000), default="")
    clothing_today: Mapped[str] = mapped_column(sa.String(500), default="")
    belongings: Mapped[str] = mapped_column(sa.String(300), default="")
    handling_notes: Mapped[str] = mapped_column(sa.String(1000), default="")
    share_photo: Mapped[bool] = mapped_column(default=False)
    # --- where and when last seen (moves when a confirmed sighting re-centres the search) ---
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_lat: Mapped[float] = mapped_column(sa.Float)
    last_seen_lon: Mapped[float] = mapped_column(sa.Float)
    last_seen_place: Mapped[str] = mapped_column(sa.String(300), default="")
    # --- police and the number to call ---
    police_informed: Mapped[bool] = mapped_column(default=False)
    police_station: Mapped[str] = mapped_column(sa.String(100), default="")
    police_case_number: Mapped[str] = mapped_column(sa.String(50), default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(30))
    contact_label: Mapped[str] = mapped_column(sa.String(100), default="")
    # --- the search radius ---
    # The radius reached so far (targets were chosen with it); the schedule in the settings
    # widens it; a coordinator's override replaces the schedule until cleared.
    radius_m: Mapped[float] = mapped_column(sa.Float, default=0)
    radius_override_m: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    widened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Counts messages that changed the alert (start=1, each change of the circle +1: widening,
    # re-centring, a radius override set or cleared): CAP
    # Update identifiers and delivery dedupe keys use it.
    revision: Mapped[int] = mapped_column(default=1)
    # --- escalation bookkeeping (the scheduler's jobs read and set these) ---
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # --- life ---
    started_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff_user.id", ondelete="SET NULL"), nullable=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff_user.id", ondelete="SET NULL"), nullable=True
    )
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    found_place: Mapped[str] = mapped_column(sa.String(300), default="")
    found_lat: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    found_lon: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    found_condition: Mapped[str] = mapped_column(sa.String(300), default="")
    close_note: Mapped[str] = mapped_column(sa.String(500), default="")
    # Set by the retention job once positions, sightings and photos are deleted.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    district: Mapped[District] = relationship()
    person: Mapped[AtRiskPerson | None] = relationship()

    @property
    def is_active(self) -> bool:
        return self.status == AlertStatus.active


class AlertRecipient(Model):
    """A supporter told about an alert: the in-app message, their personal link, their answer."""

    __tablename__ = "alert_recipient"
    __table_args__ = (
        sa.UniqueConstraint("alert_id", "supporter_id"),
        sa.Index("ix_alert_recipient_answer", "alert_id", "answer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alert.id", ondelete="CASCADE"))
    supporter_id: Mapped[int] = mapped_column(sa.ForeignKey("supporter.id", ondelete="CASCADE"))
    # The personal link's secret (URL-safe random); the link works without signing in.
    token: Mapped[str] = mapped_column(sa.String(43), unique=True)
    # The token this link had before the supporter's access was ended (revoked link,
    # deactivation): kept only to refuse it with a clear page and an audit record.
    revoked_token: Mapped[str | None] = mapped_column(sa.String(43), nullable=True, index=True)
    # Which radius (and revision) reached them, and how far their position was.
    radius_m: Mapped[float] = mapped_column(sa.Float)
    revision: Mapped[int] = mapped_column(default=1)
    distance_m: Mapped[float] = mapped_column(sa.Float)
    matched_by: Mapped[str] = mapped_column(sa.String(16), default="home")  # home | position
    targeted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The channel whose link (?via=...) or button first reached them: "email", "line" ...;
    # "" when not known (a bookmarked page). The coordinator's page shows it (reach).
    opened_via: Mapped[str] = mapped_column(sa.String(16), default="", server_default="")
    answer: Mapped[Acknowledgement | None] = mapped_column(
        enum_column_type(Acknowledgement), nullable=True
    )
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Where the current answer came from: "" = the page's buttons, else the channel (a LINE
    # postback, a voice call's digit).
    answered_via: Mapped[str] = mapped_column(sa.String(16), default="", server_default="")
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    alert: Mapped[Alert] = relationship()
    supporter: Mapped[Supporter] = relationship()


class SearchSectorClaim(Model):
    """A searcher took a sector (an H3 cell) of the search area. Released claims stay as
    history; at most one open claim per supporter."""

    __tablename__ = "search_sector_claim"
    __table_args__ = (sa.Index("ix_search_sector_claim_alert", "alert_id", "cell"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alert.id", ondelete="CASCADE"))
    cell: Mapped[str] = mapped_column(sa.String(16))  # H3 index, hex string
    supporter_id: Mapped[int] = mapped_column(sa.ForeignKey("supporter.id", ondelete="CASCADE"))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    supporter: Mapped[Supporter] = relationship()


class SearchPosition(Model):
    """A searcher's shared position during an alert (deleted by the retention job)."""

    __tablename__ = "search_position"
    __table_args__ = (
        sa.UniqueConstraint("supporter_id", "client_id"),
        sa.Index("ix_search_position_alert_time", "alert_id", "recorded_at"),
        # Each searcher's newest position (the coordinator's map) without reading the rest.
        sa.Index("ix_search_position_alert_supporter", "alert_id", "supporter_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alert.id", ondelete="CASCADE"))
    supporter_id: Mapped[int] = mapped_column(sa.ForeignKey("supporter.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(sa.String(64))
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    accuracy_m: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    cell: Mapped[str] = mapped_column(sa.String(16), default="")  # H3 cell walked
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WalkedSector(Model):
    """A sector some searcher's shared position has been in, kept beside the positions so that
    every phone's poll reads a few hundred rows instead of all the positions."""

    __tablename__ = "walked_sector"

    alert_id: Mapped[int] = mapped_column(
        sa.ForeignKey("alert.id", ondelete="CASCADE"), primary_key=True
    )
    cell: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    first_walked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Sighting(Model):
    """Someone may have seen the person. Reviewed by a coordinator."""

    __tablename__ = "sighting"
    __table_args__ = (
        sa.UniqueConstraint("alert_id", "client_id"),
        sa.Index("ix_sighting_alert_time", "alert_id", "seen_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alert.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(sa.String(64))
    reporter_supporter_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("supporter.id", ondelete="SET NULL"), nullable=True
    )
    reporter_staff_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff_user.id", ondelete="SET NULL"), nullable=True
    )
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    place_source: Mapped[str] = mapped_column(sa.String(16), default="phone")  # phone | map
    direction: Mapped[TravelDirection] = mapped_column(
        enum_column_type(TravelDirection), default=TravelDirection.unknown
    )
    description: Mapped[str] = mapped_column(sa.String(1000), default="")
    certainty: Mapped[SightingCertainty] = mapped_column(
        enum_column_type(SightingCertainty), default=SightingCertainty.unsure
    )
    photo: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)  # JPEG, no EXIF
    status: Mapped[SightingStatus] = mapped_column(
        enum_column_type(SightingStatus), default=SightingStatus.new
    )
    reviewed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff_user.id", ondelete="SET NULL"), nullable=True
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    recentred: Mapped[bool] = mapped_column(default=False)  # became the new last-seen point
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    reporter: Mapped[Supporter | None] = relationship()


class AlertEvent(Model):
    """The alert's timeline and live-update log: pages read new rows by id (through the
    database, so every web worker's stream sees them). `audience`: "staff", "all" (every
    recipient's page), or "supporter:<id>"."""

    __tablename__ = "alert_event"
    __table_args__ = (
        sa.Index("ix_alert_event_alert_id", "alert_id", "id"),
        # A phone's newest event: the rows for its audience only, not the staff's many.
        sa.Index("ix_alert_event_audience", "alert_id", "audience", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alert.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    audience: Mapped[str] = mapped_column(sa.String(32), default="staff")
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    actor: Mapped[str] = mapped_column(sa.String(64), default="system")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
