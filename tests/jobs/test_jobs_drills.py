"""The scheduler's drill jobs: auto-scheduled drills start and end on time, exactly once, and
participants get one reminder the day before, delivered by the real dispatcher job."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from watchnet.audit.models import AuditEvent
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.drills.models import Drill, DrillStatus, Participant
from watchnet.jobs.deliveries import deliver_due_notifications
from watchnet.jobs.drills import advance_drill_lifecycle, send_due_reminders
from watchnet.notifications.models import Delivery, DeliveryStatus
from watchnet.people.models import NotificationAddress
from watchnet.tracking.lifecycle import start_drill
from watchnet.tracking.models import LiveEvent

T0 = datetime(2026, 12, 5, 0, 30, tzinfo=UTC)  # 09:30 in Tokyo


@pytest.fixture()
def auto_drill(district: Any, make_drill: Any) -> Drill:
    return make_drill(
        district,
        title="自動の訓練",
        starts_at=T0,
        ends_at=T0 + timedelta(hours=2),
        is_auto_scheduled=True,
    )


def _reload(drill: Drill) -> Drill:
    db.session.expire_all()
    return db.session.get(Drill, drill.id)


def _status_events(drill: Drill) -> list[str]:
    return [
        e.payload["status"]
        for e in db.session.scalars(
            sa.select(LiveEvent)
            .where(LiveEvent.drill_id == drill.id, LiveEvent.kind == "drill_status")
            .order_by(LiveEvent.id)
        )
    ]


def test_an_auto_scheduled_drill_waits_for_its_start_time(auto_drill):
    assert advance_drill_lifecycle(now=T0 - timedelta(seconds=1)) == 0
    assert _reload(auto_drill).status == DrillStatus.planned


def test_an_auto_scheduled_drill_starts_when_its_time_has_come_and_ends_after_its_end(auto_drill):
    assert advance_drill_lifecycle(now=T0) == 1
    drill = _reload(auto_drill)
    assert drill.status == DrillStatus.live and drill.started_at == T0
    assert advance_drill_lifecycle(now=T0 + timedelta(hours=1)) == 0
    assert advance_drill_lifecycle(now=T0 + timedelta(hours=2)) == 1
    drill = _reload(auto_drill)
    assert drill.status == DrillStatus.ended and drill.finished_at == T0 + timedelta(hours=2)
    assert _status_events(drill) == ["live", "ended"]
    actors = set(
        db.session.scalars(
            sa.select(AuditEvent.actor).where(
                AuditEvent.action.in_(["drill.started", "drill.ended"])
            )
        )
    )
    assert actors == {"system:scheduler"}


def test_a_drill_whose_whole_time_passed_while_the_scheduler_was_down_is_started_and_ended(
    auto_drill,
):
    assert advance_drill_lifecycle(now=T0 + timedelta(hours=5)) == 2
    assert _reload(auto_drill).status == DrillStatus.ended
    assert _status_events(auto_drill) == ["live", "ended"]


def test_a_drill_across_midnight_starts_and_ends_on_time(district, make_drill):
    # 23:30 to 00:30 in Tokyo: 14:30 to 15:30 UTC, the end on the next local day.
    starts = datetime(2026, 12, 5, 14, 30, tzinfo=UTC)
    drill = make_drill(
        district,
        title="夜の訓練",
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        is_auto_scheduled=True,
    )
    assert advance_drill_lifecycle(now=starts - timedelta(minutes=1)) == 0
    assert advance_drill_lifecycle(now=starts) == 1
    assert _reload(drill).status == DrillStatus.live
    # Local midnight passes: still live until 00:30.
    midnight = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
    assert advance_drill_lifecycle(now=midnight) == 0
    assert advance_drill_lifecycle(now=midnight + timedelta(minutes=29)) == 0
    assert _reload(drill).status == DrillStatus.live
    assert advance_drill_lifecycle(now=midnight + timedelta(minutes=30)) == 1
    drill = _reload(drill)
    assert drill.status == DrillStatus.ended
    assert drill.finished_at == midnight + timedelta(minutes=30)
    assert _status_events(drill) == ["live", "ended"]


def test_drills_run_by_hand_are_left_alone(district, make_drill):
    by_hand = make_drill(district, starts_at=T0, ends_at=T0 + timedelta(hours=1))
    assert advance_drill_lifecycle(now=T0 + timedelta(minutes=5)) == 0
    assert _reload(by_hand).status == DrillStatus.planned
    start_drill(by_hand, now=T0)
    db.session.commit()
    assert advance_drill_lifecycle(now=T0 + timedelta(hours=3)) == 0
    assert _reload(by_hand).status == DrillStatus.live


def test_an_auto_scheduled_drill_without_an_end_time_stays_live_until_ended_by_hand(
    district, make_drill
):
    drill = make_drill(district, starts_at=T0, ends_at=None, is_auto_scheduled=True)
    assert advance_drill_lifecycle(now=T0) == 1
    assert advance_drill_lifecycle(now=T0 + timedelta(days=1)) == 0
    assert _reload(drill).status == DrillStatus.live


def test_running_the_job_again_does_nothing_twice(auto_drill):
    assert advance_drill_lifecycle(now=T0) == 1
    assert advance_drill_lifecycle(now=T0) == 0
    assert advance_drill_lifecycle(now=T0 + timedelta(seconds=30)) == 0
    assert _status_events(auto_drill) == ["live"]


def test_two_schedulers_running_the_job_at_the_same_moment_start_the_drill_once(app, auto_drill):
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context():
                barrier.wait()
                results.append(advance_drill_lifecycle(now=T0))
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sorted(results) == [0, 1]
    assert _status_events(auto_drill) == ["live"]


def test_an_organizer_who_started_it_first_wins_over_the_scheduler(auto_drill):
    start_drill(auto_drill, now=T0 - timedelta(minutes=3))
    db.session.commit()
    assert advance_drill_lifecycle(now=T0) == 0
    assert _reload(auto_drill).started_at == T0 - timedelta(minutes=3)
    with pytest.raises(UserInputError):
        start_drill(auto_drill)
    db.session.rollback()


# ---------------------------------------------------------------------------------------------
# Reminders


@pytest.fixture()
def tomorrow_drill(
    district: Any, make_drill: Any, make_supporter: Any, webhook_sink: Any
) -> tuple[Drill, list[Any]]:
    drill = make_drill(
        district,
        title="明日の見守り訓練",
        starts_at=T0,
        ends_at=T0 + timedelta(hours=2),
        meeting_place="八幡公民館",
        contact_phone="090-1234-5678",
        contact_label="主催者（携帯）",
    )
    people = [
        make_supporter(district, name="山田 花子", email="hanako@example.jp"),
        make_supporter(district, name="佐藤 一郎", email="ichiro@example.jp"),
        make_supporter(district, name="高橋 進", email=None),
    ]
    people[1].locale = "en"  # he reads English
    db.session.add(
        NotificationAddress(
            supporter_id=people[2].id, url=webhook_sink.url("/susumu"), label="chat"
        )
    )
    db.session.add_all([Participant(drill_id=drill.id, supporter_id=p.id) for p in people])
    db.session.commit()
    return drill, people


def _deliveries() -> list[Delivery]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Delivery).order_by(Delivery.id)))


def test_no_reminder_goes_out_more_than_a_day_before(tomorrow_drill):
    drill, _people = tomorrow_drill
    assert send_due_reminders(now=T0 - timedelta(hours=24, minutes=1)) == 0
    assert _deliveries() == []
    assert _reload(drill).reminder_sent_at is None


def test_participants_get_one_reminder_the_day_before_on_each_of_their_channels(tomorrow_drill):
    drill, people = tomorrow_drill
    at = T0 - timedelta(hours=23)
    assert send_due_reminders(now=at) == 3
    assert _reload(drill).reminder_sent_at == at
    deliveries = _deliveries()
    assert sorted(d.address for d in deliveries if d.channel == "email") == [
        "hanako@example.jp",
        "ichiro@example.jp",
    ]
    assert all(d.dedupe_key.startswith(f"reminder:{drill.id}:") for d in deliveries)
    assert {d.topic_id for d in deliveries} == {drill.id}
    # Again, and again an hour later: nothing more.
    assert send_due_reminders(now=at) == 0
    assert send_due_reminders(now=at + timedelta(hours=1)) == 0
    assert len(_deliveries()) == 3


def test_drills_that_started_ended_or_are_past_get_no_reminder(
    district, make_drill, make_supporter
):
    supporter = make_supporter(district)
    live = make_drill(district, starts_at=T0 + timedelta(hours=2), status=DrillStatus.live)
    past = make_drill(district, starts_at=T0 - timedelta(hours=1))
    for drill in (live, past):
        db.session.add(Participant(drill_id=drill.id, supporter_id=supporter.id))
    db.session.commit()
    assert send_due_reminders(now=T0) == 0
    assert _deliveries() == []


def test_the_reminder_reaches_the_participants_mailbox_and_chat_through_the_dispatcher(
    tomorrow_drill, smtp_sink, webhook_sink
):
    drill, _people = tomorrow_drill
    send_due_reminders(now=T0 - timedelta(hours=20))
    assert deliver_due_notifications() == 3
    assert {d.status for d in _deliveries()} == {DeliveryStatus.sent}
    [hanako] = smtp_sink.to("hanako@example.jp")
    assert "明日の見守り訓練" in hanako["Subject"]
    body = hanako.get_body().get_content()
    assert "山田 花子" in body and "八幡公民館" in body and "09:30" in body
    assert "当日の連絡先：090-1234-5678 主催者（携帯）" in body
    [ichiro] = smtp_sink.to("ichiro@example.jp")
    assert ichiro["Subject"].startswith("Reminder:")  # he reads English
    [chat] = webhook_sink.to("/susumu")
    assert "明日の見守り訓練" in str(chat)
    # The dispatcher never sends a reminder twice.
    assert deliver_due_notifications() == 0
    assert len(smtp_sink.messages) == 2
