"""Staff accounts and registered supporters."""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from watchnet.core.dbtypes import UTCDateTime, utcnow
from watchnet.core.enums import enum_column_type
from watchnet.core.extensions import Model, db
from watchnet.core.labels import register_labels
from watchnet.districts.models import District


class StaffRole(StrEnum):
    admin = "admin"
    coordinator = "coordinator"
    organizer = "organizer"


register_labels(
    StaffRole,
    {
        "admin": _l("Administrator"),
        "coordinator": _l("Coordinator (SC)"),
        "organizer": _l("Organizer"),
    },
)


# Which districts a staff member works for; every staff page and API route filters by it.
staff_district = sa.Table(
    "staff_district",
    db.metadata,
    sa.Column("staff_id", sa.ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("district_id", sa.ForeignKey("district.id", ondelete="CASCADE"), primary_key=True),
)


def password_hash_method() -> str:
    """The werkzeug hash method for staff passwords: scrypt (werkzeug's default) in
    production; the test suite sets a cheap one, as hashing took about 30 % of its time."""
    return str(current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


class StaffUser(Model):
    """A person who logs in with a password: admin, coordinator (SC) or organizer."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[StaffRole] = mapped_column(enum_column_type(StaffRole))
    locale: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    districts: Mapped[list[District]] = relationship(secondary=staff_district, order_by=District.id)

    is_staff = True
    is_supporter = False

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"staff:{self.id}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=password_hash_method())

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_admin(self) -> bool:
        return self.role == StaffRole.admin


class SupporterKind(StrEnum):
    community_supporter = "community_supporter"
    care_prevention_supporter = "care_prevention_supporter"
    dementia_supporter = "dementia_supporter"
    care_manager = "care_manager"
    welfare_commissioner = "welfare_commissioner"
    ward_head = "ward_head"
    council_member = "council_member"
    other = "other"


register_labels(
    SupporterKind,
    {
        "community_supporter": _l("Community supporter"),
        "care_prevention_supporter": _l("Care-prevention supporter"),
        "dementia_supporter": _l("Orange (dementia) supporter"),
        "care_manager": _l("Care manager"),
        "welfare_commissioner": _l("Welfare commissioner"),
        "ward_head": _l("Ward head"),
        "council_member": _l("Council member"),
        "other": _l("Other"),
    },
)


class Supporter(Model):
    """A registered volunteer. Signs in on a phone with a personal link; no password."""

    __tablename__ = "supporter"
    # One row per person per district: CSV imports match on this key so nothing comes in twice.
    __table_args__ = (
        sa.UniqueConstraint("district_id", "dedupe_key"),
        # Alerts find supporters near a point: a bounding box on this index, then haversine.
        sa.Index("ix_supporter_home_latlon", "home_lat", "home_lon"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(sa.ForeignKey("district.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(100))
    name_kana: Mapped[str] = mapped_column(sa.String(100), default="")
    kind: Mapped[SupporterKind] = mapped_column(enum_column_type(SupporterKind))
    email: Mapped[str | None] = mapped_column(sa.String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(sa.String(30), nullable=True)
    # Approximate home position, rounded on entry; used to find supporters near an alert.
    home_lat: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    home_lon: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    locale: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    dedupe_key: Mapped[str] = mapped_column(sa.String(300))
    # Bumped to revoke the personal link: every phone signed in with the old one is logged out.
    token_version: Mapped[int] = mapped_column(default=1)
    # When the current link was issued by a revocation or a reactivation (None: at registration).
    link_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    # The supporter's own choices: e-mail on or off, and quiet hours (local time; start later
    # than end spans midnight) that drill messages wait out and real alerts override.
    email_enabled: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    quiet_start: Mapped[time | None] = mapped_column(sa.Time, nullable=True)
    quiet_end: Mapped[time | None] = mapped_column(sa.Time, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    district: Mapped[District] = relationship()
    push_subscriptions: Mapped[list[PushSubscription]] = relationship(
        back_populates="supporter", cascade="all, delete-orphan", order_by="PushSubscription.id"
    )
    line_link: Mapped[LineLink | None] = relationship(
        back_populates="supporter", cascade="all, delete-orphan"
    )
    phone_channels: Mapped[list[PhoneChannel]] = relationship(
        back_populates="supporter", cascade="all, delete-orphan", order_by="PhoneChannel.id"
    )
    notification_addresses: Mapped[list[NotificationAddress]] = relationship(
        back_populates="supporter", cascade="all, delete-orphan", order_by="NotificationAddress.id"
    )

    is_staff = False
    is_supporter = True
    is_admin = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"supporter:{self.id}:{self.token_version}"

    @staticmethod
    def make_dedupe_key(name: str, name_kana: str, email: str | None) -> str:
        """E-mail when known, else name and kana, normalised (NFKC, case, spaces, invisible
        and bidirectional controls): a zero-width space does not make a second person."""
        from watchnet.core.validation import normalise_name

        if email:
            return "email:" + normalise_name(email)
        squash = lambda s: "".join(normalise_name(s).split())  # noqa: E731
        return f"name:{squash(name)}|{squash(name_kana)}"


class NotificationAddress(Model):
    """A further channel for a supporter beyond e-mail: an apprise URL (webhook, chat service)."""

    __tablename__ = "notification_address"

    id: Mapped[int] = mapped_column(primary_key=True)
    supporter_id: Mapped[int] = mapped_column(sa.ForeignKey("supporter.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(sa.String(1000))
    label: Mapped[str] = mapped_column(sa.String(100), default="")
    is_enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)

    supporter: Mapped[Supporter] = relationship(back_populates="notification_addresses")


class PushSubscription(Model):
    """One device's Web Push subscription (the browser's endpoint and keys)."""

    __tablename__ = "push_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    supporter_id: Mapped[int] = mapped_column(
        sa.ForeignKey("supporter.id", ondelete="CASCADE"), index=True
    )
    # Endpoints are capability URLs of the push service: unique, and never shown to anyone.
    endpoint: Mapped[str] = mapped_column(sa.String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(sa.String(200))
    auth: Mapped[str] = mapped_column(sa.String(100))
    label: Mapped[str] = mapped_column(sa.String(100), default="")  # "Android Chrome"
    is_enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    supporter: Mapped[Supporter] = relationship(back_populates="push_subscriptions")


class LineLink(Model):
    """The tie between a supporter and their LINE user of the official account."""

    __tablename__ = "line_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    supporter_id: Mapped[int] = mapped_column(
        sa.ForeignKey("supporter.id", ondelete="CASCADE"), unique=True
    )
    line_user_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # False after an unfollow (the supporter blocked the account), True again after a follow;
    # unlinking on the page deletes the row (people/line_link.py).
    is_enabled: Mapped[bool] = mapped_column(default=True)

    supporter: Mapped[Supporter] = relationship(back_populates="line_link")


class PhoneChannel(Model):
    """A phone number that takes SMS and/or automated calls, registered with consent (by the
    supporter, or by staff for someone with only a landline)."""

    __tablename__ = "phone_channel"
    __table_args__ = (sa.UniqueConstraint("supporter_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    supporter_id: Mapped[int] = mapped_column(
        sa.ForeignKey("supporter.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(sa.String(20))  # E.164, e.g. +819012345678
    sms: Mapped[bool] = mapped_column(default=False)
    voice: Mapped[bool] = mapped_column(default=False)
    label: Mapped[str] = mapped_column(sa.String(100), default="")
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    added_by_staff_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff_user.id", ondelete="SET NULL"), nullable=True
    )
    is_enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    supporter: Mapped[Supporter] = relationship(back_populates="phone_channels")


class ChannelTest(Model):
    """One press of 「テスト通知を送る」 on the supporter's channels page. Its messages are the
    outbox rows of topic "test" with this id, one per channel the supporter had at that moment.
    `press_key` comes with the form, so a double tap or a retried request queues once; the
    newest `created_at` is what the one-per-interval limit counts from."""

    __tablename__ = "channel_test"
    __table_args__ = (sa.UniqueConstraint("supporter_id", "press_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    supporter_id: Mapped[int] = mapped_column(
        sa.ForeignKey("supporter.id", ondelete="CASCADE"), index=True
    )
    press_key: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SupporterImport(Model):
    """A parsed CSV upload waiting for confirmation (the preview), then its outcome.

    The parsed rows live here rather than in the session: several web workers serve the
    preview and the confirmation, and a cookie cannot hold thousands of rows. `confirmed_at`
    is set with a conditional UPDATE so confirming twice imports nothing the second time.
    """

    __tablename__ = "supporter_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(sa.ForeignKey("district.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff_user.id", ondelete="SET NULL"), nullable=True
    )
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    encoding: Mapped[str] = mapped_column(sa.String(16), default="")
    # Which header of the file each field came from, so errors name the column the user sees.
    headers: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    # Headers of the file that were not understood (shown in the preview, otherwise ignored).
    ignored_columns: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # One dict per data row: {"row": Excel row number, "status", "values", "errors"}.
    rows: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    imported_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)

    district: Mapped[District] = relationship()

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None

    def count(self, status: str) -> int:
        """How many rows of the preview have this status."""
        return sum(1 for r in self.rows if r["status"] == status)
