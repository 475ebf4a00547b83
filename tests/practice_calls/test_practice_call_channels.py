"""A practice call on LINE, SMS and an automated call, against the stand-ins of LINE's
Messaging API and of the Twilio gateway (tests/notifications): a signed LINE postback and a
signed "2" on the phone count as answers through the answer hook, opening the SMS link stops
the call that would have followed, the gateway's delivery report shows as delivered, and the
reach table matches what the stand-ins received."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from practice_support import (
    add_participants,
    channel_counts,
    deliver_all,
    deliveries_of,
    let_time_pass,
    recipient_of,
    the_call,
    unreached_states,
)

from tests.notifications.line_support import (
    SECRET,
    LineStandIn,
    line_on,  # noqa: F401 - fixture
    line_standin,  # noqa: F401 - fixture
    new_user_id,
    post_events,
)
from tests.notifications.twilio_support import TwilioStandIn
from watchnet.core.extensions import db
from watchnet.notifications.hooks import Answer
from watchnet.notifications.models import DeliveryStatus
from watchnet.notifications.transports.line import parse_postback_data
from watchnet.people.channels import add_phone_channel
from watchnet.people.models import LineLink

PUBLIC = "https://watch.example.jp"


@pytest.fixture()
def gateway(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwilioStandIn]:
    stand_in = TwilioStandIn().start()
    for key, value in stand_in.config().items():
        monkeypatch.setitem(app.config, key, value)
    # Twilio signs the public URL of its callbacks; the personal links are on it too.
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", PUBLIC)
    monkeypatch.setitem(
        app.config, "CHANNEL_CHAINS", ["practice_call=line > sms > voice", "*=email"]
    )
    monkeypatch.setitem(app.config, "ESCALATION_STEPS", ["practice_call=5"])
    yield stand_in
    stand_in.stop()


def test_answers_on_line_and_the_phone_count_and_the_table_matches_the_stand_ins(
    app,
    client,
    organizer_client,
    district,
    make_supporter,
    make_drill,
    line_on: LineStandIn,  # noqa: F811
    gateway: TwilioStandIn,
):
    liner = make_supporter(district, email=None)
    user_id = new_user_id()
    db.session.add(LineLink(supporter_id=liner.id, line_user_id=user_id))
    texter = make_supporter(district, email=None)
    add_phone_channel(texter, "090-1234-5678", sms=True, voice=True, consent=True)
    caller = make_supporter(district, email=None)
    add_phone_channel(caller, "027-321-1234", sms=False, voice=True, consent=True)
    db.session.commit()
    drill = make_drill(district)
    add_participants(drill, [liner, texter, caller])

    response = organizer_client.post(
        f"/drills/{drill.id}/practice-call", data={"audience": "participants", "client_key": "c1"}
    )
    assert response.status_code == 302
    call = the_call()
    deliver_all()

    # LINE: one push with the two answers as postback buttons for this practice call.
    [push] = line_on.pushes
    assert push["to"] == user_id
    actions = push["messages"][0]["template"]["actions"]
    postbacks = [parse_postback_data(a["data"]) for a in actions if a["type"] == "postback"]
    assert {p.answer_topic for p in postbacks} == {f"practice_call:{call.id}"}
    assert "訓練" in push["messages"][0]["altText"]
    # SMS to the mobile (the first tier it has), a call to the landline; the mobile's call waits.
    [sms] = gateway.messages()
    assert sms.to == "+819012345678" and "?via=sms" in sms.body
    [phone_call] = gateway.calls()
    assert phone_call.to == "+81273211234"
    assert deliveries_of(call.id, texter.id)["voice"].status == DeliveryStatus.pending

    # The LINE user taps the first button: a signed postback, recorded as a tap on the page.
    yes = next(a for a in actions if a["type"] == "postback" and "a=yes" in a["data"])
    refused = post_events(client, SECRET, line_on.postback(user_id, yes["data"]), sign_with="x")
    assert refused.status_code in (400, 401, 403)
    assert recipient_of(call.id, liner.id).answer is None
    assert post_events(client, SECRET, line_on.postback(user_id, yes["data"])).status_code == 200
    answered = recipient_of(call.id, liner.id)
    assert answered.answer == Answer.yes and answered.answered_via == "line"

    # The landline presses 2 (signed as Twilio signs it).
    status, _twiml = gateway.press(phone_call, "2", client)
    assert status == 200
    by_phone = recipient_of(call.id, caller.id)
    assert by_phone.answer == Answer.no and by_phone.answered_via == "voice"

    # The mobile's SMS is reported delivered, and its link is opened: the call is not needed.
    assert gateway.report(sms, "delivered", client=client)[0] in (200, 204)
    link_path = urlsplit(sms.body[sms.body.index(PUBLIC) :].split()[0]).path
    assert client.post(f"{link_path}/opened", json={"via": "sms"}).status_code == 200
    assert deliveries_of(call.id, texter.id)["voice"].status == DeliveryStatus.skipped
    let_time_pass(call.id)
    deliver_all()
    assert len(gateway.calls()) == 1 and len(gateway.messages()) == 1 and len(line_on.pushes) == 1

    html = organizer_client.get(f"/practice-calls/{call.id}").get_data(as_text=True)
    counts = channel_counts(html)
    assert counts["line"]["sent"] == len(line_on.pushes) == 1
    assert counts["line"]["answered"] == 1
    assert counts["sms"]["sent"] == len(gateway.messages()) == 1
    assert counts["sms"]["delivered"] == 1 and counts["sms"]["opened"] == 1
    assert counts["voice"]["sent"] == len(gateway.calls()) == 1
    assert counts["voice"]["answered"] == 1 and counts["voice"]["skipped"] == 1
    assert unreached_states(html) == {}
    assert '<dd data-figure="reached">3 ' in html
