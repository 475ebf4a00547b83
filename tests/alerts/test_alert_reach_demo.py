"""The demo's supporters have mixed channels (issue 11, point 9), and an exercise alert to them
tells each once per channel and escalates only to those who neither opened nor answered (the
alert's part of the issue's end-to-end check; the channels' stand-ins check the rest)."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from alert_core_support import alert_input
from alert_reach_support import by_channel, rows_of
from flask.testing import FlaskClient

from watchnet.alerts.models import AlertRecipient
from watchnet.alerts.services import start_alert
from watchnet.core.extensions import db
from watchnet.demo import DEMO_CHANNELS, DEMO_LOGINS, YAWATA_CENTER, load_demo_data
from watchnet.notifications.hooks import Answer
from watchnet.notifications.models import Delivery, DeliveryStatus
from watchnet.notifications.services import record_answer
from watchnet.people.models import LineLink, PhoneChannel, StaffUser, Supporter


def _demo() -> dict[str, Supporter]:
    load_demo_data()
    db.session.commit()
    return {
        s.email.split("@")[0]: s
        for s in db.session.scalars(sa.select(Supporter).where(Supporter.email.is_not(None)))
        if s.email
    }


def test_the_demo_gives_some_supporters_line_and_phone_channels_once() -> None:
    supporters = _demo()
    assert load_demo_data() is False  # a second run adds nothing
    db.session.commit()
    links = {link.supporter_id: link for link in db.session.scalars(sa.select(LineLink))}
    phones = list(db.session.scalars(sa.select(PhoneChannel)))
    assert {supporters[k].id for k, v in DEMO_CHANNELS.items() if "line" in v} == set(links)
    assert all(
        link.line_user_id.startswith("U") and len(link.line_user_id) == 33
        for link in links.values()
    )
    by_owner = {(p.supporter_id, p.number): p for p in phones}
    setsuko = by_owner[(supporters["setsuko.tanaka"].id, "+819000000105")]
    assert setsuko.sms and setsuko.voice  # one mobile, both uses: one row
    landline = by_owner[(supporters["kazuko.suzuki"].id, "+81273000103")]
    assert landline.voice and not landline.sms and landline.label == "自宅"
    assert len(phones) == 4
    assert all(s.email_enabled for s in supporters.values())  # everyone keeps e-mail


def test_an_exercise_to_the_demo_tells_each_once_per_channel_and_escalates_to_non_openers(
    client: FlaskClient,
) -> None:
    supporters = _demo()
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
    told = set(
        db.session.scalars(
            sa.select(AlertRecipient.supporter_id).where(AlertRecipient.alert_id == alert.id)
        )
    )
    assert told == {s.id for s in supporters.values()}
    rows = list(db.session.scalars(sa.select(Delivery).where(Delivery.topic_id == alert.id)))
    # Once per channel: one row per supporter and channel reference.
    assert max(Counter((d.supporter_id, d.channel, d.channel_ref) for d in rows).values()) == 1
    assert all(d.summary.startswith("【訓練】") for d in rows)
    plan = {
        local: {c: d.tier for c, d in by_channel(rows_of(alert.id, s.id)).items()}
        for local, s in supporters.items()
    }
    assert plan["hanako.yamada"] == {"email": 0, "line": 0}
    assert plan["ichiro.sato"] == {"email": 0, "sms": 1}
    assert plan["kazuko.suzuki"] == {"email": 0, "voice": 1}
    assert plan["susumu.takahashi"] == {"email": 0, "line": 0, "sms": 1}
    assert plan["setsuko.tanaka"] == {"email": 0, "sms": 1, "voice": 2}
    assert plan["kiyoshi.nakamura"] == {"email": 0}

    # Ichiro opens the e-mail's link; Susumu answers with LINE's 「捜索に参加する」.
    ichiro = by_channel(rows_of(alert.id, supporters["ichiro.sato"].id))
    token = ichiro["email"].link.split("/a/")[1].split("?")[0]
    assert client.post(f"/a/{token}/opened", json={"via": "email"}).status_code == 200
    susumu_line = by_channel(rows_of(alert.id, supporters["susumu.takahashi"].id))["line"]
    susumu_line.status = DeliveryStatus.sent
    assert record_answer(susumu_line, Answer.yes) is True
    db.session.commit()

    waiting = {
        (local, str(d.channel))
        for local, s in supporters.items()
        for d in rows_of(alert.id, s.id)
        if d.tier > 0 and d.status == DeliveryStatus.pending
    }
    assert waiting == {
        ("kazuko.suzuki", "voice"),
        ("setsuko.tanaka", "sms"),
        ("setsuko.tanaka", "voice"),
    }
