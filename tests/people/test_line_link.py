"""Linking a supporter's LINE and the official account's webhook, played as LINE plays it:
signed events posted to /hooks/line, replies taken by the Messaging API stand-in.

A supporter shows a one-time code on their page, adds the account and sends the code: linked.
Wrong, expired, used or guessed codes link nobody; blocking the account switches the link
off; a tapped answer button records the answer; anything not signed by LINE changes nothing.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from notifications.line_support import (
    FRIEND_URL,
    SECRET,
    LineStandIn,
    new_user_id,
    post_events,
    redelivered,
)

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.notifications import hooks
from watchnet.notifications.hooks import Answer
from watchnet.notifications.models import Delivery, DeliveryChannel
from watchnet.notifications.transports.line import postback_data
from watchnet.people.line_models import LineCodeFailure, LineLinkCode, LineWebhookEvent
from watchnet.people.models import LineLink

LINKED = "連携できました"


def show_code(phone: Any) -> str:
    """Press 「LINE連携のコードを表示」 on the supporter's page; the six digits it shows."""
    response = phone.post("/me/line/code")
    assert response.status_code == 303 and response.headers["Location"].endswith("/me#line")
    page = phone.get("/me").get_data(as_text=True)
    shown = re.search(r"data-line-code>(\d{3}) (\d{3})<", page)
    assert shown, page
    return shown.group(1) + shown.group(2)


def send(client: Any, *events: dict[str, Any], standin: LineStandIn) -> list[list[str]]:
    """Post signed events; the texts LINE got in reply to each (replies follow the answer)."""
    response = post_events(client, SECRET, *events)
    assert response.status_code == 200, response.get_data(as_text=True)
    tokens = [e["replyToken"] for e in events if "replyToken" in e]
    standin.wait_for(lambda s: {r["reply_token"] for r in s.replies} >= set(tokens))
    return [standin.reply_texts(e["replyToken"]) for e in events if "replyToken" in e]


def link_of(supporter: Any) -> LineLink | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(LineLink).where(LineLink.supporter_id == supporter.id))


@pytest.fixture()
def answers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, Answer, DeliveryChannel]]:
    """A topic whose answers are recorded here (as the alert domain's handler records them)."""
    recorded: list[tuple[int, int, Answer, DeliveryChannel]] = []

    def handler(topic_id: int, supporter_id: int, answer: Answer, channel: DeliveryChannel) -> bool:
        recorded.append((topic_id, supporter_id, answer, channel))
        return True

    monkeypatch.setitem(hooks._answer_handlers, "line_test", handler)
    return recorded


def test_the_page_shows_the_add_friend_qr_code_and_the_steps(line_on, supporter_client):
    page = supporter_client.get("/me").get_data(as_text=True)
    assert 'data-line-state="not-linked"' in page
    assert "LINEはまだ連携していません。" in page
    assert f'href="{FRIEND_URL}"' in page and "<svg" in page  # button and QR code
    assert "LINE連携のコードを表示" in page
    assert "data-line-code" not in page  # no code before it is asked for


def test_without_an_official_account_the_page_has_no_line_section(app, supporter_client):
    assert not app.config["LINE_ADD_FRIEND_URL"]
    assert 'id="line"' not in supporter_client.get("/me").get_data(as_text=True)


def test_a_signed_follow_and_the_code_from_the_page_link_the_supporter(
    line_on, client, supporter, supporter_client
):
    user = new_user_id()
    code = show_code(supporter_client)
    assert show_code_again(supporter_client) == code  # a reload shows the same code

    [follow_reply] = send(client, line_on.follow(user), standin=line_on)
    assert "友だち追加ありがとうございます。" in follow_reply
    assert any("LINE連携のコードを表示" in t and "6けた" in t for t in follow_reply)

    [link_reply] = send(client, line_on.text(user, f"{code[:3]} {code[3:]}"), standin=line_on)

    assert LINKED in link_reply[0]
    link = link_of(supporter)
    assert link is not None and link.line_user_id == user and link.is_enabled
    page = supporter_client.get("/me").get_data(as_text=True)
    assert 'data-line-state="linked"' in page and "LINE連携を解除" in page
    assert db.session.get(LineLinkCode, supporter.id) is None  # used up


def show_code_again(phone: Any) -> str:
    page = phone.get("/me").get_data(as_text=True)
    shown = re.search(r"data-line-code>(\d{3}) (\d{3})<", page)
    assert shown
    return shown.group(1) + shown.group(2)


def test_codes_are_stored_only_as_a_keyed_hash(line_on, supporter, supporter_client):
    code = show_code(supporter_client)
    row = db.session.get(LineLinkCode, supporter.id)
    assert row is not None and code not in row.code_hash and len(row.code_hash) == 64
    assert row.expires_at - utcnow() > timedelta(minutes=29)


def test_full_width_digits_are_a_code_too(line_on, client, supporter, supporter_client):
    code = show_code(supporter_client)
    wide = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    [reply] = send(client, line_on.text(new_user_id(), wide), standin=line_on)
    assert LINKED in reply[0] and link_of(supporter) is not None


