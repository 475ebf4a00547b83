"""SMS and voice transports against a Twilio-compatible stand-in on 127.0.0.1: the SMS fits
two segments and carries the whole link, the call speaks Japanese and asks for 1 or 2, the
gateway's refusals are classified, and without gateway settings both go into files."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio_support import ACCOUNT_SID, FROM_NUMBER, TwilioStandIn, count_segments

from watchnet.notifications.models import DeliveryChannel
from watchnet.notifications.transports import TransportError
from watchnet.notifications.transports.sms import SmsTransport, is_gsm7, sms_segments, sms_text
from watchnet.notifications.transports.twilio_api import TwilioSettings
from watchnet.notifications.transports.voice import QUESTION, VoiceTransport

PUBLIC = "https://watch.example.jp"
LINK = "https://watch.example.jp/a/Zk3vQm9xR2tYb7LpW4nHcE8sJ1uDfA6g"
LONG_SUMMARY = (
    "【訓練】八幡地区で行方不明の方の捜索依頼です。80代の女性、白い帽子に紺色の上着、"
    "最終目撃は14時05分ごろ八幡町の公民館付近です。お近くの方はご協力をお願いします。"
)


@dataclass(frozen=True)
class Msg:
    """A delivery as the transports see it (the foundation's Message protocol)."""

    id: int = 7
    dedupe_key: str = "alert:3:supporter:5:phone:2:sms"
    channel: DeliveryChannel = DeliveryChannel.sms
    channel_ref: str = "phone:2"
    address: str = "+819012345678"
    subject: str = "【訓練】捜索依頼"
    body: str = ""
    summary: str = "【訓練】八幡地区で捜索依頼：80代の女性、八幡町付近"
    link: str = LINK
    answer_topic: str = "alert:3"
    supporter_id: int | None = 5


@pytest.fixture
def gateway() -> Iterator[TwilioStandIn]:
    stand_in = TwilioStandIn().start()
    yield stand_in
    stand_in.stop()


def settings_for(gateway: TwilioStandIn, tmp_path: Path) -> TwilioSettings:
    cfg = gateway.config()
    return TwilioSettings.of(cfg | {"PUBLIC_BASE_URL": PUBLIC, "INSTANCE_PATH": str(tmp_path)})


# --- the text of an SMS ---


def test_a_long_japanese_summary_is_shortened_to_two_segments_and_the_link_kept_whole():
    text = sms_text(LONG_SUMMARY, LINK)
    assert text.endswith("\n" + LINK)
    assert text.startswith("【訓練】八幡地区で")
    assert "…" in text
    assert count_segments(text) == (2, "UCS-2")
    # Not shortened more than needed: one more character would not fit.
    head = text.split("\n")[0].rstrip("…")
    longer = LONG_SUMMARY[: len(head) + 1] + "…\n" + LINK
    assert count_segments(longer)[0] == 3


def test_a_short_summary_goes_as_it_is_in_one_segment():
    text = sms_text("【訓練】捜索依頼", LINK)
    assert text == "【訓練】捜索依頼\n" + LINK
    assert count_segments(text) == (1, "UCS-2")


def test_an_english_summary_stays_in_the_gsm_alphabet_when_shortened():
    text = sms_text("Search request (exercise): a woman in her 80s near Yawata. " * 6, LINK)
    assert text.endswith("...\n" + LINK)
    assert is_gsm7(text)
    assert count_segments(text) == (2, "GSM-7")


def test_extension_characters_and_emoji_count_double_and_are_not_cut():
    assert sms_segments("[" * 80) == 1  # 160 septets
    assert sms_segments("[" * 81) == 2
    # 306 septets would be two segments of 153, but no segment ends inside an escape pair.
    assert sms_segments("aa" + "€" * 152) == 3
    assert sms_segments("😀" * 35) == 1  # 70 UTF-16 code units
    # 134 code units would be two segments of 67, but a surrogate pair is never cut.
    assert sms_segments("ああ" + "😀" * 66) == 3
    text = sms_text("😀" * 100, LINK)
    assert count_segments(text)[0] <= 2 and text.endswith(LINK)


def test_a_link_too_long_for_two_segments_is_refused_rather_than_cut():
    with pytest.raises(ValueError):
        sms_text("捜索依頼", "https://watch.example.jp/" + "x" * 400)


@given(st.text(max_size=400))
def test_segments_are_counted_as_the_gateway_counts_them(text):
    assert sms_segments(text) == count_segments(text)[0]


@given(st.text(max_size=300))
def test_any_summary_fits_two_segments_with_the_link(summary):
    text = sms_text(summary, LINK)
    assert count_segments(text)[0] <= 2
    assert text.endswith(LINK)


# --- SMS through the gateway ---


def test_an_sms_is_posted_with_basic_auth_and_a_status_callback_and_returns_its_sid(
    gateway, tmp_path
):
    transport = SmsTransport(settings_for(gateway, tmp_path))
    sid = transport.send(Msg(summary=LONG_SUMMARY))
    transport.close()
    [sms] = gateway.messages()
    assert sid == sms.sid and sid.startswith("SM")
    assert sms.to == "+819012345678" and sms.fields["From"] == FROM_NUMBER
    assert sms.fields["StatusCallback"] == PUBLIC + "/hooks/twilio/status"
    assert sms.body.endswith(LINK) and sms.segments == 2 and sms.encoding == "UCS-2"
    assert sms.headers["X-Watchnet-Delivery"] == "alert:3:supporter:5:phone:2:sms"
    assert gateway.requests[0]["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def test_messages_from_one_thread_share_one_kept_alive_connection(gateway, tmp_path):
    transport = SmsTransport(settings_for(gateway, tmp_path))
    for i in range(5):
        transport.send(Msg(id=i, dedupe_key=f"k{i}"))
    transport.close()
    assert len(gateway.messages()) == 5
    assert len(gateway.connections) == 1


def test_a_number_that_cannot_take_the_message_is_gone_and_not_retried(gateway, tmp_path):
    transport = SmsTransport(settings_for(gateway, tmp_path))
    with pytest.raises(TransportError) as refused:
        transport.send(Msg(address="+8190123"))
    assert refused.value.permanent and refused.value.gone
    assert "21211" in refused.value.reason
    gateway.refuse["+819099999999"] = (400, 21610)  # the number replied STOP
    with pytest.raises(TransportError) as stopped:
        transport.send(Msg(address="+819099999999"))
    assert stopped.value.gone and "21610" in stopped.value.reason
    assert gateway.messages() == []


def test_other_refusals_are_permanent_but_leave_the_number_on(gateway, tmp_path):
    gateway.refuse["+819011112222"] = (400, 21408)  # the account may not send to the region
    with pytest.raises(TransportError) as refused:
        SmsTransport(settings_for(gateway, tmp_path)).send(Msg(address="+819011112222"))
    assert refused.value.permanent and not refused.value.gone


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_busy_or_failing_gateway_is_retried_later(gateway, tmp_path, status):
    transport = SmsTransport(settings_for(gateway, tmp_path))
    gateway.fail_next.append(status)
    with pytest.raises(TransportError) as busy:
        transport.send(Msg())
    assert not busy.value.permanent
    assert transport.send(Msg()).startswith("SM")  # the next try goes through


def test_wrong_credentials_are_refused_permanently_with_a_hint(gateway, tmp_path):
    settings = settings_for(gateway, tmp_path)
    wrong = TwilioSettings(**{**settings.__dict__, "auth_token": "not-the-token"})
    with pytest.raises(TransportError) as refused:
        SmsTransport(wrong).send(Msg())
    assert refused.value.permanent
    assert "20003" in refused.value.reason and "TWILIO_AUTH_TOKEN" in refused.value.reason


def test_an_unreachable_gateway_is_retried_later(tmp_path):
    settings = TwilioSettings.of(
        {
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": "t",
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_API_BASE": "http://127.0.0.1:9",  # discard port: nothing listens
            "PUBLIC_BASE_URL": PUBLIC,
        }
    )
    with pytest.raises(TransportError) as down:
        SmsTransport(settings).send(Msg())
    assert not down.value.permanent


# --- calls ---


def test_a_call_reads_the_alert_in_japanese_twice_and_asks_for_1_or_2(gateway, tmp_path):
    transport = VoiceTransport(settings_for(gateway, tmp_path), voice="Polly.Mizuki")
    sid = transport.send(Msg(id=42))
    [call] = gateway.calls()
    assert sid == call.sid and sid.startswith("CA")
    assert call.fields["StatusCallback"] == PUBLIC + "/hooks/twilio/status"
    gather = call.gather()
    assert gather is not None
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == PUBLIC + "/hooks/twilio/voice/42"
    asked = [say for say in gather.iter("Say")]
    assert len(asked) == 2
    for say in asked:
        assert say.get("language") == "ja-JP" and say.get("voice") == "Polly.Mizuki"
        assert "八幡地区で捜索依頼" in (say.text or "")
        assert "捜索に参加する場合は1を、今は参加できない場合は2を押してください" in (
            say.text or ""
        )
    # Japanese only: no Latin words beyond the digits and the headline's own.
    assert all(not any("a" <= ch.lower() <= "z" for ch in text) for text in call.said)


def test_a_call_without_a_question_only_reads_the_message(gateway, tmp_path):
    VoiceTransport(settings_for(gateway, tmp_path)).send(Msg(answer_topic=""))
    [call] = gateway.calls()
    assert call.gather() is None
    assert len(call.said) == 2
    assert all("八幡地区で捜索依頼" in text and QUESTION not in text for text in call.said)


def test_a_call_to_a_number_that_cannot_be_reached_is_gone(gateway, tmp_path):
    gateway.refuse["+81273211234"] = (400, 21214)
    with pytest.raises(TransportError) as refused:
        VoiceTransport(settings_for(gateway, tmp_path)).send(Msg(address="+81273211234"))
    assert refused.value.permanent and refused.value.gone


# --- the demo: no gateway, files ---


def test_without_gateway_settings_sms_and_calls_are_written_as_files(tmp_path):
    settings = TwilioSettings.of({"INSTANCE_PATH": str(tmp_path)})
    assert not settings.configured
    assert SmsTransport(settings).send(Msg(summary=LONG_SUMMARY)) is None
    assert VoiceTransport(settings).send(Msg(id=8, dedupe_key="alert:3:voice")) is None
    [sms_file] = (tmp_path / "outbox" / "sms").iterdir()
    [call_file] = (tmp_path / "outbox" / "voice").iterdir()
    sms = sms_file.read_text(encoding="utf-8")
    assert "To: +819012345678" in sms and "Segments: 2 (UCS-2" in sms
    assert sms.rstrip().endswith(LINK)
    call = call_file.read_text(encoding="utf-8")
    assert call_file.suffix == ".xml" and "<Gather" in call and QUESTION in call
    # Written through a temporary file and renamed: nothing half-written is left behind.
    assert not list((tmp_path / "outbox").rglob(".tmp-*"))
    # A repeat of the same delivery replaces its file instead of adding one.
    SmsTransport(settings).send(Msg(summary=LONG_SUMMARY))
    assert len(list((tmp_path / "outbox" / "sms").iterdir())) == 1
