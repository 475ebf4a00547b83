"""The alert's timeline and live updates (the `alert_event` table): one call to record what
happened.

Written in the same transaction as the change it reports (the caller commits); the
coordinator's page and every recipient's page poll for the newest id (their version) and
redraw, so updates flow through the database to every web worker. The mechanism is
core/events.py's event log; this module names the alert's audiences.
"""

from __future__ import annotations

from typing import Any

from watchnet.alerts.models import AlertEvent
from watchnet.core.events import EventLog, supporter_audience

__all__ = ["ALERT_EVENTS", "ALL", "STAFF", "emit_alert_event", "supporter_audience"]

ALERT_EVENTS = EventLog(AlertEvent, scope="alert_id", created="at")

# Audiences: the alert's coordinators; every recipient's page (and the coordinators); one
# supporter's page.
STAFF = "staff"
ALL = "all"


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
    return ALERT_EVENTS.emit(alert_id, kind, payload, audience, actor=actor[:64])
