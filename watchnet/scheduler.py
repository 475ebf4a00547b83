"""The scheduler process (`watchnet scheduler`): runs the drill jobs on a timer.

It is its own process, never started by create_app, so web workers do not each run the jobs.
A lock makes sure only one scheduler runs: a PostgreSQL advisory lock held on a dedicated
connection (released by the server if the process dies), or an fcntl lock on a file in the
instance folder for SQLite (released by the kernel if the process dies). The jobs keep their
state in the database rows, so a restart loses nothing and simply catches up.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from flask import Flask
from flask_babel import force_locale

from watchnet.extensions import db

log = logging.getLogger(__name__)

# An arbitrary 64-bit key naming "the watchnet scheduler" among advisory locks.
ADVISORY_LOCK_KEY = 0x77617463686E6574 & 0x7FFFFFFFFFFFFFFF  # "watchnet"
LIFECYCLE_INTERVAL_S = 15
REMINDER_INTERVAL_S = 60
ALERT_INTERVAL_S = 30  # widening, reminders and escalation of real alerts: minutes matter
PURGE_INTERVAL_S = 3600


class SchedulerLockError(RuntimeError):
    """Another scheduler holds the lock."""


class SchedulerLock:
    """Held for the scheduler's whole life; acquire() fails fast if another one runs."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._connection: sa.Connection | None = None
        self._file: IO[str] | None = None

    @property
    def description(self) -> str:
        if db.engine.dialect.name == "postgresql":
            return "PostgreSQL advisory lock"
        return str(self.lock_file)

    @property
    def lock_file(self) -> Path:
        return Path(self.app.instance_path) / "scheduler.lock"

    def acquire(self) -> None:
        """Take the lock or raise SchedulerLockError."""
        with self.app.app_context():
            if db.engine.dialect.name == "postgresql":
                self._acquire_advisory()
            else:
                self._acquire_file()

    def _acquire_advisory(self) -> None:
        # A connection of its own, outside the pool's churn: the lock lives as long as it does.
        conn = db.engine.connect()
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"),
                           {"key": ADVISORY_LOCK_KEY}).scalar()
        conn.commit()
        if not got:
            conn.close()
            raise SchedulerLockError("PostgreSQL advisory lock")
        self._connection = conn

    def _acquire_file(self) -> None:
        path = self.lock_file
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+")  # noqa: SIM115 - held open for the process's life
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            fh.close()
            raise SchedulerLockError(str(path)) from exc
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._file = fh

    def release(self) -> None:
        """Give the lock back (also happens on its own when the process dies)."""
        if self._connection is not None:
            try:
                self._connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"),
                                         {"key": ADVISORY_LOCK_KEY})
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def in_app_context(app: Flask, job: Callable[[], int], name: str) -> Callable[[], int]:
    """Wrap a job so it runs in an app context, logs what it did and never kills the loop."""

    def run() -> int:
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

    run.__name__ = name
    return run


def scheduled_jobs(app: Flask) -> list[tuple[str, Callable[[], int], int]]:
    """(name, wrapped job, interval in seconds) for every job the scheduler runs."""
    from watchnet.jobs.alerts import (
        escalate_short_searches,
        purge_closed_alerts,
        remind_unanswered_recipients,
        widen_due_alerts,
    )
    from watchnet.jobs.drills import advance_drill_lifecycle, send_due_reminders

    alert_jobs: list[tuple[str, Callable[[], int], int]] = [
        (name, in_app_context(app, job, name), interval)
        for name, job, interval in (
            ("widen_due_alerts", widen_due_alerts, ALERT_INTERVAL_S),
            ("remind_unanswered_recipients", remind_unanswered_recipients, ALERT_INTERVAL_S),
            ("escalate_short_searches", escalate_short_searches, ALERT_INTERVAL_S),
            ("purge_closed_alerts", purge_closed_alerts, PURGE_INTERVAL_S),
        )
    ]
    return [
        ("advance_drill_lifecycle", in_app_context(app, advance_drill_lifecycle,
                                                   "advance_drill_lifecycle"),
         LIFECYCLE_INTERVAL_S),
        ("send_due_reminders", in_app_context(app, send_due_reminders, "send_due_reminders"),
         REMINDER_INTERVAL_S),
    ] + alert_jobs


def run_once(app: Flask) -> dict[str, int]:
    """Run every job once now; returns what each did."""
    return {name: job() for name, job, _interval in scheduled_jobs(app)}


def build_scheduler(app: Flask) -> Any:
    """An APScheduler BlockingScheduler with the jobs; each also runs once right at start."""
    from datetime import UTC, datetime

    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone=UTC)
    for name, job, interval in scheduled_jobs(app):
        # coalesce: after a pause, run once rather than once per missed interval;
        # misfire_grace_time=None: a late run still runs (APScheduler drops it otherwise);
        # max_instances=1: a slow run is never overlapped by the next.
        scheduler.add_job(job, "interval", seconds=interval, id=name, name=name,
                          next_run_time=datetime.now(UTC), coalesce=True,
                          misfire_grace_time=None, max_instances=1, replace_existing=True)
    return scheduler
