"""The concurrent dispatcher and its transports, against real sinks on 127.0.0.1: the direct
webhook transport posts what apprise would post, over kept-alive connections, with the
delivery key; SMTP sessions are reused; outcomes are recorded under the claim token only."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import apprise
import pytest
import sqlalchemy as sa

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.jobs.deliveries import (
    Dispatcher,
    Outcome,
    OutgoingMessage,
    claim_due_deliveries,
    deliver_due_notifications,
    record_outcomes,
)
from watchnet.notifications.models import Delivery, DeliveryChannel, DeliveryStatus
from watchnet.notifications.services import enqueue_delivery
from watchnet.notifications.transports.webhook import (
    TransportError,
    WebhookTransport,
    webhook_target,
)
from watchnet.people.models import NotificationAddress


class RecordingSink:
    """HTTP/1.1 keep-alive receiver: records path, headers and JSON body of every request,
    and the client ports it saw (one per connection)."""

    def __init__(self) -> None:
        sink = self
        self.requests: list[dict[str, Any]] = []
        self.connections: set[int] = set()
        self.status: dict[str, int] = {}
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _record(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink.lock:
                    sink.connections.add(self.client_address[1])
                    sink.requests.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": dict(self.headers),
                            "json": json.loads(raw or b"null"),
                        }
                    )
                self.send_response(sink.status.get(self.path.split("?")[0], 200))
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = _record  # noqa: N815 - http.server's naming

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def url(self, path: str, scheme: str = "json") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"


@pytest.fixture()
def sink() -> Iterator[RecordingSink]:
    sink = RecordingSink()
    thread = threading.Thread(target=sink.server.serve_forever, daemon=True)
    thread.start()
    yield sink
    sink.server.shutdown()
    sink.server.server_close()


def _message(
    address: str, key: str = "alert:1:r1:alert:supporter:1:addr:1", id: int = 1
) -> OutgoingMessage:  # noqa: A002 - the row's name
    return OutgoingMessage(
        id=id,
        dedupe_key=key,
        channel=DeliveryChannel.webhook,
        address=address,
        subject="訓練: 見守りのお願い",
        body="白い帽子。",
        attempts=1,
        claim_token="t",
        channel_ref="addr:1",
        link="",
        summary="訓練: 見守りのお願い",
        answer_topic="",
        supporter_id=None,
    )


def test_the_direct_webhook_posts_what_apprise_posts_plus_the_delivery_key(sink):
    url = sink.url("/hook/a?+X-Team=north&-site=yawata&:extra=1&:type=kind")
    apprise_notifier = apprise.Apprise()
    apprise_notifier.add(url)
    assert apprise_notifier.notify(title="訓練: 見守りのお願い", body="白い帽子。")
    WebhookTransport().send(_message(url))
    by_apprise, direct = sink.requests
    assert direct["json"] == by_apprise["json"]
    assert direct["json"]["title"] == "訓練: 見守りのお願い" and direct["json"]["extra"] == "1"
    assert direct["path"] == by_apprise["path"] == "/hook/a?site=yawata"
    for header in ("Content-Type", "User-Agent", "X-Team"):
        assert direct["headers"][header] == by_apprise["headers"][header]
    assert direct["headers"]["X-Watchnet-Delivery"] == "alert:1:r1:alert:supporter:1:addr:1"


def test_webhook_posts_reuse_one_connection_per_thread(sink):
    transport = WebhookTransport()
    for i in range(20):
        transport.send(_message(sink.url(f"/hook/{i}"), key=f"k{i}", id=i))
    transport.close()
    assert len(sink.requests) == 20
    assert len(sink.connections) == 1


def test_user_and_password_become_basic_auth_and_method_is_kept(sink):
    url = f"json://bot:s3cret@127.0.0.1:{sink.port}/hook/auth?method=PUT"
    WebhookTransport().send(_message(url))
    [request] = sink.requests
    assert request["method"] == "PUT"
    assert request["headers"]["Authorization"] == "Basic Ym90OnMzY3JldA=="


def test_other_apprise_urls_are_left_to_apprise():
    assert webhook_target("json://127.0.0.1:9/x") is not None
    assert webhook_target("discord://1234/abcd") is None
    assert webhook_target("form://127.0.0.1:9/x") is None


def test_a_gone_webhook_is_permanent_and_a_busy_one_is_retried(sink):
    sink.status.update({"/gone": 404, "/busy": 503, "/slow-down": 429})
    transport = WebhookTransport()
    with pytest.raises(TransportError) as gone:
        transport.send(_message(sink.url("/gone")))
    assert gone.value.permanent and "404" in gone.value.reason
    for path in ("/busy", "/slow-down"):
        with pytest.raises(TransportError) as busy:
            transport.send(_message(sink.url(path)))
        assert not busy.value.permanent


def test_an_unreachable_webhook_is_a_transient_failure():
    from support import free_port

    with pytest.raises(TransportError) as failed:
        WebhookTransport(timeout_s=1).send(_message(f"json://127.0.0.1:{free_port()}/x"))
    assert not failed.value.permanent and "unreachable" in failed.value.reason


def test_a_batch_goes_out_concurrently_and_each_is_recorded_once(
    district, make_supporter, smtp_sink, sink
):
    supporters = [
        make_supporter(
            district, email=f"m{i}@example.jp", notification_urls=[sink.url(f"/hook/{i}")]
        )
        for i in range(30)
    ]
    for s in supporters:
        enqueue_delivery(
            dedupe_key=f"t:{s.id}:email",
            channel=DeliveryChannel.email,
            address=s.email,
            subject="件名",
            body="本文",
            supporter_id=s.id,
        )
        address = s.notification_addresses[0]
        enqueue_delivery(
            dedupe_key=f"t:{s.id}:addr",
            channel=DeliveryChannel.webhook,
            address=address.url,
            subject="件名",
            body="本文",
            supporter_id=s.id,
            notification_address_id=address.id,
            channel_ref=f"addr:{address.id}",
        )
    db.session.commit()
    assert deliver_due_notifications(batch=100, threads=4) == 60
    assert len(smtp_sink.wait_for(30)) == 30
    assert sorted(m["X-Watchnet-Delivery"] for m in smtp_sink.messages) == sorted(
        f"t:{s.id}:email" for s in supporters
    )
    assert len(sink.requests) == 30
    # Four threads: at most four webhook connections and a handful of SMTP sessions.
    assert len(sink.connections) <= 4
    db.session.expire_all()
    assert set(db.session.scalars(sa.select(Delivery.status))) == {DeliveryStatus.sent}
    assert set(db.session.scalars(sa.select(Delivery.attempts))) == {1}
    assert deliver_due_notifications() == 0


def test_an_outcome_is_not_recorded_over_a_claim_taken_over(district, make_supporter):
    supporter = make_supporter(district)
    enqueue_delivery(
        dedupe_key="k",
        channel=DeliveryChannel.email,
        address=supporter.email,
        subject="s",
        body="b",
    )
    db.session.commit()
    [mine] = claim_due_deliveries()
    stale = OutgoingMessage.of(mine)
    # Our claim expires (a long pause) and another dispatcher takes the row over.
    mine.claimed_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    [theirs] = claim_due_deliveries()
    assert theirs.claim_token != stale.claim_token
    assert record_outcomes([Outcome(stale)]) == 0
    assert record_outcomes([Outcome(stale, error=TransportError("550", permanent=True))]) == 0
    db.session.expire_all()
    row = db.session.scalars(sa.select(Delivery)).one()
    assert row.status == DeliveryStatus.sending and row.claim_token == theirs.claim_token


def test_messages_not_started_within_the_claim_are_released_unsent(
    app, district, make_supporter, smtp_sink
):
    supporter = make_supporter(district, email="late@example.jp")
    enqueue_delivery(
        dedupe_key="late",
        channel=DeliveryChannel.email,
        address=supporter.email,
        subject="s",
        body="b",
    )
    db.session.commit()
    with Dispatcher(threads=1, batch=10) as dispatcher:
        # As if the lease could not be renewed before the thread got to it.
        dispatcher.send_max_s = 10 * dispatcher.lease_s
        assert dispatcher.run_once() == 1
    assert smtp_sink.wait_for(1, timeout_s=0.3) == []
    db.session.expire_all()
    row = db.session.scalars(sa.select(Delivery)).one()
    assert row.status == DeliveryStatus.pending and row.attempts == 0 and row.claim_token is None
    assert deliver_due_notifications() == 1
    assert len(smtp_sink.wait_for(1)) == 1


def test_a_lease_shorter_than_the_network_timeout_is_refused(app):
    previous = app.config["DELIVERY_LEASE_S"]
    app.config["DELIVERY_LEASE_S"] = 5
    try:
        with pytest.raises(ValueError, match="DELIVERY_LEASE_S"):
            Dispatcher()
    finally:
        app.config["DELIVERY_LEASE_S"] = previous


class SessionCountingSmtp:
    """An aiosmtpd handler counting SMTP sessions (EHLO) and messages."""

    def __init__(self) -> None:
        self.sessions = 0
        self.messages: list[bytes] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(envelope.content)
        return "250 Message accepted"


def test_smtp_sessions_are_reused_across_messages(app, district, make_supporter):
    from aiosmtpd.controller import Controller
    from support import free_port

    handler = SessionCountingSmtp()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    previous = (app.config["SMTP_HOST"], app.config["SMTP_PORT"])
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port)
    try:
        supporter = make_supporter(district, email="many@example.jp")
        for i in range(12):
            enqueue_delivery(
                dedupe_key=f"many{i}",
                channel=DeliveryChannel.email,
                address=supporter.email,
                subject="s",
                body=f"b{i}",
            )
        db.session.commit()
        assert deliver_due_notifications(batch=50, threads=1) == 12
    finally:
        app.config.update(SMTP_HOST=previous[0], SMTP_PORT=previous[1])
        controller.stop()
    assert len(handler.messages) == 12
    assert handler.sessions == 1


def test_a_permanent_webhook_failure_switches_the_address_off(district, make_supporter, sink):
    sink.status["/hook/gone"] = 410
    supporter = make_supporter(district, email=None, notification_urls=[sink.url("/hook/gone")])
    address = supporter.notification_addresses[0]
    enqueue_delivery(
        dedupe_key="gone",
        channel=DeliveryChannel.webhook,
        address=address.url,
        subject="s",
        body="b",
        notification_address_id=address.id,
        channel_ref=f"addr:{address.id}",
    )
    db.session.commit()
    deliver_due_notifications()
    db.session.expire_all()
    row = db.session.scalars(sa.select(Delivery)).one()
    assert row.status == DeliveryStatus.failed and "410" in (row.last_error or "")
    address = db.session.scalars(sa.select(NotificationAddress)).one()
    assert address.is_enabled is False and "410" in (address.disabled_reason or "")


def test_with_a_maildir_the_email_becomes_a_file_and_no_smtp_server_is_asked(
    app, district, make_supporter, tmp_path
):
    import mailbox

    app.config.update(
        MAIL_MAILDIR=str(tmp_path / "mail"), SMTP_HOST="127.0.0.1", SMTP_PORT=1
    )  # nothing listens there: SMTP would fail
    try:
        supporter = make_supporter(district, email="file@example.jp")
        enqueue_delivery(
            dedupe_key="to-file",
            channel=DeliveryChannel.email,
            address=supporter.email,
            subject="捜索のお願い",
            body="本文です",
        )
        db.session.commit()
        assert deliver_due_notifications() == 1
    finally:
        app.config.update(MAIL_MAILDIR="", SMTP_HOST="localhost", SMTP_PORT=25)
    db.session.expire_all()
    assert db.session.scalars(sa.select(Delivery.status)).one() == DeliveryStatus.sent
    [message] = list(mailbox.Maildir(tmp_path / "mail", create=False))
    assert message["To"] == "file@example.jp"
    assert message["X-Watchnet-Delivery"] == "to-file"
    assert str(message.get_payload(decode=True), "utf-8").strip() == "本文です"


def test_outcomes_that_could_not_be_recorded_are_recorded_after_the_database_returns(
    app, district, make_supporter, smtp_sink, monkeypatch
):
    """A database error while recording (an outage): the sends already made are kept and
    recorded first on the next round, before anything is claimed, so none is sent twice."""
    import watchnet.jobs.deliveries as deliveries

    for i in range(5):
        enqueue_delivery(
            dedupe_key=f"outage{i}",
            channel=DeliveryChannel.email,
            address=f"o{i}@example.jp",
            subject="s",
            body="b",
        )
    db.session.commit()
    real_record = deliveries.record_outcomes
    failures = []

    def record_during_an_outage(outcomes: Any) -> int:
        if not failures:
            failures.append(len(list(outcomes)))
            raise sa.exc.OperationalError("UPDATE delivery", {}, Exception("server closed"))
        return real_record(outcomes)

    monkeypatch.setattr(deliveries, "record_outcomes", record_during_an_outage)
    with Dispatcher(threads=1, batch=10) as dispatcher:
        with pytest.raises(sa.exc.OperationalError):
            dispatcher.run_once()
        db.session.rollback()
        sent_during = len(smtp_sink.wait_for(1))
        assert sent_during >= 1 and len(dispatcher.pending) == 5
        # The next round records the held-over outcomes, then sends what was not started.
        while dispatcher.run_once():
            pass
        assert dispatcher.pending == []
    keys = [str(m["X-Watchnet-Delivery"]) for m in smtp_sink.wait_for(5)]
    assert sorted(keys) == [f"outage{i}" for i in range(5)]  # each exactly once
    db.session.expire_all()
    rows = list(db.session.scalars(sa.select(Delivery)))
    assert {r.status for r in rows} == {DeliveryStatus.sent}
    assert {r.attempts for r in rows} == {1}
