"""Districts (地区), their named landmarks, and the address points of an address file."""

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


class AddressPoint(Model):
    """One block (街区) or lot (地番) of an address file such as MLIT's 街区レベル位置参照情報,
    so "where am I" can name the address without an online geocoder."""

    __tablename__ = "address_point"
    __table_args__ = (
        # "Where am I" looks for the nearest point inside a bounding box on this index, then
        # measures the candidates (as alerts find supporters' homes).
        sa.Index("ix_address_point_latlon", "lat", "lon"),
        # The staff page counts points per city.
        sa.Index("ix_address_point_city", "prefecture", "city"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A digest of the names and the position: importing the same file again adds nothing
    # (INSERT ... ON CONFLICT DO NOTHING on this key), while the several points the data set
    # gives one large block are all kept.
    point_key: Mapped[str] = mapped_column(sa.String(40), unique=True)
    district_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("district.id", ondelete="SET NULL"), nullable=True
    )
    prefecture: Mapped[str] = mapped_column(sa.String(20))
    city: Mapped[str] = mapped_column(sa.String(60))  # 市区町村名 (with 郡 or 区)
    town: Mapped[str] = mapped_column(sa.String(120), default="")  # 大字・町丁目名
    subtown: Mapped[str] = mapped_column(sa.String(120), default="")  # 小字・通称名
    block: Mapped[str] = mapped_column(sa.String(60), default="")  # 街区符号・地番
    # 住居表示フラグ: a block number of a 住居表示 area is read "5番", a lot number "123番地".
    is_residential: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AddressImport(Model):
    """One run of `watchnet addresses import`: what it read, added and refused."""

    __tablename__ = "address_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(sa.String(255))
    district_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("district.id", ondelete="SET NULL"), nullable=True
    )
    city_filter: Mapped[str] = mapped_column(sa.String(60), default="")
    encoding: Mapped[str] = mapped_column(sa.String(20), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    rows_read: Mapped[int] = mapped_column(sa.Integer, default=0)
    added: Mapped[int] = mapped_column(sa.Integer, default=0)
    existing: Mapped[int] = mapped_column(sa.Integer, default=0)  # already loaded, or repeated
    other_city: Mapped[int] = mapped_column(sa.Integer, default=0)  # left out by --city
    bad: Mapped[int] = mapped_column(sa.Integer, default=0)
    # The first bad rows as [line number, reason code] (the CLI prints them all).
    bad_lines: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)

    district: Mapped[District | None] = relationship()
