"""The one event log and the one server-sent-event loop (core/events.py, core/sse.py), as the
drill's phones and live view use them; the pages' own tests cover them end to end."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from watchnet.core.dbtypes import utcnow
from watchnet.core.events import LoggedEvent
from watchnet.core.extensions import db
from watchnet.core.sse import event_stream
from watchnet.tracking.events import DRILL, LIVE_EVENTS, STAFF, phone_reader, supporter_audience


def _messages(stream: Any) -> list[dict[str, str]]:
    """The stream's messages as {field: value}; a comment as {"comment": text}."""
    out = []
    for chunk in stream:
        for block in chunk.split("\n\n"):
            if not block:
                continue
            message: dict[str, str] = {}
            for line in block.split("\n"):
                name, _sep, value = line.partition(": ")
                message["comment" if name == "" else name] = value
            out.append(message)
    return out


def _stream(read: Any, last_id: int | None, lifetime_s: float = 0.0) -> list[dict[str, str]]:
    return _messages(
        event_stream(
            read, last_id, lifetime_s=lifetime_s, poll_s=0.05, heartbeat_s=0.0, retry_ms=1000
        )
    )


def test_the_log_gives_what_came_after_an_id_to_the_audiences_asked(
    make_drill: Any, district: Any
) -> None:
    drill_id = make_drill(district).id
    first = LIVE_EVENTS.emit(drill_id, "step", {"n": 1}, STAFF).id
    LIVE_EVENTS.emit(drill_id, "help_call", {"n": 2}, DRILL)
    mine = LIVE_EVENTS.emit(drill_id, "help_response", {"n": 3}, supporter_audience(7)).id
    db.session.commit()
    assert LIVE_EVENTS.latest_id(drill_id) == mine
    assert LIVE_EVENTS.latest_id(drill_id, (STAFF,)) == first
    assert LIVE_EVENTS.latest_id(drill_id + 1) == 0
    staff = LIVE_EVENTS.read_after(drill_id, (STAFF, DRILL), None)
    assert [(e.kind, e.payload) for e in staff] == [("step", {"n": 1}), ("help_call", {"n": 2})]
    assert LIVE_EVENTS.read_after(drill_id, (STAFF, DRILL), first) == [staff[1]]


def test_a_stream_sends_only_what_the_browser_has_not_seen(make_drill: Any, district: Any) -> None:
    drill_id = make_drill(district).id
    seen = LIVE_EVENTS.emit(drill_id, "step", {"n": 1}, STAFF).id
    new = LIVE_EVENTS.emit(drill_id, "step", {"n": 2}, STAFF).id
    db.session.commit()

    def read(after: int | None) -> list[LoggedEvent]:
        return LIVE_EVENTS.read_after(drill_id, (STAFF,), after)

    messages = _stream(read, seen)
    assert messages[0] == {"retry": "1000"}
    assert messages[1:] == [{"id": str(new), "event": "step", "data": '{"n":2}'}]
    assert _stream(read, new) == [{"retry": "1000"}, {"comment": "heartbeat"}]


def test_a_phone_without_last_event_id_hears_only_the_replay_window_poll_after_poll(
    make_drill: Any, district: Any
) -> None:
    drill_id = make_drill(district).id
    old = LIVE_EVENTS.emit(drill_id, "help_call", {"n": "old"}, DRILL)
    old.created_at = utcnow() - timedelta(minutes=30)
    LIVE_EVENTS.emit(drill_id, "help_call", {"n": "recent"}, DRILL)
    db.session.commit()
    # Several polls: once the recent call moved the stream's id on, the old call (inside the
    # id look-back) must still not come.
    messages = _stream(phone_reader(drill_id, 7, None), None, lifetime_s=0.2)
    assert [m["data"] for m in messages if "data" in m] == ['{"n":"recent"}']
