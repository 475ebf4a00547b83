"""Practice calls, page by page: who may send and see them, the audience, refusals with their
field messages, closing, ended links, bad input on the phone page, quiet hours, and the
previous call's figure beside this one's."""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from practice_support import add_participants, deliver_all, deliveries_of, recipient_of

from watchnet.auth.services import revoke_signin_token
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.timefmt import display_zone
from watchnet.notifications.hooks import Answer
from watchnet.notifications.models import Delivery, DeliveryChannel, DeliveryStatus
from watchnet.practice_calls import services
from watchnet.practice_calls.models import PracticeAudience, PracticeCall, PracticeCallRecipient
from watchnet.practice_calls.reach import call_reach


@pytest.fixture()
def drill_with_two(district: Any, make_supporter: Any, make_drill: Any) -> Any:
    drill = make_drill(district)
    add_participants(
        drill,
        [
            make_supporter(district, email="a@example.jp"),
            make_supporter(district, email="b@example.jp"),
        ],
    )
    return drill


def _send(drill: Any, organizer: Any, audience: str = "participants") -> PracticeCall:
    call, _created = services.send_practice_call(drill, PracticeAudience(audience), organizer)
    db.session.commit()
    return call


def _token(call: PracticeCall) -> str:
    return db.session.scalars(
        sa.select(PracticeCallRecipient.token)
        .where(PracticeCallRecipient.practice_call_id == call.id)
        .order_by(PracticeCallRecipient.id)
    ).first()


# ---------------------------------------------------------------------------------------------
# Access


def test_staff_of_another_district_can_neither_see_nor_send(
    app, drill_with_two, organizer, outsider_client, supporter_client
):
    drill = drill_with_two
    call = _send(drill, organizer)
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Delivery))
    assert outsider_client.get(f"/drills/{drill.id}/practice-call").status_code == 404
    sent = outsider_client.post(
        f"/drills/{drill.id}/practice-call", data={"audience": "district", "client_key": "x1"}
    )
    assert sent.status_code == 404
    assert outsider_client.get(f"/practice-calls/{call.id}").status_code == 404
    assert outsider_client.get(f"/practice-calls/{call.id}/reach.csv").status_code == 404
    assert outsider_client.post(f"/practice-calls/{call.id}/close").status_code == 404
    supporters = outsider_client.get("/supporters").get_data(as_text=True)
    assert 'id="practice-reach"' not in supporters
    # The other district named in the filter is not theirs: still nothing of it.
    filtered = outsider_client.get(f"/supporters?district={drill.district_id}")
    assert 'id="practice-reach"' not in filtered.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PracticeCall)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == before
    assert db.session.get(PracticeCall, call.id).closed_at is None
    # A supporter's phone is no staff member either.
    assert supporter_client.get(f"/drills/{drill.id}/practice-call").status_code == 403


def test_a_coordinator_of_the_district_sends_to_every_active_supporter_of_it(
    app, client, district, other_district, coordinator, make_supporter, make_drill, smtp_sink
):
    from support import login

    drill = make_drill(district)
    active = [make_supporter(district, email=f"d{i}@example.jp") for i in range(3)]
    gone = make_supporter(district, email="gone@example.jp")
    gone.is_active = False
    make_supporter(other_district, email="elsewhere@example.jp")
    db.session.commit()
    login(client, coordinator)
    page = client.get(f"/drills/{drill.id}/practice-call").get_data(as_text=True)
    # No participants yet: the district is preselected.
    assert re.search(r'<input [^>]*checked[^>]*value="district"', page)
    response = client.post(
        f"/drills/{drill.id}/practice-call", data={"audience": "district", "client_key": "k-2"}
    )
    assert response.status_code == 302
    call = db.session.scalar(sa.select(PracticeCall))
    ids = set(
        db.session.scalars(
            sa.select(PracticeCallRecipient.supporter_id).where(
                PracticeCallRecipient.practice_call_id == call.id
            )
        )
    )
    assert ids == {s.id for s in active}
    deliver_all()
    assert {str(m["To"]) for m in smtp_sink.messages} == {s.email for s in active}


def test_nobody_to_call_and_no_choice_are_refused_next_to_the_field(
    organizer_client, district, make_drill
):
    drill = make_drill(district)
    nobody = organizer_client.post(
        f"/drills/{drill.id}/practice-call", data={"audience": "participants", "client_key": "k"}
    )
    assert nobody.status_code == 400
    assert "この訓練に活動中の参加者がいません" in nobody.get_data(as_text=True)
    for value in ("", "everyone"):
        bad = organizer_client.post(
            f"/drills/{drill.id}/practice-call", data={"audience": value, "client_key": "k"}
        )
        assert bad.status_code == 400
        assert "送る相手を選んでください。" in bad.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PracticeCall)) == 0


