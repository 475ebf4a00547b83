"""Rows the background processes keep about themselves: heartbeats (what /healthz/delivery
reports), the scheduler's lease (exactly one scheduler runs jobs) and the log of job runs
(which scheduler, under which fencing token, ran what when)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from watchnet.core.dbtypes import UTCDateTime, utcnow
from watchnet.core.extensions import Model


class WorkerHeartbeat(Model):
    """One row per running (or dead: beat_at stops moving) dispatcher or scheduler."""

    __tablename__ = "worker_heartbeat"
    __table_args__ = (sa.Index("ix_worker_heartbeat_kind_beat", "kind", "beat_at"),)

    instance_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # dispatcher | scheduler
    pid: Mapped[int] = mapped_column()
    host: Mapped[str] = mapped_column(sa.String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SchedulerLease(Model):
    """The single row (id 1) naming the scheduler that may run jobs until expires_at.

    `token` grows by one at every takeover (a fencing token): a job runs only while its
    scheduler's holder id and token are still the row's."""

    __tablename__ = "scheduler_lease"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    holder: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    token: Mapped[int] = mapped_column(default=0)
    pid: Mapped[int | None] = mapped_column(nullable=True)
    host: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SchedulerJobRun(Model):
    """One run of one scheduler job; kept a week (the scheduler prunes older rows)."""

    __tablename__ = "scheduler_job_run"
    __table_args__ = (sa.Index("ix_scheduler_job_run_started", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(sa.String(64))
    holder: Mapped[str] = mapped_column(sa.String(64))
    token: Mapped[int] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done: Mapped[int | None] = mapped_column(nullable=True)
