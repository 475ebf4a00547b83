"""The demo district: a Yawata-style drill (route of about 2 km, 3 checkpoints) and its people.

Loading twice changes nothing: every row is looked up by a natural key before it is created.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from watchnet.core.extensions import db
from watchnet.districts.addresses import import_address_file
from watchnet.districts.models import AddressPoint, District, Landmark, LandmarkKind
from watchnet.drills.models import (
    Checkpoint,
    Drill,
    ExpectedContact,
    Participant,
    ParticipantRole,
    RoutePoint,
    Team,
)
from watchnet.people.models import LineLink, PhoneChannel, StaffUser, Supporter, SupporterKind
from watchnet.people.services import create_staff_user, register_supporter

DEMO_LOGINS = {
    "organizer": ("organizer@yawata.example.jp", "yawata-organizer"),
    "coordinator": ("coordinator@yawata.example.jp", "yawata-coordinator"),
    "admin": ("admin@yawata.example.jp", "yawata-admin"),
}
_DEMO_NAMES = {
    "organizer": "八幡 主催者",
    "coordinator": "目崎 コーディネーター",
    "admin": "高崎市 管理者",
}

YAWATA_CENTER = (36.3335, 138.9455)

# Fifty lots around the route in the form of MLIT's 街区レベル位置参照情報 (CP932, the same
# columns), made by hand for the demo: 「いまどこ？」 names an address without any network.
# Not real survey data.
DEMO_ADDRESSES = Path(__file__).with_name("data") / "yawata_addresses.csv"

LANDMARKS = [
    ("八幡公民館", LandmarkKind.community_hall, 36.33380, 138.94600),
    ("八幡小学校", LandmarkKind.school, 36.33640, 138.94330),
    ("八幡八幡宮", LandmarkKind.shrine, 36.33830, 138.94990),
    ("八幡駐在所", LandmarkKind.police_box, 36.33190, 138.94930),
    ("八幡中央公園", LandmarkKind.park, 36.33400, 138.95120),
]

# A loop from the community hall past the school and the shrine, 2.0 km.
ROUTE = [
    (36.33365, 138.94621),
    (36.33446, 138.94488),
    (36.33594, 138.94377),
    (36.33698, 138.94517),
    (36.33779, 138.94724),
    (36.33801, 138.94946),
    (36.33698, 138.95094),
    (36.33520, 138.95139),
    (36.33357, 138.95080),
    (36.33217, 138.94961),
    (36.33254, 138.94784),
    (36.33365, 138.94621),
]

CHECKPOINTS = [
    {
        "name": "ポイント1 小学校の角",
        "lat": 36.33616,
        "lon": 138.94406,
        "role_player": "元協議体メンバー A さん",
        "scenario_wear": "茶色のジャンパーに帽子、手提げ袋",
        "scenario_say": "「バス停はどこだったかね」と何度も尋ねる",
        "scenario_do": "同じ角を行ったり来たりしている",
        "expected_contact": ExpectedContact.anshin_center,
        "expected_contact_note": "あんしんセンター八幡",
        "checklist": [
            "正面から近づいた",
            "自分から名乗った",
            "名前と行き先を聞いた",
            "あんしんセンターへ連絡した",
        ],
    },
    {
        "name": "ポイント2 八幡宮の鳥居前",
        "lat": 36.33779,
        "lon": 138.94946,
        "role_player": "元協議体メンバー B さん",
        "scenario_wear": "季節に合わない薄着、サンダル",
        "scenario_say": "「家に帰りたいけど道がわからない」",
        "scenario_do": "ベンチに座って困った様子",
        "expected_contact": ExpectedContact.family,
        "expected_contact_note": "ご家族 (持ち物の連絡先カード)",
        "checklist": [
            "驚かせないように声をかけた",
            "自分から名乗った",
            "連絡先を確認した",
            "家族へ連絡した",
        ],
    },
    {
        "name": "ポイント3 公園の入口",
        "lat": 36.33357,
        "lon": 138.95080,
        "role_player": "元協議体メンバー C さん",
        "scenario_wear": "パジャマの上にコート",
        "scenario_say": "返事がはっきりしない",
        "scenario_do": "車道の方へ歩き出そうとする",
        "expected_contact": ExpectedContact.police,
        "expected_contact_note": "110番 / 八幡駐在所",
        "checklist": [
            "安全な場所へ誘導した",
            "自分から名乗った",
            "現在地を伝えた",
            "警察へ連絡した",
        ],
    },
]

SUPPORTERS = [
    ("山田 花子", "やまだ はなこ", SupporterKind.community_supporter, "hanako.yamada"),
    ("佐藤 一郎", "さとう いちろう", SupporterKind.community_supporter, "ichiro.sato"),
    ("鈴木 和子", "すずき かずこ", SupporterKind.community_supporter, "kazuko.suzuki"),
    ("高橋 進", "たかはし すすむ", SupporterKind.care_prevention_supporter, "susumu.takahashi"),
    ("田中 節子", "たなか せつこ", SupporterKind.care_prevention_supporter, "setsuko.tanaka"),
    ("伊藤 正男", "いとう まさお", SupporterKind.care_prevention_supporter, "masao.ito"),
    ("渡辺 幸子", "わたなべ さちこ", SupporterKind.dementia_supporter, "sachiko.watanabe"),
    ("小林 茂", "こばやし しげる", SupporterKind.dementia_supporter, "shigeru.kobayashi"),
    ("加藤 美智子", "かとう みちこ", SupporterKind.dementia_supporter, "michiko.kato"),
    ("吉田 健一", "よしだ けんいち", SupporterKind.care_manager, "kenichi.yoshida"),
    ("山本 裕子", "やまもと ゆうこ", SupporterKind.care_manager, "yuko.yamamoto"),
    ("中村 清", "なかむら きよし", SupporterKind.welfare_commissioner, "kiyoshi.nakamura"),
]

# Mixed channels, as a district's supporters really have them (issue 11): LINE through the
# official account, SMS on a mobile, an automated call to a landline; everyone keeps e-mail.
# The LINE user ids and the numbers are made up. Without gateway settings the dispatcher
# writes these messages into <instance>/outbox/<channel>/ instead of sending them.
DEMO_CHANNELS: dict[str, dict[str, str]] = {
    "hanako.yamada": {"line": "yes"},
    "ichiro.sato": {"sms": "+819000000102", "label": "携帯"},
    "kazuko.suzuki": {"voice": "+81273000103", "label": "自宅"},
    "susumu.takahashi": {"line": "yes", "sms": "+819000000104", "label": "携帯"},
    "setsuko.tanaka": {"sms": "+819000000105", "voice": "+819000000105", "label": "携帯"},
}

DRILL_TITLE = "第2回 まち歩き見守り声掛け訓練"


def demo_line_user_id(local: str) -> str:
    """A made-up LINE user id of the official account's form (U + 32 hex digits)."""
    return "U" + hashlib.md5(local.encode(), usedforsecurity=False).hexdigest()


