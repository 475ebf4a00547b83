"""The scheduler through faults, with real processes: its connections terminated (it keeps
its lease; a second one still refuses), frozen past its lease (a second one takes over with a
larger fencing token and the first, thawed, runs nothing more and exits 4), and never two jobs
at once (checked in scheduler_job_run); widening, reminders and escalation due together run
once each without deadlocks, also across restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fault_support import DatabaseOutage, exit_within, log_text, wait_until

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.jobs.models import SchedulerJobRun, SchedulerLease

pytestmark = pytest.mark.faults
WATCHNET = [sys.executable, "-m", "watchnet.cli"]
LEASE_S = 3
INITIAL_JOBS = 6  # every job runs once right at start


def _env(database_url: str, instance: Path, name: str) -> dict[str, str]:
    return dict(
        os.environ,
        DATABASE_URL=database_url,
        WATCHNET_INSTANCE_PATH=str(instance),
        WATCHNET_SCHEDULER_LEASE_S=str(LEASE_S),
        WATCHNET_HEARTBEAT_S="1",
        WATCHNET_DB_CONNECT_TIMEOUT_S="2",
        PGAPPNAME=f"wn-fault-{name}",
    )


def _start(
    database_url: str, instance: Path, name: str, *args: str
) -> tuple[subprocess.Popen[bytes], Path]:
    log = instance / f"{name}.log"
    proc = subprocess.Popen(
        [*WATCHNET, "scheduler", *args],
        env=_env(database_url, instance, name),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    return proc, log


def _runs() -> list[Any]:
    db.session.rollback()
    return list(
        db.session.execute(
            sa.select(SchedulerJobRun).order_by(SchedulerJobRun.started_at, SchedulerJobRun.id)
        ).scalars()
    )


def _ended_runs(token: int | None = None) -> int:
    return sum(1 for r in _runs() if r.ended_at is not None and (token is None or r.token == token))


def _lease() -> Any:
    db.session.rollback()
    return db.session.get(SchedulerLease, 1, populate_existing=True)


def _assert_never_two_at_once(runs: list[Any]) -> None:
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert earlier.ended_at is not None and earlier.ended_at <= later.started_at, (
            f"{earlier.job} (token {earlier.token}) still ran when {later.job} "
            f"(token {later.token}) started"
        )


def test_a_frozen_scheduler_is_taken_over_and_never_runs_beside_its_successor(
    app, database_url, tmp_path
):
    first, first_log = _start(database_url, tmp_path, "first")
    second = None
    try:
        wait_until(lambda: _ended_runs() >= INITIAL_JOBS, 60, "the first scheduler's jobs")
        first_token = _lease().token
        if database_url.startswith("postgresql"):
            # Its connections cut: it reconnects and keeps the lease; a second one refuses.
            cut = DatabaseOutage(database_url).terminate("wn-fault-first")
            assert cut >= 1
            refused = subprocess.run(
                [*WATCHNET, "scheduler", "--once"],
                capture_output=True,
                env=_env(database_url, tmp_path, "refused"),
                text=True,
                timeout=90,
            )
            assert refused.returncode == 3, refused.stderr
            assert "another scheduler is already running" in refused.stderr
            assert refused.stdout == ""
            assert _lease().token == first_token
        # Frozen (a stopped VM, a long GC pause): its lease runs out; a waiting one takes over.
        first.send_signal(signal.SIGSTOP)
        frozen_at = utcnow()
        second, second_log = _start(database_url, tmp_path, "second", "--wait")
        wait_until(lambda: _lease().token > first_token, 60, "the takeover")
        takeover_s = (_lease().acquired_at - frozen_at).total_seconds()
        second_token = _lease().token
        wait_until(
            lambda: _ended_runs(second_token) >= INITIAL_JOBS, 60, "the second scheduler's jobs"
        )
        first.send_signal(signal.SIGCONT)
        thawed_at = utcnow()
        exit_within(first, LEASE_S + 15)
        assert first.returncode == 4, log_text(first_log)[-3000:]
        assert "lost its lease" in log_text(first_log)
        second.send_signal(signal.SIGTERM)
        exit_within(second, 30)
        assert second.returncode == 0, log_text(second_log)[-3000:]
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait(10)
    runs = _runs()
    _assert_never_two_at_once(runs)
    assert {r.token for r in runs} == {first_token, second_token}
    # Nothing ran under the first token once it was thawed: it had lost the lease.
    assert all(r.started_at < thawed_at for r in runs if r.token == first_token)
    assert _lease().holder is None  # the second gave it back on SIGTERM
    print(
        f"\nfrozen scheduler taken over {takeover_s:.1f} s after the freeze (lease {LEASE_S} s), "
        f"{len(runs)} job runs, none overlapping; the thawed one exited 4"
    )


def _due_alert(district: Any, coordinator: Any, make_supporter: Any) -> int:
    """An alert for which widening, reminders and escalation are all due now."""
    from watchnet.alerts.models import Alert, AlertRecipient
    from watchnet.alerts.services import AlertInput, start_alert

    centre = (36.3335, 138.9455)
    for i in range(30):
        supporter = make_supporter(district, email=f"due{i}@example.jp")
        # 20 inside the first ring (1.2 km), 10 between it and the second (1.6 km).
        supporter.home_lat = centre[0] + (0.002 if i < 20 else 0.0125)
        supporter.home_lon = centre[1]
    db.session.commit()
    alert = start_alert(
        district,
        coordinator,
        AlertInput(
            last_seen_at=utcnow() - timedelta(minutes=5),
            last_seen_lat=centre[0],
            last_seen_lon=centre[1],
            contact_phone="0270-00-0000",
            display_name="テスト",
            is_exercise=True,
        ),
    )
    # Started 25 min ago (escalation after 20), everyone told 25 min ago (reminders after 15);
    # last seen 45 min ago: the 30-minute ring (1.6 km) is due.
    started = utcnow() - timedelta(minutes=25)
    db.session.execute(
        sa.update(Alert)
        .where(Alert.id == alert.id)
        .values(started_at=started, last_seen_at=utcnow() - timedelta(minutes=45))
    )
    db.session.execute(
        sa.update(AlertRecipient)
        .where(AlertRecipient.alert_id == alert.id)
        .values(targeted_at=started)
    )
    db.session.commit()
    return alert.id


def test_widening_reminders_and_escalation_due_together_run_once_each_without_deadlock(
    app, district, coordinator, make_supporter, database_url, tmp_path
):
    from watchnet.alerts.models import Alert, AlertRecipient
    from watchnet.notifications.models import Delivery

    alert_id = _due_alert(district, coordinator, make_supporter)
    before = db.session.get(Alert, alert_id)
    assert before is not None and before.radius_m == 1200
    told_first = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AlertRecipient)
        .where(AlertRecipient.alert_id == alert_id)
    )
    logs = []
    for restart in range(3):
        proc, log = _start(database_url, tmp_path, f"restart{restart}")
        logs.append(log)
        try:
            wait_until(
                lambda r=restart: _ended_runs() >= INITIAL_JOBS * (r + 1),
                90,
                "the scheduler's first round of jobs",
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            exit_within(proc, 30)
        assert proc.returncode == 0, log_text(log)[-3000:]
    text = "".join(log_text(log) for log in logs)
    assert "deadlock" not in text.lower(), text[-3000:]
    assert "failed" not in text, text[-3000:]
    db.session.rollback()
    alert = db.session.get(Alert, alert_id, populate_existing=True)
    assert alert is not None
    assert alert.radius_m == 1600 and alert.escalated_at is not None
    recipients = list(
        db.session.scalars(sa.select(AlertRecipient).where(AlertRecipient.alert_id == alert_id))
    )
    assert len(recipients) == 30 and told_first == 20
    keys = list(
        db.session.scalars(sa.select(Delivery.dedupe_key).where(Delivery.topic_id == alert_id))
    )
    # Each once: 20 reminders (those told first), 10 widening messages, 1 escalation
    # (one coordinator), beside the 20 first messages.
    assert len(keys) == len(set(keys))
    assert sum(":remind:" in k for k in keys) == 20
    assert sum(":r2:" in k for k in keys) == 10
    assert sum(":escalate:" in k for k in keys) == 1
    runs = _runs()
    _assert_never_two_at_once(runs)
    print(
        f"\nwidening, reminders and escalation due together: {len(runs)} job runs in 3 "
        "restarts, none overlapping, each change once, no deadlock"
    )


def test_a_scheduler_that_loses_the_database_longer_than_its_lease_exits_4_and_sigterm_works(
    app, database_url, tmp_path
):
    if not database_url.startswith("postgresql"):
        pytest.skip("database outages are made on PostgreSQL")
    outage = DatabaseOutage(database_url)
    first, first_log = _start(database_url, tmp_path, "first")
    third = None
    try:
        wait_until(lambda: _ended_runs() >= INITIAL_JOBS, 60, "the scheduler's jobs")
        outage.begin("wn-fault-first")
        # No renewal can succeed: once the lease has run out it stops and exits 4.
        took = exit_within(first, LEASE_S + 15)
        assert first.returncode == 4, log_text(first_log)[-3000:]
        assert "database unavailable" in log_text(first_log)
        # A replacement started during the outage waits (--wait) and stops on SIGTERM.
        third, third_log = _start(database_url, tmp_path, "third", "--wait")
        wait_until(
            lambda: (
                "database unavailable" in log_text(third_log)
                or "did not answer" in log_text(third_log)
            ),
            60,
            "the third's outage",
        )
        third.send_signal(signal.SIGTERM)
        stopped = exit_within(third, 10)
        outage.end()
    finally:
        outage.end()
        for proc in (first, third):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert third is not None and third.returncode == 0, log_text(third_log)[-3000:]
    print(
        f"\nscheduler without its database: exited 4 after {took:.1f} s (lease {LEASE_S} s); "
        f"a waiting one stopped {stopped:.2f} s after SIGTERM during the outage"
    )
