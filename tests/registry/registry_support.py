"""Helpers for the registry tests: photos with metadata, a person factory, form data."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

from PIL import Image

from watchnet.core.extensions import db
from watchnet.registry.models import AtRiskPerson, Consent, FamilyContact, PersonPhoto, UsualPlace

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg_with_gps(size: tuple[int, int] = (400, 300), orientation: int = 1) -> bytes:
    """A real JPEG whose EXIF carries a GPS position, a camera model and an orientation."""
    image = Image.new("RGB", size, (180, 40, 40))
    for x in range(size[0] // 2):  # a left half of another colour shows the orientation
        for y in range(0, size[1], 7):
            image.putpixel((x, y), (20, 20, 200))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x0110] = "SecretPhone 12"  # Model
    exif[GPS_IFD] = {1: "N", 2: (36.0, 19.0, 59.0), 3: "E", 4: (138.0, 56.0, 44.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), comment=b"home of the family")
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (50, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 0, 0, 0)).save(out, format="PNG")
    return out.getvalue()


def make_person(
    district: Any, *, renew_in_days: int = 200, photo: bool = True, **overrides: Any
) -> AtRiskPerson:
    """A registered person with one contact, one usual place, a consent and a photo."""
    values: dict[str, Any] = {
        "name": "八幡 はる",
        "name_kana": "やはた はる",
        "birth_date": date(1940, 5, 3),
        "usual_clothing": "紺のカーディガン",
        "home_address": "高崎市八幡町1-2",
        "home_lat": 36.334,
        "home_lon": 138.946,
    }
    values.update(overrides)
    person = AtRiskPerson(district_id=district.id, **values)
    today = date.today()
    person.contacts = [FamilyContact(name="八幡 一郎", relation="長男", phone="090-1111-2222")]
    person.places = [UsualPlace(name="八幡宮", lat=36.335, lon=138.947)]
    person.consents = [
        Consent(
            given_by_name="八幡 一郎",
            given_by_relation="長男",
            given_on=today - timedelta(days=300),
            renew_by=today + timedelta(days=renew_in_days),
            scopes=["share_with_supporters", "share_photo"],
        )
    ]
    if photo:
        person.photos = [PersonPhoto(data=jpeg_with_gps(), width=400, height=300)]
    db.session.add(person)
    db.session.commit()
    return person


def person_form(**overrides: Any) -> dict[str, Any]:
    """A complete registration form as the browser posts it."""
    today = date.today()
    data: dict[str, Any] = {
        "name": "高崎 ふみ",
        "name_kana": "たかさき ふみ",
        "birth_date": "1938-11-20",
        "sex": "female",
        "height_cm": "148",
        "build": "slim",
        "hair": "白髪、短め",
        "features": "眼鏡、右耳に補聴器",
        "usual_clothing": "ベージュの帽子",
        "walking_ability": "cane",
        "handling_notes": "「ふみさん」と呼ぶと安心します",
        "home_address": "高崎市八幡町3-4",
        "home_lat": "36.3341",
        "home_lon": "138.9462",
        "care_manager_name": "佐藤 ケア",
        "care_manager_org": "八幡ケアプラン",
        "care_manager_phone": "027-000-1111",
        "contacts-0-name": "高崎 次郎",
        "contacts-0-relation": "次男",
        "contacts-0-phone": "090-2222-3333",
        "contacts-0-email": "",
        "contacts-1-name": "",
        "contacts-1-relation": "",
        "contacts-1-phone": "",
        "contacts-1-email": "",
        "places-0-name": "旧職場の郵便局",
        "places-0-note": "朝に行こうとする",
        "places-0-lat": "36.3360",
        "places-0-lon": "138.9490",
        "consent-given_by_name": "高崎 次郎",
        "consent-given_by_relation": "次男",
        "consent-given_on": today.isoformat(),
        "consent-renew_by": "",
        "consent-scopes": ["share_with_supporters", "share_photo"],
        "consent-note": "",
    }
    data.update(overrides)
    return data
