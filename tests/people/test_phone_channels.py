"""A supporter's phone numbers for SMS and calls: stored in E.164 with consent, SMS only to
mobiles, removed without a trace, and switched off use by use when the gateway says so."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from watchnet.audit.models import AuditEvent
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.notifications.hooks import address_gone_handler
from watchnet.notifications.models import Delivery, DeliveryChannel, DeliveryStatus
from watchnet.notifications.services import enqueue_delivery
from watchnet.people.channels import add_phone_channel, remove_phone_channel
from watchnet.people.models import PhoneChannel


def test_a_mobile_is_stored_in_e164_with_the_consent_time(supporter):
    channel = add_phone_channel(
        supporter, "０９０－１２３４－５６７８", sms=True, voice=True, consent=True
    )
    db.session.commit()
    assert channel.number == "+819012345678"
    assert channel.sms and channel.voice and channel.is_enabled
    assert channel.consent_at is not None and channel.added_by_staff_id is None
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "supporter.phone_added")
    ).one()
    assert "+81" not in str(event.detail) and "1234" not in str(event.detail)


def test_staff_may_add_a_landline_for_calls(supporter, coordinator):
    channel = add_phone_channel(
        supporter, "027-321-1234", sms=False, voice=True, consent=True, added_by=coordinator
    )
    assert channel.number == "+81273211234" and channel.added_by_staff_id == coordinator.id


@pytest.mark.parametrize(
    ("number", "sms", "voice", "consent", "field"),
    [
        ("027-321-1234", True, True, True, "sms"),  # a landline cannot take an SMS
        ("050-1234-5678", True, False, True, "sms"),  # nor an IP phone
        ("090-1234-5678", True, True, False, "consent"),
        ("090-1234-5678", False, False, True, "sms"),
        ("1234", False, True, True, "number"),
        ("0120-123-456", False, True, True, "number"),
    ],
)
def test_refusals_name_their_field_and_store_nothing(supporter, number, sms, voice, consent, field):
    with pytest.raises(UserInputError) as refused:
        add_phone_channel(supporter, number, sms=sms, voice=voice, consent=consent)
    assert refused.value.field == field
    db.session.rollback()
    assert db.session.scalars(sa.select(PhoneChannel)).all() == []


def test_adding_a_number_again_sets_its_choices_anew_and_switches_it_back_on(supporter):
    first = add_phone_channel(supporter, "090-1234-5678", sms=True, voice=False, consent=True)
    first.is_enabled, first.disabled_reason = False, "sms: the number replied STOP"
    db.session.commit()
    again = add_phone_channel(supporter, "+81 90 1234 5678", sms=False, voice=True, consent=True)
    assert again.id == first.id
    assert (again.sms, again.voice, again.is_enabled, again.disabled_reason) == (
        False,
        True,
        True,
        None,
    )


def test_a_supporter_has_at_most_three_numbers(supporter):
    for number in ("090-1111-1111", "080-2222-2222", "027-321-1234"):
        add_phone_channel(supporter, number, sms=False, voice=True, consent=True)
    with pytest.raises(UserInputError) as refused:
        add_phone_channel(supporter, "070-3333-3333", sms=True, voice=False, consent=True)
    assert refused.value.field == "number"


def test_removing_a_number_deletes_it_and_withdraws_its_waiting_messages(
    supporter, make_supporter, district
):
    channel = add_phone_channel(supporter, "090-1234-5678", sms=True, voice=True, consent=True)
    waiting = enqueue_delivery(
        dedupe_key="t:sms",
        channel=DeliveryChannel.sms,
        address=channel.number,
        subject="s",
        body="b",
        supporter_id=supporter.id,
    )
    waiting.channel_ref = f"phone:{channel.id}"
    db.session.commit()
    someone_else = make_supporter(district)
    assert remove_phone_channel(someone_else, channel.id) is False  # not theirs
    assert remove_phone_channel(supporter, channel.id) is True
    db.session.commit()
    assert db.session.scalars(sa.select(PhoneChannel)).all() == []
    assert db.session.get(Delivery, waiting.id).status == DeliveryStatus.skipped


def test_a_number_gone_for_sms_keeps_its_calls_and_is_off_when_neither_is_left(supporter):
    channel = add_phone_channel(supporter, "090-1234-5678", sms=True, voice=True, consent=True)
    db.session.commit()
    ref = f"phone:{channel.id}"
    address_gone_handler(DeliveryChannel.sms)(ref, "gateway answered HTTP 400, error 21610")
    db.session.commit()
    assert (channel.sms, channel.voice, channel.is_enabled) == (False, True, True)
    assert channel.disabled_reason == "sms: gateway answered HTTP 400, error 21610"
    address_gone_handler(DeliveryChannel.voice)(ref, "gateway answered HTTP 400, error 21214")
    db.session.commit()
    assert (channel.sms, channel.voice, channel.is_enabled) == (False, False, False)
