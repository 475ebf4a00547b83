"""Messages to people: the one fan-out that writes every kind of message to supporters (alerts,
updates, reminders, all-clears, help calls, practice calls, test messages) on every channel
they have, and e-mail to staff. Lives here, not in watchnet.notifications, so that the outbox
knows no domain: it takes addresses, people know theirs.

Per supporter and message: one outbox row per channel of the tiers of the kind's chain
(notifications/chains.py). The first tier the person has goes out now; when the kind
escalates, each later tier they have waits `step` minutes more, sharing a chain key so that
opening or answering (notifications.services.stop_chain) skips the rest. Drill messages
(`real=False`) wait out the supporter's quiet hours; real alerts go out at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.i18n import locale_chooser
from watchnet.core.timefmt import display_zone
from watchnet.notifications.chains import chain_for, escalation_step_min
from watchnet.notifications.models import Delivery, DeliveryChannel
from watchnet.notifications.services import enqueue_deliveries, enqueue_delivery
from watchnet.people.models import (
    LineLink,
    NotificationAddress,
    PhoneChannel,
    PushSubscription,
    StaffUser,
    Supporter,
)

# Stands for the personal link in a text made once per language; each recipient's copy gets
# their own link in its place (private-use characters never typed by anyone).
LINK_SLOT = "\ue000link\ue000"

_ID_CHUNK = 5000  # supporter ids per IN (...) list (SQLite allows 32766 parameters)


@dataclass(frozen=True)
class Text:
    """One message in one language. `body` is the long text (e-mail, webhooks) and may hold
    LINK_SLOT; `summary` is the headline for push, LINE, SMS and voice (default: subject)."""

    subject: str
    body: str
    summary: str = ""


@dataclass(frozen=True)
class Recipient:
    """Who gets a message, and the personal page it points at (absolute URL; "" for none)."""

    supporter_id: int
    link: str = ""


@dataclass(frozen=True)
class Address:
    """One channel of one supporter, as the outbox needs it."""

    channel: DeliveryChannel
    channel_ref: str  # "email", "addr:3", "push:7", "line:2", "phone:4"
    key_suffix: str  # the dedupe key's end: unique per channel of the supporter
    address: str
    notification_address_id: int | None = None


def link_via(link: str, channel: DeliveryChannel) -> str:
    """The personal link as sent on `channel`: ?via=<channel> tells the page which channel
    reached the person (reach), and nothing else."""
    if not link:
        return ""
    parts = urlsplit(link)
    query = f"{parts.query}&via={channel.value}" if parts.query else f"via={channel.value}"
    return urlunsplit(parts._replace(query=query))


def supporter_addresses(supporter_ids: Sequence[int]) -> dict[int, list[Address]]:
    """Every enabled channel of these supporters, in a stable order (a few queries in all)."""
    found: dict[int, list[Address]] = {sid: [] for sid in supporter_ids}
    for start in range(0, len(supporter_ids), _ID_CHUNK):
        ids = list(supporter_ids[start : start + _ID_CHUNK])
        for sid, email in db.session.execute(
            sa.select(Supporter.id, Supporter.email).where(
                Supporter.id.in_(ids), Supporter.email_enabled.is_(True), Supporter.email != ""
            )
        ):
            if email:
                found[sid].append(Address(DeliveryChannel.email, "email", "email", email))
        for sid, addr_id, url in db.session.execute(
            sa.select(
                NotificationAddress.supporter_id, NotificationAddress.id, NotificationAddress.url
            )
            .where(
                NotificationAddress.supporter_id.in_(ids), NotificationAddress.is_enabled.is_(True)
            )
            .order_by(NotificationAddress.id)
        ):
            ref = f"addr:{addr_id}"
            found[sid].append(Address(DeliveryChannel.webhook, ref, ref, url, addr_id))
        for sid, sub_id, endpoint, p256dh, auth in db.session.execute(
            sa.select(
                PushSubscription.supporter_id,
                PushSubscription.id,
                PushSubscription.endpoint,
                PushSubscription.p256dh,
                PushSubscription.auth,
            )
            .where(PushSubscription.supporter_id.in_(ids), PushSubscription.is_enabled.is_(True))
            .order_by(PushSubscription.id)
        ):
            ref = f"push:{sub_id}"
            info = json.dumps({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}})
            found[sid].append(Address(DeliveryChannel.push, ref, ref, info))
        for sid, link_id, line_user_id in db.session.execute(
            sa.select(LineLink.supporter_id, LineLink.id, LineLink.line_user_id).where(
                LineLink.supporter_id.in_(ids), LineLink.is_enabled.is_(True)
            )
        ):
            ref = f"line:{link_id}"
            found[sid].append(Address(DeliveryChannel.line, ref, ref, line_user_id))
        for sid, phone_id, number, sms, voice in db.session.execute(
            sa.select(
                PhoneChannel.supporter_id,
                PhoneChannel.id,
                PhoneChannel.number,
                PhoneChannel.sms,
                PhoneChannel.voice,
            )
            .where(PhoneChannel.supporter_id.in_(ids), PhoneChannel.is_enabled.is_(True))
            .order_by(PhoneChannel.id)
        ):
            ref = f"phone:{phone_id}"
            if sms:
                found[sid].append(Address(DeliveryChannel.sms, ref, f"sms:{ref}", number))
            if voice:
                found[sid].append(Address(DeliveryChannel.voice, ref, f"voice:{ref}", number))
    return found


def _quiet_hours(supporter_ids: Sequence[int]) -> dict[int, tuple[time, time]]:
    quiet: dict[int, tuple[time, time]] = {}
    for start in range(0, len(supporter_ids), _ID_CHUNK):
        ids = list(supporter_ids[start : start + _ID_CHUNK])
        for sid, q_start, q_end in db.session.execute(
            sa.select(Supporter.id, Supporter.quiet_start, Supporter.quiet_end).where(
                Supporter.id.in_(ids),
                Supporter.quiet_start.is_not(None),
                Supporter.quiet_end.is_not(None),
            )
        ):
            if q_start is not None and q_end is not None and q_start != q_end:
                quiet[sid] = (q_start, q_end)
    return quiet


def quiet_until(now: datetime, quiet: tuple[time, time] | None) -> datetime | None:
    """When the quiet hours around `now` end (UTC), or None when `now` is not in them. Times
    are local (the display zone); a start later than the end spans midnight."""
    if quiet is None:
        return None
    start, end = quiet
    local = now.astimezone(display_zone())
    at = local.time().replace(tzinfo=None)
    inside = start <= at < end if start < end else (at >= start or at < end)
    if not inside:
        return None
    end_day = local.date() if at < end else local.date() + timedelta(days=1)
    end_local = datetime.combine(end_day, end, tzinfo=display_zone())
    return end_local.astimezone(now.tzinfo)


def plan_tiers(
    addresses: Iterable[Address], chain: list[list[DeliveryChannel]], step_min: int
) -> list[tuple[int, int, Address]]:
    """(tier, minutes after the first, address) for one supporter: the tiers of the chain the
    person has a channel in, in order; without escalation only the first of them. Channels
    not in the chain are not used for this kind."""
    by_channel: dict[DeliveryChannel, list[Address]] = {}
    for address in addresses:
        by_channel.setdefault(address.channel, []).append(address)
    planned: list[tuple[int, int, Address]] = []
    tier = 0
    for channels in chain:
        present = [a for c in channels for a in by_channel.get(c, [])]
        if not present:
            continue
        planned += [(tier, tier * step_min, a) for a in present]
        tier += 1
        if step_min <= 0:
            break
    return planned


def fan_out(
    *,
    key: str,
    kind: str,
    topic: str,
    topic_id: int | None,
    recipients: Sequence[Recipient],
    make_text: Callable[[], Text],
    real: bool,
    answer_topic: str = "",
    every_channel: bool = False,
    now: datetime | None = None,
) -> int:
    """Queue one message to every channel of each recipient; returns the new outbox rows.

    `make_text()` is called once per language (inside force_locale). `key` identifies the
    message: dedupe keys are f"{key}:supporter:{id}:{channel}" ("email", "addr:<id>",
    "push:<id>", "line:<id>", "sms:phone:<id>", "voice:phone:<id>"), so queueing the same
    message twice adds nothing. `every_channel` (a test message) sends on all channels at
    once, ignoring the chain. The caller commits."""
    if not recipients:
        return 0
    now = now or utcnow()
    ids = [r.supporter_id for r in recipients]
    addresses = supporter_addresses(ids)
    locales = _locales(ids)
    districts = _districts(ids)
    quiet = {} if real else _quiet_hours(ids)
    config = current_app.config
    chain = chain_for(config, kind)
    if every_channel:
        chain = [[c for c in DeliveryChannel]]
    step_min = 0 if every_channel else escalation_step_min(config, kind)
    texts: dict[str, Text] = {}
    locale_of = locale_chooser()
    rows: list[dict[str, Any]] = []
    for recipient in recipients:
        sid = recipient.supporter_id
        lang = locale_of(locales.get(sid))
        if lang not in texts:
            with force_locale(lang):
                texts[lang] = make_text()
        text = texts[lang]
        start = quiet_until(now, quiet.get(sid)) or now
        chain_key = f"{key}:supporter:{sid}" if step_min > 0 else None
        for tier, after_min, address in plan_tiers(addresses.get(sid, ()), chain, step_min):
            link = link_via(recipient.link, address.channel)
            rows.append(
                {
                    "dedupe_key": f"{key}:supporter:{sid}:{address.key_suffix}",
                    "channel": address.channel,
                    "channel_ref": address.channel_ref,
                    "address": address.address,
                    "notification_address_id": address.notification_address_id,
                    "subject": text.subject,
                    "body": text.body.replace(LINK_SLOT, link),
                    "summary": text.summary or text.subject,
                    "link": link,
                    "answer_topic": answer_topic,
                    "topic": topic,
                    "topic_id": topic_id,
                    "supporter_id": sid,
                    "district_id": districts.get(sid),
                    "chain_key": chain_key,
                    "tier": tier,
                    "next_attempt_at": start + timedelta(minutes=after_min),
                }
            )
    return enqueue_deliveries(rows)


def _locales(ids: Sequence[int]) -> dict[int, str | None]:
    found: dict[int, str | None] = {}
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = list(ids[start : start + _ID_CHUNK])
        stmt = sa.select(Supporter.id, Supporter.locale).where(Supporter.id.in_(chunk))
        found.update((sid, value) for sid, value in db.session.execute(stmt))
    return found


def _districts(ids: Sequence[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = list(ids[start : start + _ID_CHUNK])
        stmt = sa.select(Supporter.id, Supporter.district_id).where(Supporter.id.in_(chunk))
        found.update((sid, value) for sid, value in db.session.execute(stmt))
    return found


def notify_supporter(
    supporter: Supporter,
    *,
    key: str,
    kind: str,
    subject: str,
    body: str,
    topic: str,
    topic_id: int | None = None,
    summary: str = "",
    link: str = "",
    real: bool = False,
) -> int:
    """fan_out to one supporter with a text already written in their language."""
    text = Text(subject=subject, body=body, summary=summary)
    return fan_out(
        key=key,
        kind=kind,
        topic=topic,
        topic_id=topic_id,
        recipients=[Recipient(supporter.id, link)],
        make_text=lambda: text,
        real=real,
    )


def notify_staff(
    staff: StaffUser,
    *,
    key: str,
    subject: str,
    body: str,
    topic: str,
    topic_id: int | None = None,
    district_id: int | None = None,
) -> Delivery:
    """Queue an e-mail to a staff member."""
    return enqueue_delivery(
        dedupe_key=f"{key}:staff:{staff.id}:email",
        channel=DeliveryChannel.email,
        address=staff.email,
        subject=subject,
        body=body,
        topic=topic,
        topic_id=topic_id,
        staff_id=staff.id,
        district_id=district_id,
        channel_ref="email",
    )