def test_a_wrong_code_links_nobody(line_on, client, supporter, supporter_client):
    code = show_code(supporter_client)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    [reply] = send(client, line_on.text(new_user_id(), wrong), standin=line_on)
    assert "この番号は使えません" in reply[0]
    assert link_of(supporter) is None
    assert db.session.get(LineLinkCode, supporter.id) is not None  # the right one still works


def test_an_expired_code_links_nobody(line_on, client, supporter, supporter_client):
    code = show_code(supporter_client)
    row = db.session.get(LineLinkCode, supporter.id)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    [reply] = send(client, line_on.text(new_user_id(), code), standin=line_on)
    assert "この番号は使えません" in reply[0]
    assert link_of(supporter) is None
    assert "data-line-code" not in supporter_client.get("/me").get_data(as_text=True)


def test_a_code_works_once(line_on, client, supporter, supporter_client):
    code = show_code(supporter_client)
    first, second = new_user_id(), new_user_id()
    send(client, line_on.text(first, code), standin=line_on)
    [reply] = send(client, line_on.text(second, code), standin=line_on)
    assert "この番号は使えません" in reply[0]
    assert link_of(supporter).line_user_id == first


def test_five_wrong_codes_stop_a_line_user_from_trying_even_the_right_one(
    line_on, client, supporter, supporter_client
):
    code = show_code(supporter_client)
    guesser = new_user_id()
    wrongs = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 6)]
    send(client, *[line_on.text(guesser, w) for w in wrongs], standin=line_on)
    [reply] = send(client, line_on.text(guesser, code), standin=line_on)
    assert "30分たってから" in reply[0]
    assert link_of(supporter) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LineCodeFailure)) == 5
    # The code was not looked at, so its owner can still use it.
    [reply] = send(client, line_on.text(new_user_id(), code), standin=line_on)
    assert LINKED in reply[0]


def test_one_line_user_belongs_to_one_supporter(
    line_on, client, district, make_supporter, supporter, supporter_client, phone
):
    user = new_user_id()
    send(client, line_on.text(user, show_code(supporter_client)), standin=line_on)
    other = make_supporter(district, name="別 次郎", name_kana="べつ じろう")
    [reply] = send(client, line_on.text(user, show_code(phone(other))), standin=line_on)
    assert "別のサポーター" in reply[0]
    assert link_of(other) is None and link_of(supporter).line_user_id == user


def test_a_new_line_account_replaces_the_old_link(line_on, client, supporter, supporter_client):
    """A supporter whose old LINE is gone (blocked, or a new phone without it) sends a new
    code from the new account: the link moves there."""
    old, new = new_user_id(), new_user_id()
    send(client, line_on.text(old, show_code(supporter_client)), standin=line_on)
    post_events(client, SECRET, line_on.unfollow(old))
    page = supporter_client.get("/me").get_data(as_text=True)
    assert 'data-line-state="blocked"' in page and "LINE連携のコードを表示" in page

    [reply] = send(client, line_on.text(new, show_code(supporter_client)), standin=line_on)

    assert LINKED in reply[0]
    link = link_of(supporter)
    assert link.line_user_id == new and link.is_enabled
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LineLink)) == 1


def test_blocking_the_account_switches_the_link_off_and_adding_it_again_on(
    line_on, client, supporter, supporter_client
):
    user = new_user_id()
    send(client, line_on.text(user, show_code(supporter_client)), standin=line_on)

    response = post_events(client, SECRET, line_on.unfollow(user))

    assert response.status_code == 200
    assert link_of(supporter).is_enabled is False
    page = supporter_client.get("/me").get_data(as_text=True)
    assert 'data-line-state="blocked"' in page

    [reply] = send(client, line_on.follow(user), standin=line_on)
    assert "おかえりなさい" in reply[0]
    assert link_of(supporter).is_enabled is True


def test_unlinking_on_the_page_removes_the_link(line_on, client, supporter, supporter_client):
    user = new_user_id()
    send(client, line_on.text(user, show_code(supporter_client)), standin=line_on)

    response = supporter_client.post("/me/line/unlink")

    assert response.status_code == 303
    assert link_of(supporter) is None
    page = supporter_client.get("/me").get_data(as_text=True)
    assert "LINE連携を解除しました" in page and 'data-line-state="not-linked"' in page
    [reply] = send(client, line_on.postback(user, postback_data("line_test:1", "yes", 1)),
                   standin=line_on)  # fmt: skip
    assert "連携していないため" in reply[0]


def linked(client: Any, standin: LineStandIn, phone: Any) -> str:
    user = new_user_id()
    send(client, standin.text(user, show_code(phone)), standin=standin)
    return user


def line_delivery(supporter: Any, topic: str = "line_test:7") -> Delivery:
    link = link_of(supporter)
    delivery = Delivery(
        dedupe_key=f"line_test:7:supporter:{supporter.id}:line:{link.id}",
        channel=DeliveryChannel.line,
        channel_ref=f"line:{link.id}",
        address=link.line_user_id,
        subject="【訓練】連絡訓練",
        body="",
        summary="【訓練】連絡訓練です。",
        answer_topic=topic,
        supporter_id=supporter.id,
        topic="line_test",
        topic_id=7,
    )
    db.session.add(delivery)
    db.session.commit()
    return delivery


