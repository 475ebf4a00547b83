"""The walks over every page (tests/walk): the demo district with one of everything a page can
show, the list of pages to visit (checked against the app's URL map, so a new page cannot be
forgotten), and one browser context per role.

Used by test_walk_english_browser.py (no Japanese outside user data in the English locale) and
test_walk_axe_browser.py (axe: no violations, in Japanese).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from support import LiveServer, answer_tiles_offline, session_cookie_value

from watchnet.alerts.models import AlertRecipient, AlertStatus, Sighting
from watchnet.alerts.services import AlertInput, close_alert, start_alert
from watchnet.auth.services import make_signin_token
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.demo import DEMO_LOGINS, DRILL_TITLE, YAWATA_CENTER, load_demo_data
from watchnet.districts.models import District, Landmark
from watchnet.drills.copying import copy_drill
from watchnet.drills.models import Drill, Participant
from watchnet.drills.services import DrillFields
from watchnet.kpt.services import add_kpt_item, create_action_item
from watchnet.people.models import StaffUser, Supporter
from watchnet.people.services import create_staff_user
from watchnet.practice_calls.models import PracticeAudience, PracticeCallRecipient
from watchnet.practice_calls.services import send_practice_call
from watchnet.reflection.demo_data import PAST_TITLE, load_demo_reflection
from watchnet.registry.demo_data import load_demo_registry
from watchnet.registry.models import AtRiskPerson
from watchnet.tracking import lifecycle
from watchnet.tracking.models import EncounterStepKind
from watchnet.tracking.schemas import HelpInput, StepInput
from watchnet.tracking.services import get_participant, record_help_call, record_step

# The supporter whose phone walks: a participant of the demo drill living near the alert's
# last-seen point (so the alert reaches her), with LINE among her channels.
PHONE_SUPPORTER = "山田 花子"
# A staff member with no district: the pages that say so.
NEWCOMER_EMAIL = "newcomer@yawata.example.jp"

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE_VIEWPORT = {"width": 360, "height": 740}
DESKTOP_VIEWPORT = {"width": 1280, "height": 900}

# GET routes that are not pages a person reads, and why they are not walked.
NOT_PAGES: dict[str, str] = {
    "static": "static files",
    "core.vendor": "third-party assets (JS/CSS)",
    "core.healthz": "JSON for monitoring",
    "core.healthz_delivery": "JSON for monitoring",
    "core.ping": "JSON keep-alive",
    "api-docs.openapi_json": "JSON API description",
    "webapp.manifest": "web app manifest (JSON); its names are checked in tests/webapp",
    "webapp.service_worker": "JavaScript",
    "alert_field.state": "JSON polled by the alert page",
    "alert_field.photo": "an image",
    "alerts.alert_state": "JSON polled by the coordinator's page",
    "alerts.sighting_photo": "an image",
    "alerts.geocode_address": "JSON for the start form's address search",
    "alerts.describe_place": "JSON: the start form's proposed place for a point",
    "people.my_test_status": "JSON polled by /me/channels while a test message is out",
    "alert_exports.cap": "CAP XML for other systems (Japanese by design: CAP's language is ja-JP)",
    "alert_exports.geojson": "GeoJSON for GIS",
    "drills.export_gpx": "GPX for GPS devices",
    "feedback.export_feedback_csv": "CSV download",
    "kpt.board_state": "JSON polled by the KPT board",
    "live.live_events": "server-sent events of the live view",
    "live.live_state": "JSON snapshot of the live view",
    "field.phone_events": "server-sent events of the field page",
    "field.get_nearest_checkpoint": "JSON for the field page",
    "field.get_steps": "JSON for the field page",
    "field.get_where": "JSON for the field page's 'where am I'",
    "people.export_supporters": "CSV download",
    "practice_calls.export_reach_csv": "CSV download",
    "reflection.chart_svg": "an SVG chart embedded in the reflection page (its text is "
    "read in the page's image alt and table)",
    "reflection.export_geojson": "GeoJSON for GIS",
    "reflection.export_encounters_csv": "CSV download",
    "registry.photo": "an image",
}


@dataclass
class World:
    """Ids and secrets of the demo data a walk needs."""

    district_id: int
    live_id: int
    planned_id: int
    past_id: int
    checkpoint_id: int
    team_id: int
    landmark_id: int
    supporter_id: int
    staff_id: int
    person_id: int
    alert_id: int
    alert_token: str
    closed_alert_token: str
    practice_call_id: int
    practice_token: str
    phone_signin: str
    logins: dict[str, int] = field(default_factory=dict)


def _one(query: Any) -> Any:
    found = db.session.scalar(query)
    assert found is not None, str(query)
    return found


# A few blocks of the national address file (国土交通省 位置参照情報, 街区レベル) around the
# demo district, with one bad line: the address page lists the import, "where am I" and the
# place proposals name the nearest block.
ADDRESS_HEADER = (
    "都道府県名,市区町村名,大字・丁目名,小字・通称名,街区符号・地番,座標系番号,Ｘ座標,Ｙ座標,"
    "緯度,経度,住居表示フラグ,代表フラグ,更新前履歴フラグ,更新後履歴フラグ"
)
ADDRESS_ROWS = [
    f"群馬県,高崎市,八幡町,,{block},9,0,0,{lat:.6f},{lon:.6f},0,1,0,0"
    for block, lat, lon in [
        ("123", 36.33392, 138.94618),
        ("124", 36.33395, 138.94760),
        ("130", 36.33300, 138.94500),
        ("131", 36.33250, 138.94620),
    ]
] + ["群馬県,高崎市,八幡町,,140"]  # too few columns: a bad line the page reports


def _import_addresses(district: District, folder: Path) -> None:
    from watchnet.districts.addresses import import_address_file

    path = folder / "10_2024.csv"
    path.write_bytes(("\r\n".join([ADDRESS_HEADER, *ADDRESS_ROWS]) + "\r\n").encode("cp932"))
    import_address_file(path, district=district, city="高崎市")


def build_world(app: Flask) -> World:
    """The demo district (drills, reflection, registry), its demo drill started with a step
    and a help call logged from a Japanese phone, a planned copy of it, an exercise alert with
    a sighting, a closed one, a practice call and a few KPT items."""
    load_demo_data()
    load_demo_reflection()
    load_demo_registry()
    db.session.commit()
    district = _one(sa.select(District).where(District.name == "八幡地区"))
    _import_addresses(district, Path(app.instance_path))
    db.session.commit()
    live = _one(sa.select(Drill).where(Drill.title == DRILL_TITLE))
    past = _one(sa.select(Drill).where(Drill.title == PAST_TITLE))
    phone = _one(sa.select(Supporter).where(Supporter.name == PHONE_SUPPORTER))
    coordinator = _one(sa.select(StaffUser).where(StaffUser.email == DEMO_LOGINS["coordinator"][0]))
    organizer = _one(sa.select(StaffUser).where(StaffUser.email == DEMO_LOGINS["organizer"][0]))
    admin = _one(sa.select(StaffUser).where(StaffUser.email == DEMO_LOGINS["admin"][0]))
    newcomer = create_staff_user(NEWCOMER_EMAIL, "新人 職員", "organizer", "newcomer-pass", [])
    person = db.session.scalars(
        sa.select(AtRiskPerson).where(AtRiskPerson.district_id == district.id)
    ).first()
    assert person is not None

    planned = copy_drill(
        live,
        DrillFields(
            district_id=district.id,
            title="第3回 まち歩き見守り声掛け訓練",
            starts_at=live.starts_at + timedelta(days=30),
            ends_at=(live.ends_at or live.starts_at) + timedelta(days=30),
            meeting_place=live.meeting_place,
        ),
        with_teams=True,
        created_by=organizer,
    )
    lifecycle.start_drill(live, actor="walk")
    db.session.commit()

    participant = get_participant(live.id, phone.id)
    assert participant is not None
    checkpoint = sorted(live.checkpoints, key=lambda c: c.seq)[0]
    now = utcnow()
    with app.test_request_context("/"):
        record_step(
            participant,
            StepInput(
                client_id="walk-step-1",
                step=EncounterStepKind.noticed,
                done_at=now - timedelta(minutes=3),
                checkpoint_id=checkpoint.id,
                lat=checkpoint.lat,
                lon=checkpoint.lon,
            ),
        )
        record_step(
            participant,
            StepInput(
                client_id="walk-step-2",
                step=EncounterStepKind.approached_front,
                done_at=now - timedelta(minutes=2),
                checkpoint_id=checkpoint.id,
                note="笑顔で応じてくれた",
            ),
        )
        # Another participant's help call: the phone sees it as a banner, the live view in its
        # feed; its place sentence was written in the caller's (Japanese) phone.
        other = db.session.scalars(
            sa.select(Participant).where(
                Participant.drill_id == live.id, Participant.supporter_id != phone.id
            )
        ).first()
        assert other is not None
        record_help_call(
            other,
            HelpInput(
                client_id="walk-help-1",
                lat=checkpoint.lat + 0.0004,
                lon=checkpoint.lon,
                called_at=now - timedelta(minutes=1),
                sentence="八幡公民館の北 50 m にいます。",
            ),
        )
    db.session.commit()

    alert = start_alert(
        district,
        coordinator,
        AlertInput.from_person(
            person,
            last_seen_at=now - timedelta(minutes=10),
            last_seen_lat=YAWATA_CENTER[0],
            last_seen_lon=YAWATA_CENTER[1],
            last_seen_place="八幡公民館の前",
            contact_phone="027-000-0000",
            share_photo=True,
            is_exercise=True,
        ),
    )
    recipient = _one(
        sa.select(AlertRecipient).where(
            AlertRecipient.alert_id == alert.id, AlertRecipient.supporter_id == phone.id
        )
    )
    db.session.add(
        Sighting(
            alert_id=alert.id,
            client_id="walk-sighting-1",
            seen_at=now - timedelta(minutes=4),
            lat=YAWATA_CENTER[0] + 0.003,
            lon=YAWATA_CENTER[1],
            description="公園のベンチに座っていた",
            reporter_supporter_id=phone.id,
        )
    )
    ended = start_alert(
        district,
        coordinator,
        AlertInput.from_person(
            person,
            last_seen_at=now - timedelta(hours=3),
            last_seen_lat=YAWATA_CENTER[0],
            last_seen_lon=YAWATA_CENTER[1],
            last_seen_place="八幡駅",
            contact_phone="027-000-0000",
            is_exercise=True,
        ),
    )
    close_alert(ended, outcome=AlertStatus.found, found_place="八幡川の土手", actor=coordinator)
    closed_recipient = _one(
        sa.select(AlertRecipient).where(
            AlertRecipient.alert_id == ended.id, AlertRecipient.supporter_id == phone.id
        )
    )

    call, _created = send_practice_call(live, PracticeAudience.participants, organizer)
    practice = _one(
        sa.select(PracticeCallRecipient).where(
            PracticeCallRecipient.practice_call_id == call.id,
            PracticeCallRecipient.supporter_id == phone.id,
        )
    )
    add_kpt_item(past, "keep", "声掛けの順番を班で決めておいた")
    add_kpt_item(past, "problem", "名乗る前に話しかけてしまった")
    try_item = add_kpt_item(past, "try", "最初に名乗る練習をする")
    db.session.flush()
    create_action_item(past, try_item.id, "事務局", None, "名乗り方のカードを作る")
    db.session.commit()

    world = World(
        district_id=district.id,
        live_id=live.id,
        planned_id=planned.id,
        past_id=past.id,
        checkpoint_id=checkpoint.id,
        team_id=sorted(live.teams, key=lambda t: t.id)[0].id,
        landmark_id=_one(sa.select(Landmark.id).where(Landmark.district_id == district.id)),
        supporter_id=phone.id,
        staff_id=organizer.id,
        person_id=person.id,
        alert_id=alert.id,
        alert_token=recipient.token,
        closed_alert_token=closed_recipient.token,
        practice_call_id=call.id,
        practice_token=practice.token,
        phone_signin=make_signin_token(phone),
        logins={
            "organizer": organizer.id,
            "coordinator": coordinator.id,
            "admin": admin.id,
            "newcomer": newcomer.id,
        },
    )
    db.session.commit()
    return world


@dataclass
class Visit:
    role: str
    path: str
    status: int = 200
    # A JS function (as text) that is true once the page's scripts have drawn what they draw.
    ready: str | None = None
    # What a person then does on the page, each leading to a page checked in turn: a form sent
    # empty (its field messages), the start form filled (the confirmation) ...
    then: tuple[Action, ...] = ()


@dataclass(frozen=True)
class Action:
    name: str
    run: Callable[[Any, World], None]


def submit(page: Any, selector: str = "main form[method=post] [type=submit]") -> None:
    """Send the page's (first) form as it is and wait for the page that answers."""
    with page.expect_navigation():
        page.locator(selector).first.click()


