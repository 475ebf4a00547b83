"""The LINE transport against a stand-in of the Messaging API on 127.0.0.1: what it pushes (a
buttons template with the two answers and the link, or a text), the retry key, what each
answer of LINE means (409 delivered, 400 permanent, 401/403 not permanent and clearly worded,
429/5xx/network retried), kept-alive connections, and the demo's outbox folder."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from line_support import TOKEN, LineStandIn, message_errors, running_standin, signature

from watchnet.notifications.models import DeliveryChannel
from watchnet.notifications.transports.base import TransportError, transport_factory
from watchnet.notifications.transports.line import (
    LineTransport,
    answer_labels,
    line_messages,
    parse_postback_data,
    retry_key,
    utf16_len,
    valid_signature,
)

USER = "U" + "ab" * 16


@dataclass(frozen=True)
class Msg:
    id: int = 41
    dedupe_key: str = "alert:12:supporter:3:line:5"
    channel: DeliveryChannel = DeliveryChannel.line
    channel_ref: str = "line:5"
    address: str = USER
    subject: str = "【捜索のお願い】八幡地区"
    body: str = "e-mail text"
    link: str = "https://watch.example.jp/a/abc?via=line"
    summary: str = "八幡地区で80代の女性が行方不明です。お力を貸してください。"
    answer_topic: str = "alert:12"
    supporter_id: int | None = 3


@pytest.fixture(scope="module")
def standin() -> Iterator[LineStandIn]:
    with running_standin() as standin:
        yield standin


@pytest.fixture()
def transport(standin: LineStandIn) -> Iterator[LineTransport]:
    standin.reset()
    transport = LineTransport(
        api_base=standin.url,
        access_token=TOKEN,
        timeout_s=2.0,
        outbox_dir="/nonexistent",
        labels=answer_labels("ja"),
    )
    yield transport
    transport.close()


def test_an_answer_message_is_a_buttons_template_with_both_answers_the_link_and_the_retry_key(
    standin, transport
):
    message = Msg()
    request_id = transport.send(message)

    [push] = standin.pushes
    assert request_id == push["request_id"]
    assert push["to"] == USER
    assert push["retry_key"] == retry_key(message.dedupe_key)
    assert str(uuid.UUID(push["retry_key"])) == push["retry_key"]  # LINE wants a UUID
    [template] = push["messages"]
    assert template["type"] == "template"
    assert message.link in template["altText"] and utf16_len(template["altText"]) <= 400
    buttons = template["template"]
    assert buttons["type"] == "buttons" and buttons["text"] == message.summary
    yes, no, open_link = buttons["actions"]
    assert (yes["type"], yes["label"], yes["displayText"]) == (
        "postback",
        "捜索に参加する",
        "捜索に参加する",
    )
    assert (no["type"], no["label"], no["displayText"]) == (
        "postback",
        "今は参加できない",
        "今は参加できない",
    )
    assert parse_postback_data(yes["data"]).answer_topic == "alert:12"
    assert parse_postback_data(yes["data"]).answer == "yes"
    assert parse_postback_data(no["data"]).answer == "no"
    assert parse_postback_data(no["data"]).delivery_id == message.id
    assert open_link == {"type": "uri", "label": "詳しく見る", "uri": message.link}


def test_a_message_without_answers_is_a_text_with_the_link(standin, transport):
    transport.send(Msg(answer_topic="", summary="見つかりました。ご協力ありがとうございました。"))
    [push] = standin.pushes
    assert push["messages"] == [
        {
            "type": "text",
            "text": "見つかりました。ご協力ありがとうございました。\n" + Msg.link,
        }
    ]


def test_long_headlines_are_cut_to_lines_limits_and_the_link_stays_whole(standin, transport):
    long = "捜索のお願い😀" * 80  # 640 UTF-16 units
    transport.send(Msg(summary=long))
    [push] = standin.pushes  # the stand-in checks LINE's limits: it took the message
    template = push["messages"][0]
    assert template["altText"].endswith("\n" + Msg.link)
    assert utf16_len(template["template"]["text"]) <= 160
    assert template["template"]["text"].endswith("…")
    assert message_errors(line_messages(Msg(summary=long), answer_labels("ja"))) == []


def test_a_retry_after_a_lost_answer_is_not_delivered_twice(standin, transport):
    """LINE took the push but its answer was lost: the retry has the same key, LINE answers
    409, and the transport reports the message delivered with the first request's id."""
    standin.lose_answers = 1
    with pytest.raises(TransportError) as lost:
        transport.send(Msg())
    assert not lost.value.permanent

    request_id = transport.send(Msg())

    assert len(standin.pushes) == 1
    assert request_id == standin.pushes[0]["request_id"]
    assert [r["status"] for r in standin.requests] == [500, 409]
    assert {r["retry_key"] for r in standin.requests} == {retry_key(Msg.dedupe_key)}


