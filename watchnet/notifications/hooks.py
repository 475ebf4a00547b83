"""What the outbox hands back to the domain, without knowing it: the domain packages register
handlers here when they are imported (the outbox knows no domain; see pyproject's contracts).

* Answers. A message with `answer_topic` = "<topic>:<id>" asks for one of two answers; LINE
  postbacks, voice digits and the like come back through record_answer (services.py), which
  calls the handler registered for <topic> — the same service a tap on the page calls.
* Addresses gone. When a channel reports that an address no longer exists (a push
  subscription answers 410, an apprise URL is refused for good), the dispatcher calls the
  handler registered for that channel with the delivery's channel_ref, which switches that
  channel of the person off and says why.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from watchnet.notifications.models import DeliveryChannel


class Answer(StrEnum):
    yes = "yes"  # 捜索に参加する / I'll search
    no = "no"  # 今は参加できない / I can't now


# handler(topic_id, supporter_id, answer, channel) -> True when it was recorded
AnswerHandler = Callable[[int, int, Answer, DeliveryChannel], bool]
# handler(channel_ref, reason)
AddressGoneHandler = Callable[[str, str], None]

_answer_handlers: dict[str, AnswerHandler] = {}
_gone_handlers: dict[DeliveryChannel, AddressGoneHandler] = {}


def register_answer_handler(topic: str, handler: AnswerHandler) -> None:
    _answer_handlers[topic] = handler


def answer_handler(topic: str) -> AnswerHandler | None:
    return _answer_handlers.get(topic)


def register_address_gone(channel: DeliveryChannel, handler: AddressGoneHandler) -> None:
    _gone_handlers[channel] = handler


def address_gone_handler(channel: DeliveryChannel) -> AddressGoneHandler | None:
    return _gone_handlers.get(channel)


def parse_answer_topic(answer_topic: str) -> tuple[str, int] | None:
    """("alert", 12) from "alert:12"; None when it is not of that form."""
    topic, _, raw_id = answer_topic.partition(":")
    if not topic or not raw_id.isdigit():
        return None
    return topic, int(raw_id)