def _sent_empty(page: Any, _world: World) -> None:
    submit(page)


SENT_EMPTY = Action("sent empty", _sent_empty)


def tap(name: str, selector: str, then_shown: str) -> Action:
    """Tap a button on the page (no new page): `then_shown` is what appears."""

    def run(page: Any, _world: World) -> None:
        page.locator(selector).first.click()
        page.locator(then_shown).first.wait_for(state="visible")

    return Action(name, run)


# The field page: the encounter log, "where am I?" answered, the approach guide.
FIELD_PAGE_OPENED = (
    tap("encounter log open", "#encounter-btn", "#encounter-panel"),
    tap("where am I answered", "#where-btn", "#where-panel"),
    tap("approach guide open", "#guide-btn", "#guide-dialog[open]"),
)
# The alert page: "I'll search" answered, then the sighting form open.
ALERT_PAGE_ANSWERED = (
    tap(
        "answered I'll search",
        "[data-answer=searching]",
        "[data-answer=searching][aria-pressed=true]",
    ),
    tap("sighting form open", "#sighting-btn", "#sighting-form"),
)


def _answer_practice_call(page: Any, _world: World) -> None:
    page.locator("button[name=answer][value=yes]").click()
    page.locator("button[name=answer][value=yes][aria-pressed=true]").wait_for()


