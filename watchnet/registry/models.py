"""The registry of at-risk persons (見守り登録者): registered in advance, with consent, so that
an alert can start in under a minute. Only coordinators of the person's district see it."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from watchnet.core.dbtypes import UTCDateTime, utcnow
from watchnet.core.enums import enum_column_type
from watchnet.core.extensions import Model
from watchnet.core.labels import register_labels
from watchnet.districts.models import District


class Sex(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    unknown = "unknown"


register_labels(
    Sex,
    {
        "female": _l("Female"),
        "male": _l("Male"),
        "other": _l("Other"),
        "unknown": _l("Not stated"),
    },
)


class Build(StrEnum):
    slim = "slim"
    medium = "medium"
    stout = "stout"
    unknown = "unknown"


register_labels(
    Build,
    {
        "slim": _l("Slim"),
        "medium": _l("Medium build"),
        "stout": _l("Stout"),
        "unknown": _l("Not stated"),
    },
)


class WalkingAbility(StrEnum):
    brisk = "brisk"  # walks far and fast
    independent = "independent"
    slow = "slow"
    cane = "cane"
    walker = "walker"  # 歩行器・シルバーカー
    wheelchair = "wheelchair"


register_labels(
    WalkingAbility,
    {
        "brisk": _l("Walks far and fast"),
        "independent": _l("Walks unaided"),
        "slow": _l("Walks slowly"),
        "cane": _l("Walks with a cane"),
        "walker": _l("Uses a walker or silver car"),
        "wheelchair": _l("Wheelchair"),
    },
)


class PhotoKind(StrEnum):
    face = "face"
    full_body = "full_body"
    other = "other"


register_labels(
    PhotoKind,
    {
        "face": _l("Face"),
        "full_body": _l("Full body"),
        "other": _l("Other"),
    },
)


class ConsentScope(StrEnum):
    """What a consent covers; stored as a list of these values."""

    share_with_supporters = "share_with_supporters"  # description sent to nearby supporters
    share_photo = "share_photo"  # photos shown on alert pages and flyers
    share_with_police = "share_with_police"


register_labels(
    ConsentScope,
    {
        "share_with_supporters": _l("Share the description with nearby supporters in a search"),
        "share_photo": _l("Show the photos on alert pages and flyers"),
        "share_with_police": _l("Share the details with the police"),
    },
)


class AtRiskPerson(Model):
    """An elder registered by family or a care manager, with consent."""

    __tablename__ = "at_risk_person"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(
        sa.ForeignKey("district.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    name_kana: Mapped[str] = mapped_column(sa.String(100), default="")
    birth_date: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    sex: Mapped[Sex] = mapped_column(enum_column_type(Sex), default=Sex.unknown)
    height_cm: Mapped[int | None] = mapped_column(nullable=True)
    build: Mapped[Build] = mapped_column(enum_column_type(Build), default=Build.unknown)
    hair: Mapped[str] = mapped_column(sa.String(200), default="")
    features: Mapped[str] = mapped_column(sa.String(1000), default="")  # 身体的特徴, 口癖 ...
    usual_clothing: Mapped[str] = mapped_column(sa.String(500), default="")
    walking_ability: Mapped[WalkingAbility] = mapped_column(
        enum_column_type(WalkingAbility), default=WalkingAbility.independent
    )
    # How to approach: hearing, what calms them, what name they answer to.
    handling_notes: Mapped[str] = mapped_column(sa.String(1000), default="")
    home_address: Mapped[str] = mapped_column(sa.String(300), default="")
    home_lat: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    home_lon: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    care_manager_name: Mapped[str] = mapped_column(sa.String(100), default="")
    care_manager_org: Mapped[str] = mapped_column(sa.String(200), default="")
    care_manager_phone: Mapped[str] = mapped_column(sa.String(30), default="")
    is_archived: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff_user.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    district: Mapped[District] = relationship()
    contacts: Mapped[list[FamilyContact]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="FamilyContact.position"
    )
    places: Mapped[list[UsualPlace]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="UsualPlace.id"
    )
    photos: Mapped[list[PersonPhoto]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="PersonPhoto.id"
    )
    consents: Mapped[list[Consent]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="Consent.given_on.desc()"
    )


class FamilyContact(Model):
    """Someone to call about the person (family first)."""

    __tablename__ = "family_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("at_risk_person.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    relation: Mapped[str] = mapped_column(sa.String(50), default="")
    phone: Mapped[str] = mapped_column(sa.String(30), default="")
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    position: Mapped[int] = mapped_column(default=0)

    person: Mapped[AtRiskPerson] = relationship(back_populates="contacts")


class UsualPlace(Model):
    """A place the person tends to go (old workplace, shrine, shop): a search priority."""

    __tablename__ = "usual_place"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("at_risk_person.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    note: Mapped[str] = mapped_column(sa.String(300), default="")

    person: Mapped[AtRiskPerson] = relationship(back_populates="places")


class PersonPhoto(Model):
    """A photo, re-encoded as JPEG without EXIF/GPS. Kept in the database so every web worker
    and app server can serve it, and deleted with the row."""

    __tablename__ = "person_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("at_risk_person.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[PhotoKind] = mapped_column(enum_column_type(PhotoKind), default=PhotoKind.face)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    content_type: Mapped[str] = mapped_column(sa.String(32), default="image/jpeg")
    width: Mapped[int] = mapped_column(default=0)
    height: Mapped[int] = mapped_column(default=0)
    taken_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff_user.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    person: Mapped[AtRiskPerson] = relationship(back_populates="photos")


class Consent(Model):
    """Who consented, when, to what, until when. The newest unwithdrawn one counts."""

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("at_risk_person.id", ondelete="CASCADE"), index=True
    )
    given_by_name: Mapped[str] = mapped_column(sa.String(100))
    given_by_relation: Mapped[str] = mapped_column(sa.String(50), default="")  # 本人, 長女 ...
    given_on: Mapped[date] = mapped_column(sa.Date)
    renew_by: Mapped[date] = mapped_column(sa.Date)
    scopes: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)  # ConsentScope values
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff_user.id", ondelete="SET NULL"), nullable=True
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    person: Mapped[AtRiskPerson] = relationship(back_populates="consents")
