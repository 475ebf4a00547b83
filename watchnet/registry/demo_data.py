"""Demo rows for the registry: two fictional at-risk persons of 八幡地区 (one with a consent due
for renewal), so the registry and the alert start form have something to show.

`load_demo_registry()` runs after `watchnet.demo.load_demo_data()`. Loading twice changes
nothing: each person is looked up by name and district. The photo is a drawn silhouette, not a
picture of anyone.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from PIL import Image, ImageDraw

from watchnet.core.extensions import db
from watchnet.districts.models import District
from watchnet.people.models import StaffUser
from watchnet.registry.models import (
    AtRiskPerson,
    Build,
    Consent,
    ConsentScope,
    FamilyContact,
    PersonPhoto,
    PhotoKind,
    Sex,
    UsualPlace,
    WalkingAbility,
)

PERSONS: list[dict[str, Any]] = [
    {
        "name": "八幡 ハナ",
        "name_kana": "やわた はな",
        "birth_date": date(1942, 5, 3),
        "sex": Sex.female,
        "height_cm": 148,
        "build": Build.slim,
        "hair": "白髪、短め",
        "features": "背中が少し丸い。右手に杖。「ハナさん」と呼ぶと笑顔になる",
        "usual_clothing": "ベージュのカーディガン、紺のズボン、白い運動靴、手提げ袋",
        "walking_ability": WalkingAbility.cane,
        "handling_notes": "耳が少し遠いので、前から近づき、ゆっくり大きめの声で。"
        "「家に帰るところ」と言うことが多い。",
        "home_address": "高崎市八幡町（デモ）",
        "home": (36.33470, 138.94720),
        "care_manager_name": "井上 ケアマネ",
        "care_manager_org": "八幡あんしんセンター（デモ）",
        "care_manager_phone": "027-000-0000",
        "contacts": [
            ("八幡 一郎", "長男", "090-0000-0001"),
            ("八幡 花子", "長女", "090-0000-0002"),
        ],
        "places": [
            ("八幡八幡宮", 36.33830, 138.94990, "若いころ毎朝お参りしていた"),
            ("旧 八幡郵便局", 36.33120, 138.94410, "以前の勤め先"),
        ],
        "consent": ("八幡 一郎", "長男", 40, 325),  # given 40 days ago, renew in 325 days
    },
    {
        "name": "寺尾 次郎",
        "name_kana": "てらお じろう",
        "birth_date": date(1938, 11, 20),
        "sex": Sex.male,
        "height_cm": 165,
        "build": Build.medium,
        "hair": "薄い、グレー",
        "features": "眼鏡。歩くのが速い。野球帽をよくかぶる",
        "usual_clothing": "緑のジャンパー、グレーのズボン、黒い野球帽",
        "walking_ability": WalkingAbility.brisk,
        "handling_notes": "元バス運転手。駅やバス停の方へ向かうことが多い。",
        "home_address": "高崎市八幡町（デモ）",
        "home": (36.33210, 138.95220),
        "care_manager_name": "",
        "care_manager_org": "",
        "care_manager_phone": "",
        "contacts": [("寺尾 和子", "妻", "090-0000-0003")],
        "places": [("安中方面のバス停", 36.33020, 138.95600, "")],
        "consent": ("寺尾 和子", "妻", 380, -15),  # renewal overdue: flagged as expired
    },
]


def silhouette_jpeg(seed: int) -> bytes:
    """A drawn head-and-shoulders silhouette (no real person), as a metadata-free JPEG."""
    img = Image.new("RGB", (360, 480), (226, 232, 240))
    draw = ImageDraw.Draw(img)
    tone = (120 + seed * 30, 130, 150)
    draw.ellipse((110, 70, 250, 230), fill=tone)
    draw.rounded_rectangle((60, 250, 300, 520), radius=90, fill=tone)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def load_demo_registry() -> bool:
    """Create the demo persons that are missing; True if anything was created."""
    district = db.session.scalar(sa.select(District).where(District.name == "八幡地区"))
    coordinator = db.session.scalar(
        sa.select(StaffUser).where(StaffUser.email == "coordinator@yawata.example.jp")
    )
    if district is None:
        return False
    created = False
    today = date.today()
    for i, spec in enumerate(PERSONS):
        exists = db.session.scalar(
            sa.select(AtRiskPerson.id).where(
                AtRiskPerson.district_id == district.id, AtRiskPerson.name == spec["name"]
            )
        )
        if exists:
            continue
        person = AtRiskPerson(
            district_id=district.id,
            name=spec["name"],
            name_kana=spec["name_kana"],
            birth_date=spec["birth_date"],
            sex=spec["sex"],
            height_cm=spec["height_cm"],
            build=spec["build"],
            hair=spec["hair"],
            features=spec["features"],
            usual_clothing=spec["usual_clothing"],
            walking_ability=spec["walking_ability"],
            handling_notes=spec["handling_notes"],
            home_address=spec["home_address"],
            home_lat=spec["home"][0],
            home_lon=spec["home"][1],
            care_manager_name=spec["care_manager_name"],
            care_manager_org=spec["care_manager_org"],
            care_manager_phone=spec["care_manager_phone"],
            created_by_id=coordinator.id if coordinator else None,
        )
        for pos, (name, relation, phone) in enumerate(spec["contacts"]):
            person.contacts.append(
                FamilyContact(name=name, relation=relation, phone=phone, position=pos)
            )
        for name, lat, lon, note in spec["places"]:
            person.places.append(UsualPlace(name=name, lat=lat, lon=lon, note=note))
        photo = silhouette_jpeg(i)
        person.photos.append(
            PersonPhoto(
                kind=PhotoKind.face,
                data=photo,
                width=360,
                height=480,
                uploaded_by_id=coordinator.id if coordinator else None,
            )
        )
        given_by, relation, days_ago, renew_in = spec["consent"]
        person.consents.append(
            Consent(
                given_by_name=given_by,
                given_by_relation=relation,
                given_on=today - timedelta(days=days_ago),
                renew_by=today + timedelta(days=renew_in),
                scopes=[s.value for s in ConsentScope],
                recorded_by_id=coordinator.id if coordinator else None,
            )
        )
        db.session.add(person)
        created = True
    db.session.flush()
    return created
