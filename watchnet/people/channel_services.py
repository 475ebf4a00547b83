"""A supporter's channels as people see them and choose them: which are on, the last message
that went out on each (staff), e-mail on or off, quiet hours, and the test notification
(「テスト通知を送る」) with its outcome per channel in plain words.

Writes go through verb_noun functions that flush and leave the commit to the view; messages go
through people.notify.fan_out like every other message to supporters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from watchnet.core.dbtypes import utcnow
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.insert_once import insert_or_get
from watchnet.core.phones import national_number
from watchnet.core.urls import public_url
from watchnet.notifications.models import Delivery, DeliveryChannel, DeliveryStatus
from watchnet.people.models import ChannelTest, Supporter
from watchnet.people.notify import LINK_SLOT, Recipient, Text, fan_out

# The order channels are listed in on both pages: the ones that reach a locked phone first.
CHANNEL_ORDER = (
    DeliveryChannel.push,
    DeliveryChannel.line,
    DeliveryChannel.email,
    DeliveryChannel.sms,
    DeliveryChannel.voice,
    DeliveryChannel.webhook,
)

CHANNEL_NAMES: dict[DeliveryChannel, LazyString] = {
    DeliveryChannel.push: _l("Notifications on the phone"),
    DeliveryChannel.line: _l("LINE"),
    DeliveryChannel.email: _l("E-mail messages"),
    DeliveryChannel.sms: _l("SMS (text message)"),
    DeliveryChannel.voice: _l("Automated phone call"),
    DeliveryChannel.webhook: _l("Partner service (set up by staff)"),
}

# A test press's form carries a random key (secrets.token_urlsafe); nothing else is accepted.
PRESS_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
TEST_TOPIC = "test"


def channel_name(channel: DeliveryChannel | str) -> str:
    """The channel in plain words, in the user's language."""
    return str(CHANNEL_NAMES[DeliveryChannel(channel)])


# ---------------------------------------------------------------------------------------------
# What the supporter has


@dataclass(frozen=True)
class ChannelLine:
    """One channel of a supporter as a page shows it (a phone number taking SMS and calls is
    two lines: each is a channel of its own, with its own last delivery)."""

    channel: DeliveryChannel
    ref: str  # the outbox's channel_ref: "email", "push:7", "line:2", "phone:4", "addr:3"
    shown: str  # what identifies it to a person: the address, the number, the device
    is_on: bool
    off_reason: str  # why it is off ("" when on)
    last_sent_at: datetime | None = None
    added_by_staff: bool = False

    @property
    def name(self) -> str:
        return channel_name(self.channel)


