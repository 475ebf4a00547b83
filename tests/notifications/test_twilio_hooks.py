"""SMS and calls end to end: an alert goes through the real fan-out and dispatcher to the
Twilio stand-in; the callee's keys and the carrier's delivery reports come back signed as
Twilio signs them, and only signed ones change anything."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from twilio_support import TwilioStandIn, count_segments

from watchnet.alerts.models import Acknowledgement, AlertRecipient, AlertStatus
from watchnet.alerts.services import AlertInput, close_alert, start_alert
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.jobs.deliveries import deliver_due_notifications
from watchnet.notifications.models import Delivery, DeliveryChannel, DeliveryStatus
from watchnet.people.channels import add_phone_channel
from watchnet.people.models import PhoneChannel

PUBLIC = "https://watch.example.jp"
CENTRE = (36.3335, 138.9455)
MOBILE = "090-1234-5678"
LANDLINE = "027-321-1234"


@pytest.fixture
def gateway(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwilioStandIn]:
    """The stand-in, with the app's settings pointing at it; SMS and calls in one tier so the
    dispatcher sends both at once."""
    stand_in = TwilioStandIn().start()
    for key, value in stand_in.config().items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", PUBLIC)
    monkeypatch.setitem(app.config, "CHANNEL_CHAINS", ["*=push line email webhook sms voice"])
    yield stand_in
    stand_in.stop()


def phone_supporter(make_supporter: Any, district: Any, number: str, **uses: bool) -> Any:
    """A supporter at the alert's centre reached only by phone."""
    supporter = make_supporter(district, email=None)
    supporter.home_lat, supporter.home_lon = CENTRE
    add_phone_channel(supporter, number, consent=True, **uses)
    db.session.commit()
    return supporter


def start_exercise(district: Any, coordinator: Any) -> Any:
    alert = start_alert(
        district,
        coordinator,
        AlertInput(
            last_seen_at=utcnow() - timedelta(minutes=5),
            last_seen_lat=CENTRE[0],
            last_seen_lon=CENTRE[1],
            contact_phone="0270-00-0000",
            last_seen_place="八幡公民館の前",
            display_name="見守 一郎",
            age=82,
            is_exercise=True,
        ),
    )
    assert deliver_due_notifications() >= 1
    return alert


def recipient_of(alert: Any, supporter: Any) -> AlertRecipient:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(AlertRecipient).where(
            AlertRecipient.alert_id == alert.id, AlertRecipient.supporter_id == supporter.id
        )
    ).one()


def delivery_of(channel: DeliveryChannel) -> Delivery:
    db.session.expire_all()
    return db.session.scalars(sa.select(Delivery).where(Delivery.channel == channel)).one()


@pytest.fixture
def called(gateway, district, coordinator, make_supporter):
    """An exercise alert that called a supporter with only a landline."""
    supporter = phone_supporter(make_supporter, district, LANDLINE, sms=False, voice=True)
    alert = start_exercise(district, coordinator)
    [call] = gateway.calls()
    return alert, supporter, call


def test_an_alert_goes_by_sms_in_two_segments_with_the_personal_link(
    gateway, district, coordinator, make_supporter
):
    supporter = phone_supporter(make_supporter, district, MOBILE, sms=True, voice=False)
    alert = start_exercise(district, coordinator)
    [sms] = gateway.messages()
    delivery = delivery_of(DeliveryChannel.sms)
    recipient = recipient_of(alert, supporter)
    assert sms.to == "+819012345678"
    assert delivery.status == DeliveryStatus.sent and delivery.provider_ref == sms.sid
    assert delivery.link.startswith(f"{PUBLIC}/a/{recipient.token}")
    assert sms.body.endswith("\n" + delivery.link)
    assert sms.segments <= 2 and count_segments(sms.body)[0] == sms.segments
    assert "訓練" in sms.body  # an exercise says so, in the text itself
    assert "見守 一郎" not in sms.body


