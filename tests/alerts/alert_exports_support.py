"""Helpers for the export tests (CAP, GeoJSON, flyer): alerts made directly as rows, a
registered person with a photo, the XML schema and a few CAP reading helpers."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from watchnet.alerts.models import Alert, AlertEvent, AlertStatus
from watchnet.core.extensions import db
from watchnet.registry.models import AtRiskPerson, Build, FamilyContact, PersonPhoto, PhotoKind, Sex

CAP = "urn:oasis:names:tc:emergency:cap:1.2"
NS = {"cap": CAP}
XSD = Path(__file__).resolve().parent / "cap-v1.2.xsd"

STARTED = datetime(2026, 3, 13, 0, 30, 15, 123456, tzinfo=UTC)  # 09:30:15 in Japan
LAST_SEEN = datetime(2026, 3, 13, 0, 10, tzinfo=UTC)  # 09:10 in Japan

# The person's identity and family: none of it may appear in an export.
SECRET_NAME = "見守 トメ"
SECRET_KANA = "みまもり とめ"
SECRET_HOME = "八幡町1-2-3"
SECRET_FAMILY = "見守 一郎"
SECRET_FAMILY_PHONE = "090-1111-2222"
SECRET_HANDLING = "「トメさん」と呼ぶと振り向きます"


def jpeg(
    width: int = 300, height: int = 400, color: tuple[int, int, int] = (180, 120, 90)
) -> bytes:
    """A plain JPEG standing in for a face photo."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def make_person(district: Any, *, photo: bool = True) -> AtRiskPerson:
    """A registered person with a home address, a family contact and (optionally) a photo."""
    person = AtRiskPerson(
        district_id=district.id,
        name=SECRET_NAME,
        name_kana=SECRET_KANA,
        sex=Sex.female,
        height_cm=148,
        build=Build.slim,
        home_address=SECRET_HOME,
        home_lat=36.334,
        home_lon=138.946,
        handling_notes=SECRET_HANDLING,
        contacts=[FamilyContact(name=SECRET_FAMILY, relation="長男", phone=SECRET_FAMILY_PHONE)],
    )
    if photo:
        data = jpeg()
        person.photos = [
            PersonPhoto(
                kind=PhotoKind.full_body, data=jpeg(200, 200, (0, 0, 255)), width=200, height=200
            ),
            PersonPhoto(kind=PhotoKind.face, data=data, width=300, height=400),
        ]
    db.session.add(person)
    db.session.commit()
    return person


def make_alert(district: Any, person: AtRiskPerson | None = None, **overrides: Any) -> Alert:
    """An active alert as alert-core's start_alert leaves it (revision 1, radius 1.2 km)."""
    values: dict[str, Any] = {
        "district_id": district.id,
        "person_id": person.id if person else None,
        "display_name": SECRET_NAME,
        "name_kana": SECRET_KANA,
        "age": 82,
        "sex": Sex.female,
        "height_cm": 148,
        "build": Build.slim,
        "hair": "白髪のショート",
        "features": "右手に杖、少し前かがみで歩く",
        "clothing_today": "紺のカーディガン、灰色のズボン、白い運動靴",
        "belongings": "茶色の手提げ袋",
        "handling_notes": SECRET_HANDLING,
        "share_photo": True,
        "last_seen_at": LAST_SEEN,
        "last_seen_lat": 36.3335,
        "last_seen_lon": 138.9455,
        "last_seen_place": "八幡公民館の前",
        "contact_phone": "027-123-4567",
        "contact_label": "八幡あんしんセンター",
        "police_informed": True,
        "police_station": "高崎警察署",
        "police_case_number": "R8-0313-01",
        "radius_m": 1200.0,
        "revision": 1,
        "started_at": STARTED,
    }
    values.update(overrides)
    alert = Alert(**values)
    db.session.add(alert)
    db.session.commit()
    return alert


def revise(alert: Alert, minutes_after_start: int, **changes: Any) -> Alert:
    """A widening or re-centring as alert-core records it: revision + 1 and a timeline event
    carrying the new revision."""
    at = alert.started_at + timedelta(minutes=minutes_after_start)
    alert.revision += 1
    alert.widened_at = at
    for key, value in changes.items():
        setattr(alert, key, value)
    db.session.add(
        AlertEvent(
            alert_id=alert.id,
            kind="widened",
            at=at,
            payload={"revision": alert.revision, "radius_m": alert.radius_m},
        )
    )
    db.session.commit()
    return alert


def close(
    alert: Alert, outcome: AlertStatus = AlertStatus.found, minutes_after_start: int = 95
) -> Alert:
    """Close the alert as close_alert does: the status, when, and where found."""
    alert.status = outcome
    alert.closed_at = alert.started_at + timedelta(minutes=minutes_after_start)
    if outcome == AlertStatus.found:
        alert.found_place = "高崎駅の東口"
        alert.found_lat, alert.found_lon = 36.3225, 139.0125
    db.session.commit()
    return alert


def parse(body: bytes) -> ET.Element:
    return ET.fromstring(body)  # noqa: S314 - our own output in a test


def local(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rpartition("}")[2]


def child_names(element: ET.Element) -> list[str]:
    return [local(child.tag) for child in element]


def text(root: ET.Element, path: str) -> str:
    found = root.find(path, NS)
    assert found is not None, f"{path} is missing"
    return found.text or ""