def webhook_shown(url: str) -> str:
    """A webhook or chat URL without what may be secret in it (tokens in the path or the
    user part): the scheme and the host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "—"
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" if parts.scheme and host else (parts.scheme or "—")


def last_successful_deliveries(supporter_id: int) -> dict[tuple[str, DeliveryChannel], datetime]:
    """When a message last went out on each of the supporter's channels: max(sent_at) of
    the sent rows per (channel_ref, channel), in one query (ix_delivery_supporter)."""
    rows = db.session.execute(
        sa.select(Delivery.channel_ref, Delivery.channel, sa.func.max(Delivery.sent_at))
        .where(
            Delivery.supporter_id == supporter_id,
            Delivery.status == DeliveryStatus.sent,
            Delivery.sent_at.is_not(None),
        )
        .group_by(Delivery.channel_ref, Delivery.channel)
    )
    return {(ref, DeliveryChannel(channel)): at for ref, channel, at in rows if at is not None}


def channel_lines(supporter: Supporter, *, with_last_sent: bool = False) -> list[ChannelLine]:
    """Every channel of the supporter, on or off, in CHANNEL_ORDER; with the last successful
    delivery on each when asked (staff)."""
    last = last_successful_deliveries(supporter.id) if with_last_sent else {}
    lines: list[ChannelLine] = []

    def add(
        channel: DeliveryChannel, ref: str, shown: str, is_on: bool, reason: str, **kw: bool
    ) -> None:
        lines.append(
            ChannelLine(
                channel, ref, shown, is_on, "" if is_on else reason, last.get((ref, channel)), **kw
            )
        )

    for sub in supporter.push_subscriptions:
        shown = sub.label or _("Phone registered on %(date)s", date=_date(sub.created_at))
        add(
            DeliveryChannel.push,
            f"push:{sub.id}",
            shown,
            sub.is_enabled,
            _reason(sub.disabled_reason),
        )
    link = supporter.line_link
    if link is not None:
        add(
            DeliveryChannel.line,
            f"line:{link.id}",
            _("Linked on %(date)s", date=_date(link.linked_at)),
            link.is_enabled,
            _("The account is blocked in LINE, or LINE was unlinked."),
        )
    if supporter.email:
        add(
            DeliveryChannel.email,
            "email",
            supporter.email,
            supporter.email_enabled,
            _("Switched off by the supporter."),
        )
    for phone in supporter.phone_channels:
        ref = f"phone:{phone.id}"
        for channel, used in (
            (DeliveryChannel.sms, phone.sms),
            (DeliveryChannel.voice, phone.voice),
        ):
            if used:
                add(
                    channel,
                    ref,
                    phone_shown(phone.number),
                    phone.is_enabled,
                    _reason(phone.disabled_reason),
                    added_by_staff=phone.added_by_staff_id is not None,
                )
    for address in supporter.notification_addresses:
        add(
            DeliveryChannel.webhook,
            f"addr:{address.id}",
            address.label or webhook_shown(address.url),
            address.is_enabled,
            _reason(address.disabled_reason),
        )
    lines.sort(key=lambda line: CHANNEL_ORDER.index(line.channel))
    return lines


def phone_shown(number: str) -> str:
    """A stored (E.164) phone number as people in Japan write it."""
    return national_number(number)


@dataclass(frozen=True)
class PhoneEntry:
    """One of the supporter's numbers, with what it takes (the page removes it as a whole)."""

    id: int
    shown: str
    uses: str  # "SMS and calls" ... in plain words
    is_on: bool
    off_reason: str
    added_by_staff: bool


def phone_entries(supporter: Supporter) -> list[PhoneEntry]:
    """The supporter's phone numbers, in the order they were added."""
    entries = []
    for phone in supporter.phone_channels:
        uses = (
            _("SMS and calls")
            if phone.sms and phone.voice
            else _("SMS only")
            if phone.sms
            else _("Calls only")
        )
        entries.append(
            PhoneEntry(
                phone.id,
                phone_shown(phone.number),
                uses,
                phone.is_enabled,
                "" if phone.is_enabled else _reason(phone.disabled_reason),
                phone.added_by_staff_id is not None,
            )
        )
    return entries


def _reason(reason: str | None) -> str:
    return reason or _("Switched off.")


def _date(value: datetime | None) -> str:
    from watchnet.core.timefmt import format_formal_date

    return format_formal_date(value) if value else ""


# ---------------------------------------------------------------------------------------------
# The supporter's choices


def set_email_enabled(supporter: Supporter, enabled: bool) -> None:
    """E-mail on or off for this supporter (the address itself is kept by staff)."""
    if enabled and not supporter.email:
        raise UserInputError(
            _("No e-mail address is registered. Ask the organizer of your district to add one."),
            field="enabled",
        )
    supporter.email_enabled = enabled
    db.session.flush()


def set_quiet_hours(supporter: Supporter, start: time | None, end: time | None) -> None:
    """Quiet hours from `start` to `end` local time (an end before the start spans midnight),
    or none when both are None. Drill messages wait until the end; real alerts come through."""
    if (start is None) != (end is None):
        missing = "quiet_end" if end is None else "quiet_start"
        raise UserInputError(_("Please give both times, or clear both."), field=missing)
    if start is not None and start == end:
        raise UserInputError(_("The end must differ from the start."), field="quiet_end")
    supporter.quiet_start = start.replace(second=0, microsecond=0) if start else None
    supporter.quiet_end = end.replace(second=0, microsecond=0) if end else None
    db.session.flush()


