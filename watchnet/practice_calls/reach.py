"""The reach (到達) of a practice call: for each supporter and channel when the message was
sent, delivered (where the channel reports it), opened and answered; who could not be reached
and on which channels they were tried; counts per channel; and the median time from the first
message sent to the page opened — the figure a district improves from drill to drill.

Read from the outbox rows of the call (topic "practice_call") and its recipients; nothing here
writes.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from watchnet.core.extensions import db
from watchnet.notifications.hooks import Answer
from watchnet.notifications.models import Delivery, DeliveryChannel, DeliveryStatus
from watchnet.people.models import Supporter
from watchnet.practice_calls.models import PracticeCall, PracticeCallRecipient
from watchnet.practice_calls.services import TOPIC

CHANNEL_LABELS: dict[str, LazyString] = {
    DeliveryChannel.push.value: _l("Push notification"),
    DeliveryChannel.line.value: _l("LINE"),
    DeliveryChannel.email.value: _l("Mail"),
    DeliveryChannel.sms.value: _l("SMS"),
    DeliveryChannel.voice.value: _l("Automated phone call"),
    DeliveryChannel.webhook.value: _l("Notification app"),
}
CHANNEL_ORDER = [c.value for c in DeliveryChannel]
NOT_KNOWN = _l("not known")


def channel_label(channel: str | DeliveryChannel | None) -> str:
    """The channel's name for people ("" for none or unknown)."""
    if not channel:
        return ""
    return str(CHANNEL_LABELS.get(str(channel), str(channel)))


