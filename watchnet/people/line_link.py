"""Linking a supporter's LINE, and what the official account's webhook events mean.

How a supporter links (README: "LINE"): their own page shows the account's add-friend QR
code and, on request, a one-time code (6 digits, 30 minutes, single use); they add the
account as a friend and send the code in the chat. The code proves that the LINE user who
sent it can see the supporter's page, which only the supporter's signed-in phone can. One
LINE user belongs to at most one supporter and the other way round (unique columns of
line_link). Blocking the account (unfollow) switches the link off, adding it again switches
it back on; unlinking on the page removes it.

Postbacks are the answers to a message's buttons: the same answer as a tap on the page,
through notifications.services.record_answer and the topic's handler.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from watchnet.audit.services import record_audit
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.i18n import default_locale, recipient_locale
from watchnet.core.insert_once import insert_once
from watchnet.notifications.hooks import Answer, answer_handler, parse_answer_topic
from watchnet.notifications.models import Delivery, DeliveryChannel
from watchnet.notifications.services import record_answer
from watchnet.notifications.transports.line import Postback, parse_postback_data, text_message
from watchnet.people.line_models import LineCodeFailure, LineLinkCode, LineWebhookEvent
from watchnet.people.models import LineLink, Supporter

log = logging.getLogger(__name__)

CODE_DIGITS = 6
CODE_VALID = timedelta(minutes=30)
MAX_CODE_FAILURES = 5  # wrong codes per LINE user within CODE_VALID
EVENT_KEPT = timedelta(days=7)  # LINE redelivers within a day at most; a week is ample


# ---------------------------------------------------------------------------------------------
# One-time codes


@dataclass(frozen=True)
class IssuedCode:
    code: str  # "123456"; shown once, stored only as a keyed hash
    expires_at: datetime


def _code_hash(code: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"line-link:{code}".encode(), hashlib.sha256).hexdigest()


def issue_link_code(supporter: Supporter) -> IssuedCode:
    """A new one-time code for the supporter (their previous one stops working)."""
    now = utcnow()
    # Expired codes of anyone hold their hash's place in the unique index: clear them first.
    db.session.execute(sa.delete(LineLinkCode).where(LineLinkCode.expires_at <= now))
    db.session.execute(sa.delete(LineLinkCode).where(LineLinkCode.supporter_id == supporter.id))
    for _attempt in range(20):
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        row = LineLinkCode(
            supporter_id=supporter.id, code_hash=_code_hash(code), expires_at=now + CODE_VALID
        )
        if insert_once(row):  # another supporter's live code has these digits: draw again
            return IssuedCode(code, row.expires_at)
    raise RuntimeError("no free one-time code after 20 draws")


def code_is_current(supporter_id: int, code: str) -> bool:
    """Whether `code` is still the supporter's unexpired, unused code (for showing it again)."""
    row = db.session.get(LineLinkCode, supporter_id)
    return (
        row is not None
        and row.expires_at > utcnow()
        and hmac.compare_digest(row.code_hash, _code_hash(code))
    )


def code_in(text: str) -> str | None:
    """The six digits of a chat message that is a code ("１２３ ４５６" and "123-456" too)."""
    squashed = "".join(
        c for c in unicodedata.normalize("NFKC", text) if c not in " -\u2010\u2212\u30fc"
    )
    if len(squashed) == CODE_DIGITS and squashed.isascii() and squashed.isdigit():
        return squashed
    return None


# ---------------------------------------------------------------------------------------------
# Links


def line_link_of(supporter_id: int) -> LineLink | None:
    """The supporter's LINE link, enabled or not."""
    return db.session.scalar(sa.select(LineLink).where(LineLink.supporter_id == supporter_id))


def linked_supporter(line_user_id: str) -> Supporter | None:
    """The active supporter whose enabled link is this LINE user."""
    return db.session.scalar(
        sa.select(Supporter)
        .join(LineLink, LineLink.supporter_id == Supporter.id)
        .where(
            LineLink.line_user_id == line_user_id,
            LineLink.is_enabled.is_(True),
            Supporter.is_active.is_(True),
        )
    )


def unlink_line(supporter: Supporter) -> bool:
    """The supporter unlinked on their page: the link and any open code are removed (the LINE
    user is free to be linked again, by a new code). False when there was nothing to unlink."""
    link = line_link_of(supporter.id)
    db.session.execute(sa.delete(LineLinkCode).where(LineLinkCode.supporter_id == supporter.id))
    if link is None:
        return False
    db.session.delete(link)
    record_audit("line.unlinked", "supporter", supporter.id, supporter.district_id)
    db.session.flush()
    return True


