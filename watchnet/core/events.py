"""The event log: how live pages learn what changed, through the database.

A domain keeps its events in a table of its own (tracking's `live_event`, per drill; alerts'
`alert_event`, per alert, which is also the alert's timeline and the history its CAP messages
reference): each row has an id, a kind, a JSON payload and an audience ("staff",
"supporter:<id>" ...). This module is the one mechanism over such a table:

- `emit` writes an event in the caller's transaction (flushed for its id; the caller commits),
  so a page never hears of a change that was rolled back;
- `read_after` gives what is new after an id for some audiences: the server-sent-event streams
  (core/sse.py) poll it;
- `latest_id` is the newest id: a polling page's version, or a snapshot's high-water mark.

Every web worker (and every process on PostgreSQL) reads the same rows, so an update reaches
the pages served by any of them. Knows no domain: the tables are given by the domains.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from watchnet.core.extensions import Model, db

EventRow = TypeVar("EventRow", bound=Model)

# A poll reads at most this many rows; more than a stream's id look-back (core/sse.py), so a
# poll always reaches past what it sent already.
READ_LIMIT = 500


def supporter_audience(supporter_id: int) -> str:
    """The audience of one supporter's page or phone."""
    return f"supporter:{supporter_id}"


@dataclass(frozen=True)
class LoggedEvent:
    """One event as a stream sends it."""

    id: int
    kind: str
    payload: dict[str, Any]


class EventLog(Generic[EventRow]):
    """The event log kept in one table.

    `scope` names the column of what the events are about (e.g. "drill_id"), `created` the
    column of when they were written; the table also has id, kind, payload and audience.
    """

    def __init__(self, model: type[EventRow], *, scope: str, created: str) -> None:
        self.model = model
        self._scope_name = scope
        self._scope: Any = getattr(model, scope)
        self._created: Any = getattr(model, created)
        self._id: Any = getattr(model, "id")  # noqa: B009 - a column of the given table
        self._audience: Any = getattr(model, "audience")  # noqa: B009

    def emit(
        self, scope_id: int, kind: str, payload: dict[str, Any], audience: str, **columns: Any
    ) -> EventRow:
        """Add an event and flush (so it has an id); the caller commits."""
        event = self.model(
            **{self._scope_name: scope_id}, kind=kind, payload=payload, audience=audience, **columns
        )
        db.session.add(event)
        db.session.flush()
        return event

    def latest_id(self, scope_id: int, audiences: Collection[str] | None = None) -> int:
        """The newest event's id (0 when none), of some audiences or of all."""
        query = sa.select(sa.func.max(self._id)).where(self._scope == scope_id)
        if audiences is not None:
            query = query.where(self._audience.in_(list(audiences)))
        return int(db.session.scalar(query) or 0)

    def read_after(
        self,
        scope_id: int,
        audiences: Collection[str],
        after_id: int | None,
        *,
        since: datetime | None = None,
        limit: int = READ_LIMIT,
    ) -> list[LoggedEvent]:
        """Events for the audiences after an id (None: from the start), written at or after
        `since` when given; oldest first."""
        model: Any = self.model
        query = sa.select(self._id, model.kind, model.payload).where(
            self._scope == scope_id, self._audience.in_(list(audiences))
        )
        if after_id is not None:
            query = query.where(self._id > after_id)
        if since is not None:
            query = query.where(self._created >= since)
        rows = db.session.execute(query.order_by(self._id).limit(limit))
        return [LoggedEvent(int(row[0]), str(row[1]), dict(row[2] or {})) for row in rows]
