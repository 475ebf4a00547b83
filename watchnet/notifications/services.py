"""Writing messages to the outbox. Callers commit; nothing is sent from a web request."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from watchnet.core.bulk import insert_ignoring_conflicts
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.insert_once import insert_or_get
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
) -> Delivery:
    """Add one message to the outbox; the same dedupe_key twice gives the existing row."""
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
)


def enqueue_deliveries(rows: Iterable[Mapping[str, Any]]) -> int:
    """Add many messages to the outbox at once; returns how many were new.

    Each row is a dict of enqueue_delivery's keywords (dedupe_key, channel, address, subject,
    body; the rest optional). One INSERT ... ON CONFLICT (dedupe_key) DO NOTHING per chunk
    (watchnet.core.bulk): an alert's broadcast of thousands of messages takes a few statements
    instead of a flush per row, and a retry (or a second process) queues nothing twice.
    The caller commits.
    """
    values = []
    for row in rows:
        item = {column: row.get(column) for column in _ENQUEUE_COLUMNS}
        item["topic"] = item["topic"] or ""
        item["subject"] = str(item["subject"])[:300]
        item["channel"] = DeliveryChannel(str(item["channel"])).value
        values.append(item)
    now = utcnow()
    return insert_ignoring_conflicts(
        Delivery.__table__,  # type: ignore[arg-type]
        values,
        columns=_ENQUEUE_COLUMNS,
        conflict=["dedupe_key"],
        shared={
            "status": DeliveryStatus.pending.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
