"""What the organizer's live view shows: a snapshot of a drill, and the server-sent-event stream
of what changes after it.

Everything is read from the database, so a stream served by any web worker (or any app process
on PostgreSQL) sees what every other worker wrote. The stream polls in short transactions and
hands its connection back to the pool between polls.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict

import sqlalchemy as sa

from watchnet.core.dbtypes import utcnow
from watchnet.core.events import LoggedEvent
from watchnet.core.extensions import db
from watchnet.core.sse import event_stream, sse_message
from watchnet.drills.models import Drill, Participant, Team
from watchnet.people.models import Supporter
from watchnet.tracking.events import LIVE_EVENTS, STAFF_AUDIENCES
from watchnet.tracking.models import (
    EncounterStep,
    HelpCall,
    HelpResponse,
    LatestPosition,
    LiveEvent,
    PositionReport,
)
from watchnet.tracking.services import help_resolved_payload

FEED_KINDS = ("step", "help_call", "note")
FEED_SIZE = 50
TRACK_POINTS = 200
NO_TEAM_COLOR = "#666666"
# Rows written by another worker can commit slightly out of order; look back a little and
# skip what was already sent, so none is missed.
POSITION_LOOKBACK = timedelta(seconds=3)


@dataclass(frozen=True)
class Member:
    """A participant as the live view shows them."""

    supporter_id: int
    name: str
    team_id: int | None
    team_name: str
    color: str


def drill_members(drill_id: int) -> dict[int, Member]:
    """Participants of a drill with their team, by supporter id."""
    rows = db.session.execute(
        sa.select(Participant.supporter_id, Supporter.name, Team.id, Team.name, Team.color)
        .join(Supporter, Supporter.id == Participant.supporter_id)
        .outerjoin(Team, Team.id == Participant.team_id)
        .where(Participant.drill_id == drill_id)
        .order_by(Team.id.is_(None), Team.id, Supporter.name_kana, Supporter.id)
    )
    return {
        sid: Member(sid, name, team_id, team_name or "", color or NO_TEAM_COLOR)
        for sid, name, team_id, team_name, color in rows
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class PositionPayload(TypedDict):
    """One participant's latest position in the live view's JSON (snapshot and SSE)."""

    supporter_id: int
    name: str
    team_id: int | None
    team_name: str
    color: str
    lat: float | None  # None: a participant who has not sent a position yet
    lon: float | None
    accuracy_m: float | None
    recorded_at: str | None  # ISO time


def position_payload(row: LatestPosition, member: Member | None) -> PositionPayload:
    """One participant's latest position, as sent to the live view."""
    return {
        "supporter_id": row.supporter_id,
        "name": member.name if member else "",
        "team_id": member.team_id if member else None,
        "team_name": member.team_name if member else "",
        "color": member.color if member else NO_TEAM_COLOR,
        "lat": row.lat,
        "lon": row.lon,
        "accuracy_m": row.accuracy_m,
        "recorded_at": _iso(row.recorded_at),
    }


