"""Registry pages as a coordinator uses them: register, edit, consent flags, photos, archive."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from registry_support import GPS_IFD, jpeg_with_gps, make_person, person_form
from support import login

from watchnet.audit.models import AuditEvent
from watchnet.core.extensions import db
from watchnet.registry.models import AtRiskPerson, Consent, PersonPhoto, Sex, WalkingAbility


@pytest.fixture()
def sc(app: Flask, coordinator: Any) -> FlaskClient:
    return login(app.test_client(), coordinator)


def _persons() -> list[AtRiskPerson]:
    return list(db.session.scalars(sa.select(AtRiskPerson)))


def _upload(data: bytes, name: str) -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), name


def test_registering_a_person_stores_everything_and_shows_the_page(sc, district):
    form = person_form(photo_face=_upload(jpeg_with_gps(orientation=6), "face.jpg"))
    response = sc.post(
        f"/districts/{district.id}/registry/new", data=form, content_type="multipart/form-data"
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    [person] = _persons()
    assert response.headers["Location"].endswith(f"/registry/{person.id}")
    assert (person.name, person.sex, person.height_cm) == ("高崎 ふみ", Sex.female, 148)
    assert person.walking_ability is WalkingAbility.cane
    assert (person.home_lat, person.home_lon) == (36.3341, 138.9462)
    assert [(c.name, c.phone) for c in person.contacts] == [("高崎 次郎", "090-2222-3333")]
    assert [(p.name, p.lat) for p in person.places] == [("旧職場の郵便局", 36.336)]
    [consent] = person.consents
    assert consent.scopes == ["share_with_supporters", "share_photo"]
    # Renewal defaults to one year after the consent.
    assert consent.renew_by == consent.given_on.replace(year=consent.given_on.year + 1)
    [photo] = person.photos
    assert photo.kind.value == "face"

    page = sc.get(f"/registry/{person.id}").get_data(as_text=True)
    assert "高崎 ふみ" in page and "旧職場の郵便局" in page and "090-2222-3333" in page
    assert "「ふみさん」と呼ぶと安心します" in page
    assert f"/registry/photos/{photo.id}" in page
    age = date.today().year - 1938 - ((date.today().month, date.today().day) < (11, 20))
    assert f"{age}歳" in page
    assert 'id="start-alert"' in page
    assert f"/districts/{district.id}/alerts/new?person_id={person.id}" in page


def test_stored_photo_is_a_clean_upright_jpeg_without_exif_or_gps(sc, district):
    original = jpeg_with_gps(size=(400, 300), orientation=6)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the test can fail
    sc.post(
        f"/districts/{district.id}/registry/new",
        content_type="multipart/form-data",
        data=person_form(photo_face=_upload(original, "face.jpg")),
    )
    [person] = _persons()
    photo_id = person.photos[0].id
    response = sc.get(f"/registry/photos/{photo_id}")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert "no-store" in response.headers["Cache-Control"]
    served = response.data
    image = Image.open(io.BytesIO(served))
    image.load()
    assert image.format == "JPEG"
    assert len(image.getexif()) == 0
    assert "exif" not in image.info and "comment" not in image.info
    assert b"Exif" not in served and b"SecretPhone" not in served
    assert b"home of the family" not in served
    # Orientation 6 (rotated 90°) was applied to the pixels: the landscape photo stands upright.
    assert image.size == (300, 400)


def test_a_text_file_named_jpg_is_refused_with_a_field_message_and_nothing_is_saved(sc, district):
    form = person_form(photo_face=_upload(b"this is not a photo\n" * 20, "face.jpg"))
    response = sc.post(
        f"/districts/{district.id}/registry/new",
        data=form,
        content_type="multipart/form-data",
        headers={"Accept-Language": "ja"},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="photo_face-err"' in page
    assert "写真として読み込めないファイルです" in page
    assert _persons() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PersonPhoto)) == 0
    # The typed values are kept for the next try.
    assert "旧職場の郵便局" in page and "高崎 ふみ" in page


def test_a_too_large_photo_is_refused_with_a_field_message(sc, district, app):
    limit = app.config["PHOTO_MAX_BYTES"]
    big = jpeg_with_gps() + b"\0" * (limit + 1)  # still a readable JPEG, just too big
    response = sc.post(
        f"/registry/{make_person(district).id}/photos",
        data={"photo": _upload(big, "big.jpg"), "kind": "full_body"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="photo-err"' in page
    assert "写真が大きすぎます（6 MBまで）" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PersonPhoto)) == 1


def test_adding_and_removing_a_photo_on_the_person_page(sc, district):
    person = make_person(district, photo=False)
    assert "まだ写真がありません" in sc.get(f"/registry/{person.id}").get_data(as_text=True)
    response = sc.post(
        f"/registry/{person.id}/photos",
        content_type="multipart/form-data",
        data={
            "photo": _upload(jpeg_with_gps((2400, 1800)), "p.jpg"),
            "kind": "full_body",
            "taken_on": "2025-10-01",
        },
    )
    assert response.status_code == 302
    [photo] = db.session.scalars(sa.select(PersonPhoto)).all()
    assert (photo.width, photo.height) == (1600, 1200)  # PHOTO_MAX_SIDE_PX
    assert photo.kind.value == "full_body" and photo.taken_on == date(2025, 10, 1)
    assert sc.post(f"/registry/photos/{photo.id}/remove").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PersonPhoto)) == 0


def test_missing_fields_are_marked_and_nothing_is_saved(sc, district):
    form = person_form(
        **{
            "name": "",
            "contacts-0-name": "",
            "contacts-0-relation": "",
            "contacts-0-phone": "",
            "places-0-name": "",
            "consent-given_by_name": "",
            "consent-scopes": [],
            "consent-given_on": (date.today() + timedelta(days=3)).isoformat(),
        }
    )
    response = sc.post(
        f"/districts/{district.id}/registry/new", data=form, headers={"Accept-Language": "ja"}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for marker in (
        'id="name-err"',
        'id="contacts-err"',
        'id="consent-given_by_name-err"',
        'id="consent-scopes-err"',
        'id="consent-given_on-err"',
    ):
        assert marker in page
    assert "この場所の名前を入力してください" in page
    assert "同意した日に未来の日付は入れられません" in page
    assert _persons() == []


def test_editing_replaces_facts_contacts_and_places(sc, district):
    person = make_person(district)
    page = sc.get(f"/registry/{person.id}/edit").get_data(as_text=True)
    assert "八幡 一郎" in page and "八幡宮" in page
    form = person_form(
        **{
            "name": "八幡 はる",
            "contacts-1-name": "八幡 花",
            "contacts-1-phone": "080-9999-0000",
            "places-0-name": "スーパー",
            "places-1-name": "公園",
            "places-1-lat": "36.331",
            "places-1-lon": "138.941",
        }
    )
    form = {k: v for k, v in form.items() if not k.startswith(("consent-", "photo"))}
    response = sc.post(f"/registry/{person.id}/edit", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    stored = db.session.get(AtRiskPerson, person.id)
    assert stored is not None
    person = stored
    assert person.usual_clothing == "ベージュの帽子"
    assert [c.name for c in person.contacts] == ["高崎 次郎", "八幡 花"]
    assert [p.name for p in person.places] == ["スーパー", "公園"]
    assert len(person.photos) == 1 and len(person.consents) == 1


@pytest.mark.parametrize(
    ("days", "state", "text"),
    [
        (200, "valid", "同意の有効期限"),
        (20, "expiring", "同意の更新期限が近づいています"),
        (-1, "expired", "同意の期限が切れています"),
    ],
)
def test_consent_state_is_flagged_on_the_list_and_the_person_page(sc, district, days, state, text):
    person = make_person(district, renew_in_days=days)
    listing = sc.get(f"/districts/{district.id}/registry").get_data(as_text=True)
    assert f'class="consent-{state}" data-person-id="{person.id}"' in listing
    assert text in listing
    page = sc.get(f"/registry/{person.id}").get_data(as_text=True)
    assert f'data-state="{state}"' in page
    assert text in page
    assert ('id="consent-warning"' in page) is (state != "valid")


def test_renewing_an_expired_consent_clears_the_flag(sc, district):
    person = make_person(district, renew_in_days=-10)
    today = date.today()
    response = sc.post(
        f"/registry/{person.id}/consents/new",
        data={
            "consent-given_by_name": "八幡 一郎",
            "consent-given_by_relation": "長男",
            "consent-given_on": today.isoformat(),
            "consent-renew_by": "",
            "consent-scopes": ["share_with_supporters"],
        },
    )
    assert response.status_code == 302
    page = sc.get(f"/registry/{person.id}").get_data(as_text=True)
    assert 'data-state="valid"' in page
    refused = sc.post(
        f"/registry/{person.id}/consents/new",
        data={
            "consent-given_by_name": "八幡 一郎",
            "consent-given_on": today.isoformat(),
            "consent-renew_by": (today - timedelta(days=1)).isoformat(),
            "consent-scopes": ["share_photo"],
        },
        headers={"Accept-Language": "ja"},
    )
    assert refused.status_code == 400
    assert "更新期限は同意した日より後" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Consent)) == 2


def test_archiving_withdraws_the_consent_and_hides_the_alert_button(sc, district):
    person = make_person(district)
    assert sc.get(f"/registry/{person.id}/archive").status_code == 200
    assert sc.post(f"/registry/{person.id}/archive").status_code == 302
    db.session.expire_all()
    stored = db.session.get(AtRiskPerson, person.id)
    assert stored is not None
    person = stored
    assert person.is_archived and all(c.withdrawn_at for c in person.consents)
    listing = sc.get(f"/districts/{district.id}/registry").get_data(as_text=True)
    assert f'data-person-id="{person.id}"' not in listing
    assert f'data-person-id="{person.id}"' in sc.get(
        f"/districts/{district.id}/registry?archived=1"
    ).get_data(as_text=True)
    page = sc.get(f"/registry/{person.id}").get_data(as_text=True)
    assert 'id="archived-note"' in page and 'id="start-alert"' not in page
    assert sc.get(f"/registry/{person.id}/edit").status_code == 404
    from watchnet.registry.services import alertable_persons

    assert alertable_persons(district.id) == []
    actions = list(db.session.scalars(sa.select(AuditEvent.action)))
    assert "person.archived" in actions


def test_the_list_counts_the_consents_to_renew(sc, district):
    make_person(district, name="期限切れ 一", renew_in_days=-3)
    make_person(district, name="期限間近 二", renew_in_days=10)
    make_person(district, name="有効 三", renew_in_days=100)
    listing = sc.get(
        f"/districts/{district.id}/registry", headers={"Accept-Language": "ja"}
    ).get_data(as_text=True)
    assert "有効な同意がない方が 1 人います" in listing
    assert "30日以内に同意の更新期限が来る方が 1 人います" in listing


def test_registration_without_the_csrf_token_is_refused(csrf_app: Flask, district, coordinator):
    import re

    from support import PASSWORD

    def token(html: str) -> str:
        found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
        assert found is not None
        return found.group(1)

    client = csrf_app.test_client()
    client.post(
        "/login",
        data={
            "email": coordinator.email,
            "password": PASSWORD,
            "csrf_token": token(client.get("/login").get_data(as_text=True)),
        },
    )
    url = f"/districts/{district.id}/registry/new"
    assert client.post(url, data=person_form()).status_code == 400
    assert _persons() == []
    with_token = person_form(csrf_token=token(client.get(url).get_data(as_text=True)))
    assert client.post(url, data=with_token).status_code == 302
    assert len(_persons()) == 1


def test_a_form_shown_again_keeps_the_place_rows_numbering(sc, district):
    """Rows come back numbered 0, 1 … with their values; the map script numbers new rows
    after the highest index shown, so no two rows share a name."""
    form = person_form(
        **{
            "name": "",
            "places-3-name": "神社",
            "places-3-note": "",
            "places-3-lat": "36.33",
            "places-3-lon": "138.94",
        }
    )
    page = sc.post(f"/districts/{district.id}/registry/new", data=form).get_data(as_text=True)
    assert 'data-index="1"' in page and 'name="places-1-lat" value="36.33"' in page
    assert "神社" in page