def test_the_drill_page_has_the_button_and_lists_the_calls_sent_from_it(
    organizer_client, drill_with_two, organizer
):
    page = organizer_client.get(f"/drills/{drill_with_two.id}").get_data(as_text=True)
    assert "連絡訓練を送る" in page and 'id="practice-calls"' not in page
    call = _send(drill_with_two, organizer)
    page = organizer_client.get(f"/drills/{drill_with_two.id}").get_data(as_text=True)
    assert f'/practice-calls/{call.id}"' in page and "2名中0名に到達" in page


# ---------------------------------------------------------------------------------------------
# The phone page


def test_the_phone_page_says_it_is_a_practice_and_takes_both_answers(
    client, drill_with_two, organizer
):
    call = _send(drill_with_two, organizer)
    token = _token(call)
    page = client.get(f"/p/{token}?via=email")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "これは連絡訓練です。実際の捜索ではありません。" in html
    assert "参加できます" in html and "今は参加できない" in html
    assert page.headers["Cache-Control"] == "no-store, private"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    # Without scripts: the form posts, the answer is kept and the page comes back.
    posted = client.post(f"/p/{token}/answer", data={"answer": "yes", "via": "email"})
    assert posted.status_code == 303 and posted.headers["Location"].endswith("?via=email")
    again = client.get(posted.headers["Location"]).get_data(as_text=True)
    assert "「参加できます」と答えました" in again
    # Changed by the script later: the first answer's time stays, the answer changes.
    recipient = db.session.scalar(
        sa.select(PracticeCallRecipient).where(PracticeCallRecipient.token == token)
    )
    first_at = recipient.answered_at
    changed = client.post(f"/p/{token}/answer", json={"answer": "no", "via": "email"})
    assert changed.status_code == 200 and changed.get_json()["answer"] == "no"
    db.session.expire_all()
    recipient = db.session.get(PracticeCallRecipient, recipient.id)
    assert recipient.answer == Answer.no and recipient.answered_at == first_at
    assert recipient.opened_at is not None and recipient.opened_via == "email"


def test_bad_input_on_the_phone_page_is_refused_with_field_messages(
    client, drill_with_two, organizer
):
    call = _send(drill_with_two, organizer)
    token = _token(call)
    assert client.get("/p/not-a-token").status_code == 404
    assert client.get("/p/" + "x" * 43).status_code == 404
    assert client.post("/p/" + "x" * 43 + "/opened", json={}).status_code == 404
    for body in ({"answer": "maybe"}, {}, {"answer": ["yes"]}):
        bad = client.post(f"/p/{token}/answer", json=body)
        assert bad.status_code == 422
        assert bad.get_json()["errors"]["answer"]
    not_an_object = client.post(f"/p/{token}/answer", json=["yes"])
    assert not_an_object.status_code == 422
    form_bad = client.post(f"/p/{token}/answer", data={"answer": "maybe"})
    assert form_bad.status_code == 422 and "answer-error" in form_bad.get_data(as_text=True)
    # An unknown channel in `via` is not an error: the opening is kept, its channel unknown.
    opened = client.post(f"/p/{token}/opened", json={"via": "carrier-pigeon"})
    assert opened.status_code == 200 and opened.get_json()["opened_via"] == ""
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(PracticeCallRecipient)
            .where(PracticeCallRecipient.answer.is_not(None))
        )
        == 0
    )


def test_a_revoked_link_ends_the_practice_page_and_the_answer_hook(
    client, drill_with_two, organizer
):
    call = _send(drill_with_two, organizer)
    recipient = db.session.scalar(
        sa.select(PracticeCallRecipient).where(PracticeCallRecipient.practice_call_id == call.id)
    )
    token, supporter = recipient.token, recipient.supporter
    revoke_signin_token(supporter)
    db.session.commit()
    page = client.get(f"/p/{token}")
    assert page.status_code == 403 and "このリンクは使えなくなりました" in page.get_data(
        as_text=True
    )
    assert client.post(f"/p/{token}/opened", json={"via": "email"}).status_code == 403
    assert (
        services.answer_from_channel(call.id, supporter.id, Answer.yes, DeliveryChannel.line)
        is False
    )
    db.session.expire_all()
    assert db.session.get(PracticeCallRecipient, recipient.id).opened_at is None


