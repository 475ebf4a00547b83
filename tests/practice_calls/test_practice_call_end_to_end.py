"""Issue 11 point 8, end to end: an organizer sends a practice call from a drill to its
participants; the real dispatcher delivers it to a real SMTP server and a real webhook receiver
(the chain "e-mail, then the webhook 5 minutes later"); opening the e-mail's link stops the
webhook for that person only; answers from the page and from a channel (the answer hook a
LINE postback or a voice digit uses) count; and the reach table on the call's page, the
drill's reflection and the supporters page matches what the receivers got."""

from __future__ import annotations

import statistics
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from practice_support import (
    add_participants,
    channel_counts,
    deliver_all,
    deliveries_of,
    let_time_pass,
    link_in,
    recipient_of,
    the_call,
    unreached_states,
)

from watchnet.core.extensions import db
from watchnet.notifications.hooks import Answer
from watchnet.notifications.models import Delivery, DeliveryStatus
from watchnet.notifications.services import record_answer
from watchnet.practice_calls.models import PracticeCall

PRACTICE_LINE = "これは連絡訓練です。実際の捜索ではありません。"


@pytest.fixture()
def cast(district: Any, make_supporter: Any, make_drill: Any, webhook_sink: Any) -> dict[str, Any]:
    """A drill with six participants on mixed channels, and one supporter of the district who
    is not taking part."""
    hook = webhook_sink.url
    people = {
        # opens the e-mail's link: the webhook 5 minutes later is not needed
        "opens": make_supporter(
            district, email="opens@example.jp", notification_urls=[hook("/opens")]
        ),
        # answers through the answer hook (as a LINE postback would), never opens the page
        "hook": make_supporter(district, email="hook@example.jp"),
        # only a webhook: it goes out at once (the first tier they have)
        "webhook": make_supporter(district, email=None, notification_urls=[hook("/webhook")]),
        # the mailbox refuses: a permanent failure
        "refused": make_supporter(district, email="refused@example.jp"),
        # no channel at all
        "none": make_supporter(district, email=None),
        # does nothing: tried on e-mail, then on the webhook
        "silent": make_supporter(
            district, email="silent@example.jp", notification_urls=[hook("/silent")]
        ),
    }
    bystander = make_supporter(district, email="bystander@example.jp")
    drill = make_drill(district, title="第2回 まち歩き見守り声掛け訓練")
    add_participants(drill, list(people.values()))
    return {"drill": drill, "people": people, "bystander": bystander}