def _tracks(drill_id: int) -> dict[str, list[list[float | str]]]:  # [lat, lon, ISO time]
    ranked = (
        sa.select(
            PositionReport.supporter_id,
            PositionReport.lat,
            PositionReport.lon,
            PositionReport.recorded_at,
            sa.func.row_number()
            .over(
                partition_by=PositionReport.supporter_id, order_by=PositionReport.recorded_at.desc()
            )
            .label("n"),
        )
        .where(PositionReport.drill_id == drill_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(ranked.c.supporter_id, ranked.c.lat, ranked.c.lon, ranked.c.recorded_at)
        .where(ranked.c.n <= TRACK_POINTS)
        .order_by(ranked.c.supporter_id, ranked.c.recorded_at)
    )
    tracks: dict[str, list[list[float | str]]] = {}
    for sid, lat, lon, recorded_at in rows:
        # recorded_at comes back raw from a subquery on SQLite; normalise through the type.
        at = (
            recorded_at
            if isinstance(recorded_at, datetime)
            else datetime.fromisoformat(str(recorded_at))
        )
        at = at if at.tzinfo else at.replace(tzinfo=utcnow().tzinfo)
        tracks.setdefault(str(sid), []).append([lat, lon, at.isoformat()])
    return tracks


def _teams_through(drill_id: int) -> dict[int, list[int]]:
    team = sa.func.coalesce(EncounterStep.team_id, Participant.team_id)
    rows = db.session.execute(
        sa.select(EncounterStep.checkpoint_id, team)
        .distinct()
        .outerjoin(
            Participant,
            sa.and_(
                Participant.drill_id == EncounterStep.drill_id,
                Participant.supporter_id == EncounterStep.supporter_id,
            ),
        )
        .where(
            EncounterStep.drill_id == drill_id,
            EncounterStep.checkpoint_id.is_not(None),
            team.is_not(None),
        )
    )
    through: dict[int, list[int]] = {}
    for checkpoint_id, team_id in rows:
        if checkpoint_id is not None:
            through.setdefault(checkpoint_id, []).append(team_id)
    return {cp: sorted(teams) for cp, teams in through.items()}


def _feed(drill_id: int) -> list[dict[str, Any]]:
    events = list(
        db.session.scalars(
            sa.select(LiveEvent)
            .where(
                LiveEvent.drill_id == drill_id,
                LiveEvent.kind.in_(FEED_KINDS),
                LiveEvent.audience.in_(STAFF_AUDIENCES),
            )
            .order_by(LiveEvent.id.desc())
            .limit(FEED_SIZE)
        )
    )
    help_ids = [e.payload.get("id") for e in events if e.kind == "help_call"]
    responders: dict[int, list[str]] = {}
    resolved: dict[int, dict[str, Any]] = {}
    if help_ids:
        for call_id, name in db.session.execute(
            sa.select(HelpResponse.help_call_id, HelpResponse.responder_name)
            .where(HelpResponse.help_call_id.in_(help_ids))
            .order_by(HelpResponse.answered_at, HelpResponse.id)
        ):
            responders.setdefault(call_id, []).append(name)
        resolved = {
            call.id: help_resolved_payload(call)
            for call in db.session.scalars(
                sa.select(HelpCall).where(
                    HelpCall.id.in_(help_ids), HelpCall.resolved_at.is_not(None)
                )
            )
        }
    feed = []
    for event in events:
        payload = dict(event.payload)
        if event.kind == "help_call":
            help_id = int(payload.get("id") or 0)
            payload["responders"] = responders.get(help_id, [])
            payload["resolved"] = help_id in resolved
            # How it ended (None while open): the live view shows it and offers no buttons.
            payload["ended"] = resolved.get(help_id)
        feed.append({"event_id": event.id, "kind": event.kind, "payload": payload})
    return feed


def _counts(drill_id: int) -> dict[str, int]:
    def count(stmt: sa.Select[int]) -> int:
        return int(db.session.scalar(stmt) or 0)

    return {
        "sharing": count(
            sa.select(sa.func.count())
            .select_from(LatestPosition)
            .where(LatestPosition.drill_id == drill_id)
        ),
        "steps": count(
            sa.select(sa.func.count())
            .select_from(EncounterStep)
            .where(EncounterStep.drill_id == drill_id, EncounterStep.corrects_id.is_(None))
        ),
        "open_help": count(
            sa.select(sa.func.count())
            .select_from(HelpCall)
            .where(HelpCall.drill_id == drill_id, HelpCall.resolved_at.is_(None))
        ),
    }


def live_snapshot(drill: Drill) -> dict[str, Any]:
    """Everything the live view needs to draw itself once; the stream brings what follows."""
    now = utcnow()
    # Read the high-water mark first: anything newer reaches the page through the stream
    # (at worst twice; the page skips what it already has).
    last_event_id = LIVE_EVENTS.latest_id(drill.id)
    members = drill_members(drill.id)
    latest = {
        row.supporter_id: row
        for row in db.session.scalars(
            sa.select(LatestPosition).where(LatestPosition.drill_id == drill.id)
        )
    }
    participants: list[PositionPayload] = []
    for sid, member in members.items():
        row = latest.get(sid)
        if row is not None:
            participants.append(position_payload(row, member))
        else:
            participants.append(
                {
                    "supporter_id": sid,
                    "name": member.name,
                    "team_id": member.team_id,
                    "team_name": member.team_name,
                    "color": member.color,
                    "lat": None,
                    "lon": None,
                    "accuracy_m": None,
                    "recorded_at": None,
                }
            )
    through = _teams_through(drill.id)
    return {
        "drill": {
            "id": drill.id,
            "title": drill.title,
            "status": drill.status.value,
            "started_at": _iso(drill.started_at),
            "finished_at": _iso(drill.finished_at),
        },
        "teams": [{"id": t.id, "name": t.name, "color": t.color} for t in drill.teams],
        "participants": participants,
        "tracks": _tracks(drill.id),
        "checkpoints": [
            {
                "id": cp.id,
                "name": cp.name,
                "seq": cp.seq,
                "number": number,
                "lat": cp.lat,
                "lon": cp.lon,
                "teams_through": through.get(cp.id, []),
            }
            for number, cp in enumerate(drill.checkpoints, start=1)
        ],
        "feed": _feed(drill.id),
        "counts": _counts(drill.id),
        "last_event_id": last_event_id,
        "server_time": now.isoformat(),
    }


# ---------------------------------------------------------------------------------------------
# The stream


def parse_since(raw: str | None) -> datetime | None:
    """An ISO time from the query string (aware), or None when absent or unreadable."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value if value.tzinfo else None


class MovedPositions:
    """Each poll's "position" messages: participants whose latest position changed since the
    last poll (or since the snapshot the page drew). Rows written by another worker can commit
    slightly out of order, so each poll looks POSITION_LOOKBACK back and skips what it sent."""

    def __init__(self, drill_id: int, since: datetime | None) -> None:
        self.drill_id = drill_id
        self.watermark = since or utcnow()
        self.members: dict[int, Member] | None = None
        self.sent: dict[int, datetime] = {}

    def __call__(self) -> list[str]:
        if self.members is None:
            self.members = drill_members(self.drill_id)
        moved = list(
            db.session.scalars(
                sa.select(LatestPosition)
                .where(
                    LatestPosition.drill_id == self.drill_id,
                    LatestPosition.received_at > self.watermark - POSITION_LOOKBACK,
                )
                .order_by(LatestPosition.received_at)
            )
        )
        if any(row.supporter_id not in self.members for row in moved):
            self.members = drill_members(self.drill_id)  # someone joined meanwhile
        out = []
        for row in moved:
            self.watermark = max(self.watermark, row.received_at)
            if self.sent.get(row.supporter_id) == row.received_at:
                continue
            self.sent[row.supporter_id] = row.received_at
            payload = position_payload(row, self.members.get(row.supporter_id))
            out.append(sse_message(payload, "position"))
        return out


def staff_event_stream(
    drill_id: int,
    after_id: int,
    since: datetime | None,
    *,
    max_s: float = 300.0,
    poll_s: float = 0.5,
    heartbeat_s: float = 15.0,
    retry_ms: int = 2000,
) -> Iterator[str]:
    """SSE messages for the drill's staff until max_s has passed (core/sse.py's loop): events
    for staff newer than after_id, and "position" messages for participants who moved."""

    def read(after: int | None) -> Sequence[LoggedEvent]:
        return LIVE_EVENTS.read_after(drill_id, STAFF_AUDIENCES, after)

    return event_stream(
        read,
        after_id,
        lifetime_s=max_s,
        poll_s=poll_s,
        heartbeat_s=heartbeat_s,
        retry_ms=retry_ms,
        also=MovedPositions(drill_id, since),
    )
