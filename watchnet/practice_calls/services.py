"""Sending a practice call, and what comes back: the personal page opened (from which
channel), the answer on the page, a LINE postback or a voice digit.

The messages go through the one fan-out (people.notify.fan_out) as kind "practice_call": the
same channels, escalation tiers (CHANNEL_CHAINS / ESCALATION_STEPS) and quiet hours as a drill
message, so the call chain that is rehearsed is the one a real alert uses. Opening or answering
stops the escalation (notifications.services.record_opened).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from watchnet.core.dbtypes import utcnow
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.insert_once import insert_or_get
from watchnet.core.timefmt import format_formal_date
from watchnet.core.urls import public_url
from watchnet.drills.models import Drill, Participant
from watchnet.notifications.chains import chain_for, escalation_step_min
from watchnet.notifications.hooks import Answer, register_answer_handler
from watchnet.notifications.models import Delivery, DeliveryChannel, DeliveryStatus
from watchnet.notifications.services import record_opened
from watchnet.people.models import StaffUser, Supporter
from watchnet.people.notify import (
    LINK_SLOT,
    Recipient,
    Text,
    fan_out,
    plan_tiers,
    quiet_until,
    supporter_addresses,
)
from watchnet.practice_calls.models import PracticeAudience, PracticeCall, PracticeCallRecipient

TOPIC = "practice_call"  # the outbox topic and the answer topic's prefix
KIND = "practice_call"  # the message kind of CHANNEL_CHAINS / ESCALATION_STEPS
# URL-safe, so it survives url_for unchanged (a placeholder, not a secret).
TOKEN_SLOT = "WATCHNET_TOKEN_SLOT"  # noqa: S105

NOBODY_TO_CALL = _l("Nobody to call: the drill has no participants who are still active.")
NOBODY_IN_DISTRICT = _l("Nobody to call: the district has no active supporters.")
CALL_CLOSED = _l("This practice call has ended. Thank you.")


# ---------------------------------------------------------------------------------------------
# Who is called, and on which channels (the confirmation page)


def audience_supporter_ids(drill: Drill, audience: PracticeAudience) -> list[int]:
    """The active supporters a practice call from this drill goes to, by id."""
    if audience == PracticeAudience.participants:
        stmt = (
            sa.select(Supporter.id)
            .join(Participant, Participant.supporter_id == Supporter.id)
            .where(Participant.drill_id == drill.id)
        )
    else:
        stmt = sa.select(Supporter.id).where(Supporter.district_id == drill.district_id)
    return list(
        db.session.scalars(stmt.where(Supporter.is_active.is_(True)).order_by(Supporter.id))
    )


@dataclass(frozen=True)
class ChannelUse:
    """One channel of the call: how many get it at once, how many later if they have not
    opened the first message by then."""

    channel: DeliveryChannel
    at_once: int
    later: int
    after_min: int  # the earliest later step, minutes after the first message (0: none)


@dataclass(frozen=True)
class PracticePreview:
    """What pressing the button will do, for the confirmation page."""

    audience: PracticeAudience
    people: int
    channels: list[ChannelUse]
    without_channel: int  # no channel of the chain: they cannot be reached
    in_quiet_hours: int  # their messages wait until their quiet hours end
    step_min: int  # minutes between escalation steps (0: no escalation)


def preview_practice_call(
    drill: Drill, audience: PracticeAudience, now: datetime | None = None
) -> PracticePreview:
    """How many people a practice call would reach, and on which channels (nothing is queued)."""
    now = now or utcnow()
    ids = audience_supporter_ids(drill, audience)
    config = current_app.config
    chain = chain_for(config, KIND)
    step_min = escalation_step_min(config, KIND)
    addresses = supporter_addresses(ids)
    first: dict[DeliveryChannel, set[int]] = {}
    later: dict[DeliveryChannel, set[int]] = {}
    later_min: dict[DeliveryChannel, int] = {}
    without = 0
    for sid in ids:
        planned = plan_tiers(addresses.get(sid, ()), chain, step_min)
        if not planned:
            without += 1
        for tier, after_min, address in planned:
            (first if tier == 0 else later).setdefault(address.channel, set()).add(sid)
            if tier:
                known = later_min.get(address.channel)
                later_min[address.channel] = after_min if known is None else min(known, after_min)
    order = [c for tier in chain for c in tier]
    channels = [
        ChannelUse(c, len(first.get(c, ())), len(later.get(c, ())), later_min.get(c, 0))
        for c in order
        if c in first or c in later
    ]
    return PracticePreview(
        audience=audience,
        people=len(ids),
        channels=channels,
        without_channel=without,
        in_quiet_hours=_count_in_quiet_hours(ids, now),
        step_min=step_min,
    )


def _count_in_quiet_hours(ids: Sequence[int], now: datetime) -> int:
    if not ids:
        return 0
    count = 0
    for start in range(0, len(ids), 5000):
        rows = db.session.execute(
            sa.select(Supporter.quiet_start, Supporter.quiet_end).where(
                Supporter.id.in_(list(ids[start : start + 5000])),
                Supporter.quiet_start.is_not(None),
                Supporter.quiet_end.is_not(None),
            )
        )
        for q_start, q_end in rows:
            if q_start is None or q_end is None or q_start == q_end:
                continue
            if quiet_until(now, (q_start, q_end)) is not None:
                count += 1
    return count


# ---------------------------------------------------------------------------------------------
# Sending


def practice_link_for_token(token: str) -> str:
    """The absolute URL of a supporter's practice-call page (on PUBLIC_BASE_URL when set)."""
    return public_url("practice_field.phone_page", f"/p/{token}", token=token)


