"""Automated calls through a Twilio-compatible gateway, for supporters with a landline or a
feature phone: the alert is read out in Japanese, twice, and where the message asks for an
answer the keys 1 (「捜索に参加する」) and 2 (「今は参加できない」) are taken; the keys pressed
come back to /hooks/twilio/voice/<delivery id> (twilio_views.py).

The TwiML goes inline with the call (the `Twiml` parameter), so the gateway does not have to
fetch it from us while the phone rings. It reads only the message's headline (summary, else
subject), which carries no names: the spoken text is what anyone near the phone may hear.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from twilio.twiml.voice_response import Gather, VoiceResponse

from watchnet.notifications.models import DeliveryChannel
from watchnet.notifications.transports.base import Message, register_transport
from watchnet.notifications.transports.twilio_api import (
    TwilioClient,
    TwilioSettings,
    write_outbox_file,
)

log = logging.getLogger(__name__)

# What the call says. Fixed Japanese: the call speaks with a Japanese voice (language ja-JP),
# whatever language the supporter reads the pages in.
INTRO = "見守りネットワークからのお知らせです。"
AGAIN = "もう一度お伝えします。"
QUESTION = "捜索に参加する場合は1を、今は参加できない場合は2を押してください。"
NO_ANSWER = "ご回答を確認できませんでした。失礼いたします。"
THANKS = {
    "yes": "ありがとうございます。「捜索に参加する」とお答えいただきました。失礼いたします。",
    "no": "ありがとうございます。「今は参加できない」とお答えいただきました。失礼いたします。",
}
END = "以上です。失礼いたします。"
NOT_TAKEN = "申し訳ありません。ご回答を受け付けられませんでした。失礼いたします。"
GOODBYE = "失礼いたします。"
LANGUAGE = "ja-JP"
KEYS = {"1": "yes", "2": "no"}  # the answers the keys stand for
GATHER_TIMEOUT_S = 8  # after the question, how long the callee has to press a key


def _headline(text: str) -> str:
    """The alert as one spoken sentence (line breaks and runs of spaces are pauses enough)."""
    text = " ".join(text.split())
    return text if text.endswith(("。", ".", "！", "？")) else text + "。"


def _say(target: VoiceResponse | Gather, text: str, voice: str) -> None:
    if voice:
        target.say(text, language=LANGUAGE, voice=voice)
    else:
        target.say(text, language=LANGUAGE)


def call_twiml(headline: str, *, action: str | None, voice: str = "") -> str:
    """The TwiML of a call: the headline read twice; with `action` (the URL the keys go to)
    the question follows each reading inside a one-key Gather."""
    alert = _headline(headline)
    response = VoiceResponse()
    if action is None:
        _say(response, INTRO + alert, voice)
        response.pause(length=1)
        _say(response, AGAIN + alert + END, voice)
        return str(response)
    gather = response.gather(
        input="dtmf",
        num_digits=1,
        action=action,
        method="POST",
        timeout=GATHER_TIMEOUT_S,
    )
    _say(gather, INTRO + alert + QUESTION, voice)
    gather.pause(length=1)
    _say(gather, AGAIN + alert + QUESTION, voice)
    # Reached only when no key was pressed (a Gather without input falls through).
    _say(response, NO_ANSWER, voice)
    return str(response)


def question_again_twiml(headline: str, *, action: str, voice: str = "") -> str:
    """Another key than 1 or 2: the question once more."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf", num_digits=1, action=action, method="POST", timeout=GATHER_TIMEOUT_S
    )
    _say(gather, AGAIN + _headline(headline) + QUESTION, voice)
    _say(response, NO_ANSWER, voice)
    return str(response)


def thanks_twiml(answer: str, voice: str = "") -> str:
    """The answer was taken: thanks, and the call ends."""
    return _closing(THANKS[answer], voice)


def not_taken_twiml(voice: str = "") -> str:
    """The answer could not be taken (the search has ended meanwhile)."""
    return _closing(NOT_TAKEN, voice)


def ended_twiml(voice: str = "") -> str:
    """A key for a call that asks nothing (or whose message is gone): goodbye."""
    return _closing(GOODBYE, voice)


def _closing(text: str, voice: str) -> str:
    response = VoiceResponse()
    _say(response, text, voice)
    response.hangup()
    return str(response)


class VoiceTransport:
    """Places a call whose TwiML reads the alert (and takes the answer); returns the call's
    SID. Without gateway settings (the demo) each call's TwiML is written into
    <instance>/outbox/voice."""

    def __init__(self, settings: TwilioSettings, voice: str = "") -> None:
        self.settings = settings
        self.voice = voice
        self.client = TwilioClient(settings) if settings.configured else None
        if self.client is None:
            log.info("no voice gateway configured: calls go into %s/voice", settings.outbox_dir)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> VoiceTransport:
        return cls(TwilioSettings.of(config), voice=str(config.get("TWILIO_VOICE") or ""))

    def twiml_of(self, message: Message) -> str:
        action = self.settings.voice_action(message.id) if message.answer_topic else None
        return call_twiml(message.summary or message.subject, action=action, voice=self.voice)

    def send(self, message: Message) -> str | None:
        twiml = self.twiml_of(message)
        if self.client is None:
            self._file(message, twiml)
            return None
        fields = {
            "To": message.address,
            "From": self.settings.from_number,
            "Twiml": twiml,
            # The call's end (completed, busy, no-answer, failed) comes back to the status hook.
            "StatusCallback": self.settings.status_callback(),
            "StatusCallbackMethod": "POST",
        }
        return self.client.create("Calls", fields, message.dedupe_key)

    def _file(self, message: Message, twiml: str) -> None:
        # The TwiML as the gateway would get it, with who is called in a comment before it.
        # "--" cannot occur in an XML comment; dedupe keys and E.164 numbers never hold one.
        head = f"<!-- To: {message.address}  Delivery: {message.dedupe_key} -->\n"
        write_outbox_file(
            f"{self.settings.outbox_dir}/voice",
            f"{message.id:08d}-{message.dedupe_key}.xml",
            twiml.replace("?>", "?>\n" + head, 1) if twiml.startswith("<?xml") else head + twiml,
        )

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


register_transport(DeliveryChannel.voice, VoiceTransport.from_config)