def test_the_call_reads_the_alert_in_japanese_and_asks_for_1_or_2(called):
    alert, _supporter, call = called
    assert call.to == "+81273211234"
    assert call.gather() is not None
    delivery = delivery_of(DeliveryChannel.voice)
    assert call.gather().get("action") == f"{PUBLIC}/hooks/twilio/voice/{delivery.id}"
    assert len(call.said) == 3  # the alert and the question twice, then "no answer"
    for text in call.said[:2]:
        assert "訓練" in text and "捜索" in text
        assert "捜索に参加する場合は1を、今は参加できない場合は2を押してください" in text
    assert not any("見守 一郎" in text for text in call.said)


def test_a_signed_1_records_ill_search_as_a_tap_would(called, gateway, client):
    alert, supporter, call = called
    status, twiml = gateway.press(call, "1", client)
    assert status == 200
    assert "「捜索に参加する」とお答えいただきました" in twiml and "<Hangup" in twiml
    recipient = recipient_of(alert, supporter)
    assert recipient.answer == Acknowledgement.searching
    assert delivery_of(DeliveryChannel.voice).answered_at is not None


def test_a_signed_2_records_i_cannot_now(called, gateway, client):
    alert, supporter, call = called
    status, twiml = gateway.press(call, "2", client)
    assert status == 200 and "「今は参加できない」" in twiml
    assert recipient_of(alert, supporter).answer == Acknowledgement.cannot


def test_another_key_hears_the_question_again_and_records_nothing(called, gateway, client):
    alert, supporter, call = called
    status, twiml = gateway.press(call, "9", client)
    assert status == 200
    assert "<Gather" in twiml and "1を、今は参加できない場合は2を押してください" in twiml
    assert recipient_of(alert, supporter).answer is None


def _refused(
    client: Any, gateway: TwilioStandIn, url: str, params: dict[str, str], headers: dict[str, str]
) -> int:
    path = url.removeprefix(PUBLIC)
    return client.post(path, data=params, headers=headers, base_url=PUBLIC).status_code