# ---------------------------------------------------------------------------------------------
# The test notification


class TooSoon(UserInputError):
    """A test was sent less than TEST_NOTIFICATION_INTERVAL_S ago (answered with 429)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            _(
                "A test was sent just now. You can send the next one in %(seconds)d seconds.",
                seconds=retry_after_s,
            ),
            field="press_key",
        )
        self.retry_after_s = retry_after_s


def interval_between_tests_s() -> int:
    return int(current_app.config["TEST_NOTIFICATION_INTERVAL_S"])


def _test_text() -> Text:
    # Called by fan_out in the supporter's language.
    return Text(
        subject=_("watchnet: test message"),
        body=_(
            "This is the test message you asked for on your page. It reached you on this "
            "channel; there is nothing more to do.\n\n"
            "Your page for choosing how watchnet reaches you:\n%(link)s",
            link=LINK_SLOT,
        ),
        summary=_("watchnet test: this channel works. Nothing more to do."),
    )


def send_test_notification(
    supporter: Supporter, press_key: str, now: datetime | None = None
) -> ChannelTest:
    """Queue a test message on every channel the supporter has, all at once and now (a test
    asked for now does not wait for quiet hours). The same press_key again returns the same
    test and queues nothing (a double tap, a retried request); a new press within
    TEST_NOTIFICATION_INTERVAL_S of the last raises TooSoon."""
    if not PRESS_KEY_RE.match(press_key or ""):
        raise UserInputError(_("The form expired. Please reload the page."), field="press_key")
    now = now or utcnow()
    # Two presses at once (two tabs, a retry racing the first): the supporter's row is the
    # lock, so the second sees the first's test (PostgreSQL; SQLite has one writer anyway).
    db.session.execute(
        sa.select(Supporter.id).where(Supporter.id == supporter.id).with_for_update()
    )

    def find() -> ChannelTest | None:
        return db.session.scalar(
            sa.select(ChannelTest).where(
                ChannelTest.supporter_id == supporter.id, ChannelTest.press_key == press_key
            )
        )

    existing = find()
    if existing is not None:
        return existing
    last = db.session.scalar(
        sa.select(sa.func.max(ChannelTest.created_at)).where(
            ChannelTest.supporter_id == supporter.id
        )
    )
    interval = interval_between_tests_s()
    if last is not None and now - last < timedelta(seconds=interval):
        wait = interval - int((now - last).total_seconds())
        raise TooSoon(max(1, wait))
    test, created = insert_or_get(
        ChannelTest(supporter_id=supporter.id, press_key=press_key, created_at=now), find
    )
    if created:
        fan_out(
            key=f"test:{supporter.id}:{test.id}",
            kind="test",
            topic=TEST_TOPIC,
            topic_id=test.id,
            recipients=[Recipient(supporter.id, public_url("people.my_channels", "/me/channels"))],
            make_text=_test_text,
            real=True,  # timing: now, whatever the quiet hours
            every_channel=True,
            now=now,
        )
    return test


def last_test(supporter: Supporter) -> ChannelTest | None:
    """The supporter's newest test press."""
    return db.session.scalar(
        sa.select(ChannelTest)
        .where(ChannelTest.supporter_id == supporter.id)
        .order_by(ChannelTest.created_at.desc(), ChannelTest.id.desc())
        .limit(1)
    )


def next_test_allowed_in_s(supporter: Supporter, now: datetime | None = None) -> int:
    """Seconds until the supporter may send the next test (0: now)."""
    test = last_test(supporter)
    if test is None:
        return 0
    left = interval_between_tests_s() - ((now or utcnow()) - test.created_at).total_seconds()
    return max(0, int(left + 0.999))


@dataclass(frozen=True)
class ChannelOutcome:
    """What happened to a test message on one channel, as the page says it."""

    channel: DeliveryChannel
    ref: str
    shown: str
    state: str  # "waiting" | "retrying" | "sent" | "failed"
    reason: str  # plain words; "" while waiting and when sent
    sent_at: datetime | None

    @property
    def name(self) -> str:
        return channel_name(self.channel)

    @property
    def is_final(self) -> bool:
        return self.state in ("sent", "failed")


