"""Districts (地区) and their named landmarks."""

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


class District(Model):
    """A neighbourhood area with its own council (第2層協議体), e.g. 八幡地区."""

    __tablename__ = "district"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    name_kana: Mapped[str] = mapped_column(sa.String(100), default="")
    center_lat: Mapped[float] = mapped_column(sa.Float)
    center_lon: Mapped[float] = mapped_column(sa.Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    landmarks: Mapped[list[Landmark]] = relationship(
        back_populates="district", cascade="all, delete-orphan", order_by="Landmark.name"
    )


class LandmarkKind(StrEnum):
    community_hall = "community_hall"
    school = "school"
    shrine = "shrine"
    temple = "temple"
    park = "park"
    station = "station"
    shop = "shop"
    police_box = "police_box"
    hospital = "hospital"
    other = "other"


register_labels(
    LandmarkKind,
    {
        "community_hall": _l("Community hall"),
        "school": _l("School"),
        "shrine": _l("Shrine"),
        "temple": _l("Temple"),
        "park": _l("Park"),
        "station": _l("Station"),
        "shop": _l("Shop"),
        "police_box": _l("Police box"),
        "hospital": _l("Hospital / clinic"),
        "other": _l("Other"),
    },
)


class Landmark(Model):
    """A named place people know (公民館, 小学校, 神社 ...), used on maps and in "where am I"."""

    __tablename__ = "landmark"
    __table_args__ = (sa.UniqueConstraint("district_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(sa.ForeignKey("district.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[LandmarkKind] = mapped_column(
        enum_column_type(LandmarkKind), default=LandmarkKind.other
    )
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    district: Mapped[District] = relationship(back_populates="landmarks")