def format_duration(seconds: float | None) -> str | None:
    """m:ss (or h:mm:ss); None stays None, shown as missing, never as 0."""
    if seconds is None:
        return None
    total = int(round(max(seconds, 0.0)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(frozen=True)
class Attempt:
    """One outbox row of the call to one person on one channel."""

    channel: str
    channel_ref: str
    tier: int
    status: str
    attempts: int
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    answered_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None

    @property
    def label(self) -> str:
        return channel_label(self.channel)

    @property
    def was_tried(self) -> bool:
        """False for a later step that was not needed (the person opened first)."""
        return self.status != DeliveryStatus.skipped.value


@dataclass(frozen=True)
class PersonReach:
    supporter_id: int
    name: str
    attempts: list[Attempt]
    opened_at: datetime | None
    opened_via: str
    answered_at: datetime | None
    answered_via: str
    answer: str | None

    @property
    def first_sent_at(self) -> datetime | None:
        times = [a.sent_at for a in self.attempts if a.sent_at is not None]
        return min(times) if times else None

    @property
    def reached_at(self) -> datetime | None:
        """When they first showed they had the message: opened the page, or answered."""
        times = [t for t in (self.opened_at, self.answered_at) if t is not None]
        return min(times) if times else None

    @property
    def reached(self) -> bool:
        return self.reached_at is not None

    @property
    def open_s(self) -> float | None:
        """Seconds from the first message sent to the page opened (None: not both known)."""
        sent, reached = self.first_sent_at, self.reached_at
        if sent is None or reached is None:
            return None
        return max((reached - sent).total_seconds(), 0.0)

    @property
    def tried(self) -> list[Attempt]:
        return [a for a in self.attempts if a.was_tried]

    @property
    def state(self) -> str:
        """reached | sent (a message went out, not opened yet; a later step may still
        follow) | waiting (nothing sent yet: being sent, quiet hours) | failed (every message
        failed) | no_channel (no channel of the chain to try)."""
        if self.reached:
            return "reached"
        tried = self.tried
        if not tried:
            return "no_channel"
        if any(a.status == DeliveryStatus.sent.value for a in tried):
            return "sent"
        if any(
            a.status in (DeliveryStatus.pending.value, DeliveryStatus.sending.value) for a in tried
        ):
            return "waiting"
        return "failed"

    @property
    def open_text(self) -> str | None:
        return format_duration(self.open_s)

    @property
    def opened_from(self) -> str:
        """The channel the page was opened from, for people."""
        return channel_label(self.opened_via) or str(NOT_KNOWN)

    @property
    def answered_from(self) -> str:
        return channel_label(self.answered_via)


@dataclass(frozen=True)
class ChannelReach:
    """Counts of one channel: messages tried and their outcome, and the people who opened
    or answered from it."""

    channel: str
    people: int = 0  # people tried on this channel
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    waiting: int = 0
    skipped: int = 0  # later steps not needed
    opened: int = 0  # people who opened the page from this channel's message
    answered: int = 0  # people who answered from this channel

    @property
    def label(self) -> str:
        return channel_label(self.channel)


@dataclass(frozen=True)
class CallSummary:
    """The headline figures of one call (also of the previous call, for the comparison)."""

    call_id: int
    sent_at: datetime
    drill_title: str
    people: int
    reached: int
    answered: int
    median_open_s: float | None

    @property
    def median_open(self) -> str | None:
        return format_duration(self.median_open_s)

    @property
    def reached_percent(self) -> int | None:
        return round(100 * self.reached / self.people) if self.people else None


@dataclass(frozen=True)
class CallReach:
    call: PracticeCall
    people: list[PersonReach]
    channels: list[ChannelReach]
    summary: CallSummary
    previous: CallSummary | None = None
    answers: dict[str, int] = field(default_factory=dict)

    @property
    def unreached(self) -> list[PersonReach]:
        return [p for p in self.people if not p.reached]

    @property
    def waiting(self) -> int:
        return sum(1 for p in self.people if p.state == "waiting")

    @staticmethod
    def duration(seconds: float | None) -> str | None:
        return format_duration(seconds)


# ---------------------------------------------------------------------------------------------
# Loading


def _people(call_id: int) -> list[PersonReach]:
    recipients = db.session.execute(
        sa.select(PracticeCallRecipient, Supporter.name)
        .join(Supporter, Supporter.id == PracticeCallRecipient.supporter_id)
        .where(PracticeCallRecipient.practice_call_id == call_id)
        .order_by(Supporter.name_kana, Supporter.name, Supporter.id)
    ).all()
    attempts: dict[int, list[Attempt]] = {}
    for row in db.session.execute(
        sa.select(
            Delivery.supporter_id,
            Delivery.channel,
            Delivery.channel_ref,
            Delivery.tier,
            Delivery.status,
            Delivery.attempts,
            Delivery.sent_at,
            Delivery.delivered_at,
            Delivery.opened_at,
            Delivery.answered_at,
            Delivery.next_attempt_at,
            Delivery.last_error,
        )
        .where(Delivery.topic == TOPIC, Delivery.topic_id == call_id)
        .order_by(Delivery.supporter_id, Delivery.tier, Delivery.id)
    ):
        if row.supporter_id is None:
            continue
        attempts.setdefault(row.supporter_id, []).append(
            Attempt(
                channel=str(DeliveryChannel(row.channel).value),
                channel_ref=row.channel_ref,
                tier=row.tier,
                status=str(DeliveryStatus(row.status).value),
                attempts=row.attempts,
                sent_at=row.sent_at,
                delivered_at=row.delivered_at,
                opened_at=row.opened_at,
                answered_at=row.answered_at,
                next_attempt_at=row.next_attempt_at,
                last_error=row.last_error,
            )
        )
    return [
        PersonReach(
            supporter_id=r.supporter_id,
            name=name,
            attempts=attempts.get(r.supporter_id, []),
            opened_at=r.opened_at,
            opened_via=r.opened_via,
            answered_at=r.answered_at,
            answered_via=r.answered_via,
            answer=str(Answer(r.answer).value) if r.answer is not None else None,
        )
        for r, name in recipients
    ]


def _channels(people: Iterable[PersonReach]) -> list[ChannelReach]:
    counts: dict[str, dict[str, int]] = {}
    tried_by: dict[str, set[int]] = {}
    opened_by: dict[str, set[int]] = {}
    answered_by: dict[str, set[int]] = {}
    for person in people:
        for a in person.attempts:
            c = counts.setdefault(a.channel, {})
            if a.status == DeliveryStatus.skipped.value:
                c["skipped"] = c.get("skipped", 0) + 1
                continue
            tried_by.setdefault(a.channel, set()).add(person.supporter_id)
            key = {
                DeliveryStatus.sent.value: "sent",
                DeliveryStatus.failed.value: "failed",
            }.get(a.status, "waiting")
            c[key] = c.get(key, 0) + 1
            if a.delivered_at is not None:
                c["delivered"] = c.get("delivered", 0) + 1
            if a.opened_at is not None:
                opened_by.setdefault(a.channel, set()).add(person.supporter_id)
            if a.answered_at is not None:
                answered_by.setdefault(a.channel, set()).add(person.supporter_id)
        # The page was opened from a channel whose row the update could not stamp (e.g. the
        # message was opened while the dispatcher still marked it as sending).
        if person.opened_via:
            opened_by.setdefault(person.opened_via, set()).add(person.supporter_id)
            counts.setdefault(person.opened_via, {})
        if person.answered_via:
            answered_by.setdefault(person.answered_via, set()).add(person.supporter_id)
            counts.setdefault(person.answered_via, {})
    return [
        ChannelReach(
            channel=channel,
            people=len(tried_by.get(channel, ())),
            sent=counts[channel].get("sent", 0),
            delivered=counts[channel].get("delivered", 0),
            failed=counts[channel].get("failed", 0),
            waiting=counts[channel].get("waiting", 0),
            skipped=counts[channel].get("skipped", 0),
            opened=len(opened_by.get(channel, ())),
            answered=len(answered_by.get(channel, ())),
        )
        for channel in sorted(
            counts, key=lambda c: CHANNEL_ORDER.index(c) if c in CHANNEL_ORDER else 99
        )
    ]


def _summary(call: PracticeCall, people: Sequence[PersonReach]) -> CallSummary:
    times = [p.open_s for p in people if p.open_s is not None]
    return CallSummary(
        call_id=call.id,
        sent_at=call.sent_at,
        drill_title=call.drill.title if call.drill is not None else "",
        people=len(people),
        reached=sum(1 for p in people if p.reached),
        answered=sum(1 for p in people if p.answer is not None),
        median_open_s=statistics.median(times) if times else None,
    )


def previous_call(call: PracticeCall) -> PracticeCall | None:
    """The district's practice call sent before this one."""
    return db.session.scalar(
        sa.select(PracticeCall)
        .where(
            PracticeCall.district_id == call.district_id,
            PracticeCall.id != call.id,
            sa.or_(
                PracticeCall.sent_at < call.sent_at,
                sa.and_(PracticeCall.sent_at == call.sent_at, PracticeCall.id < call.id),
            ),
        )
        .order_by(PracticeCall.sent_at.desc(), PracticeCall.id.desc())
        .limit(1)
    )


def call_summary(call: PracticeCall) -> CallSummary:
    return _summary(call, _people(call.id))


def call_reach(call: PracticeCall, with_previous: bool = True) -> CallReach:
    """Everything the reach table shows for one call, with the previous call's figures."""
    people = _people(call.id)
    previous = previous_call(call) if with_previous else None
    answers = {a.value: sum(1 for p in people if p.answer == a.value) for a in Answer}
    return CallReach(
        call=call,
        people=people,
        channels=_channels(people),
        summary=_summary(call, people),
        previous=call_summary(previous) if previous is not None else None,
        answers=answers,
    )


def drill_practice_calls(drill_id: int) -> list[PracticeCall]:
    """The practice calls sent from a drill, newest first."""
    return list(
        db.session.scalars(
            sa.select(PracticeCall)
            .where(PracticeCall.drill_id == drill_id)
            .order_by(PracticeCall.sent_at.desc(), PracticeCall.id.desc())
        )
    )


def drill_practice_summaries(drill_id: int) -> list[CallSummary]:
    """The headline figures of each practice call sent from a drill, newest first."""
    return [call_summary(call) for call in drill_practice_calls(drill_id)]


def drill_practice_reach(drill_id: int) -> list[CallReach]:
    """The reach of each practice call sent from a drill, newest first."""
    return [call_reach(call) for call in drill_practice_calls(drill_id)]


@dataclass(frozen=True)
class DistrictReach:
    """The supporters page: a district's latest practice call in full, and the recent ones."""

    district_id: int
    district_name: str
    latest: CallReach
    recent: list[CallSummary]


def district_practice_reach(district_ids: Sequence[int], recent: int = 5) -> list[DistrictReach]:
    """For each of these districts that sent a practice call: the latest one's reach and the
    headline figures of its recent calls (newest first)."""
    found: list[DistrictReach] = []
    for district_id in district_ids:
        calls = list(
            db.session.scalars(
                sa.select(PracticeCall)
                .where(PracticeCall.district_id == district_id)
                .order_by(PracticeCall.sent_at.desc(), PracticeCall.id.desc())
                .limit(recent)
            )
        )
        if not calls:
            continue
        latest = call_reach(calls[0])
        summaries = [latest.summary] + [call_summary(c) for c in calls[1:]]
        found.append(
            DistrictReach(
                district_id=district_id,
                district_name=calls[0].district.name,
                latest=latest,
                recent=summaries,
            )
        )
    return found
