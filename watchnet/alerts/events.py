"""The alert's timeline and live updates: one call to record what happened.

Written in the same transaction as the change it reports (the caller commits); the
coordinator's page and every recipient's page read new AlertEvent rows by id, so updates flow
through the database to every web worker.
"""

from __future__ import annotations

from typing import Any

from watchnet.alerts.models import AlertEvent
from watchnet.core.extensions import db

# Audiences: the alert's coordinators; every recipient's page (and the coordinators); one
# supporter's page.
STAFF = "staff"
ALL = "all"


def supporter_audience(supporter_id: int) -> str:
    """The audience string for one supporter's page."""
    return f"supporter:{supporter_id}"


def emit_alert_event(
    alert_id: int,
    kind: str,
    payload: dict[str, Any],
    *,
    audience: str = STAFF,
    actor: str = "system",
) -> AlertEvent:
    """Add an AlertEvent and flush (so it has an id); the caller commits. Payloads carry no
    personal detail: pages that need the description read it from the alert."""
    event = AlertEvent(
        alert_id=alert_id, kind=kind, payload=payload, audience=audience, actor=actor[:64]
    )
    db.session.add(event)
    db.session.flush()
    return event
