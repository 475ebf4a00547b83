"""The one server-sent-event loop: a live page's stream of events from an event log
(core/events.py), for a phone's field page and the organizer's live view alike.

Each poll is one short transaction: read what is new, send it, hand the connection back to
the pool (the next poll must see what other workers committed meanwhile, and an idle stream
must not hold a connection). With a lifetime of 0 (the default, STREAM_RETRY_MS and the
*_LIFETIME_S / *_MAX_S settings) a stream answers what is new and closes, and the browser
reconnects with Last-Event-ID, so no worker is held by an open page.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence

from flask import Response, request, stream_with_context

from watchnet.core.events import LoggedEvent
from watchnet.core.extensions import db

# In-flight transactions (PostgreSQL, several workers) may commit a smaller id after a larger
# one was read: each poll looks this many ids back and skips what it already sent.
ID_LOOKBACK = 200


def sse_message(data: object, event: str | None = None, event_id: int | None = None) -> str:
    """One server-sent-event message (JSON data on one line)."""
    head = ""
    if event_id is not None:
        head += f"id: {event_id}\n"
    if event:
        head += f"event: {event}\n"
    return head + "data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n\n"


def last_event_id(query_arg: str) -> int | None:
    """The id the browser saw last: its Last-Event-ID header (on reconnecting), else a query
    argument (the page's first connection after a snapshot); None when neither is a number."""
    raw = request.headers.get("Last-Event-ID") or request.args.get(query_arg)
    return int(raw) if raw and raw.isdigit() else None


def event_stream(
    read: Callable[[int | None], Sequence[LoggedEvent]],
    last_id: int | None,
    *,
    lifetime_s: float,
    poll_s: float,
    heartbeat_s: float,
    retry_ms: int,
    also: Callable[[], list[str]] | None = None,
) -> Iterator[str]:
    """Yield SSE messages until lifetime_s has passed (at least one poll).

    `read(after_id)` gives the events after an id (None: the browser named none; the reader
    decides how far back to answer); `last_id` is what the browser saw already. `also()`, when
    given, adds messages of its own to each poll (the live view's moved positions)."""
    yield f"retry: {retry_ms}\n\n"
    floor = last_id  # the browser saw everything up to here
    sent: set[int] = set()
    started = last_beat = time.monotonic()
    try:
        while True:
            after = None if last_id is None else max(floor or 0, last_id - ID_LOOKBACK)
            out: list[str] = []
            for event in read(after):
                if event.id in sent or (floor is not None and event.id <= floor):
                    continue
                sent.add(event.id)
                # The highest id so far, so the browser's Last-Event-ID never goes back.
                last_id = max(last_id or 0, event.id)
                out.append(sse_message(event.payload, event.kind, last_id))
            if also is not None:
                out.extend(also())
            db.session.close()
            if last_id is not None:
                sent = {i for i in sent if i > last_id - ID_LOOKBACK}
            now = time.monotonic()
            if out:
                last_beat = now
                yield "".join(out)
            elif now - last_beat >= heartbeat_s:
                last_beat = now
                yield ": heartbeat\n\n"
            if time.monotonic() - started >= lifetime_s:
                break
            time.sleep(poll_s)
    finally:
        db.session.close()


def sse_response(stream: Iterator[str]) -> Response:
    """The streaming response; the view's transaction ends first, so no connection is held
    between the view and the stream's first poll."""
    db.session.close()
    return Response(
        stream_with_context(stream),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
