"""Delivering the outbox: claim due rows atomically, send them concurrently, record outcomes.

What is guaranteed, and why (read before changing anything here):

* Claiming is exclusive. A dispatcher claims a batch with a conditional UPDATE (status and
  expiry re-checked in the WHERE; on PostgreSQL the candidate rows are locked with SKIP
  LOCKED), stamping its own claim token and a short lease, `claimed_until` = now +
  DELIVERY_LEASE_S (15 s). Any number of dispatcher processes can run at once: a row is in
  at most one live claim. A claim whose lease ran out may be taken over by anyone.
* The lease is renewed while the batch is worked on: about every second the dispatcher's
  main thread extends `claimed_until` of its claimed, not yet recorded rows to now + lease,
  and notes locally (monotonic clock, read before the UPDATE was sent) until when the lease
  is confirmed. A killed dispatcher stops renewing, so its unsent messages are taken over
  within DELIVERY_LEASE_S.
* A send never runs when another dispatcher may take the row over. A message is handed to
  a transport only if the confirmed lease still has the longest a send can take left
  (`send_max_s` = 3 × the longer network timeout + 1 s, for connect/send/receive), so even
  if no renewal succeeds after that moment (database outage, frozen main thread), the send
  ends before the lease does. DELIVERY_LEASE_S must therefore be at least send_max_s + 2 s
  (checked at start-up); with renewals every second a send may start up to ~2 s after the
  last renewal. A thread that finds the lease too short waits briefly for a renewal, else
  the message is released unsent. (Clocks: `claimed_until` is written with this host's
  clock and compared with the claiming host's; hosts must keep NTP time.)
* Outcomes are recorded with a conditional UPDATE on the claim token (not on the expiry: a
  lease that ran out but was not taken over is still ours), a few dozen at a time and at
  least every RECORD_EVERY_S, as results come in; a row recorded "sent" is never sent
  again. A send may only start while fewer than `threads` + RECORD_GROUP messages are sent
  or being sent but not yet recorded (a semaphore released by the recording), however slow
  the database or the machine is at that moment.
* Database outages: any database error while claiming, renewing or recording stops new
  sends in the batch at once; sends in flight finish; every outcome that could not be
  recorded is kept in memory and recorded first thing after the database answers again
  (before anything new is claimed), so nothing this dispatcher sent is sent again by it.
  Unsent messages of the batch are released (or, if that cannot be written either, left to
  their lease). The process logs the outage once, retries with backoff 0.5 s doubling to
  5 s, and logs the recovery once with its length (watchnet/jobs/workers.py). SIGTERM is
  honoured throughout: the waits are interruptible and PostgreSQL connects time out after
  DB_CONNECT_TIMEOUT_S.
* The one gap no outbox can close: a dispatcher killed after the receiver accepted a message
  but before the outcome was recorded, or an outage longer than the lease during which
  another dispatcher that can still reach the database takes the rows over. The row is
  sent again. Delivery is therefore AT-LEAST-ONCE at the transport, and repeats are bounded
  to the messages in flight or awaiting recording at that moment: at most `threads` +
  RECORD_GROUP per dispatcher per kill or outage. Every message carries a stable key — the
  `X-Watchnet-Delivery` header (= Delivery.dedupe_key) and, for e-mail, the Message-ID
  `<delivery-ID@watchnet>` — so receivers that drop repeats by that key (mail systems do by
  Message-ID; our webhook contract asks receivers to) see every message EXACTLY ONCE.
  The alternative (mark "sent" before sending) would turn the gap into lost messages, which
  is worse for a missing-person alert than a rare repeat. tests/notifications/
  test_dispatcher_kill.py kills a real dispatcher mid-broadcast and checks this at the sinks;
  tests/faults/ cuts its database connections mid-broadcast.
* Failures: a transient failure goes back to pending with exponential backoff; a permanent
  one (or the last allowed attempt) is recorded as failed with its reason, and a broken
  address is switched off with that reason.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.jobs.workers import Heartbeat
from watchnet.notifications.hooks import address_gone_handler
from watchnet.notifications.models import Delivery, DeliveryChannel, DeliveryStatus
from watchnet.notifications.transports import TransportError, TransportSet
from watchnet.notifications.transports.base import longest_timeout_s

# The people package switches off addresses the channels report gone (notifications.hooks).
from watchnet.people import channels as _people_channels  # noqa: F401

log = logging.getLogger(__name__)

RECORD_EVERY_S = 0.025  # longest a finished send waits to be recorded (bounds repeats on a kill)
RECORD_GROUP = 25  # record as soon as this many outcomes are waiting


def transport_config() -> dict[str, Any]:
    """What the transports are built from: the app's settings and its instance folder (where
    the demo's Maildir and outbox folders live)."""
    return {**current_app.config, "INSTANCE_PATH": current_app.instance_path}


