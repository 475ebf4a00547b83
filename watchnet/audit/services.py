"""Writing the audit record: what someone did (record_audit, in the transaction of the change)
and what personal data someone saw (record_read, throttled; see audit/reads.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from flask_login import current_user

from watchnet.audit.models import AuditEvent
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db

# A page that is reloaded or polls (the alert dashboard asks every few seconds) is recorded
# once per viewer, action, subject and detail in this interval: the record still says who
# had it open and when, without a row per poll.
READ_INTERVAL = timedelta(minutes=1)


def current_actor() -> str:
    """The acting principal of this request, or "system" outside one."""
    if has_request_context() and current_user and current_user.is_authenticated:
        return (
            str(current_user.get_id()).rsplit(":", 1)[0]
            if current_user.is_supporter
            else str(current_user.get_id())
        )
    return "system"


def record_audit(
    action: str,
    subject_type: str = "",
    subject_id: int | None = None,
    district_id: int | None = None,
    actor: str | None = None,
    **detail: Any,
) -> AuditEvent:
    """Add an audit event to the current transaction (the caller commits)."""
    event = AuditEvent(
        actor=actor or current_actor(),
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        district_id=district_id,
        remote_addr=(request.remote_addr or "") if has_request_context() else "",
        detail=detail,
    )
    db.session.add(event)
    return event


def record_read(
    action: str,
    subject_type: str,
    subject_id: int | None,
    district_id: int | None = None,
    *,
    throttle: bool = True,
    **detail: Any,
) -> AuditEvent | None:
    """Record that the current principal saw personal data (who saw what, when), in the
    current transaction; the caller commits.

    With `throttle`, nothing is added when the same viewer recorded the same action, subject
    and detail within READ_INTERVAL (returns None). Without it every read is a row: exports,
    which carry the data out of the app. Two requests racing may both add one; the throttle
    keeps polling from flooding the record, it is not a uniqueness rule.
    """
    actor = current_actor()
    if throttle:
        same_subject = (
            AuditEvent.subject_id.is_(None)
            if subject_id is None
            else AuditEvent.subject_id == subject_id
        )
        # ix_audit_event_subject (subject_type, subject_id) finds the few candidate rows.
        recent = db.session.scalars(
            sa.select(AuditEvent.detail).where(
                AuditEvent.subject_type == subject_type,
                same_subject,
                AuditEvent.action == action,
                AuditEvent.actor == actor,
                AuditEvent.at >= utcnow() - READ_INTERVAL,
            )
        )
        if any((seen or {}) == detail for seen in recent):
            return None
    return record_audit(action, subject_type, subject_id, district_id, actor=actor, **detail)
