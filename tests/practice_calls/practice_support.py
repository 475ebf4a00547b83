"""Helpers of the practice-call tests: a drill with participants on mixed channels, the outbox
drained through the real dispatcher, time moved on for waiting escalation steps, and the
reach table read back from the page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.drills.models import Participant
from watchnet.jobs.deliveries import deliver_due_notifications
from watchnet.notifications.models import Delivery, DeliveryStatus
from watchnet.practice_calls.models import PracticeCall, PracticeCallRecipient

# The chain the end-to-end tests rehearse: e-mail first, the webhook 5 minutes later for
# whoever has not opened the e-mail's link by then.
PRACTICE_CHAINS = ["practice_call=email > webhook", "*=push line email webhook > sms > voice"]


def add_participants(drill: Any, supporters: list[Any]) -> None:
    for s in supporters:
        db.session.add(Participant(drill_id=drill.id, supporter_id=s.id))
    db.session.commit()


def deliver_all() -> int:
    """Run the dispatcher until nothing is due; returns how many messages it handled."""
    total = 0
    for _ in range(20):
        handled = deliver_due_notifications(batch=200)
        total += handled
        if not handled:
            return total
    raise AssertionError("the outbox did not drain")


def let_time_pass(call_id: int, minutes: float = 6) -> int:
    """The waiting messages of the call fall due as if `minutes` had passed (the dispatcher
    reads the clock; the rows carry when they are due)."""
    db.session.expire_all()
    result = db.session.execute(
        sa.update(Delivery)
        .where(
            Delivery.topic == "practice_call",
            Delivery.topic_id == call_id,
            Delivery.status == DeliveryStatus.pending,
            Delivery.next_attempt_at <= utcnow() + timedelta(minutes=minutes),
        )
        .values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    return int(result.rowcount or 0)


def the_call() -> PracticeCall:
    db.session.expire_all()
    calls = db.session.scalars(sa.select(PracticeCall)).all()
    assert len(calls) == 1, calls
    return calls[0]


def recipient_of(call_id: int, supporter_id: int) -> PracticeCallRecipient:
    db.session.expire_all()
    found = db.session.scalar(
        sa.select(PracticeCallRecipient).where(
            PracticeCallRecipient.practice_call_id == call_id,
            PracticeCallRecipient.supporter_id == supporter_id,
        )
    )
    assert found is not None
    return found


def deliveries_of(call_id: int, supporter_id: int) -> dict[str, Delivery]:
    db.session.expire_all()
    rows = db.session.scalars(
        sa.select(Delivery).where(
            Delivery.topic == "practice_call",
            Delivery.topic_id == call_id,
            Delivery.supporter_id == supporter_id,
        )
    ).all()
    return {str(d.channel.value if hasattr(d.channel, "value") else d.channel): d for d in rows}


def table_html(html: str, table_id: str) -> str:
    match = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert match, f"no table #{table_id}"
    return match.group(0)


def channel_counts(html: str, table_id: str = "reach-channels") -> dict[str, dict[str, int]]:
    """{"email": {"sent": 3, "failed": 1, ...}, ...} from a reach table on a page."""
    counts: dict[str, dict[str, int]] = {}
    for row in re.finditer(
        r'<tr data-channel="(\w+)">(.*?)</tr>', table_html(html, table_id), re.S
    ):
        cells = re.findall(r'<td class="(\w+)">(\d+)</td>', row.group(2))
        counts[row.group(1)] = {name: int(value) for name, value in cells}
    return counts


def unreached_states(html: str, table_id: str = "reach-unreached") -> dict[int, str]:
    """{supporter id: state} of the "could not be reached" table ({} when everyone was)."""
    if f'id="{table_id}"' not in html:
        return {}
    rows = re.findall(r'<tr data-supporter="(\d+)" data-state="(\w+)">', table_html(html, table_id))
    return {int(sid): state for sid, state in rows}


def link_in(text: str) -> str:
    match = re.search(r"https?://\S+/p/[A-Za-z0-9_-]+\?via=\w+", text)
    assert match, text
    return match.group(0)
