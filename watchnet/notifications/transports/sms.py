"""SMS through a Twilio-compatible gateway: a short Japanese text and the personal link, in at
most two segments (a longer SMS costs more and arrives in pieces on older phones).

Segments, as the networks count them: a text of GSM 03.38 characters only (7-bit) fits 160 in
one SMS, else 153 per segment (the rest of each segment carries the header that joins them);
a text with any other character — every Japanese one — is sent as UCS-2: 70 UTF-16 code units
in one SMS, else 67 per segment. Characters of the GSM extension table (€ [ ] { } ^ ~ | \\)
take two septets, and neither an escape pair nor a surrogate pair is cut across segments.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from watchnet.notifications.models import DeliveryChannel
from watchnet.notifications.transports.base import Message, TransportError, register_transport
from watchnet.notifications.transports.twilio_api import (
    TwilioClient,
    TwilioSettings,
    write_outbox_file,
)

log = logging.getLogger(__name__)

MAX_SEGMENTS = 2

# GSM 03.38 default alphabet (the escape 0x1B left out: not a character anyone types) and its
# extension table, whose characters are sent as escape + character.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


def is_gsm7(text: str) -> bool:
    """Whether the text can be sent in the 7-bit GSM alphabet."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _units(text: str) -> list[int]:
    """Each character's size in its encoding's units (septets, or UTF-16 code units)."""
    if is_gsm7(text):
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def sms_segments(text: str) -> int:
    """How many SMS segments the text takes."""
    if not text:
        return 1
    single, per_part = (160, 153) if is_gsm7(text) else (70, 67)
    units = _units(text)
    if sum(units) <= single:
        return 1
    segments, used = 1, 0
    for size in units:
        if used + size > per_part:  # a pair is never cut: it opens the next segment
            segments += 1
            used = 0
        used += size
    return segments


def sms_text(summary: str, link: str, max_segments: int = MAX_SEGMENTS) -> str:
    """The SMS: the summary, a line break and the link, in at most `max_segments` segments.
    The summary is shortened (with an ellipsis) to fit, never the link.

    Raises ValueError when the link alone does not fit."""
    summary = " ".join(summary.split())
    link = link.strip()

    def compose(head: str) -> str:
        return f"{head}\n{link}" if head and link else head or link

    text = compose(summary)
    if sms_segments(text) <= max_segments:
        return text
    # Shorter and shorter: fewer characters can only fit better (and once the last Japanese
    # character is gone, the text fits the denser GSM alphabet). The ellipsis keeps a GSM-only
    # summary GSM-only.
    for end in range(len(summary) - 1, 0, -1):
        head = summary[:end].rstrip()
        head += "..." if is_gsm7(head) else "…"
        text = compose(head)
        if sms_segments(text) <= max_segments:
            return text
    if link and sms_segments(link) <= max_segments:
        return link
    raise ValueError(f"the link alone needs more than {max_segments} SMS segments")


class SmsTransport:
    """Sends an SMS with a delivery report requested on the status hook; returns its SID.
    Without gateway settings (the demo) each SMS is written as a file into <instance>/outbox/sms."""

    def __init__(self, settings: TwilioSettings) -> None:
        self.settings = settings
        self.client = TwilioClient(settings) if settings.configured else None
        if self.client is None:
            log.info("no SMS gateway configured: SMS go into %s/sms", settings.outbox_dir)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmsTransport:
        return cls(TwilioSettings.of(config))

    def text_of(self, message: Message) -> str:
        try:
            return sms_text(message.summary or message.subject, message.link)
        except ValueError as exc:  # our own link is too long: no retry can help
            raise TransportError(str(exc), permanent=True) from exc

    def send(self, message: Message) -> str | None:
        text = self.text_of(message)
        if self.client is None:
            self._file(message, text)
            return None
        fields = {
            "To": message.address,
            "From": self.settings.from_number,
            "Body": text,
            # The delivery report ("delivered", "undelivered") comes back to the status hook.
            "StatusCallback": self.settings.status_callback(),
        }
        return self.client.create("Messages", fields, message.dedupe_key)

    def _file(self, message: Message, text: str) -> None:
        segments = sms_segments(text)
        encoding = "GSM-7" if is_gsm7(text) else "UCS-2"
        content = (
            f"To: {message.address}\n"
            f"Delivery: {message.dedupe_key}\n"
            f"Segments: {segments} ({encoding}, {len(text)} characters)\n"
            "\n"
            f"{text}\n"
        )
        write_outbox_file(
            f"{self.settings.outbox_dir}/sms", f"{message.id:08d}-{message.dedupe_key}.txt", content
        )

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


register_transport(DeliveryChannel.sms, SmsTransport.from_config)