def outcomes_of_test(test: ChannelTest, supporter: Supporter) -> list[ChannelOutcome]:
    """The test's messages, one per channel, with their state in plain words."""
    rows = db.session.execute(
        sa.select(
            Delivery.channel,
            Delivery.channel_ref,
            Delivery.address,
            Delivery.status,
            Delivery.last_error,
            Delivery.sent_at,
        )
        .where(
            Delivery.topic == TEST_TOPIC,
            Delivery.topic_id == test.id,
            Delivery.supporter_id == supporter.id,
        )
        .order_by(Delivery.id)
    ).all()
    lines = {(line.ref, line.channel): line for line in channel_lines(supporter)}
    outcomes = []
    for channel_raw, ref, address, status, last_error, sent_at in rows:
        channel = DeliveryChannel(channel_raw)
        line = lines.get((ref, channel))
        shown = line.shown if line else _shown_from_address(channel, address)
        state, reason = _state(channel, DeliveryStatus(status), last_error, line)
        outcomes.append(ChannelOutcome(channel, ref, shown, state, reason, sent_at))
    outcomes.sort(key=lambda o: CHANNEL_ORDER.index(o.channel))
    return outcomes


def _shown_from_address(channel: DeliveryChannel, address: str) -> str:
    # The channel was removed since the test: say what it was without anything secret.
    if channel == DeliveryChannel.email:
        return address
    if channel in (DeliveryChannel.sms, DeliveryChannel.voice):
        return phone_shown(address)
    if channel == DeliveryChannel.webhook:
        return webhook_shown(address)
    return ""


def _state(
    channel: DeliveryChannel,
    status: DeliveryStatus,
    last_error: str | None,
    line: ChannelLine | None,
) -> tuple[str, str]:
    if status == DeliveryStatus.sent:
        return "sent", ""
    if status in (DeliveryStatus.pending, DeliveryStatus.sending):
        if last_error:
            return "retrying", _("It did not get through yet; trying again.")
        return "waiting", ""
    if status == DeliveryStatus.skipped:
        return "failed", _("Not sent.")
    return "failed", failure_reason(channel, last_error or "", line)


def failure_reason(channel: DeliveryChannel, last_error: str, line: ChannelLine | None) -> str:
    """Why a message failed on a channel, in words a supporter understands and can act on.
    The transports' reasons are technical (an SMTP code, an HTTP status); staff see those."""
    error = last_error.lower()
    if "internal error" in error or "no transport" in error or "not configured" in error:
        return _(
            "This channel cannot be used at the moment on the city's side. "
            "Please tell the organizer of your district."
        )
    # The channel is gone from the supporter's list or off: the dispatcher switched it off
    # because it said the address no longer takes messages (410, blocked, STOP).
    if line is None or not line.is_on:
        return {
            DeliveryChannel.push: _(
                "This phone's notifications are no longer registered. Turn notifications on "
                "again on this page."
            ),
            DeliveryChannel.line: _(
                "LINE does not accept messages for you: the account may be blocked in your "
                "LINE. Add it as a friend again."
            ),
        }.get(channel, _("This channel was switched off because it no longer works."))
    if error.startswith("gave up after"):
        return _("It could not get through after several tries. Please try again later.")
    return {
        DeliveryChannel.push: _(
            "The notification could not be delivered to this phone. Turn notifications off and "
            "on again on this page."
        ),
        DeliveryChannel.line: _(
            "The LINE message could not be sent. Check that you have not blocked the account."
        ),
        DeliveryChannel.email: _(
            "The e-mail was not accepted. Ask the organizer to check your e-mail address."
        ),
        DeliveryChannel.sms: _("The SMS could not be sent. Please check the number."),
        DeliveryChannel.voice: _("The call could not be made. Please check the number."),
        DeliveryChannel.webhook: _(
            "The partner service did not accept the message. Please tell the organizer."
        ),
    }[channel]
