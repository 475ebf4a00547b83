"""Issue 11's end-to-end check, at the receiving end: an exercise alert to the demo's supporters,
whose channels are mixed (e-mail, LINE, SMS, a landline, one phone with push), goes through the
real dispatcher to a real SMTP server and to the stand-ins of the push service, LINE's
Messaging API and the Twilio gateway. Each person is told once per channel; five minutes later
each one's next channel reaches only those who neither opened nor answered, and after ten the
last one. What each stand-in received is what the outbox says."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alert_core_support import alert_input
from alert_reach_support import by_channel, rows_of, time_passes
from flask import Flask
from flask.testing import FlaskClient

from tests.notifications.line_support import (
    LineStandIn,
    line_on,  # noqa: F401 - fixture
    line_standin,  # noqa: F401 - fixture
)
from tests.notifications.push_support import PushServiceStandIn
from tests.notifications.twilio_support import TwilioStandIn
from watchnet.alerts.services import start_alert
from watchnet.core.extensions import db
from watchnet.demo import DEMO_LOGINS, YAWATA_CENTER, load_demo_data
from watchnet.jobs.deliveries import deliver_due_notifications
from watchnet.notifications.hooks import Answer
from watchnet.notifications.services import record_answer
from watchnet.people.models import LineLink, PushSubscription, StaffUser, Supporter

PUBLIC = "https://watch.example.jp"


@pytest.fixture()
def gateway(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwilioStandIn]:
    stand_in = TwilioStandIn().start()
    for key, value in stand_in.config().items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", PUBLIC)
    yield stand_in
    stand_in.stop()


@pytest.fixture()
def push_service() -> Iterator[PushServiceStandIn]:
    with PushServiceStandIn() as service:
        yield service


def _deliver_all() -> None:
    while deliver_due_notifications(batch=200) > 0:
        pass


def _token(link: str) -> str:
    return link.split("/a/")[1].split("?")[0]


def test_an_exercise_reaches_each_demo_supporter_once_per_channel_and_escalates_to_the_silent(
    app: Flask,
    client: FlaskClient,
    smtp_sink: Any,
    line_on: LineStandIn,  # noqa: F811
    gateway: TwilioStandIn,
    push_service: PushServiceStandIn,
) -> None:
    load_demo_data()
    db.session.commit()
    people = {
        s.email.split("@")[0]: s
        for s in db.session.scalars(sa.select(Supporter).where(Supporter.email.is_not(None)))
        if s.email
    }
    # Kiyoshi also turned push on, on his phone.
    phone = push_service.subscribe(application_server_key=app.config["VAPID_PUBLIC_KEY"])
    keys = phone.to_json()["keys"]
    db.session.add(
        PushSubscription(
            supporter_id=people["kiyoshi.nakamura"].id,
            endpoint=phone.endpoint,
            p256dh=keys["p256dh"],
            auth=keys["auth"],
        )
    )
    db.session.commit()
    coordinator = db.session.scalars(
        sa.select(StaffUser).where(StaffUser.email == DEMO_LOGINS["coordinator"][0])
    ).one()
    alert = start_alert(
        coordinator.districts[0],
        coordinator,
        alert_input(
            is_exercise=True, last_seen_lat=YAWATA_CENTER[0], last_seen_lon=YAWATA_CENTER[1]
        ),
    )
    db.session.commit()
    _deliver_all()

    # At once: everyone by e-mail, LINE users on LINE, Kiyoshi's phone by push — once each.
    mails = Counter(m["To"] for m in smtp_sink.wait_for(len(people)))
    assert mails == Counter(s.email for s in people.values())
    line_users = {link.line_user_id for link in db.session.scalars(sa.select(LineLink))}
    assert Counter(p["to"] for p in line_on.pushes) == Counter(line_users)
    assert all("訓練" in p["messages"][0]["altText"] for p in line_on.pushes)
    [push] = push_service.wait_for(1)
    assert push.payload["url"].startswith(f"{PUBLIC}/a/") and "via=push" in push.payload["url"]
    assert gateway.messages() == [] and gateway.calls() == []

    # Ichiro opens his e-mail's link; Susumu answers 「捜索に参加する」 on LINE.
    ichiro = by_channel(rows_of(alert.id, people["ichiro.sato"].id))
    opened = client.post(f"/a/{_token(ichiro['email'].link)}/opened", json={"via": "email"})
    assert opened.status_code == 200
    susumu_line = by_channel(rows_of(alert.id, people["susumu.takahashi"].id))["line"]
    assert record_answer(susumu_line, Answer.yes)
    db.session.commit()

    # Five minutes on, each silent person's next channel: an SMS to Setsuko and a call to
    # Kazuko's landline (she has no SMS); none to Ichiro (opened) or Susumu (answered).
    time_passes(5)
    _deliver_all()
    assert [m.to for m in gateway.messages()] == ["+819000000105"]
    assert "?via=sms" in gateway.messages()[0].body
    assert [c.to for c in gateway.calls()] == ["+81273000103"]

    # Ten minutes on: Setsuko, still silent, is called too.
    time_passes(5)
    _deliver_all()
    assert sorted(c.to for c in gateway.calls()) == ["+81273000103", "+819000000105"]
    # Nothing went twice anywhere.
    assert len(smtp_sink.messages) == len(people)
    assert len(line_on.pushes) == len(line_users)
    assert len(push_service.received) == 1 and len(gateway.messages()) == 1
