"""The scheduler process (`watchnet scheduler`): runs the drill and alert jobs on a timer.

It is its own process, never started by create_app, so web workers do not each run the jobs.
Exactly one scheduler runs jobs at any moment, also across lost connections and frozen
processes, through a lease row (`scheduler_lease`, id 1):

* Taking it: a conditional UPDATE that succeeds only if the row is free or its `expires_at`
  has passed; it writes our holder id, `expires_at` = now + SCHEDULER_LEASE_S and increments
  `token` (a fencing token: every takeover gets a larger one). A second scheduler started
  while the holder is alive refuses to start (or, with --wait, waits for the lease).
* Keeping it: a thread renews it every third of the lease (UPDATE ... WHERE holder and token
  are still ours) and writes the scheduler's heartbeat. If the row names someone else, or no
  renewal succeeded before the lease ran out (database outage), the scheduler logs that it
  lost the lease, runs no further job and exits with status 4; a supervisor restarts it and
  it waits for the lease like any other.
* Using it: immediately before each job, in one transaction, the lease is renewed under our
  holder id and token (on PostgreSQL this also locks the row, so a takeover waits for that
  transaction) and the run is written to `scheduler_job_run` with the token; no row renewed,
  no run. The run gets its end time afterwards. A scheduler frozen longer than the lease in
  the middle of a job could finish that job beside its successor; the jobs tolerate that,
  since each change is claimed with a conditional UPDATE on the row's state.
* Jobs run one at a time (an executor with one thread), so widening, reminders and
  escalation never hold row locks against each other; each walks alerts in id order.

The jobs keep their state in the database rows, so a restart loses nothing and catches up.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

import sqlalchemy as sa
from flask import Flask
from flask_babel import force_locale

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.jobs.models import SchedulerJobRun, SchedulerLease
from watchnet.jobs.workers import Heartbeat, Outage, instance_id

log = logging.getLogger(__name__)

LIFECYCLE_INTERVAL_S = 15
REMINDER_INTERVAL_S = 60
ALERT_INTERVAL_S = 30  # widening, reminders and escalation of real alerts: minutes matter
PURGE_INTERVAL_S = 3600
LEASE_ROW = 1
JOB_RUN_KEEP = timedelta(days=7)
EXIT_LOST_LEASE = 4


class SchedulerLockError(RuntimeError):
    """Another scheduler holds the lease."""


class SchedulerLeaseHolder:
    """This process's claim on the scheduler lease, with its fencing token."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        with app.app_context():
            self.engine = db.engine
        self.holder = instance_id("scheduler")
        self.token: int | None = None
        self.lease_s = float(app.config["SCHEDULER_LEASE_S"])
        self.renew_every_s = self.lease_s / 3
        self.confirmed_until = 0.0  # monotonic time until which the lease is known to be ours
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._on_lost: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self.heartbeat = Heartbeat("scheduler", float(app.config["HEARTBEAT_S"]), self.holder)

    @property
    def description(self) -> str:
        return f"lease row scheduler_lease, fencing token {self.token}"

    # -- taking and giving back --

    def _ensure_row(self) -> None:
        table = cast(sa.Table, SchedulerLease.__table__)
        with self.engine.begin() as conn:
            if conn.execute(sa.select(table.c.id).where(table.c.id == LEASE_ROW)).first():
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(table).values(id=LEASE_ROW, token=0))
        except sa.exc.IntegrityError:
            pass  # another scheduler made it first

    def try_acquire(self) -> bool:
        """Take the lease if it is free or expired; True when it is ours."""
        self._ensure_row()
        table = cast(sa.Table, SchedulerLease.__table__)
        asked_at, now = time.monotonic(), utcnow()
        with self.engine.begin() as conn:
            taken = conn.execute(
                sa.update(table)
                .where(
                    table.c.id == LEASE_ROW,
                    sa.or_(table.c.holder.is_(None), table.c.expires_at < now),
                )
                .values(
                    holder=self.holder,
                    token=table.c.token + 1,
                    pid=os.getpid(),
                    host=socket.gethostname()[:255],
                    acquired_at=now,
                    expires_at=now + timedelta(seconds=self.lease_s),
                )
            ).rowcount
            if taken:
                self.token = int(
                    conn.execute(
                        sa.select(table.c.token).where(table.c.id == LEASE_ROW)
                    ).scalar_one()
                )
        if taken:
            self.confirmed_until = asked_at + self.lease_s
            log.info("scheduler lease taken (fencing token %s)", self.token)
        return bool(taken)

    def holder_description(self) -> str:
        table = cast(sa.Table, SchedulerLease.__table__)
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == LEASE_ROW)).first()
        if row is None or row.holder is None:
            return "scheduler_lease: free"
        return (
            f"scheduler_lease held by pid {row.pid} on {row.host}, "
            f"token {row.token}, until {row.expires_at:%H:%M:%S} UTC"
        )

    def acquire(self, *, wait: bool = False, stop: threading.Event | None = None) -> None:
        """Take the lease, or raise SchedulerLockError (wait=False) / wait for it."""
        outage = Outage("scheduler")
        waiting_logged = False
        while True:
            try:
                if self.try_acquire():
                    outage.recovered()
                    return
                if not wait:
                    raise SchedulerLockError(self.holder_description())
                if not waiting_logged:
                    log.info("waiting for the scheduler lease (%s)", self.holder_description())
                    waiting_logged = True
                outage.recovered()
                delay = self.renew_every_s
            except sa.exc.SQLAlchemyError as exc:
                if not wait:
                    raise
                delay = outage.failed(exc)
            if stop is not None and stop.wait(delay):
                raise SchedulerLockError("stopped while waiting for the lease")
            if stop is None:
                time.sleep(delay)

    def release(self) -> None:
        """Give the lease back so a successor need not wait for it to expire."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.lease_s)
        if self.token is None or self.lost.is_set():
            return
        table = cast(sa.Table, SchedulerLease.__table__)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.update(table)
                    .where(
                        table.c.id == LEASE_ROW,
                        table.c.holder == self.holder,
                        table.c.token == self.token,
                    )
                    .values(holder=None, expires_at=utcnow())
                )
        except sa.exc.SQLAlchemyError as exc:
            log.warning(
                "could not give the scheduler lease back (%s); it expires in %g s",
                type(exc).__name__,
                self.lease_s,
            )

    # -- keeping it --

    def _renew(self, conn: sa.Connection) -> bool:
        table = cast(sa.Table, SchedulerLease.__table__)
        now = utcnow()
        return bool(
            conn.execute(
                sa.update(table)
                .where(
                    table.c.id == LEASE_ROW,
                    table.c.holder == self.holder,
                    table.c.token == self.token,
                )
                .values(expires_at=now + timedelta(seconds=self.lease_s))
            ).rowcount
        )

    def _lose(self, why: str) -> None:
        if self.lost.is_set():
            return
        self.lost.set()
        log.error(
            "scheduler lost its lease (token %s): %s; running no further job and exiting",
            self.token,
            why,
        )
        if self._on_lost is not None:
            self._on_lost()

    def renew_once(self) -> bool:
        asked_at = time.monotonic()
        with self.engine.begin() as conn:
            ours = self._renew(conn)
        if not ours:
            self._lose(f"the row now names another holder ({self.holder_description()})")
            return False
        self.confirmed_until = asked_at + self.lease_s
        return True

    def keep(self, on_lost: Callable[[], None]) -> None:
        """Renew in a thread until release(); on_lost is called once if the lease is lost."""
        self._on_lost = on_lost
        self._thread = threading.Thread(target=self._keep, name="scheduler-lease", daemon=True)
        self._thread.start()

    def _keep(self) -> None:
        outage = Outage("scheduler")
        while not self._stop.wait(self.renew_every_s) and not self.lost.is_set():
            try:
                if not self.renew_once():
                    return
                self.heartbeat.beat(self.engine)
                outage.recovered()
            except sa.exc.SQLAlchemyError as exc:
                outage.failed(exc)
                if time.monotonic() >= self.confirmed_until:
                    self._lose(f"no renewal succeeded for {self.lease_s:g} s")
                    return

    # -- using it --

    def start_run(self, job: str) -> int | None:
        """Renew the lease and record the run in one transaction; None: the lease is lost."""
        if self.lost.is_set():
            return None
        table = cast(sa.Table, SchedulerJobRun.__table__)
        asked_at, now = time.monotonic(), utcnow()
        with self.engine.begin() as conn:
            if not self._renew(conn):
                ours = False
            else:
                ours = True
                run_id = conn.execute(
                    sa.insert(table).values(
                        job=job, holder=self.holder, token=self.token, started_at=now
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
        if not ours:
            self._lose(f"found before job {job}")
            return None
        self.confirmed_until = asked_at + self.lease_s
        return int(run_id)

    def end_run(self, run_id: int, done: int) -> None:
        table = cast(sa.Table, SchedulerJobRun.__table__)
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(table).where(table.c.id == run_id).values(ended_at=now, done=done)
            )
            conn.execute(sa.delete(table).where(table.c.started_at < now - JOB_RUN_KEEP))


def in_app_context(
    app: Flask, job: Callable[[], int], name: str, lease: SchedulerLeaseHolder | None = None
) -> Callable[[], int]:
    """Wrap a job so it runs in an app context, logs what it did and never kills the loop;
    with a lease, only while this process still holds it (checked right before the job)."""

    def run() -> int:
        run_id = None
        if lease is not None:
            try:
                run_id = lease.start_run(name)
            except sa.exc.SQLAlchemyError as exc:
                log.warning("job %s skipped: database unavailable (%s)", name, type(exc).__name__)
                return 0
            if run_id is None:
                return 0
        done = 0
        try:
            done = _run_in_context(app, job, name)
        finally:
            if lease is not None and run_id is not None:
                try:
                    lease.end_run(run_id, done)
                except sa.exc.SQLAlchemyError as exc:
                    log.warning(
                        "job %s: its end could not be recorded (%s)", name, type(exc).__name__
                    )
        return done

    run.__name__ = name
    return run


def _run_in_context(app: Flask, job: Callable[[], int], name: str) -> int:
    # No request here to choose a language from: texts made by jobs (reminders choose
    # each recipient's own) default to the app's language.
    with app.app_context(), force_locale(app.config["BABEL_DEFAULT_LOCALE"]):
        try:
            done = job()
        except Exception:
            db.session.rollback()
            log.exception("job %s failed; it runs again at the next interval", name)
            return 0
        finally:
            db.session.remove()
    if done:
        log.info("job %s: %d", name, done)
    return done


def scheduled_jobs(
    app: Flask,
    lease: SchedulerLeaseHolder | None = None,
) -> list[tuple[str, Callable[[], int], int]]:
    """(name, wrapped job, interval in seconds) for every job the scheduler runs."""
    from watchnet.jobs.alerts import (
        escalate_short_searches,
        purge_closed_alerts,
        remind_unanswered_recipients,
        widen_due_alerts,
    )
    from watchnet.jobs.drills import advance_drill_lifecycle, send_due_reminders

    alert_jobs: list[tuple[str, Callable[[], int], int]] = [
        (name, in_app_context(app, job, name, lease), interval)
        for name, job, interval in (
            ("widen_due_alerts", widen_due_alerts, ALERT_INTERVAL_S),
            ("remind_unanswered_recipients", remind_unanswered_recipients, ALERT_INTERVAL_S),
            ("escalate_short_searches", escalate_short_searches, ALERT_INTERVAL_S),
            ("purge_closed_alerts", purge_closed_alerts, PURGE_INTERVAL_S),
        )
    ]
    return [
        (
            "advance_drill_lifecycle",
            in_app_context(app, advance_drill_lifecycle, "advance_drill_lifecycle", lease),
            LIFECYCLE_INTERVAL_S,
        ),
        (
            "send_due_reminders",
            in_app_context(app, send_due_reminders, "send_due_reminders", lease),
            REMINDER_INTERVAL_S,
        ),
    ] + alert_jobs


def run_once(app: Flask, lease: SchedulerLeaseHolder | None = None) -> dict[str, int]:
    """Run every job once now; returns what each did."""
    return {name: job() for name, job, _interval in scheduled_jobs(app, lease)}


def build_scheduler(app: Flask, lease: SchedulerLeaseHolder | None = None) -> Any:
    """An APScheduler BlockingScheduler with the jobs; each also runs once right at start.
    One executor thread: jobs run one at a time, so they never deadlock each other."""
    from datetime import UTC, datetime

    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone=UTC, executors={"default": ThreadPoolExecutor(1)})
    for name, job, interval in scheduled_jobs(app, lease):
        # coalesce: after a pause, run once rather than once per missed interval;
        # misfire_grace_time=None: a late run still runs (APScheduler drops it otherwise);
        # max_instances=1: a slow run is never overlapped by the next.
        scheduler.add_job(
            job,
            "interval",
            seconds=interval,
            id=name,
            name=name,
            next_run_time=datetime.now(UTC),
            coalesce=True,
            misfire_grace_time=None,
            max_instances=1,
            replace_existing=True,
        )
    return scheduler
