"""A supporter's channels: phone numbers for SMS and calls added and removed with consent,
and switching off an address that no longer exists as the outbox reports it (registered with
notifications.hooks at import; the dispatcher imports this)."""

from __future__ import annotations

from functools import partial

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from watchnet.audit.services import record_audit
from watchnet.core.dbtypes import utcnow
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.phones import is_mobile_number, to_e164
from watchnet.notifications.hooks import register_address_gone
from watchnet.notifications.models import DeliveryChannel
from watchnet.notifications.services import skip_pending_deliveries
from watchnet.people.models import (
    LineLink,
    NotificationAddress,
    PhoneChannel,
    PushSubscription,
    StaffUser,
    Supporter,
)

MAX_PHONE_CHANNELS = 3  # numbers per supporter: a mobile and a landline, and one to spare


def add_phone_channel(
    supporter: Supporter,
    number: str,
    sms: bool,
    voice: bool,
    consent: bool,
    added_by: StaffUser | None = None,
    label: str = "",
) -> PhoneChannel:
    """Register a number for SMS and/or automated calls, with the supporter's consent (staff
    may add one for someone who cannot, e.g. a landline). The number is stored in E.164; SMS
    only to a mobile (070/080/090). Adding a number again sets its choices anew and switches
    it back on. Refusals name their field (number, sms, consent, label). Flushes."""
    if not consent:
        raise UserInputError(_l("Messages to a phone need the supporter's consent."), "consent")
    if not sms and not voice:
        raise UserInputError(_l("Choose SMS, calls or both."), "sms")
    try:
        e164 = to_e164(number)
    except ValueError:
        raise UserInputError(
            _l("Not a phone number we can call, e.g. 090-1234-5678 or 027-321-1234."), "number"
        ) from None
    if sms and not is_mobile_number(e164):
        raise UserInputError(
            _l("SMS can only go to a mobile number (070, 080, 090); this number can take calls."),
            "sms",
        )
    label = " ".join(label.split())
    if len(label) > 100:
        raise UserInputError(_l("Too long: at most %(max)s characters.", max=100), "label")
    channel = db.session.scalar(
        sa.select(PhoneChannel).where(
            PhoneChannel.supporter_id == supporter.id, PhoneChannel.number == e164
        )
    )
    if channel is None:
        count = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(PhoneChannel)
            .where(PhoneChannel.supporter_id == supporter.id)
        )
        if (count or 0) >= MAX_PHONE_CHANNELS:
            raise UserInputError(
                _l("At most %(max)s phone numbers per supporter.", max=MAX_PHONE_CHANNELS),
                "number",
            )
        channel = PhoneChannel(supporter_id=supporter.id, number=e164)
        db.session.add(channel)
    channel.sms, channel.voice = sms, voice
    channel.label = label or channel.label
    channel.consent_at = utcnow()
    channel.added_by_staff_id = added_by.id if added_by is not None else None
    channel.is_enabled, channel.disabled_reason = True, None
    db.session.flush()
    # The number itself stays out of the audit log: who, which row and what was chosen suffice.
    record_audit(
        "supporter.phone_added",
        "supporter",
        supporter.id,
        supporter.district_id,
        phone_channel_id=channel.id,
        sms=sms,
        voice=voice,
        by_staff=added_by is not None,
    )
    return channel


def remove_phone_channel(supporter: Supporter, phone_channel_id: int) -> bool:
    """Delete one of the supporter's numbers (nothing of it is kept) and withdraw the messages
    still waiting for it. False when the supporter has no such number. Flushes."""
    channel = db.session.get(PhoneChannel, phone_channel_id)
    if channel is None or channel.supporter_id != supporter.id:
        return False
    withdrawn = skip_pending_deliveries(supporter.id, f"phone:{channel.id}")
    db.session.delete(channel)
    db.session.flush()
    record_audit(
        "supporter.phone_removed",
        "supporter",
        supporter.id,
        supporter.district_id,
        phone_channel_id=phone_channel_id,
        withdrawn=withdrawn,
    )
    return True


def switch_off_channel(channel_ref: str, reason: str) -> None:
    """Switch off the channel a delivery's channel_ref names ("addr:3", "push:7", "line:2",
    "phone:4"), keeping the reason to show. The caller commits."""
    kind, _, raw_id = channel_ref.partition(":")
    if not raw_id.isdigit():
        return
    row_id = int(raw_id)
    reason = reason[:500]
    if kind == "addr":
        stmt = sa.update(NotificationAddress).where(NotificationAddress.id == row_id)
        db.session.execute(
            stmt.values(is_enabled=False, disabled_reason=reason).execution_options(
                synchronize_session=False
            )
        )
    elif kind == "push":
        stmt = sa.update(PushSubscription).where(PushSubscription.id == row_id)
        db.session.execute(
            stmt.values(is_enabled=False, disabled_reason=reason).execution_options(
                synchronize_session=False
            )
        )
    elif kind == "line":
        stmt = sa.update(LineLink).where(LineLink.id == row_id)
        db.session.execute(
            stmt.values(is_enabled=False).execution_options(synchronize_session=False)
        )
    elif kind == "phone":
        stmt = sa.update(PhoneChannel).where(PhoneChannel.id == row_id)
        db.session.execute(
            stmt.values(is_enabled=False, disabled_reason=reason).execution_options(
                synchronize_session=False
            )
        )


def switch_off_phone_use(channel_ref: str, reason: str, use: DeliveryChannel) -> None:
    """A number refused SMS for good (a landline, STOP) or cannot be called: that use of the
    number is switched off, the other stays; with neither left the number is off. The
    caller commits."""
    kind, _, raw_id = channel_ref.partition(":")
    if kind != "phone" or not raw_id.isdigit():
        return
    channel = db.session.get(PhoneChannel, int(raw_id))
    if channel is None:
        return
    if use == DeliveryChannel.sms:
        channel.sms = False
    else:
        channel.voice = False
    channel.disabled_reason = f"{use.value}: {reason}"[:500]
    if not channel.sms and not channel.voice:
        channel.is_enabled = False


for _channel in DeliveryChannel:
    if _channel != DeliveryChannel.email:  # an e-mail address is the supporter's own record
        register_address_gone(_channel, switch_off_channel)
for _use in (DeliveryChannel.sms, DeliveryChannel.voice):
    register_address_gone(_use, partial(switch_off_phone_use, use=_use))
