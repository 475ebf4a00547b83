"""Writing the audit record."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from watchnet.audit.models import AuditEvent
from watchnet.core.extensions import db


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