def _add_demo_channels(supporter: Supporter, local: str) -> bool:
    """The demo supporter's LINE link and phone channels; True if any was created."""
    wanted = DEMO_CHANNELS.get(local)
    if not wanted:
        return False
    created = False
    if wanted.get("line"):
        exists = db.session.scalar(
            sa.select(LineLink.id).where(LineLink.supporter_id == supporter.id)
        )
        if not exists:
            db.session.add(
                LineLink(supporter_id=supporter.id, line_user_id=demo_line_user_id(local))
            )
            created = True
    numbers: dict[str, dict[str, bool]] = {}
    for channel in ("sms", "voice"):
        if wanted.get(channel):
            numbers.setdefault(wanted[channel], {})[channel] = True
    for number, uses in numbers.items():
        exists = db.session.scalar(
            sa.select(PhoneChannel.id).where(
                PhoneChannel.supporter_id == supporter.id, PhoneChannel.number == number
            )
        )
        if not exists:
            db.session.add(
                PhoneChannel(
                    supporter_id=supporter.id,
                    number=number,
                    sms=uses.get("sms", False),
                    voice=uses.get("voice", False),
                    label=wanted.get("label", ""),
                )
            )
            created = True
    return created


def _get_or_create_district(name: str, kana: str, center: tuple[float, float]) -> District:
    district = db.session.scalar(sa.select(District).where(District.name == name))
    if district is None:
        district = District(name=name, name_kana=kana, center_lat=center[0], center_lon=center[1])
        db.session.add(district)
        db.session.flush()
    return district


