"""A drill's live events (the `live_event` table) for open streams: the organizers' live view
and each participant's phone. The mechanism is core/events.py's event log; this module names
the drill's audiences and what a phone hears."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from watchnet.core.dbtypes import utcnow
from watchnet.core.events import EventLog, LoggedEvent, supporter_audience
from watchnet.tracking.models import LiveEvent

__all__ = ["DRILL", "LIVE_EVENTS", "STAFF", "emit", "supporter_audience"]

LIVE_EVENTS = EventLog(LiveEvent, scope="drill_id", created="created_at")

# Audiences: "" = the drill's staff; "drill" = every participant's phone and staff;
# "supporter:<id>" = one phone.
STAFF = ""
DRILL = "drill"
STAFF_AUDIENCES = (STAFF, DRILL)

# A phone that opens its stream without Last-Event-ID still hears of a help call made this
# recently (it may have been reloading the page when the call went out).
PHONE_REPLAY = timedelta(minutes=10)


def emit(drill_id: int, kind: str, payload: dict[str, Any], audience: str = "") -> LiveEvent:
    """Add a LiveEvent to the session and flush (so it has an id); the caller commits."""
    return LIVE_EVENTS.emit(drill_id, kind, payload, audience)


def phone_audiences(supporter_id: int) -> tuple[str, str]:
    """The LiveEvent audiences one phone hears."""
    return supporter_audience(supporter_id), DRILL


def phone_reader(
    drill_id: int, supporter_id: int, last_id: int | None
) -> Callable[[int | None], Sequence[LoggedEvent]]:
    """What a phone's stream reads each poll; without Last-Event-ID, the replay window."""
    since: datetime | None = utcnow() - PHONE_REPLAY if last_id is None else None
    audiences = phone_audiences(supporter_id)

    def read(after_id: int | None) -> Sequence[LoggedEvent]:
        return LIVE_EVENTS.read_after(drill_id, audiences, after_id, since=since)

    return read