def practice_message(call: PracticeCall) -> Text:
    """The practice call's text in the current locale: clearly 訓練, and what to do."""
    district = call.district.name
    drill = call.drill
    if drill is not None:
        about = _(
            "%(district)s is checking that its messages reach every supporter, as part of "
            "the drill “%(title)s” (%(date)s).",
            district=district,
            title=drill.title,
            date=format_formal_date(drill.starts_at),
        )
    else:
        about = _(
            "%(district)s is checking that its messages reach every supporter.", district=district
        )
    lines = [
        _("This is a practice call. It is not a real search."),
        "",
        about,
        _(
            "Please open your personal link below and press “I can take part” or “I can't "
            "now”. Opening the link already tells us that you received this message."
        ),
        "",
        LINK_SLOT,
        "",
        _(
            "On LINE you can answer with the buttons; on an automated phone call, press 1 "
            "(I can take part) or 2 (I can't now)."
        ),
        _("Nobody is missing: there is nothing else to do."),
    ]
    return Text(
        subject=_("[PRACTICE] Practice call from %(district)s", district=district),
        body="\n".join(lines),
        summary=_("[PRACTICE] A practice call, not a real search. Please open it and answer."),
    )


def send_practice_call(
    drill: Drill,
    audience: PracticeAudience,
    created_by: StaffUser | None,
    client_key: str | None = None,
    now: datetime | None = None,
) -> tuple[PracticeCall, bool]:
    """Create the practice call, one personal page per supporter, and queue its messages on
    every channel of the chain. Returns (call, created); the same client_key twice gives the
    first call and queues nothing more. The caller commits."""
    audience = PracticeAudience(audience)
    now = now or utcnow()
    if client_key:
        existing = _call_by_client_key(client_key)
        if existing is not None:
            return existing, False
    ids = audience_supporter_ids(drill, audience)
    if not ids:
        message = (
            NOBODY_TO_CALL if audience == PracticeAudience.participants else NOBODY_IN_DISTRICT
        )
        raise UserInputError(message, field="audience")
    call, created = insert_or_get(
        PracticeCall(
            district_id=drill.district_id,
            drill_id=drill.id,
            audience=audience,
            client_key=client_key or None,
            created_by_id=created_by.id if created_by is not None else None,
            sent_at=now,
        ),
        lambda: _call_by_client_key(client_key) if client_key else None,
    )
    if not created:
        return call, False
    versions: dict[int, int] = {
        sid: version
        for sid, version in db.session.execute(
            sa.select(Supporter.id, Supporter.token_version).where(Supporter.id.in_(ids))
        )
    }
    tokens = {sid: secrets.token_urlsafe(32) for sid in ids}
    db.session.execute(
        sa.insert(PracticeCallRecipient),
        [
            {
                "practice_call_id": call.id,
                "supporter_id": sid,
                "token": tokens[sid],
                "link_version": versions.get(sid, 1),
                "opened_via": "",
                "answered_via": "",
            }
            for sid in ids
        ],
    )
    link_template = practice_link_for_token(TOKEN_SLOT)
    fan_out(
        key=f"{TOPIC}:{call.id}",
        kind=KIND,
        topic=TOPIC,
        topic_id=call.id,
        recipients=[Recipient(sid, link_template.replace(TOKEN_SLOT, tokens[sid])) for sid in ids],
        make_text=lambda: practice_message(call),
        real=False,
        answer_topic=f"{TOPIC}:{call.id}",
        now=now,
    )
    db.session.flush()
    return call, True


