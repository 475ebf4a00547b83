"""Helpers for the supporter's alert page tests: an alert from a registered person (with a
face photo and a usual place) told to a few supporters near the last-seen point, and a phone
photo that carries EXIF GPS data."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from alert_core_support import CENTRE, alert_input, place_supporter, point_at
from PIL import Image

from watchnet.alerts.models import Alert, AlertRecipient
from watchnet.alerts.services import start_alert
from watchnet.core.extensions import db
from watchnet.registry.models import AtRiskPerson, PersonPhoto, PhotoKind, UsualPlace

# What must vanish from every page once the alert closes (alert_input's description).
PERSONAL = [
    "見守 一郎",
    "みまもり いちろう",
    "紺色のジャンパー",
    "右足を少し引きずる",
    "白髪、短め",
    "黒い杖",
    "いっちゃん",
    "八幡公民館の前",
]
USUAL_PLACE = point_at(700, 200)


@dataclass
class FieldAlert:
    alert: Alert
    recipients: list[AlertRecipient]
    person: AtRiskPerson
    photo: PersonPhoto

    @property
    def token(self) -> str:
        return self.recipients[0].token

    @property
    def url(self) -> str:
        return f"/a/{self.recipients[0].token}"


def jpeg_bytes(
    size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30), gps: bool = False
) -> bytes:
    """A small JPEG; with gps=True it carries a maker tag and a GPS position in its EXIF."""
    image = Image.new("RGB", size, color)
    buf = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMakerXYZ"
        ifd = exif.get_ifd(0x8825)
        ifd[1], ifd[2], ifd[3], ifd[4] = "N", (36.0, 20.0, 1.5), "E", (138.0, 56.0, 43.0)
        image.save(buf, "JPEG", exif=exif)
    else:
        image.save(buf, "JPEG")
    return buf.getvalue()


def make_person(district: Any) -> tuple[AtRiskPerson, PersonPhoto]:
    """A registered person with a face photo and one usual place."""
    person = AtRiskPerson(
        district_id=district.id,
        name="見守 一郎",
        name_kana="みまもり いちろう",
        birth_date=date(1944, 1, 1),
    )
    db.session.add(person)
    db.session.flush()
    photo = PersonPhoto(
        person_id=person.id, kind=PhotoKind.face, data=jpeg_bytes((30, 40)), width=30, height=40
    )
    db.session.add_all(
        [
            photo,
            UsualPlace(
                person_id=person.id, name="よく行くスーパー", lat=USUAL_PLACE[0], lon=USUAL_PLACE[1]
            ),
        ]
    )
    db.session.commit()
    return person, photo


def start_field_alert(
    district: Any, coordinator: Any, make_supporter: Any, *, supporters: int = 2, **values: Any
) -> FieldAlert:
    """An active alert (share_photo on) told to `supporters` supporters within 1 km."""
    person, photo = make_person(district)
    for i in range(supporters):
        place_supporter(
            make_supporter,
            district,
            200 + 150 * i,
            bearing_deg=40 * i,
            name=f"捜索 {'ABCDEFG'[i]}子",
            email=f"searcher{i}@example.jp",
        )
    fields: dict[str, Any] = {"person_id": person.id, "share_photo": True}
    fields.update(values)
    alert = start_alert(district, coordinator, alert_input(**fields))
    recipients = list(
        db.session.scalars(
            sa.select(AlertRecipient)
            .where(AlertRecipient.alert_id == alert.id)
            .order_by(AlertRecipient.distance_m)
        )
    )
    assert len(recipients) == supporters
    return FieldAlert(alert=alert, recipients=recipients, person=person, photo=photo)


__all__ = [
    "CENTRE",
    "PERSONAL",
    "USUAL_PLACE",
    "FieldAlert",
    "jpeg_bytes",
    "make_person",
    "start_field_alert",
]