def test_a_signed_postback_records_the_answer_as_a_tap_on_the_page(
    line_on, client, supporter, supporter_client, answers
):
    user = linked(client, line_on, supporter_client)
    delivery = line_delivery(supporter)

    [reply] = send(
        client, line_on.postback(user, postback_data("line_test:7", "yes", delivery.id)),
        standin=line_on,
    )  # fmt: skip

    assert answers == [(7, supporter.id, Answer.yes, DeliveryChannel.line)]
    assert "「捜索に参加する」とお返事を受け付けました" in reply[0]
    db.session.expire_all()
    assert db.session.get(Delivery, delivery.id).answered_at is not None


def test_a_redelivered_event_is_applied_once(line_on, client, supporter, supporter_client, answers):
    user = linked(client, line_on, supporter_client)
    delivery = line_delivery(supporter)
    event = line_on.postback(user, postback_data("line_test:7", "no", delivery.id))

    send(client, event, standin=line_on)
    response = post_events(client, SECRET, redelivered(event))

    assert response.status_code == 200
    assert answers == [(7, supporter.id, Answer.no, DeliveryChannel.line)]
    assert len(line_on.replies) == 2  # the link's and the first answer's: no second reply


def test_a_postback_from_an_unlinked_user_records_nothing(line_on, client, answers):
    [reply] = send(
        client, line_on.postback(new_user_id(), postback_data("line_test:7", "yes", 1)),
        standin=line_on,
    )  # fmt: skip
    assert answers == []
    assert "連携していないため、お返事を受け付けられませんでした" in reply[0]


def test_a_postback_for_someone_elses_message_goes_to_the_topics_handler_for_this_supporter(
    line_on, client, district, make_supporter, supporter, supporter_client, phone, answers
):
    other = make_supporter(district, name="別 次郎", name_kana="べつ じろう")
    user = linked(client, line_on, supporter_client)
    linked(client, line_on, phone(other))
    others_delivery = line_delivery(other)

    send(client, line_on.postback(user, postback_data("line_test:7", "yes", others_delivery.id)),
         standin=line_on)  # fmt: skip

    assert answers == [(7, supporter.id, Answer.yes, DeliveryChannel.line)]  # not `other`
    db.session.expire_all()
    assert db.session.get(Delivery, others_delivery.id).answered_at is None


def _line_tables() -> list[Any]:
    db.session.expire_all()
    return [
        db.session.execute(sa.select(t)).all()
        for t in (LineLink, LineLinkCode, LineWebhookEvent, LineCodeFailure)
    ]


@pytest.mark.parametrize("how", ["wrong secret", "no signature", "changed body"])
def test_a_request_not_signed_by_line_is_refused_and_changes_nothing(
    line_on, client, district, make_supporter, supporter, supporter_client, phone, answers,
    caplog, how
):  # fmt: skip
    user = linked(client, line_on, supporter_client)
    delivery = line_delivery(supporter)
    code = show_code(phone(make_supporter(district, name="別 次郎", name_kana="べつ じろう")))
    before = _line_tables()
    events = [
        line_on.unfollow(user),
        line_on.postback(user, postback_data("line_test:7", "yes", delivery.id)),
        line_on.text(new_user_id(), code),
    ]

    if how == "wrong secret":
        response = post_events(client, SECRET, *events, sign_with="not-the-secret")
    else:
        from notifications.line_support import signature, webhook_body

        body = webhook_body(*events)
        headers = {"Content-Type": "application/json"}
        if how == "changed body":
            headers["X-Line-Signature"] = signature(SECRET, body)
            changed = body.replace(b"a=yes", b"a=no")
            assert changed != body
            body = changed
        response = client.post("/hooks/line", data=body, headers=headers)

    assert response.status_code == (400 if how == "no signature" else 401)
    assert _line_tables() == before
    assert answers == [] and len(line_on.replies) == 1  # only the linking's reply
    assert any("LINE webhook refused" in r.getMessage() for r in caplog.records)


def test_without_a_channel_secret_the_webhook_is_off(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LINE_CHANNEL_SECRET", None)
    response = post_events(client, "anything")
    assert response.status_code == 404


def test_a_body_that_is_not_a_webhook_is_refused(line_on, client):
    from notifications.line_support import signature

    body = b'{"no events": true}'
    response = client.post(
        "/hooks/line",
        data=body,
        headers={"Content-Type": "application/json", "X-Line-Signature": signature(SECRET, body)},
    )
    assert response.status_code == 400


def test_the_consoles_verify_request_without_events_is_answered(line_on, client):
    assert post_events(client, SECRET).status_code == 200


def test_plain_chat_is_answered_with_how_to_link_or_where_to_answer(
    line_on, client, supporter_client
):
    [unlinked] = send(client, line_on.text(new_user_id(), "こんにちは"), standin=line_on)
    assert "6けた" in unlinked[0]
    user = linked(client, line_on, supporter_client)
    [reply] = send(client, line_on.text(user, "よろしく"), standin=line_on)
    assert "読まれません" in reply[0]