class CodeOutcome(StrEnum):
    linked = "linked"  # the LINE user is now this supporter's
    already = "already"  # it already was
    wrong = "wrong"  # no such live code (wrong, used or expired)
    throttled = "throttled"  # too many wrong codes lately; not even looked at
    taken = "taken"  # this LINE user belongs to another supporter


def link_with_code(line_user_id: str, code: str) -> tuple[CodeOutcome, Supporter | None]:
    """A LINE user sent a code: link them to the supporter whose code it is (single use)."""
    now = utcnow()
    since = now - CODE_VALID
    db.session.execute(sa.delete(LineCodeFailure).where(LineCodeFailure.failed_at < since))
    failures = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(LineCodeFailure)
        .where(LineCodeFailure.line_user_id == line_user_id, LineCodeFailure.failed_at >= since)
    )
    if (failures or 0) >= MAX_CODE_FAILURES:
        return CodeOutcome.throttled, None
    # Used up in the same statement that finds it: two messages with one code link once.
    supporter_id = db.session.scalar(
        sa.delete(LineLinkCode)
        .where(LineLinkCode.code_hash == _code_hash(code), LineLinkCode.expires_at > now)
        .returning(LineLinkCode.supporter_id)
    )
    supporter = db.session.get(Supporter, supporter_id) if supporter_id is not None else None
    if supporter is None or not supporter.is_active:
        db.session.add(LineCodeFailure(line_user_id=line_user_id, failed_at=now))
        return CodeOutcome.wrong, None
    holder = db.session.scalar(sa.select(LineLink).where(LineLink.line_user_id == line_user_id))
    if holder is not None and holder.supporter_id != supporter.id:
        return CodeOutcome.taken, supporter
    if holder is not None:  # this supporter's own link (perhaps switched off by a block)
        outcome = CodeOutcome.already if holder.is_enabled else CodeOutcome.linked
        holder.is_enabled = True
        return outcome, supporter
    link = line_link_of(supporter.id)
    if link is None:
        link = LineLink(supporter_id=supporter.id, line_user_id=line_user_id)
        db.session.add(link)
    else:  # a new phone or LINE account: the code shows it is the same supporter
        link.line_user_id = line_user_id
    link.is_enabled = True
    link.linked_at = now
    db.session.flush()
    record_audit("line.linked", "supporter", supporter.id, supporter.district_id, actor="line")
    return CodeOutcome.linked, supporter


def set_line_user_following(line_user_id: str, following: bool) -> LineLink | None:
    """A follow (added the account again) or unfollow (blocked it): the link, if any, is
    switched on or off."""
    link = db.session.scalar(sa.select(LineLink).where(LineLink.line_user_id == line_user_id))
    if link is not None and link.is_enabled != following:
        link.is_enabled = following
        action = "line.followed" if following else "line.blocked"
        record_audit(action, "supporter", link.supporter_id, actor="line")
    return link


# ---------------------------------------------------------------------------------------------
# Answers


def answer_by_line(supporter: Supporter, postback: Postback) -> bool:
    """A tapped answer button: recorded as the same answer as a tap on the page."""
    answer = Answer(postback.answer)
    delivery = None
    if postback.delivery_id is not None:
        delivery = db.session.scalar(
            sa.select(Delivery).where(
                Delivery.id == postback.delivery_id,
                Delivery.supporter_id == supporter.id,
                Delivery.channel == DeliveryChannel.line,
                Delivery.answer_topic == postback.answer_topic,
            )
        )
    if delivery is not None:
        return record_answer(delivery, answer)
    # The message's row is gone (retention) or the data names none: the topic's handler
    # decides whether this supporter may answer it.
    parsed = parse_answer_topic(postback.answer_topic)
    handler = answer_handler(parsed[0]) if parsed else None
    if parsed is None or handler is None:
        return False
    return handler(parsed[1], supporter.id, answer, DeliveryChannel.line)


# ---------------------------------------------------------------------------------------------
# Webhook events


@dataclass(frozen=True)
class Reply:
    """What to answer an event with (sent after the webhook's response)."""

    reply_token: str
    messages: list[dict[str, Any]]
    name: str  # unique per event: names the demo's outbox file