def _due_condition(now: sa.ColumnElement | object) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(Delivery.status == DeliveryStatus.pending, Delivery.next_attempt_at <= now),
        # A claim whose dispatcher died is taken over once it expires.
        sa.and_(Delivery.status == DeliveryStatus.sending, Delivery.claimed_until < now),
    )


def claim_due_deliveries(batch: int = 50, lease_s: float | None = None) -> list[Delivery]:
    """Mark up to `batch` due deliveries as ours with a conditional UPDATE and return them."""
    now = utcnow()
    token = uuid.uuid4().hex
    due = sa.select(Delivery.id).where(_due_condition(now)).order_by(Delivery.id).limit(batch)
    if db.engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(due))
    if not ids:
        db.session.commit()
        return []
    claim_s = float(lease_s or current_app.config["DELIVERY_LEASE_S"])
    db.session.execute(
        sa.update(Delivery)
        .where(Delivery.id.in_(ids), _due_condition(now))
        .values(
            status=DeliveryStatus.sending,
            claim_token=token,
            claimed_until=now + timedelta(seconds=claim_s),
            attempts=Delivery.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return list(
        db.session.scalars(
            sa.select(Delivery)
            .execution_options(populate_existing=True)
            .where(Delivery.claim_token == token, Delivery.status == DeliveryStatus.sending)
            .order_by(Delivery.id)
        )
    )


def renew_claims(tokens: Iterable[str], lease_s: float) -> int:
    """Extend the lease of our claimed, not yet recorded rows; returns how many."""
    result = db.session.execute(
        sa.update(Delivery)
        .where(Delivery.claim_token.in_(list(tokens)), Delivery.status == DeliveryStatus.sending)
        .values(claimed_until=utcnow() + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def backoff_s(attempts: int) -> int:
    """Seconds before the next try: base × 2^(attempts-1), capped."""
    cfg = current_app.config
    return int(
        min(cfg["DELIVERY_BACKOFF_S"] * 2 ** max(0, attempts - 1), cfg["DELIVERY_BACKOFF_MAX_S"])
    )


@dataclass(frozen=True)
class OutgoingMessage:
    """A claimed delivery as plain data: sending threads never touch the ORM session."""

    id: int
    dedupe_key: str
    channel: DeliveryChannel
    address: str
    subject: str
    body: str
    attempts: int
    claim_token: str
    channel_ref: str
    link: str
    summary: str
    answer_topic: str
    supporter_id: int | None

    @classmethod
    def of(cls, delivery: Delivery) -> OutgoingMessage:
        assert delivery.claim_token is not None
        return cls(
            id=delivery.id,
            dedupe_key=delivery.dedupe_key,
            channel=DeliveryChannel(delivery.channel),
            address=delivery.address,
            subject=delivery.subject,
            body=delivery.body,
            attempts=delivery.attempts,
            claim_token=delivery.claim_token,
            channel_ref=delivery.channel_ref,
            link=delivery.link,
            summary=delivery.summary,
            answer_topic=delivery.answer_topic,
            supporter_id=delivery.supporter_id,
        )


@dataclass(frozen=True)
class Outcome:
    message: OutgoingMessage
    error: TransportError | None = None
    started: bool = True  # False: the claim was too close to expiry; released unsent
    provider_ref: str | None = None  # the channel's id of the sent message (for callbacks)


def _owned(message: OutgoingMessage) -> sa.ColumnElement[bool]:
    return sa.and_(
        Delivery.id == message.id,
        Delivery.claim_token == message.claim_token,
        Delivery.status == DeliveryStatus.sending,
    )


def record_outcomes(outcomes: Iterable[Outcome]) -> int:
    """Record what happened to claimed messages, in one transaction; returns rows recorded.

    Every UPDATE is conditional on our claim token: if a row was taken over (our claim had
    expired), the other dispatcher's record stands and ours is dropped with a warning."""
    sent: dict[str, list[int]] = {}
    provider_refs: list[Outcome] = []
    released: dict[str, list[int]] = {}
    failed: list[Outcome] = []
    for outcome in outcomes:
        if not outcome.started:
            released.setdefault(outcome.message.claim_token, []).append(outcome.message.id)
        elif outcome.error is None:
            sent.setdefault(outcome.message.claim_token, []).append(outcome.message.id)
            if outcome.provider_ref:
                provider_refs.append(outcome)
        else:
            failed.append(outcome)
    recorded = expected = 0
    now = utcnow()
    for token, ids in sent.items():
        expected += len(ids)
        recorded += _update(
            sa.and_(
                Delivery.id.in_(ids),
                Delivery.claim_token == token,
                Delivery.status == DeliveryStatus.sending,
            ),
            status=DeliveryStatus.sent,
            sent_at=now,
            last_error=None,
            claim_token=None,
            claimed_until=None,
        )
    for outcome in provider_refs:
        # After the rows above went to sent: the row is ours only if that UPDATE was.
        _update(
            sa.and_(Delivery.id == outcome.message.id, Delivery.status == DeliveryStatus.sent),
            provider_ref=str(outcome.provider_ref)[:100],
        )
    for token, ids in released.items():
        expected += len(ids)
        # Not attempted: give the attempt back, due again at once.
        recorded += _update(
            sa.and_(
                Delivery.id.in_(ids),
                Delivery.claim_token == token,
                Delivery.status == DeliveryStatus.sending,
            ),
            status=DeliveryStatus.pending,
            attempts=Delivery.attempts - 1,
            next_attempt_at=now,
            claim_token=None,
            claimed_until=None,
        )
    for outcome in failed:
        expected += 1
        error = outcome.error
        assert error is not None
        log.warning(
            "delivery %d, attempt %d: %s%s",
            outcome.message.id,
            outcome.message.attempts,
            "permanent: " if error.permanent else "",
            error.reason,
        )
        recorded += _record_failure(outcome.message, error)
    db.session.commit()
    if recorded != expected:
        log.warning(
            "%d outcome(s) not recorded: their claim had expired and was taken over",
            expected - recorded,
        )
    return recorded


def _update(where: sa.ColumnElement[bool], **values: Any) -> int:
    result = db.session.execute(
        sa.update(Delivery)
        .where(where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _record_failure(message: OutgoingMessage, exc: TransportError) -> int:
    max_attempts = int(current_app.config["DELIVERY_MAX_ATTEMPTS"])
    if exc.permanent or message.attempts >= max_attempts:
        prefix = "" if exc.permanent else f"gave up after {message.attempts} attempts: "
        done = _update(
            _owned(message),
            status=DeliveryStatus.failed,
            last_error=(prefix + exc.reason)[:1000],
            claim_token=None,
            claimed_until=None,
        )
        if done and exc.permanent and message.channel_ref:
            # A broken address would fail every future message too: its owner switches it
            # off and says why (webhooks on any permanent refusal; other channels when the
            # channel said the address is gone, e.g. a push subscription answering 410).
            handler = address_gone_handler(message.channel)
            if handler is not None and (exc.gone or message.channel == DeliveryChannel.webhook):
                handler(message.channel_ref, exc.reason[:500])
        return done
    return _update(
        _owned(message),
        status=DeliveryStatus.pending,
        last_error=exc.reason[:1000],
        next_attempt_at=utcnow() + timedelta(seconds=backoff_s(message.attempts)),
        claim_token=None,
        claimed_until=None,
    )


class Dispatcher:
    """Claims batches and sends each batch with a pool of threads over reused connections.

    One per process (the `watchnet dispatcher` command); several processes may run at once.
    Must be used inside an app context; only the calling thread touches the database."""

    def __init__(self, *, threads: int = 8, batch: int = 100, heartbeat: bool = False) -> None:
        cfg = current_app.config
        self.batch = max(1, batch)
        self.threads = max(1, threads)
        self.lease_s = float(cfg["DELIVERY_LEASE_S"])
        timeout = longest_timeout_s(cfg)
        # The longest one send can take; a send starts only if the lease covers it.
        self.send_max_s = 3 * timeout + 1
        if self.lease_s < self.send_max_s + 2:
            raise ValueError("DELIVERY_LEASE_S must be at least 3 × the network timeout + 3 s")
        # Renew well before the margin between lease and send_max_s is used up.
        self.renew_every_s = max(0.1, min(1.0, (self.lease_s - self.send_max_s) / 2))
        self.transports = TransportSet(transport_config())
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="dispatch")
        self._stop = threading.Event()
        self._hold = threading.Event()  # a database error in this batch: start no more sends
        self._lease_until = 0.0  # monotonic time until which the batch's lease is confirmed
        # Outcomes that could not be recorded (database outage): recorded before new claims.
        self.pending: list[Outcome] = []
        # Sent-or-sending but unrecorded messages: what a kill can make the receivers see
        # twice. A thread takes a permit before it sends; the recording gives it back.
        self.unrecorded_limit = self.threads + RECORD_GROUP
        self._unrecorded = threading.BoundedSemaphore(self.unrecorded_limit)
        self.heartbeat = Heartbeat("dispatcher", float(cfg["HEARTBEAT_S"])) if heartbeat else None

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def stop(self) -> None:
        """Start no further sends; the batch in hand is finished and recorded."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> None:
        """Sleep between polls; a stop request ends the sleep at once."""
        self._stop.wait(seconds)

    def beat(self) -> None:
        """Write this dispatcher's heartbeat if it is time (raises when the database is down)."""
        if self.heartbeat is not None:
            self.heartbeat.beat()

    def close(self) -> None:
        self._hold.set()
        self.pool.shutdown(wait=True)
        self.transports.close()
        if self.pending:
            try:
                self._flush_pending()
            except sa.exc.SQLAlchemyError:
                log.warning(
                    "stopping with %d outcome(s) not recorded (database unavailable); "
                    "their rows are taken over when their lease runs out",
                    len(self.pending),
                )

    def _lease_fits(self) -> bool:
        return self._lease_until - time.monotonic() >= self.send_max_s

    def _send(self, message: OutgoingMessage) -> Outcome:
        # The permit is released by the recording; a message not started gives it back here.
        while not self._unrecorded.acquire(timeout=0.05):
            if self._stop.is_set() or self._hold.is_set():
                return Outcome(message, started=False)
        waited_until = time.monotonic() + 3 * self.renew_every_s + 1
        while (
            not self._lease_fits()
            and time.monotonic() < waited_until
            and not (self._stop.is_set() or self._hold.is_set())
        ):
            time.sleep(0.02)  # a renewal is due at most renew_every_s from now
        if self._stop.is_set() or self._hold.is_set() or not self._lease_fits():
            self._unrecorded.release()
            return Outcome(message, started=False)
        try:
            provider_ref = self.transports.send(message)
        except TransportError as exc:
            return Outcome(message, error=exc)
        except Exception as exc:  # noqa: BLE001 - a transport bug must not kill the batch
            log.exception("transport crashed on delivery %s", message.id)
            return Outcome(message, error=TransportError(f"internal error: {exc!r}"[:500]))
        return Outcome(message, provider_ref=provider_ref)

    def _record(self, outcomes: list[Outcome]) -> None:
        try:
            record_outcomes(outcomes)
        except sa.exc.SQLAlchemyError:
            self.pending.extend(outcomes)  # their permits stay taken until recorded
            raise
        for outcome in outcomes:
            if outcome.started:
                self._unrecorded.release()

    def _flush_pending(self) -> None:
        if not self.pending:
            return
        held, self.pending = self.pending, []
        self._record(held)
        log.info("recorded %d outcome(s) held over from a database outage", len(held))

    def _renew(self, tokens: set[str]) -> None:
        asked_at = time.monotonic()
        renew_claims(tokens, self.lease_s)
        self._lease_until = asked_at + self.lease_s

    def run_once(self) -> int:
        """Claim one batch, send it, record every outcome; returns how many were claimed.

        Raises SQLAlchemyError when the database fails; by then every send of the batch has
        finished and what could not be recorded is in `pending`."""
        self._flush_pending()
        self._hold.clear()
        claimed_at = time.monotonic()
        messages = [OutgoingMessage.of(d) for d in claim_due_deliveries(self.batch, self.lease_s)]
        if not messages:
            return 0
        self._lease_until = claimed_at + self.lease_s
        tokens = {m.claim_token for m in messages}
        waiting: set[Future[Outcome]] = {self.pool.submit(self._send, m) for m in messages}
        done_unrecorded: list[Outcome] = []
        last_record = last_renew = time.monotonic()
        error: sa.exc.SQLAlchemyError | None = None
        while waiting:
            done, waiting = wait(waiting, timeout=RECORD_EVERY_S, return_when=FIRST_COMPLETED)
            done_unrecorded.extend(f.result() for f in done)
            if error is not None:
                continue  # collect what the sends in flight give back; record it later
            try:
                if waiting and time.monotonic() - last_renew >= self.renew_every_s:
                    self._renew(tokens)
                    last_renew = time.monotonic()
                    self.beat()
                if done_unrecorded and (
                    len(done_unrecorded) >= RECORD_GROUP
                    or not waiting
                    or time.monotonic() - last_record >= RECORD_EVERY_S
                ):
                    group, done_unrecorded = done_unrecorded, []
                    self._record(group)
                    last_record = time.monotonic()
            except sa.exc.SQLAlchemyError as exc:
                error = exc
                self._hold.set()  # no further sends: they could not be renewed or recorded
        if error is not None:
            self.pending.extend(done_unrecorded)
            raise error
        return len(messages)


def deliver_due_notifications(batch: int = 50, threads: int = 8) -> int:
    """Claim and send one batch; returns how many were handled (sent or recorded as failed)."""
    with Dispatcher(threads=threads, batch=batch) as dispatcher:
        return dispatcher.run_once()
