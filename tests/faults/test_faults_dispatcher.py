"""The dispatcher through database faults, with real processes: its connections cut in the
middle of a broadcast while the database refuses new ones (it logs the outage once, recovers,
and every message arrives with repeats inside the stated bound), SIGTERM during an outage and
while blocked in a connect (it exits within seconds), and /healthz/delivery."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_support import BlackHole, DatabaseOutage, exit_within, log_text, wait_until

from tests.notifications.test_dispatcher_kill import (
    RECORD_GROUP,
    THREADS,
    KeyedWebhookSink,
    _broadcast,
    _count,
    _dispatcher,
    _env,
)
from watchnet.notifications.models import Delivery, DeliveryStatus

pytestmark = pytest.mark.faults
APPNAME = "wn-fault-dispatcher"


@pytest.fixture()
def outage(database_url: str) -> Iterator[DatabaseOutage]:
    if not database_url.startswith("postgresql"):
        pytest.skip("database outages are made on PostgreSQL")
    made = DatabaseOutage(database_url)
    yield made
    made.end()


@pytest.fixture()
def keyed_webhook_sink() -> Iterator[KeyedWebhookSink]:
    sink = KeyedWebhookSink()
    sink.thread.start()
    yield sink
    sink.server.shutdown()
    sink.server.server_close()


def _fault_env(database_url: str, tmp_path: Path, smtp_port: int) -> dict[str, str]:
    return dict(
        _env(database_url, tmp_path, smtp_port),
        PGAPPNAME=APPNAME,
        WATCHNET_DB_CONNECT_TIMEOUT_S="2",
        WATCHNET_HEARTBEAT_S="1",
    )


def test_connections_cut_mid_broadcast_the_dispatcher_recovers_and_every_message_arrives(
    district, coordinator, smtp_sink, keyed_webhook_sink, database_url, tmp_path, outage
):
    rows = _broadcast(district, coordinator, keyed_webhook_sink.port)
    env = _fault_env(database_url, tmp_path, smtp_sink.port)
    log = tmp_path / "dispatcher.log"

    def received() -> int:
        return len(smtp_sink.messages) + len(keyed_webhook_sink.snapshot())

    dispatcher = _dispatcher(env, log)
    try:
        wait_until(lambda: received() >= 600, 40, "600 messages before the outage", 0.005)
        # 8 s: longer than the 6 s lease, so the claims lapse during the outage.
        terminated = outage.begin(APPNAME)
        began = time.monotonic()
        at_outage = received()
        wait_until(lambda: "database unavailable" in log_text(log), 10, "the outage logged")
        time.sleep(max(0.0, 8 - (time.monotonic() - began)))
        during = received() - at_outage
        outage.end()
        ended = time.monotonic()
        wait_until(
            lambda: _count(Delivery.status != DeliveryStatus.sent) == 0,
            60,
            "every message sent after the outage",
            0.1,
        )
        all_sent_s = time.monotonic() - ended
        assert dispatcher.poll() is None, log_text(log)[-3000:]
        dispatcher.send_signal(signal.SIGTERM)
        assert exit_within(dispatcher, 10) >= 0
        assert dispatcher.returncode == 0, log_text(log)[-3000:]
    finally:
        outage.end()
        if dispatcher.poll() is None:
            dispatcher.kill()
            dispatcher.wait(10)
    time.sleep(0.3)
    text = log_text(log)
    assert terminated >= 1
    assert text.count("database unavailable") == 1, text[-3000:]
    recovered = re.findall(r"database available again after ([0-9.]+) s", text)
    assert len(recovered) == 1, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    arrivals = Counter(
        [str(m["X-Watchnet-Delivery"]) for m in smtp_sink.messages]
        + [key for _, key in keyed_webhook_sink.snapshot()]
    )
    assert set(arrivals) == {r.dedupe_key for r in rows}, "a message was lost"
    repeated = sum(1 for n in arrivals.values() if n > 1)
    assert max(arrivals.values()) <= 2
    assert repeated <= THREADS + RECORD_GROUP
    print(
        f"\noutage of {ended - began:.1f} s at {at_outage}/{len(rows)} received "
        f"({terminated} backends terminated, {during} arrived during it: sends in flight); "
        f"dispatcher logged recovery after {float(recovered[0]):.1f} s of outage; "
        f"all sent {all_sent_s:.1f} s after connections were allowed again; "
        f"{repeated} raw repeats (bound {THREADS + RECORD_GROUP})"
    )


def test_sigterm_during_an_outage_stops_the_dispatcher_within_seconds(
    district, smtp_sink, database_url, tmp_path, outage
):
    env = _fault_env(database_url, tmp_path, smtp_sink.port)
    log = tmp_path / "dispatcher.log"
    dispatcher = _dispatcher(env, log)
    try:
        wait_until(lambda: "dispatcher started" in log_text(log), 60, "the dispatcher")
        time.sleep(0.5)  # it has polled the database at least once
        outage.begin(APPNAME)
        wait_until(lambda: "database unavailable" in log_text(log), 10, "the outage logged")
        dispatcher.send_signal(signal.SIGTERM)
        took = exit_within(dispatcher, 10)
    finally:
        outage.end()
        if dispatcher.poll() is None:
            dispatcher.kill()
            dispatcher.wait(10)
    assert dispatcher.returncode == 0, log_text(log)[-3000:]
    assert "dispatcher stopped" in log_text(log)
    print(f"\nSIGTERM during an outage: exited after {took:.2f} s")


def test_sigterm_while_blocked_in_a_database_connect_stops_the_dispatcher(tmp_path):
    hole = BlackHole()
    env = dict(
        os.environ,
        WATCHNET_INSTANCE_PATH=str(tmp_path),
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{hole.port}/nowhere",
        WATCHNET_DB_CONNECT_TIMEOUT_S="3",
    )
    log = tmp_path / "dispatcher.log"
    dispatcher = subprocess.Popen(
        [sys.executable, "-m", "watchnet.cli", "dispatcher"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: hole.accepted, 60, "the dispatcher's connect")
        dispatcher.send_signal(signal.SIGTERM)
        took = exit_within(dispatcher, 10)
    finally:
        hole.close()
        if dispatcher.poll() is None:
            dispatcher.kill()
            dispatcher.wait(10)
    assert dispatcher.returncode == 0, log_text(log)[-3000:]
    print(f"\nSIGTERM while blocked in connect: exited after {took:.2f} s")


def test_healthz_delivery_reports_heartbeats_and_answers_503_when_delivery_is_stuck(
    app, client, district, coordinator, smtp_sink, keyed_webhook_sink, database_url, tmp_path
):
    from watchnet.core.extensions import db
    from watchnet.notifications.models import DeliveryChannel
    from watchnet.notifications.services import enqueue_delivery

    health = client.get("/healthz/delivery")
    assert health.status_code == 200 and health.json["status"] == "ok"
    assert health.json["dispatcher"]["heartbeat_age_s"] is None
    # A message due and no dispatcher: stuck once HEALTH_DISPATCHER_STALE_S has no heartbeat.
    enqueue_delivery(
        dedupe_key="health",
        channel=DeliveryChannel.email,
        address="health@example.jp",
        subject="s",
        body="b",
    )
    db.session.commit()
    stuck = client.get("/healthz/delivery")
    assert stuck.status_code == 503
    assert stuck.json["problems"] == ["no_dispatcher"]
    assert stuck.json["outbox"]["due"] == 1
    # A live dispatcher sends it and beats: healthy again.
    env = _fault_env(database_url, tmp_path, smtp_sink.port)
    log = tmp_path / "dispatcher.log"
    dispatcher = _dispatcher(env, log)
    try:

        def healthy() -> bool:
            answer = client.get("/healthz/delivery")
            return (
                answer.status_code == 200
                and answer.json["outbox"]["due"] == 0
                and answer.json["dispatcher"]["heartbeat_age_s"] is not None
            )

        wait_until(healthy, 60, "a healthy delivery report")
        report = client.get("/healthz/delivery").json
        assert report["dispatcher"]["heartbeat_age_s"] < 5
        assert report["outbox"] == {"due": 0, "oldest_due_age_s": None}
        assert len(smtp_sink.wait_for(1)) == 1
        # /healthz itself keeps its keys.
        assert set(client.get("/healthz").json) == {"status", "database"}
    finally:
        dispatcher.send_signal(signal.SIGTERM)
        dispatcher.wait(20)
