"""Writing messages to the outbox. Callers commit; nothing is sent from a web request."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from watchnet.core.bulk import insert_ignoring_conflicts
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.insert_once import insert_or_get
from watchnet.notifications.hooks import (
    Answer,
    address_gone_handler,
    answer_handler,
    parse_answer_topic,
)
from watchnet.notifications.models import Delivery, DeliveryChannel, DeliveryStatus


def enqueue_delivery(
    *,
    dedupe_key: str,
    channel: DeliveryChannel,
    address: str,
    subject: str,
    body: str,
    topic: str = "",
    topic_id: int | None = None,
    supporter_id: int | None = None,
    staff_id: int | None = None,
    notification_address_id: int | None = None,
    district_id: int | None = None,
    channel_ref: str = "",
    link: str = "",
    summary: str = "",
    answer_topic: str = "",
) -> Delivery:
    """Add one message to the outbox; the same dedupe_key twice gives the existing row.
    (Messages to supporters go through people.notify.fan_out, which uses enqueue_deliveries.)"""
    existing = db.session.scalar(sa.select(Delivery).where(Delivery.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    delivery = Delivery(
        dedupe_key=dedupe_key,
        channel=channel,
        address=address,
        subject=subject[:300],
        body=body,
        topic=topic,
        topic_id=topic_id,
        supporter_id=supporter_id,
        staff_id=staff_id,
        notification_address_id=notification_address_id,
        district_id=district_id,
        channel_ref=channel_ref,
        link=link,
        summary=summary[:300],
        answer_topic=answer_topic,
    )
    # Another worker may enqueue the same key at the same moment; the unique index decides.
    delivery, _created = insert_or_get(
        delivery,
        lambda: db.session.scalar(sa.select(Delivery).where(Delivery.dedupe_key == dedupe_key)),
    )
    return delivery


_ENQUEUE_COLUMNS = (
    "dedupe_key",
    "channel",
    "address",
    "subject",
    "body",
    "topic",
    "topic_id",
    "supporter_id",
    "staff_id",
    "notification_address_id",
    "district_id",
    "channel_ref",
    "link",
    "summary",
    "answer_topic",
    "chain_key",
    "tier",
    "next_attempt_at",
)


def enqueue_deliveries(rows: Iterable[Mapping[str, Any]]) -> int:
    """Add many messages to the outbox at once; returns how many were new.

    Each row is a dict of enqueue_delivery's keywords (dedupe_key, channel, address, subject,
    body; the rest optional), plus chain_key, tier and next_attempt_at (default: now) for the
    later steps of an escalation. One INSERT ... ON CONFLICT (dedupe_key) DO NOTHING per chunk
    (watchnet.core.bulk): an alert's broadcast of thousands of messages takes a few statements
    instead of a flush per row, and a retry (or a second process) queues nothing twice.
    The caller commits.
    """
    values = []
    now = utcnow()
    for row in rows:
        item = {column: row.get(column) for column in _ENQUEUE_COLUMNS}
        for text_column in ("topic", "channel_ref", "link", "summary", "answer_topic"):
            item[text_column] = item[text_column] or ""
        item["subject"] = str(item["subject"])[:300]
        item["summary"] = str(item["summary"])[:300]
        item["channel"] = DeliveryChannel(str(item["channel"])).value
        item["tier"] = int(item["tier"] or 0)
        item["next_attempt_at"] = item["next_attempt_at"] or now
        values.append(item)
    return insert_ignoring_conflicts(
        Delivery.__table__,  # type: ignore[arg-type]
        values,
        columns=_ENQUEUE_COLUMNS,
        conflict=["dedupe_key"],
        shared={
            "status": DeliveryStatus.pending.value,
            "attempts": 0,
            "created_at": now,
        },
    )


# ---------------------------------------------------------------- what comes back from channels


def stop_chain(chain_key: str) -> int:
    """The person opened or answered: the later steps of this message's escalation are not
    needed. Returns how many waiting rows were skipped (a row already being sent goes out)."""
    result = db.session.execute(
        sa.update(Delivery)
        .where(
            Delivery.chain_key == chain_key,
            Delivery.tier > 0,
            Delivery.status == DeliveryStatus.pending,
        )
        .values(status=DeliveryStatus.skipped, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def stop_chains(topic: str, topic_id: int, supporter_id: int) -> int:
    """stop_chain for every message of one topic to one supporter (an alert's first call, its
    update and its reminder all stop once the person has opened the page)."""
    result = db.session.execute(
        sa.update(Delivery)
        .where(
            Delivery.topic == topic,
            Delivery.topic_id == topic_id,
            Delivery.supporter_id == supporter_id,
            Delivery.chain_key.is_not(None),
            Delivery.tier > 0,
            Delivery.status == DeliveryStatus.pending,
        )
        .values(status=DeliveryStatus.skipped, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def record_opened(
    topic: str, topic_id: int, supporter_id: int, channel: DeliveryChannel | None
) -> None:
    """The supporter opened the page a message of `topic` pointed at, from `channel` (None:
    not known, e.g. typed or bookmarked). Stamps the first opening on that channel's sent
    messages and stops the escalation. The caller commits."""
    now = utcnow()
    if channel is not None:
        db.session.execute(
            sa.update(Delivery)
            .where(
                Delivery.topic == topic,
                Delivery.topic_id == topic_id,
                Delivery.supporter_id == supporter_id,
                Delivery.channel == channel,
                Delivery.status == DeliveryStatus.sent,
                Delivery.opened_at.is_(None),
            )
            .values(opened_at=now)
            .execution_options(synchronize_session=False)
        )
    stop_chains(topic, topic_id, supporter_id)


def record_answer(delivery: Delivery, answer: Answer) -> bool:
    """An answer that came back on the channel of `delivery` (a LINE postback, a voice digit):
    handed to the domain's handler for its topic, stamped on the delivery, and the escalation
    stopped. False when the message asked for no answer or nobody handles its topic. The
    caller commits."""
    parsed = parse_answer_topic(delivery.answer_topic)
    if parsed is None or delivery.supporter_id is None:
        return False
    topic, topic_id = parsed
    handler = answer_handler(topic)
    if handler is None:
        return False
    recorded = handler(topic_id, delivery.supporter_id, answer, DeliveryChannel(delivery.channel))
    if recorded:
        now = utcnow()
        if delivery.answered_at is None:
            delivery.answered_at = now
        if delivery.opened_at is None:
            delivery.opened_at = now
        if delivery.chain_key:
            stop_chain(delivery.chain_key)
    return recorded


def record_delivered(provider_ref: str) -> Delivery | None:
    """The channel reported the message with this provider id as delivered (an SMS status
    callback, a call answered). The caller commits."""
    delivery = db.session.scalar(sa.select(Delivery).where(Delivery.provider_ref == provider_ref))
    if delivery is not None and delivery.delivered_at is None:
        delivery.delivered_at = utcnow()
    return delivery


def record_undelivered(provider_ref: str, reason: str, *, gone: bool = False) -> Delivery | None:
    """The channel reported that the message with this provider id did not arrive (an SMS
    undelivered, a call not answered): recorded as the delivery's failure with its reason, so
    the coordinator sees who could not be reached; `gone` also switches that channel of the
    person off (the number does not exist). The caller commits."""
    delivery = db.session.scalar(sa.select(Delivery).where(Delivery.provider_ref == provider_ref))
    if delivery is None or delivery.delivered_at is not None:
        return delivery  # a late report of a message that did arrive changes nothing
    delivery.status = DeliveryStatus.failed
    delivery.last_error = reason[:1000]
    if gone and delivery.channel_ref:
        handler = address_gone_handler(DeliveryChannel(delivery.channel))
        if handler is not None:
            handler(delivery.channel_ref, reason)
    return delivery


def skip_pending_deliveries(supporter_id: int, channel_ref: str) -> int:
    """Withdraw the messages still waiting for one of a person's channels (the channel was
    removed); returns how many. A message being sent at this moment still goes out."""
    result = db.session.execute(
        sa.update(Delivery)
        .where(
            Delivery.supporter_id == supporter_id,
            Delivery.channel_ref == channel_ref,
            Delivery.status == DeliveryStatus.pending,
        )
        .values(status=DeliveryStatus.skipped, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