def _upload_roster(page: Any, _world: World) -> None:
    page.set_input_files(
        "input[type=file]",
        files=[{"name": "roster.csv", "mimeType": "text/csv", "buffer": CSV_UPLOAD}],
    )
    submit(page, "form[enctype='multipart/form-data'] [type=submit]")
    assert "/supporters/import/" in page.url, page.url


def _start_form_filled(page: Any, world: World) -> None:
    """The registered person chosen, the map clicked, clothing and number typed, 訓練 chosen:
    the confirmation page (nothing is sent before its button)."""
    with page.expect_navigation():
        page.select_option("#choose-person", str(world.person_id))
    page.locator(".pick-map").scroll_into_view_if_needed()
    box = page.locator(".pick-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)
    page.locator("#point-status:not(.missing)").wait_for()
    page.fill("#clothing_today", "赤い帽子、茶色のコート")
    page.fill("#contact_phone", "027-000-0000")
    page.check("#alert_mode-exercise")
    submit(page, "#start-submit")
    page.locator("#confirm-submit").wait_for()


LIVE_READY = """() => document.querySelector('#live-feed li') !== null
    && document.querySelector('#live-checkpoints li') !== null"""


def visits(w: World) -> list[Visit]:
    """Every page, once, grouped by the role that sees it."""
    d, live, planned, past = w.district_id, w.live_id, w.planned_id, w.past_id
    org = "organizer"
    coord = "coordinator"
    return [
        Visit("anonymous", "/login"),
        Visit("anonymous", "/offline"),
        Visit("anonymous", "/s/not-a-valid-link", status=404),
        Visit("anonymous", "/drills/", status=200),  # the login page, with ?next=
        Visit(org, "/"),
        Visit(org, "/drills/"),
        Visit(org, "/drills/new", then=(SENT_EMPTY,)),
        Visit(org, f"/drills/{live}"),
        Visit(org, f"/drills/{live}/edit"),
        Visit(org, f"/drills/{live}/route"),
        Visit(org, f"/drills/{live}/checkpoints/{w.checkpoint_id}/edit"),
        Visit(org, f"/drills/{live}/copy"),
        Visit(org, f"/drills/{planned}/delete"),
        Visit(org, f"/drills/{planned}/start"),
        Visit(org, f"/drills/{live}/end"),
        Visit(org, f"/drills/{live}/live", ready=LIVE_READY),
        Visit(org, f"/drills/{live}/teams/"),
        Visit(org, f"/drills/{live}/teams/handouts"),
        Visit(org, f"/drills/{live}/teams/{w.team_id}/handout"),
        Visit(org, f"/drills/{live}/practice-call"),
        Visit(org, f"/practice-calls/{w.practice_call_id}"),
        Visit(org, f"/drills/{past}/reflection"),
        Visit(org, f"/drills/{past}/replay"),
        Visit(org, f"/drills/{past}/feedback"),
        Visit(org, f"/drills/{past}/feedback/new"),
        Visit(org, f"/drills/{past}/viewpoints"),
        Visit(org, f"/drills/{past}/kpt"),
        Visit(org, f"/drills/{past}/report"),
        Visit(org, f"/drills/{past}/newsletter"),
        Visit(org, f"/districts/{d}/actions"),
        Visit(org, "/districts/landmarks"),
        Visit(org, f"/districts/{d}/landmarks"),
        Visit(org, f"/districts/landmarks/{w.landmark_id}/edit"),
        Visit(org, "/districts/addresses"),
        Visit(org, "/supporters"),
        Visit(org, "/supporters/new", then=(SENT_EMPTY,)),
        Visit(org, f"/supporters/{w.supporter_id}"),
        Visit(org, f"/supporters/{w.supporter_id}/edit"),
        Visit(org, f"/supporters/{w.supporter_id}/card"),
        Visit(org, "/supporters/import", then=(Action("a roster uploaded", _upload_roster),)),
        Visit(org, f"/districts/{d}/alerts"),
        Visit(org, "/account"),
        Visit(org, "/drills/999999", status=404),
        Visit(org, "/admin/staff", status=403),
        Visit(coord, "/registry"),
        Visit(coord, f"/districts/{d}/registry"),
        Visit(coord, f"/districts/{d}/registry/new", then=(SENT_EMPTY,)),
        Visit(coord, f"/registry/{w.person_id}"),
        Visit(coord, f"/registry/{w.person_id}/edit"),
        Visit(coord, f"/registry/{w.person_id}/consents/new"),
        Visit(coord, f"/registry/{w.person_id}/archive"),
        Visit(coord, "/alerts"),
        Visit(
            coord,
            f"/districts/{d}/alerts/new",
            then=(SENT_EMPTY, Action("filled in", _start_form_filled)),
        ),
        Visit(coord, f"/alerts/{w.alert_id}"),
        Visit(coord, f"/alerts/{w.alert_id}/close"),
        Visit(coord, f"/alerts/{w.alert_id}/flyer"),
        Visit("admin", "/admin/staff"),
        Visit("admin", "/admin/staff/new", then=(SENT_EMPTY,)),
        Visit("admin", f"/admin/staff/{w.staff_id}/edit"),
        Visit("admin", "/admin/districts"),
        Visit("admin", "/admin/districts/new"),
        Visit("admin", f"/admin/districts/{d}/edit"),
        Visit("newcomer", "/districts/landmarks"),
        Visit("newcomer", "/alerts"),
        Visit("phone", f"/s/{w.phone_signin}"),  # signs in: the drill of the day
        Visit("phone", "/me"),
        Visit("phone", "/me/channels"),
        Visit("phone", "/field/", then=FIELD_PAGE_OPENED),  # the drill of the day
        Visit("phone", f"/field/drills/{past}/feedback"),
        Visit("phone", f"/field/drills/{past}/feedback?viewpoint=caller", then=(SENT_EMPTY,)),
        Visit("phone", f"/a/{w.alert_token}", then=ALERT_PAGE_ANSWERED),
        Visit("phone", f"/a/{w.closed_alert_token}"),
        Visit(
            "phone", f"/p/{w.practice_token}", then=(Action("answered yes", _answer_practice_call),)
        ),
    ]


# Pages reached by an action on another page (Visit.then) rather than by a link to type.
REACHED_BY_ACTION = {"people.import_preview": "uploading a CSV on /supporters/import"}


def endpoint_of(app: Flask, path: str) -> str:
    adapter = app.url_map.bind("127.0.0.1")
    endpoint, _args = adapter.match(path.split("?")[0], method="GET")
    return str(endpoint)


def unplanned_routes(app: Flask, plan: list[Visit]) -> list[str]:
    """GET routes neither walked nor listed as not a page: what a new page would show up as."""
    walked = {endpoint_of(app, v.path) for v in plan} | set(REACHED_BY_ACTION)
    walked |= {"field.drill_page", "people.supporter_home"}  # reached through redirects
    missing = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        if rule.rule.startswith("/api/"):  # the JSON API: its messages follow Accept-Language
            continue
        if rule.endpoint not in walked and rule.endpoint not in NOT_PAGES:
            missing.append(f"{rule.rule} ({rule.endpoint})")
    return sorted(missing)


CSV_UPLOAD = (
    "氏名,ふりがな,種別,メールアドレス,電話番号,通知先,緯度,経度,備考\r\n"
    "新井 太郎,あらい たろう,地域支え合いサポーター,taro.arai@example.jp,,,,,\r\n"
    "山田 花子,やまだ はなこ,地域支え合いサポーター,hanako.yamada@yawata.example.jp,,,,,\r\n"
    "井上 次郎,いのうえ 次郎,ケアマネジャー,,,,,,\r\n"
).encode()


class Walker:
    """One browser context per role; `visit` loads a page and calls `check` on it."""

    def __init__(
        self,
        browser: Any,
        server: LiveServer,
        world: World,
        check: Callable[[Any, Visit], None],
        locale: str = "ja-JP",
    ) -> None:
        self.browser = browser
        self.server = server
        self.world = world
        self.check = check
        self.locale = locale
        self.timings: dict[str, float] = {}
        self.visited: list[str] = []
        self.errors: list[str] = []

    @contextmanager
    def context(self, role: str) -> Iterator[Any]:
        phone = role == "phone"
        context = self.browser.new_context(
            viewport=PHONE_VIEWPORT if phone else DESKTOP_VIEWPORT,
            locale=self.locale,
            timezone_id="Asia/Tokyo",
            is_mobile=phone,
            has_touch=phone,
            geolocation={"latitude": YAWATA_CENTER[0], "longitude": YAWATA_CENTER[1]},
            permissions=["geolocation"],
            service_workers="block",
        )
        answer_tiles_offline(context)
        if role in self.world.logins:
            user = db.session.get(StaffUser, self.world.logins[role])
            context.add_cookies(
                [
                    {
                        "name": self.server.app.config["SESSION_COOKIE_NAME"],
                        "value": session_cookie_value(self.server.app, user),
                        "url": self.server.url,
                        "httpOnly": True,
                        "sameSite": "Lax",
                    }
                ]
            )
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        try:
            yield page
        finally:
            context.close()

    def visit(self, page: Any, visit: Visit) -> None:
        started = time.monotonic()
        response = page.goto(f"{self.server.url}{visit.path}")
        assert response is not None
        assert response.status == visit.status, (visit.path, response.status)
        assert "text/html" in response.headers.get("content-type", ""), visit.path
        self.look(page, visit)
        for action in visit.then:
            action.run(page, self.world)
            self.look(page, replace(visit, path=f"{visit.path} ({action.name})", ready=None))
        self.timings[visit.path] = time.monotonic() - started

    def look(self, page: Any, visit: Visit) -> None:
        wait_until_drawn(page, visit.ready)
        self.check(page, visit)
        self.screenshot(page, visit)
        self.visited.append(visit.path)

    def screenshot(self, page: Any, visit: Visit) -> None:
        """WATCHNET_WALK_SHOTS=1: a full-page screenshot of every page walked, to look at."""
        if not os.environ.get("WATCHNET_WALK_SHOTS"):
            return
        folder = ARTIFACTS / "walk"
        folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9]+", "_", f"{self.locale}_{visit.role}_{visit.path}")[:120]
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    def walk(self, plan: list[Visit]) -> None:
        roles: list[str] = []
        for v in plan:
            if v.role not in roles:
                roles.append(v.role)
        for role in roles:
            with self.context(role) as page:
                self.prepare(page, role)
                for v in plan:
                    if v.role != role:
                        continue
                    self.visit(page, v)

    def prepare(self, page: Any, role: str) -> None:
        """Hook for a walk to set up a fresh context (e.g. switch the language)."""


def wait_until_drawn(page: Any, ready: str | None) -> None:
    """Loaded, images complete, every Leaflet map with tiles drawn, and `ready` true."""
    page.wait_for_function(
        """() => document.readyState === 'complete'
            && [...document.images].every((img) => img.complete)
            && [...document.querySelectorAll('.leaflet-container')].every((map) =>
                map.querySelectorAll('.leaflet-tile-container').length === 0
                || map.querySelector('img.leaflet-tile') !== null)""",
        timeout=10_000,
    )
    if ready:
        page.wait_for_function(ready, timeout=10_000)