def test_closing_drops_waiting_messages_and_the_page_thanks(
    client,
    organizer_client,
    drill_with_two,
    organizer,
    practice_chain,
    make_supporter,
    webhook_sink,
):
    late = make_supporter(
        drill_with_two.district,
        email="late@example.jp",
        notification_urls=[webhook_sink.url("/late")],
    )
    add_participants(drill_with_two, [late])
    call = _send(drill_with_two, organizer)
    waiting = deliveries_of(call.id, late.id)["webhook"]
    assert waiting.status == DeliveryStatus.pending and waiting.tier == 1
    token = _token(call)
    closed = organizer_client.post(f"/practice-calls/{call.id}/close")
    assert closed.status_code == 302
    assert deliveries_of(call.id, late.id)["webhook"].status == DeliveryStatus.skipped
    page = client.get(f"/p/{token}").get_data(as_text=True)
    assert "この連絡訓練は終了しました。ご協力ありがとうございました。" in page
    assert client.post(f"/p/{token}/opened", json={"via": "email"}).status_code == 410
    answer = client.post(f"/p/{token}/answer", json={"answer": "yes"})
    assert answer.status_code == 410 and answer.get_json()["closed"] is True
    assert client.post(f"/p/{token}/answer", data={"answer": "yes"}).status_code == 410
    assert services.answer_from_channel(call.id, late.id, Answer.yes, DeliveryChannel.sms) is False
    shown = organizer_client.get(f"/practice-calls/{call.id}").get_data(as_text=True)
    assert 'id="call-closed"' in shown


# ---------------------------------------------------------------------------------------------
# Escalation and quiet hours


def test_messages_wait_out_quiet_hours_and_the_confirmation_says_so(
    organizer_client, district, make_supporter, make_drill, organizer
):
    now_local = utcnow().astimezone(display_zone())
    start = (now_local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now_local + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    sleeper = make_supporter(district, email="sleeper@example.jp")
    sleeper.quiet_start, sleeper.quiet_end = start, end
    awake = make_supporter(district, email="awake@example.jp")
    awake.quiet_start, awake.quiet_end = time(3, 0), time(3, 0)  # equal: no quiet hours
    drill = make_drill(district)
    add_participants(drill, [sleeper, awake])
    page = organizer_client.get(f"/drills/{drill.id}/practice-call").get_data(as_text=True)
    assert 'data-quiet="1"' in page
    call = _send(drill, organizer)
    later = deliveries_of(call.id, sleeper.id)["email"].next_attempt_at
    now = deliveries_of(call.id, awake.id)["email"].next_attempt_at
    assert later - now > timedelta(minutes=50)
    assert deliver_all() == 1  # only the awake supporter's message is due


# ---------------------------------------------------------------------------------------------
# The figure to improve: this call's median beside the previous call's


def test_the_previous_call_of_the_district_is_shown_beside_this_one(
    organizer_client, district, make_supporter, make_drill, organizer
):
    supporters = [make_supporter(district, email=f"p{i}@example.jp") for i in range(3)]
    first_drill = make_drill(district, title="第1回")
    second_drill = make_drill(district, title="第2回")
    add_participants(first_drill, supporters)
    add_participants(second_drill, supporters)

    def run(drill: Any, open_after_s: list[int]) -> PracticeCall:
        call = _send(drill, organizer)
        sent = utcnow() - timedelta(minutes=30)
        db.session.execute(
            sa.update(Delivery)
            .where(Delivery.topic == "practice_call", Delivery.topic_id == call.id)
            .values(status=DeliveryStatus.sent, sent_at=sent)
        )
        for supporter, after in zip(supporters, open_after_s, strict=False):
            r = recipient_of(call.id, supporter.id)
            r.opened_at, r.opened_via = sent + timedelta(seconds=after), "email"
        db.session.commit()
        return call

    first = run(first_drill, [600, 900, 1200])  # median 15:00
    second = run(second_drill, [60, 120])  # median 1:30, one not reached
    reach = call_reach(second)
    assert reach.summary.median_open == "1:30" and reach.summary.reached == 2
    assert reach.previous is not None and reach.previous.call_id == first.id
    assert reach.previous.median_open == "15:00"
    page = organizer_client.get(f"/drills/{second_drill.id}/reflection").get_data(as_text=True)
    assert '<dd data-figure="median"><span class="timing">1:30</span>' in page
    assert '<dd data-figure="previous-median"><span class="timing">15:00</span>' in page
    supporters_page = organizer_client.get("/supporters").get_data(as_text=True)
    assert supporters_page.count('<tr data-call="') == 2  # the recent calls of the district
    report = organizer_client.get(f"/drills/{second_drill.id}/report").get_data(as_text=True)
    assert 'id="report-practice-reach"' in report and "15:00" in report
    english = organizer_client.get(
        f"/practice-calls/{second.id}", headers={"Accept-Language": "en"}
    )
    assert english.status_code == 200
