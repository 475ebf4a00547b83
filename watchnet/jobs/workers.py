"""What the dispatcher and the scheduler share: a heartbeat row each, and riding out
database outages (log the outage once, retry with capped backoff, log the recovery once)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from datetime import timedelta
from typing import cast

import sqlalchemy as sa

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.jobs.models import WorkerHeartbeat

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 5.0
HEARTBEAT_KEEP = timedelta(days=1)  # rows of processes that stopped beating are kept this long


def instance_id(kind: str) -> str:
    """A name for this process that is unique across hosts and restarts."""
    return f"{kind}-{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Heartbeat:
    """Writes this process's worker_heartbeat row at most every `every_s` seconds.

    It uses a connection of its own (not the ORM session), so a thread may call it."""

    def __init__(self, kind: str, every_s: float, ident: str | None = None) -> None:
        self.kind = kind
        self.every_s = every_s
        self.instance_id = ident or instance_id(kind)
        self.started_at = utcnow()
        self._last = float("-inf")

    def beat(self, engine: sa.Engine | None = None, *, force: bool = False) -> bool:
        """Write the row if it is time; raises SQLAlchemyError when the database is down."""
        if not force and time.monotonic() - self._last < self.every_s:
            return False
        table = cast(sa.Table, WorkerHeartbeat.__table__)
        now = utcnow()
        with (engine or db.engine).begin() as conn:
            done = conn.execute(
                sa.update(table).where(table.c.instance_id == self.instance_id).values(beat_at=now)
            ).rowcount
            if not done:
                conn.execute(sa.delete(table).where(table.c.beat_at < now - HEARTBEAT_KEEP))
                conn.execute(
                    sa.insert(table).values(
                        instance_id=self.instance_id,
                        kind=self.kind,
                        pid=os.getpid(),
                        host=socket.gethostname()[:255],
                        started_at=self.started_at,
                        beat_at=now,
                    )
                )
        self._last = time.monotonic()
        return True


class Outage:
    """Tracks one process's view of the database: the first failure is logged as an outage,
    retries wait 0.5 s doubling to 5 s, and the first success after it logs the recovery
    with how long it lasted. Nothing in between floods the log."""

    def __init__(self, who: str) -> None:
        self.who = who
        self.since: float | None = None
        self.failures = 0
        self.delay_s = BACKOFF_FIRST_S

    @property
    def active(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> float:
        """Record a failure; returns how long to wait before the next try."""
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            self.delay_s = BACKOFF_FIRST_S
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            log.error(
                "%s: database unavailable (%s: %s); retrying every %.1f–%.0f s",
                self.who,
                type(exc).__name__,
                first_line[:300],
                BACKOFF_FIRST_S,
                BACKOFF_MAX_S,
            )
        else:
            log.debug("%s: database still unavailable: %s", self.who, exc)
        delay = self.delay_s
        self.delay_s = min(self.delay_s * 2, BACKOFF_MAX_S)
        return delay

    def recovered(self) -> None:
        if self.since is None:
            return
        log.warning(
            "%s: database available again after %.1f s (%d failed tries)",
            self.who,
            time.monotonic() - self.since,
            self.failures,
        )
        self.since = None
        self.failures = 0
        self.delay_s = BACKOFF_FIRST_S


def reset_connections() -> None:
    """After a database error: drop the session's transaction and every pooled connection,
    so the next try connects afresh. Never raises."""
    with contextlib.suppress(Exception):  # the connection is gone; nothing to roll back
        db.session.rollback()
    try:
        db.session.remove()
        db.engine.dispose()
    except Exception:  # noqa: BLE001
        log.debug("dispose after a database error failed", exc_info=True)
