"""The scheduler process: `watchnet scheduler --once` against the test database, the lock that
keeps a second scheduler from starting, and the APScheduler settings that keep late jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.drills.models import Drill, DrillStatus, Participant
from watchnet.notifications.models import Delivery

WATCHNET = [sys.executable, "-m", "watchnet.cli"]


def _env(database_url: str, instance: Path) -> dict[str, str]:
    return dict(os.environ, DATABASE_URL=database_url, WATCHNET_INSTANCE_PATH=str(instance))


def _scheduler_once(database_url: str, instance: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WATCHNET, "scheduler", "--once"],
        env=_env(database_url, instance),
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_the_scheduler_command_starts_due_drills_and_queues_reminders_once(
    district, make_drill, make_supporter, database_url, tmp_path
):
    now = utcnow()
    due = make_drill(
        district,
        title="始まる訓練",
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=2),
        is_auto_scheduled=True,
    )
    tomorrow = make_drill(district, title="明日の訓練", starts_at=now + timedelta(hours=20))
    supporter = make_supporter(district, email="yamada@example.jp")
    db.session.add(Participant(drill_id=tomorrow.id, supporter_id=supporter.id))
    db.session.commit()

    done = _scheduler_once(database_url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "advance_drill_lifecycle: 1" in done.stdout
    assert "send_due_reminders: 1" in done.stdout
    db.session.expire_all()
    assert db.session.get(Drill, due.id).status == DrillStatus.live
    assert db.session.get(Drill, tomorrow.id).reminder_sent_at is not None
    assert db.session.scalar(sa.select(Delivery.address)) == "yamada@example.jp"

    # The state is in the rows: a restarted scheduler does nothing twice.
    again = _scheduler_once(database_url, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "advance_drill_lifecycle: 0" in again.stdout
    assert "send_due_reminders: 0" in again.stdout
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 1


def _start_scheduler(database_url: str, instance: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*WATCHNET, "scheduler"],
        env=_env(database_url, instance),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "scheduler started" in line:
            return proc
        if not line and proc.poll() is not None:
            break
    proc.kill()
    pytest.fail("the scheduler did not start")


def test_a_second_scheduler_refuses_to_start_while_one_holds_the_lock(
    district, make_drill, database_url, tmp_path
):
    first = _start_scheduler(database_url, tmp_path)
    try:
        second = _scheduler_once(database_url, tmp_path)
        assert second.returncode != 0
        assert "another scheduler is already running" in second.stderr
        assert second.stdout == ""  # it ran no job
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(30)
    assert first.returncode == 0
    # Once the first has stopped, the lock is free again.
    third = _scheduler_once(database_url, tmp_path)
    assert third.returncode == 0, third.stderr


def test_the_running_scheduler_starts_a_drill_made_due_after_it_started(
    district, make_drill, database_url, tmp_path
):
    first = _start_scheduler(database_url, tmp_path)
    try:
        drill = make_drill(
            district, starts_at=utcnow() - timedelta(seconds=5), is_auto_scheduled=True
        )
        deadline = time.monotonic() + 40  # the lifecycle job runs every 15 s
        while time.monotonic() < deadline:
            db.session.expire_all()
            if db.session.get(Drill, drill.id).status == DrillStatus.live:
                break
            time.sleep(0.5)
        assert db.session.get(Drill, drill.id).status == DrillStatus.live
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(30)


def test_jobs_run_late_rather_than_never_and_never_overlap(app: Any):
    from watchnet.scheduler import build_scheduler

    scheduler = build_scheduler(app)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {
        "advance_drill_lifecycle",
        "send_due_reminders",
        "widen_due_alerts",
        "remind_unanswered_recipients",
        "escalate_short_searches",
        "purge_closed_alerts",
    }
    for job in jobs.values():
        assert job.coalesce is True
        assert job.misfire_grace_time is None
        assert job.max_instances == 1
    assert jobs["advance_drill_lifecycle"].trigger.interval == timedelta(seconds=15)
    assert jobs["send_due_reminders"].trigger.interval == timedelta(seconds=60)


def test_a_failing_job_is_logged_and_the_scheduler_goes_on(app: Any, caplog):
    from watchnet.scheduler import in_app_context

    def broken() -> int:
        raise RuntimeError("database went away")

    run = in_app_context(app, broken, "broken")
    assert run() == 0
    assert "job broken failed" in caplog.text