def test_unsigned_or_wrongly_signed_keys_are_refused_and_change_nothing(called, gateway, client):
    alert, supporter, call = called
    url, params = gateway.press_params(call, "1")
    other = TwilioStandIn(auth_token="somebody-elses-token")
    other.server.server_close()
    signed_for_2 = gateway.signed(url, {**params, "Digits": "2"})["X-Twilio-Signature"]
    attempts = {
        "unsigned": {},
        "signed with another token": other.signed(url, params),
        "signature of other parameters": {"X-Twilio-Signature": signed_for_2},
        "garbage": {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
    }
    for what, headers in attempts.items():
        headers = {k: v for k, v in headers.items() if k == "X-Twilio-Signature"}
        assert _refused(client, gateway, url, params, headers) == 403, what
    # A valid signature for one delivery does not carry over to another delivery's URL.
    other_url = url.rsplit("/", 1)[0] + "/999999"
    headers = {"X-Twilio-Signature": gateway.signed(url, params)["X-Twilio-Signature"]}
    assert _refused(client, gateway, other_url, params, headers) == 403
    recipient = recipient_of(alert, supporter)
    assert recipient.answer is None and recipient.answered_at is None
    assert delivery_of(DeliveryChannel.voice).answered_at is None


def test_keys_after_the_search_ended_are_not_taken(called, gateway, client, coordinator):
    alert, supporter, call = called
    close_alert(alert, outcome=AlertStatus.found, actor=coordinator)
    db.session.commit()
    status, twiml = gateway.press(call, "1", client)
    assert status == 200 and "受け付けられませんでした" in twiml
    assert recipient_of(alert, supporter).answer is None


def test_a_delivery_report_marks_the_sms_delivered(
    gateway, district, coordinator, make_supporter, client
):
    phone_supporter(make_supporter, district, MOBILE, sms=True, voice=False)
    start_exercise(district, coordinator)
    [sms] = gateway.messages()
    url, params = gateway.status_params(sms, "delivered")
    assert _refused(client, gateway, url, params, {}) == 403  # unsigned: nothing changes
    assert delivery_of(DeliveryChannel.sms).delivered_at is None
    for on_the_way in ("queued", "sent"):
        assert gateway.report(sms, on_the_way, client=client)[0] == 204
    assert delivery_of(DeliveryChannel.sms).delivered_at is None
    assert gateway.report(sms, "delivered", client=client)[0] == 204
    delivery = delivery_of(DeliveryChannel.sms)
    assert delivery.delivered_at is not None and delivery.status == DeliveryStatus.sent


def test_an_sms_a_number_cannot_take_is_recorded_and_switches_sms_off(
    gateway, district, coordinator, make_supporter, client
):
    phone_supporter(make_supporter, district, MOBILE, sms=True, voice=True)
    start_exercise(district, coordinator)
    [sms] = gateway.messages()
    assert gateway.report(sms, "undelivered", error_code=30006, client=client)[0] == 204
    delivery = delivery_of(DeliveryChannel.sms)
    assert delivery.status == DeliveryStatus.failed
    assert "not delivered" in (delivery.last_error or "") and "30006" in (delivery.last_error or "")
    channel = db.session.scalars(sa.select(PhoneChannel)).one()
    assert channel.sms is False and channel.voice is True and channel.is_enabled
    assert delivery_of(DeliveryChannel.voice).status == DeliveryStatus.sent  # the call stands


def test_an_unanswered_call_is_recorded_as_its_error_and_an_answered_one_as_delivered(
    called, gateway, client
):
    _alert, _supporter, call = called
    assert gateway.report(call, "no-answer", client=client)[0] == 204
    delivery = delivery_of(DeliveryChannel.voice)
    assert delivery.status == DeliveryStatus.failed
    assert delivery.last_error == "nobody answered the call"
    assert db.session.scalars(sa.select(PhoneChannel)).one().voice is True  # not the number's fault


def test_a_completed_call_counts_as_delivered(called, gateway, client):
    _alert, _supporter, call = called
    assert gateway.report(call, "completed", client=client)[0] == 204
    assert delivery_of(DeliveryChannel.voice).delivered_at is not None


def test_without_gateway_settings_the_demo_writes_sms_and_calls_into_the_instance(
    app, district, coordinator, make_supporter, monkeypatch
):
    monkeypatch.setitem(app.config, "CHANNEL_CHAINS", ["*=push line email webhook sms voice"])
    outbox = Path(app.instance_path) / "outbox"
    shutil.rmtree(outbox, ignore_errors=True)
    phone_supporter(make_supporter, district, MOBILE, sms=True, voice=True)
    start_exercise(district, coordinator)
    [sms_file] = (outbox / "sms").iterdir()
    [call_file] = (outbox / "voice").iterdir()
    sms = sms_file.read_text(encoding="utf-8")
    assert "To: +819012345678" in sms and "/a/" in sms
    call = call_file.read_text(encoding="utf-8")
    assert "<Gather" in call and "ja-JP" in call and "1を、今は参加できない場合は2を" in call
    db.session.expire_all()
    statuses = set(db.session.scalars(sa.select(Delivery.status)))
    assert statuses == {DeliveryStatus.sent}
    shutil.rmtree(outbox)


def test_the_dispatcher_fails_an_sms_the_number_refused_for_good_and_keeps_its_calls(
    gateway, district, coordinator, make_supporter
):
    gateway.refuse["sms:+819012345678"] = (400, 21610)  # the number replied STOP
    phone_supporter(make_supporter, district, MOBILE, sms=True, voice=True)
    start_exercise(district, coordinator)
    sms = delivery_of(DeliveryChannel.sms)
    assert sms.status == DeliveryStatus.failed and "21610" in (sms.last_error or "")
    channel = db.session.scalars(sa.select(PhoneChannel)).one()
    assert (channel.sms, channel.voice, channel.is_enabled) == (False, True, True)
    assert delivery_of(DeliveryChannel.voice).status == DeliveryStatus.sent
    assert len(gateway.calls()) == 1


def test_the_dispatcher_retries_an_sms_the_gateway_could_not_take_now(
    gateway, district, coordinator, make_supporter
):
    gateway.fail_next.extend([503])
    phone_supporter(make_supporter, district, MOBILE, sms=True, voice=False)
    start_exercise(district, coordinator)
    sms = delivery_of(DeliveryChannel.sms)
    assert sms.status == DeliveryStatus.pending and sms.attempts == 1
    assert "503" in (sms.last_error or "") and sms.next_attempt_at > utcnow()
    assert gateway.messages() == []