def test_a_practice_call_reaches_the_participants_and_the_reach_table_matches_the_receivers(
    app, client, organizer_client, cast, smtp_sink, webhook_sink, practice_chain
):
    drill, people = cast["drill"], cast["people"]
    ids = {key: s.id for key, s in people.items()}
    smtp_sink.refuse.add("refused@example.jp")

    # 1. The confirmation page says how many and on which channels; nothing is queued yet.
    page = organizer_client.get(f"/drills/{drill.id}/practice-call")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-audience="participants"' in html and 'data-count="6"' in html
    assert 'data-audience="district"' in html and 'data-count="7"' in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0
    participants_part = html.split('data-audience="participants"')[1].split(
        'data-audience="district"'
    )[0]
    assert '<tr data-channel="email"><th scope="row">メール</th>' in participants_part
    assert '<td class="at-once">4</td>' in participants_part  # opens, hook, refused, silent
    assert 'data-without-channel="1"' in participants_part

    # 2. Send (twice with the same key: one call).
    form = {"audience": "participants", "client_key": "practice-e2e-1"}
    response = organizer_client.post(f"/drills/{drill.id}/practice-call", data=form)
    assert response.status_code == 302
    again = organizer_client.post(f"/drills/{drill.id}/practice-call", data=form)
    assert again.headers["Location"] == response.headers["Location"]
    call = the_call()
    assert call.drill_id == drill.id and call.audience.value == "participants"
    assert response.headers["Location"].endswith(f"/practice-calls/{call.id}")

    # 3. The dispatcher delivers the first tier: e-mail to four (one refused), the webhook
    # to the one who has nothing else.
    deliver_all()
    assert {str(m["To"]) for m in smtp_sink.messages} == {
        "opens@example.jp",
        "hook@example.jp",
        "silent@example.jp",
    }
    assert [p for p, _ in webhook_sink.posts] == ["/webhook"]
    assert cast["bystander"].email not in {str(m["To"]) for m in smtp_sink.messages}
    [mail] = smtp_sink.to("opens@example.jp")
    assert "訓練" in str(mail["Subject"])
    text = mail.get_content()
    assert PRACTICE_LINE in text and "参加できます" in text and "今は参加できない" in text
    [post] = webhook_sink.to("/webhook")
    assert PRACTICE_LINE in post["message"] and "?via=webhook" in post["message"]

    # 4. Opening the e-mail's link: the GET shows the page and writes nothing; the page's
    # script reports the opening with the link's channel, which stops the next tier.
    link = link_in(text)
    assert link.endswith("?via=email")
    path = urlsplit(link).path
    shown = client.get(f"{path}?via=email")
    assert shown.status_code == 200 and PRACTICE_LINE in shown.get_data(as_text=True)
    assert recipient_of(call.id, ids["opens"]).opened_at is None
    assert deliveries_of(call.id, ids["opens"])["email"].opened_at is None
    opened = client.post(f"{path}/opened", json={"via": "email"})
    assert opened.status_code == 200 and opened.get_json()["first"] is True
    recipient = recipient_of(call.id, ids["opens"])
    assert recipient.opened_at is not None and recipient.opened_via == "email"
    rows = deliveries_of(call.id, ids["opens"])
    assert rows["email"].opened_at is not None
    assert rows["webhook"].status == DeliveryStatus.skipped

    # 5. The webhook-only supporter answers on the page they opened from the webhook.
    webhook_path = urlsplit(link_in(post["message"])).path
    assert client.post(f"{webhook_path}/opened", json={"via": "webhook"}).status_code == 200
    answered = client.post(f"{webhook_path}/answer", json={"answer": "no", "via": "webhook"})
    assert answered.status_code == 200 and answered.get_json()["answer"] == "no"

    # 6. An answer that comes back on a channel (a signed LINE postback or a voice digit goes
    # through notifications.services.record_answer): it counts like a tap on the page.
    delivery = deliveries_of(call.id, ids["hook"])["email"]
    assert delivery.answer_topic == f"practice_call:{call.id}"
    assert record_answer(delivery, Answer.yes) is True
    db.session.commit()
    hooked = recipient_of(call.id, ids["hook"])
    assert hooked.answer == Answer.yes and hooked.answered_via == "email"

    # 7. Five minutes on: only the one who neither opened nor answered is tried on the
    # webhook; the one who opened is not, and nothing else goes out.
    assert let_time_pass(call.id) == 1
    deliver_all()
    assert sorted(p for p, _ in webhook_sink.posts) == ["/silent", "/webhook"]
    assert webhook_sink.to("/opens") == []
    assert len(smtp_sink.messages) == 3

    # 8. The reach table matches what the receivers got.
    html = organizer_client.get(f"/practice-calls/{call.id}").get_data(as_text=True)
    counts = channel_counts(html)
    assert counts["email"]["sent"] == len(smtp_sink.messages) == 3
    assert counts["email"]["failed"] == 1
    # opened from the e-mail: the one who followed its link, and the one who answered on the
    # channel (an answer counts as opened)
    assert counts["email"]["opened"] == 2 and counts["email"]["answered"] == 1
    assert counts["webhook"]["sent"] == len(webhook_sink.posts) == 2
    assert counts["webhook"]["skipped"] == 1  # the one who opened the e-mail first
    assert counts["webhook"]["opened"] == 1 and counts["webhook"]["answered"] == 1
    assert unreached_states(html) == {
        ids["refused"]: "failed",
        ids["none"]: "no_channel",
        ids["silent"]: "sent",
    }
    assert '<dd data-figure="people">6</dd>' in html
    assert '<dd data-figure="reached">3 ' in html
    # The silent supporter was tried on both channels, and the page says so.
    silent_row = html.split(f'data-supporter="{ids["silent"]}"')[1].split("</tr>")[0]
    assert 'data-channel="email" data-status="sent"' in silent_row
    assert 'data-channel="webhook" data-status="sent"' in silent_row

    # The median time to open: from each reached person's first message sent to the opening.
    db.session.expire_all()
    times = []
    for key in ("opens", "hook", "webhook"):
        r = recipient_of(call.id, ids[key])
        sent = min(d.sent_at for d in deliveries_of(call.id, ids[key]).values() if d.sent_at)
        reached = min(t for t in (r.opened_at, r.answered_at) if t is not None)
        times.append(max((reached - sent).total_seconds(), 0))
    median = int(round(statistics.median(times)))
    shown_median = f"{median // 60}:{median % 60:02d}"
    assert f'<dd data-figure="median"><span class="timing">{shown_median}</span>' in html

    # 9. The same table on the drill's reflection page and on the supporters page.
    reflection = organizer_client.get(f"/drills/{drill.id}/reflection").get_data(as_text=True)
    assert 'id="practice-reach"' in reflection
    assert f'data-supporter="{ids["silent"]}" data-state="sent"' in reflection
    supporters = organizer_client.get("/supporters").get_data(as_text=True)
    assert 'id="practice-reach"' in supporters
    assert f'data-supporter="{ids["refused"]}" data-state="failed"' in supporters

    # 10. The CSV has a row per person and channel tried.
    csv_text = organizer_client.get(f"/practice-calls/{call.id}/reach.csv").data.decode("utf-8-sig")
    lines = csv_text.strip().splitlines()
    # opens ×2, hook, webhook, refused, none (no channel: one row), silent ×2
    assert len(lines) == 1 + 8
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PracticeCall)) == 1
