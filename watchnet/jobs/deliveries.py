"""Delivering the outbox: claim due rows atomically, send each once, record the outcome."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from watchnet.dbtypes import utcnow
from watchnet.extensions import db
from watchnet.notifications.models import Delivery, DeliveryChannel, DeliveryStatus
from watchnet.notifications.transports import SmtpSettings, TransportError, transport_for
from watchnet.people.models import NotificationAddress


def smtp_settings() -> SmtpSettings:
    """SMTP settings from the app config."""
    cfg = current_app.config
    return SmtpSettings(
        host=cfg["SMTP_HOST"], port=int(cfg["SMTP_PORT"]), username=cfg.get("SMTP_USERNAME"),
        password=cfg.get("SMTP_PASSWORD"), starttls=bool(cfg.get("SMTP_STARTTLS")),
        sender=cfg["MAIL_FROM"], timeout_s=float(cfg["SMTP_TIMEOUT_S"]),
    )


def _due_condition(now: sa.ColumnElement | object) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(Delivery.status == DeliveryStatus.pending, Delivery.next_attempt_at <= now),
        # A claim whose dispatcher died is taken over once it expires.
        sa.and_(Delivery.status == DeliveryStatus.sending, Delivery.claimed_until < now),
    )


def claim_due_deliveries(batch: int = 50) -> list[Delivery]:
    """Mark up to `batch` due deliveries as ours with a conditional UPDATE and return them."""
    now = utcnow()
    token = uuid.uuid4().hex
    due = sa.select(Delivery.id).where(_due_condition(now)).order_by(Delivery.id).limit(batch)
    if db.engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(due))
    if not ids:
        db.session.commit()
        return []
    claim_s = int(current_app.config["DELIVERY_CLAIM_S"])
    db.session.execute(
        sa.update(Delivery)
        .where(Delivery.id.in_(ids), _due_condition(now))
        .values(status=DeliveryStatus.sending, claim_token=token,
                claimed_until=now + timedelta(seconds=claim_s), attempts=Delivery.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return list(db.session.scalars(
        sa.select(Delivery).where(Delivery.claim_token == token,
                                  Delivery.status == DeliveryStatus.sending)
        .order_by(Delivery.id)
    ))


def backoff_s(attempts: int) -> int:
    """Seconds before the next try: base × 2^(attempts-1), capped."""
    cfg = current_app.config
    return int(min(cfg["DELIVERY_BACKOFF_S"] * 2 ** max(0, attempts - 1),
                   cfg["DELIVERY_BACKOFF_MAX_S"]))


def _record_failure(delivery: Delivery, exc: TransportError) -> None:
    max_attempts = int(current_app.config["DELIVERY_MAX_ATTEMPTS"])
    if exc.permanent or delivery.attempts >= max_attempts:
        delivery.status = DeliveryStatus.failed
        prefix = "" if exc.permanent else f"gave up after {delivery.attempts} attempts: "
        delivery.last_error = (prefix + exc.reason)[:1000]
        if exc.permanent and delivery.notification_address_id is not None:
            # A broken address would fail every future message too: switch it off, say why.
            address = db.session.get(NotificationAddress, delivery.notification_address_id)
            if address is not None:
                address.is_enabled = False
                address.disabled_reason = exc.reason[:500]
    else:
        delivery.status = DeliveryStatus.pending
        delivery.last_error = exc.reason[:1000]
        delivery.next_attempt_at = utcnow() + timedelta(seconds=backoff_s(delivery.attempts))
    delivery.claim_token = None
    delivery.claimed_until = None


def deliver_due_notifications(batch: int = 50) -> int:
    """Claim and send one batch; returns how many were handled (sent or recorded as failed)."""
    deliveries = claim_due_deliveries(batch)
    smtp = smtp_settings()
    for delivery in deliveries:
        transport = transport_for(DeliveryChannel(delivery.channel), smtp)
        try:
            transport.send(delivery)
        except TransportError as exc:
            _record_failure(delivery, exc)
        else:
            delivery.status = DeliveryStatus.sent
            delivery.sent_at = utcnow()
            delivery.last_error = None
            delivery.claim_token = None
            delivery.claimed_until = None
        # One commit per message keeps the window between "sent" and "recorded" small.
        db.session.commit()
    return len(deliveries)
