"""The live-event log: one call to record what happened in a drill for open streams.

Written in the same transaction as the row it reports; every web worker's SSE stream reads
new rows by id, so updates flow through the database.
"""

from __future__ import annotations

from typing import Any

from watchnet.core.extensions import db
from watchnet.tracking.models import LiveEvent

# Audiences: "" = the drill's staff; "drill" = every participant's phone and staff;
# "supporter:<id>" = one phone.
STAFF = ""
DRILL = "drill"


def supporter_audience(supporter_id: int) -> str:
    """The audience string for one supporter's phone."""
    return f"supporter:{supporter_id}"


def emit(drill_id: int, kind: str, payload: dict[str, Any], audience: str = "") -> LiveEvent:
    """Add a LiveEvent to the session and flush (so it has an id); the caller commits."""
    event = LiveEvent(drill_id=drill_id, kind=kind, payload=payload, audience=audience)
    db.session.add(event)
    db.session.flush()
    return event