def claim_event(event_id: str) -> bool:
    """True the first time this webhookEventId is seen (in this transaction: if handling it
    fails, the claim is rolled back with it and a redelivery is handled again)."""
    db.session.execute(
        sa.delete(LineWebhookEvent).where(LineWebhookEvent.received_at < utcnow() - EVENT_KEPT)
    )
    return insert_once(LineWebhookEvent(event_id=event_id[:64]))


def _how_to_link() -> str:
    return _(
        "To receive search requests in LINE: open “My page” in watchnet, press “Show a LINE "
        "code”, and send the 6-digit number to this chat."
    )


def handle_event(event: Mapping[str, Any]) -> Reply | None:
    """Apply one webhook event (once per webhookEventId); the caller commits.

    Returns the reply to send, if any (only "active" events may be replied to)."""
    event_id = str(event.get("webhookEventId") or "")
    source = _mapping(event.get("source"))
    user_id = str(source.get("userId") or "") if source.get("type") == "user" else ""
    if not event_id or not user_id or len(user_id) > 64:
        return None  # group chats, rooms, unknown shapes: nothing for us
    if not claim_event(event_id):
        log.info("LINE event %s was already handled (redelivery)", event_id)
        return None
    kind = event.get("type")
    if kind == "unfollow":
        set_line_user_following(user_id, False)
        return None
    texts = _texts_for(kind, user_id, event)
    token = event.get("replyToken")
    if not texts or not isinstance(token, str) or event.get("mode", "active") != "active":
        return None
    return Reply(token, [text_message(t) for t in texts], event_id)


def _texts_for(kind: Any, user_id: str, event: Mapping[str, Any]) -> list[str]:
    """Apply a follow, message or postback event; the replies' texts, in the supporter's
    language when the LINE user is linked (the default language otherwise)."""
    if kind == "follow":
        link = set_line_user_following(user_id, True)
        supporter = linked_supporter(user_id) if link is not None else None
        with force_locale(_locale_of(supporter)):
            if supporter is not None:
                return [_("Welcome back. Search requests come to this LINE again.")]
            return [_("Thank you for adding watchnet as a friend."), _how_to_link()]
    if kind == "message":
        message = _mapping(event.get("message"))
        text = message.get("text") if message.get("type") == "text" else None
        code = code_in(text) if isinstance(text, str) else None
        if code is not None:
            return _code_texts(user_id, code)
        supporter = linked_supporter(user_id)
        with force_locale(_locale_of(supporter)):
            if supporter is None:
                return [_how_to_link()]
            return [
                _(
                    "Messages sent to this chat are not read. To answer a search request, "
                    "use the buttons or the link in its message."
                )
            ]
    if kind == "postback":
        data = _mapping(event.get("postback")).get("data")
        postback = parse_postback_data(data) if isinstance(data, str) else None
        if postback is None:
            return []
        return _postback_texts(user_id, postback)
    return []


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _locale_of(supporter: Supporter | None) -> str:
    return recipient_locale(supporter.locale) if supporter is not None else default_locale()


def _code_texts(user_id: str, code: str) -> list[str]:
    outcome, supporter = link_with_code(user_id, code)
    with force_locale(_locale_of(supporter)):
        if outcome in (CodeOutcome.linked, CodeOutcome.already):
            return [
                _(
                    "Done: this LINE is linked with your watchnet page. Search requests and "
                    "drill messages will come here."
                )
            ]
        if outcome == CodeOutcome.taken:
            return [
                _(
                    "This LINE is already linked with another supporter's page. Unlink it on "
                    "that page first."
                )
            ]
        if outcome == CodeOutcome.throttled:
            return [
                _(
                    "Too many wrong codes. Please wait 30 minutes, then show a new code on your "
                    "page and send it."
                )
            ]
        return [
            _(
                "This code does not work. A code works once, for 30 minutes. Show a new code on "
                "your page and send it again."
            )
        ]


def _postback_texts(user_id: str, postback: Postback) -> list[str]:
    supporter = linked_supporter(user_id)
    with force_locale(_locale_of(supporter)):
        if supporter is None:
            return [
                _(
                    "This LINE is not linked with a watchnet page, so the answer was not "
                    "recorded. Please answer on the page the message links to."
                ),
                _how_to_link(),
            ]
        if not answer_by_line(supporter, postback):
            return [
                _(
                    "The answer could not be recorded: the request may be over. Please open "
                    "the link in the message."
                )
            ]
        if postback.answer == Answer.yes:
            return [
                _(
                    "Thank you. Your answer “I'll search” was recorded. Open the link in the "
                    "message for what to do next."
                )
            ]
        return [_("Thank you. Your answer “I can't now” was recorded.")]
