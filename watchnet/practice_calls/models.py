"""A practice call (連絡訓練) and the supporters it went to: their personal page's token, when
they opened it and from which channel, and their answer."""

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
from watchnet.drills.models import Drill
from watchnet.notifications.hooks import Answer
from watchnet.people.models import StaffUser, Supporter


class PracticeAudience(StrEnum):
    participants = "participants"  # the drill's participants
    district = "district"  # every active supporter of the district


register_labels(
    PracticeAudience,
    {
        "participants": _l("The drill's participants"),
        "district": _l("Every active supporter of the district"),
    },
)


class PracticeCall(Model):
    """One practice call of a district, usually sent from a drill."""

    __tablename__ = "practice_call"
    # The supporters page and the comparison with the previous call read a district's calls
    # newest first.
    __table_args__ = (sa.Index("ix_practice_call_district_sent", "district_id", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(sa.ForeignKey("district.id", ondelete="CASCADE"))
    drill_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("drill.id", ondelete="SET NULL"), nullable=True, index=True
    )
    audience: Mapped[PracticeAudience] = mapped_column(enum_column_type(PracticeAudience))
    # Idempotency of the confirmation form: a double submit sends one call.
    client_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff_user.id", ondelete="SET NULL"), nullable=True
    )
    # When the messages were queued (the dispatcher's sent_at per message is in the outbox).
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Closed by staff: waiting messages are not sent, the page thanks and takes no answers.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    district: Mapped[District] = relationship()
    drill: Mapped[Drill | None] = relationship()
    created_by: Mapped[StaffUser | None] = relationship()

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class PracticeCallRecipient(Model):
    """A supporter a practice call went to: the personal page's secret and what they did."""

    __tablename__ = "practice_call_recipient"
    __table_args__ = (sa.UniqueConstraint("practice_call_id", "supporter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_call_id: Mapped[int] = mapped_column(
        sa.ForeignKey("practice_call.id", ondelete="CASCADE")
    )
    supporter_id: Mapped[int] = mapped_column(sa.ForeignKey("supporter.id", ondelete="CASCADE"))
    # The personal page's secret (URL-safe random, like an alert link); no sign-in needed.
    token: Mapped[str] = mapped_column(sa.String(43), unique=True)
    # The supporter's token_version when the call went out: revoking their link or
    # deactivating them bumps it (auth.services.end_personal_access), which ends this page too.
    link_version: Mapped[int] = mapped_column(default=1)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The channel whose message they opened the page from ("" when not known).
    opened_via: Mapped[str] = mapped_column(sa.String(16), default="")
    answer: Mapped[Answer | None] = mapped_column(enum_column_type(Answer), nullable=True)
    # The first answer's time and channel (the answer itself may be changed later).
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_via: Mapped[str] = mapped_column(sa.String(16), default="")

    practice_call: Mapped[PracticeCall] = relationship()
    supporter: Mapped[Supporter] = relationship()