def load_demo_data() -> bool:
    """Create the demo rows that are missing; True if anything was created."""
    created = False
    yawata = _get_or_create_district("八幡地区", "やわたちく", YAWATA_CENTER)
    _get_or_create_district("寺尾地区", "てらおちく", (36.3040, 138.9950))

    for name, lm_kind, lat, lon in LANDMARKS:
        exists = db.session.scalar(
            sa.select(Landmark.id).where(Landmark.district_id == yawata.id, Landmark.name == name)
        )
        if not exists:
            db.session.add(
                Landmark(district_id=yawata.id, name=name, kind=lm_kind, lat=lat, lon=lon)
            )
            created = True

    has_addresses = db.session.scalar(
        sa.select(AddressPoint.id).where(AddressPoint.district_id == yawata.id).limit(1)
    )
    if not has_addresses:
        import_address_file(DEMO_ADDRESSES, district=yawata)
        created = True

    for role, (email, password) in DEMO_LOGINS.items():
        exists = db.session.scalar(sa.select(StaffUser.id).where(StaffUser.email == email))
        if not exists:
            districts = [] if role == "admin" else ["八幡地区"]
            create_staff_user(email, _DEMO_NAMES[role], role, password, districts)
            created = True

    supporters: list[Supporter] = []
    for i, (name, kana, kind, local) in enumerate(SUPPORTERS):
        email = f"{local}@yawata.example.jp"
        key = Supporter.make_dedupe_key(name, kana, email)
        supporter = db.session.scalar(
            sa.select(Supporter).where(
                Supporter.district_id == yawata.id, Supporter.dedupe_key == key
            )
        )
        if supporter is None:
            # Homes spread around the district, a few hundred metres apart.
            home = (
                YAWATA_CENTER[0] + ((i % 4) - 1.5) * 0.004,
                YAWATA_CENTER[1] + ((i // 4) - 1) * 0.005,
            )
            supporter = register_supporter(
                yawata, name, kana, kind, email=email, home_lat=home[0], home_lon=home[1]
            )
            created = True
        created = _add_demo_channels(supporter, local) or created
        supporters.append(supporter)

    drill = db.session.scalar(
        sa.select(Drill).where(Drill.district_id == yawata.id, Drill.title == DRILL_TITLE)
    )
    if drill is None:
        tokyo = ZoneInfo("Asia/Tokyo")
        day = (datetime.now(tokyo) + timedelta(days=14)).date()
        starts = datetime(day.year, day.month, day.day, 9, 30, tzinfo=tokyo)
        drill = Drill(
            district_id=yawata.id,
            title=DRILL_TITLE,
            starts_at=starts,
            ends_at=starts + timedelta(hours=2, minutes=30),
            meeting_place="八幡公民館 集会室",
            contact_phone="090-0000-0000",
            contact_label="主催者 八幡地区協議体 事務局（携帯）",
            purpose="地域の見守り体制の強化と、3サポーターが合同で活動する機会とする。",
            background=(
                "令和3年に地域内で発生した行方不明高齢者について「もっとたくさんの人で探せば"
                "早く見つかったかも」という声を受け、第1回を開催した。フォローアップ講座の"
                "アンケートで「声かけの仕方がわからない」という回答が複数あったことから、"
                "気になるひとり歩き高齢者への声かけを実践する。"
            ),
            route_points=[RoutePoint(seq=i, lat=a, lon=b) for i, (a, b) in enumerate(ROUTE)],
            checkpoints=[Checkpoint(seq=i, **cp) for i, cp in enumerate(CHECKPOINTS)],
        )
        db.session.add(drill)
        db.session.flush()
        team_a = Team(drill_id=drill.id, name="A班", color="#b3261e")
        team_b = Team(drill_id=drill.id, name="B班", color="#0b5cad")
        db.session.add_all([team_a, team_b])
        db.session.flush()
        for i, supporter in enumerate(supporters):
            if i == len(supporters) - 1:
                db.session.add(
                    Participant(
                        drill_id=drill.id, supporter_id=supporter.id, role=ParticipantRole.observer
                    )
                )
                continue
            team = team_a if i % 2 == 0 else team_b
            db.session.add(
                Participant(drill_id=drill.id, supporter_id=supporter.id, team_id=team.id)
            )
        created = True
    db.session.flush()
    return created