def test_different_deliveries_get_different_retry_keys_and_share_one_connection(standin, transport):
    for n in range(5):
        transport.send(Msg(id=n, dedupe_key=f"alert:12:supporter:{n}:line:{n}"))
    assert len({p["retry_key"] for p in standin.pushes}) == 5
    assert len(standin.connections) == 1  # kept alive


@pytest.mark.parametrize(
    ("status", "permanent", "words"),
    [
        (400, True, "LINE refused the message (HTTP 400)"),
        (401, False, "refused the channel access token (HTTP 401)"),
        (403, False, "denied this channel (HTTP 403)"),
        (429, False, "HTTP 429"),
        (500, False, "HTTP 500"),
        (503, False, "HTTP 503"),
    ],
)
def test_each_answer_of_line_is_classified(standin, transport, status, permanent, words):
    standin.fail_next.append(status)
    with pytest.raises(TransportError) as error:
        transport.send(Msg())
    assert error.value.permanent is permanent
    assert words in error.value.reason
    assert not error.value.gone
    if status in (401, 403):
        assert "WATCHNET_LINE_CHANNEL_ACCESS_TOKEN" in error.value.reason
    assert standin.pushes == []


def test_a_user_id_line_does_not_know_is_gone(standin, transport):
    with pytest.raises(TransportError) as error:
        transport.send(Msg(address="U" + "0" * 31))  # not a LINE user id
    assert error.value.permanent and error.value.gone
    assert "Failed to send messages" in error.value.reason


def test_a_bad_token_is_refused_by_the_stand_in_as_by_line(standin):
    transport = LineTransport(
        api_base=standin.url, access_token="wrong", timeout_s=2.0, outbox_dir="/nonexistent"
    )
    try:
        with pytest.raises(TransportError) as error:
            transport.send(Msg())
    finally:
        transport.close()
    assert not error.value.permanent and "HTTP 401" in error.value.reason


def test_an_unreachable_api_is_retried():
    transport = LineTransport(
        api_base="http://127.0.0.1:9", access_token=TOKEN, timeout_s=1.0, outbox_dir="/x"
    )
    with pytest.raises(TransportError) as error:
        transport.send(Msg())
    assert not error.value.permanent and "LINE unreachable" in error.value.reason


def test_without_a_token_messages_are_files_in_the_outbox_folder(tmp_path: Path):
    transport = transport_factory(DeliveryChannel.line)(
        {"INSTANCE_PATH": str(tmp_path), "LINE_CHANNEL_ACCESS_TOKEN": None}
    )
    assert transport.send(Msg()) is None
    assert transport.send(Msg()) is None  # a repeat (same key) adds nothing
    transport.send(replace(Msg(), id=42, dedupe_key="alert:12:supporter:4:line:6"))

    folder = tmp_path / "outbox" / "line"
    files = sorted(folder.iterdir())
    assert len(files) == 2 and all(f.suffix == ".json" for f in files)  # no temporary files left
    document = json.loads((folder / f"push-{retry_key(Msg.dedupe_key)}.json").read_text())
    assert document["to"] == USER and document["delivery_key"] == Msg.dedupe_key
    assert document["messages"][0]["template"]["actions"][0]["label"] == "捜索に参加する"


def test_the_signature_is_the_hmac_of_the_raw_body_with_the_channel_secret():
    body = b'{"events":[]}'
    good = signature("secret", body)
    assert valid_signature("secret", body, good)
    assert not valid_signature("secret", body + b" ", good)
    assert not valid_signature("other", body, good)
    assert not valid_signature("secret", body, None)
    assert not valid_signature("secret", body, "")
    assert not valid_signature("secret", body, "ö" + good)
    assert not valid_signature("", body, good)


@pytest.mark.parametrize(
    "data",
    ["", "t=alert:1&a=maybe&d=1", "a=yes", "t=alert&a=yes", "x" * 400, "t=alert:1&a=yes&&"],
)
def test_postback_data_that_is_not_ours_is_ignored(data):
    assert parse_postback_data(data) is None