def _call_by_client_key(client_key: str) -> PracticeCall | None:
    return db.session.scalar(sa.select(PracticeCall).where(PracticeCall.client_key == client_key))


def close_practice_call(call: PracticeCall, now: datetime | None = None) -> int:
    """End the practice call: messages still waiting (later escalation steps, quiet hours)
    are not sent, and the personal pages thank and take no more answers. Returns how many
    waiting messages were dropped. The caller commits."""
    if call.closed_at is not None:
        return 0
    call.closed_at = now or utcnow()
    result = db.session.execute(
        sa.update(Delivery)
        .where(
            Delivery.topic == TOPIC,
            Delivery.topic_id == call.id,
            Delivery.status == DeliveryStatus.pending,
        )
        .values(status=DeliveryStatus.skipped, last_error=None)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


# ---------------------------------------------------------------------------------------------
# What comes back


def recipient_by_token(token: str) -> PracticeCallRecipient | None:
    return db.session.scalar(
        sa.select(PracticeCallRecipient).where(PracticeCallRecipient.token == token)
    )


def link_is_valid(recipient: PracticeCallRecipient) -> bool:
    """False once the supporter's access was ended (link revoked, deactivated)."""
    supporter = recipient.supporter
    return supporter.is_active and supporter.token_version == recipient.link_version


def channel_or_none(raw: object) -> DeliveryChannel | None:
    """The channel a `via` value names, or None (typed, bookmarked, or unknown)."""
    try:
        return DeliveryChannel(str(raw))
    except ValueError:
        return None


def record_practice_opened(
    recipient: PracticeCallRecipient, via: DeliveryChannel | None, now: datetime | None = None
) -> bool:
    """The supporter opened their page from `via`: the first opening is kept on the recipient,
    every channel's own opening on its outbox rows, and the escalation stops. Returns True
    when this was the first opening. Nothing is recorded once the call is closed (its
    figures are final). The caller commits."""
    if not recipient.practice_call.is_open:
        return False
    first = recipient.opened_at is None
    if first:
        recipient.opened_at = now or utcnow()
        recipient.opened_via = via.value if via is not None else ""
    record_opened(TOPIC, recipient.practice_call_id, recipient.supporter_id, via)
    db.session.flush()
    return first


def answer_practice_call(
    recipient: PracticeCallRecipient,
    answer: Answer,
    via: DeliveryChannel | None,
    now: datetime | None = None,
) -> None:
    """The supporter's answer (I can take part / I can't now), from the page or from a
    channel (LINE button, voice digit). It may be changed; the first answer's time and
    channel are kept, and an answer counts as opened. The caller commits."""
    answer = Answer(answer)
    if not recipient.practice_call.is_open:
        raise UserInputError(CALL_CLOSED)
    now = now or utcnow()
    record_practice_opened(recipient, via, now)
    recipient.answer = answer
    if recipient.answered_at is None:
        recipient.answered_at = now
        recipient.answered_via = via.value if via is not None else ""
    if via is not None:
        # The answered time per channel (reach): the messages of that channel to this person.
        db.session.execute(
            sa.update(Delivery)
            .where(
                Delivery.topic == TOPIC,
                Delivery.topic_id == recipient.practice_call_id,
                Delivery.supporter_id == recipient.supporter_id,
                Delivery.channel == via,
                Delivery.status == DeliveryStatus.sent,
                Delivery.answered_at.is_(None),
            )
            .values(answered_at=now)
            .execution_options(synchronize_session=False)
        )
    db.session.flush()


def answer_from_channel(
    call_id: int, supporter_id: int, answer: Answer, channel: DeliveryChannel
) -> bool:
    """The answer hook (notifications.hooks) for LINE postbacks and voice digits: the same
    as a tap on the page. False when the person was not called or the call has ended."""
    recipient = db.session.scalar(
        sa.select(PracticeCallRecipient).where(
            PracticeCallRecipient.practice_call_id == call_id,
            PracticeCallRecipient.supporter_id == supporter_id,
        )
    )
    if recipient is None or not recipient.practice_call.is_open or not link_is_valid(recipient):
        return False
    answer_practice_call(recipient, answer, channel)
    return True


register_answer_handler(TOPIC, answer_from_channel)
