"""Phone numbers for SMS and calls: a supporter adds one on their page with an explicit
consent and removes it; staff add a landline (calls only) or a mobile for someone who cannot,
recorded with their name and audited; another district's staff cannot."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from watchnet.audit.models import AuditEvent
from watchnet.core.extensions import db
from watchnet.people.models import PhoneChannel


def _phones(supporter: Any) -> list[PhoneChannel]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(PhoneChannel)
            .where(PhoneChannel.supporter_id == supporter.id)
            .order_by(PhoneChannel.id)
        )
    )


def _field_errors(html: str, field: str) -> str:
    match = re.search(rf'<ul class="errors" id="{field}-err">(.*?)</ul>', html, re.S)
    assert match is not None, f"no errors on {field}"
    return match.group(1)


def test_the_page_asks_for_consent_in_plain_words(supporter_client):
    html = supporter_client.get("/me/channels").get_data(as_text=True)
    assert "電話番号を追加する" in html
    assert "SMSまたは自動音声の電話で受け取ることに同意します" in html
    assert 'name="consent"' in html and "checked" not in html.split('name="consent"')[1][:40]


def test_a_supporter_adds_a_mobile_for_sms_and_calls(supporter_client, supporter):
    response = supporter_client.post(
        "/me/channels/phones",
        data={"number": "０９０－１２３４－５６７８", "use": "sms_voice", "consent": "y"},
    )
    assert response.status_code == 302
    (phone,) = _phones(supporter)
    assert (phone.number, phone.sms, phone.voice) == ("+819012345678", True, True)
    assert phone.added_by_staff_id is None and phone.consent_at is not None
    html = supporter_client.get("/me/channels").get_data(as_text=True)
    assert "090-1234-5678" in html and "SMSと電話" in html
    assert "番号を追加しました" in html


def test_without_the_consent_ticked_nothing_is_added(supporter_client, supporter):
    response = supporter_client.post(
        "/me/channels/phones", data={"number": "090-1234-5678", "use": "sms_voice"}
    )
    assert response.status_code == 422
    assert "同意のチェックを入れてください" in _field_errors(
        response.get_data(as_text=True), "consent"
    )
    assert _phones(supporter) == []


def test_sms_to_a_landline_is_refused_on_the_choice(supporter_client, supporter):
    response = supporter_client.post(
        "/me/channels/phones", data={"number": "027-321-1234", "use": "sms", "consent": "y"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "携帯電話" in _field_errors(html, "use")
    assert 'value="027-321-1234"' in html  # what was typed stays in the form
    assert _phones(supporter) == []
    # Calls only is fine for a landline.
    response = supporter_client.post(
        "/me/channels/phones", data={"number": "027-321-1234", "use": "voice", "consent": "y"}
    )
    assert response.status_code == 302
    (phone,) = _phones(supporter)
    assert (phone.sms, phone.voice) == (False, True)


def test_a_number_that_cannot_be_called_is_refused_on_the_number(supporter_client, supporter):
    for number in ("0120-444-444", "12345", ""):
        response = supporter_client.post(
            "/me/channels/phones", data={"number": number, "use": "voice", "consent": "y"}
        )
        assert response.status_code == 422, number
        assert _field_errors(response.get_data(as_text=True), "number")
    assert _phones(supporter) == []


def test_a_supporter_removes_their_number_but_not_someone_elses(
    supporter_client, supporter, make_supporter, district, phone
):
    supporter_client.post(
        "/me/channels/phones", data={"number": "090-1234-5678", "use": "sms", "consent": "y"}
    )
    (mine,) = _phones(supporter)
    other = make_supporter(district)
    assert phone(other).post(f"/me/channels/phones/{mine.id}/remove").status_code == 404
    assert len(_phones(supporter)) == 1
    response = supporter_client.post(f"/me/channels/phones/{mine.id}/remove")
    assert response.status_code == 302
    assert _phones(supporter) == []


def test_staff_add_a_landline_that_takes_calls_only(organizer_client, organizer, supporter):
    html = organizer_client.get(f"/supporters/{supporter.id}").get_data(as_text=True)
    assert "本人の同意を得ました" in html
    response = organizer_client.post(
        f"/supporters/{supporter.id}/phones",
        data={"number": "027-321-1234", "kind": "landline", "label": "自宅", "consent": "y"},
    )
    assert response.status_code == 302
    (phone,) = _phones(supporter)
    assert (phone.number, phone.sms, phone.voice) == ("+81273211234", False, True)
    assert phone.added_by_staff_id == organizer.id and phone.label == "自宅"
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "supporter.phone_added")
    )
    assert event is not None and event.actor == f"staff:{organizer.id}"
    assert event.subject_id == supporter.id and event.detail["by_staff"] is True
    assert "321" not in str(event.detail)  # the number stays out of the audit log
    # The supporter sees it on their own page, marked as added by the organizer.
    page = organizer_client.get(f"/supporters/{supporter.id}").get_data(as_text=True)
    row = re.search(r'<tr data-channel="voice" data-ref="phone:\d+">(.*?)</tr>', page, re.S)
    assert row is not None and "職員が追加" in row.group(1)
    assert 'data-channel="sms"' not in page


def test_staff_add_a_mobile_for_sms_and_calls(organizer_client, supporter):
    response = organizer_client.post(
        f"/supporters/{supporter.id}/phones",
        data={"number": "080-1111-2222", "kind": "mobile", "consent": "y"},
    )
    assert response.status_code == 302
    (phone,) = _phones(supporter)
    assert (phone.sms, phone.voice) == (True, True)


def test_staff_must_confirm_the_persons_consent(organizer_client, supporter):
    response = organizer_client.post(
        f"/supporters/{supporter.id}/phones", data={"number": "027-321-1234", "kind": "landline"}
    )
    assert response.status_code == 422
    assert "本人の同意を得た" in _field_errors(response.get_data(as_text=True), "consent")
    assert _phones(supporter) == []


def test_a_landline_given_as_a_mobile_is_refused_on_the_kind(organizer_client, supporter):
    response = organizer_client.post(
        f"/supporters/{supporter.id}/phones",
        data={"number": "027-321-1234", "kind": "mobile", "consent": "y"},
    )
    assert response.status_code == 422
    assert "携帯電話" in _field_errors(response.get_data(as_text=True), "kind")
    assert _phones(supporter) == []


def test_staff_of_another_district_cannot_add_a_number(outsider_client, supporter):
    response = outsider_client.post(
        f"/supporters/{supporter.id}/phones",
        data={"number": "027-321-1234", "kind": "landline", "consent": "y"},
    )
    assert response.status_code == 404
    assert outsider_client.get(f"/supporters/{supporter.id}").status_code == 404
    assert _phones(supporter) == []


def test_a_coordinator_of_the_district_may_add_one(app, coordinator, supporter):
    from support import login

    client = login(app.test_client(), coordinator)
    response = client.post(
        f"/supporters/{supporter.id}/phones",
        data={"number": "027-321-1234", "kind": "landline", "consent": "y"},
    )
    assert response.status_code == 302
    assert _phones(supporter)[0].added_by_staff_id == coordinator.id
