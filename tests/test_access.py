"""Access tests: an organizer of another district, a supporter and an anonymous visitor get
403/404 (or the login page; 401 on the API) on every staff page and API route of a district not
theirs, and nothing of that district changes.

The routes come from the app's URL map, so pages added later are covered automatically. A route
with a URL variable this file cannot fill fails with a message: extend VARIABLE_OBJECTS (and
`victim_world`) for the new kind of object, or add the route to PUBLIC_ENDPOINTS if anyone may
use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.routing import Rule

from tests.conftest import login, make_test_app, signin_supporter
from watchnet.auth.services import issue_api_token
from watchnet.core.extensions import db
from watchnet.districts.models import Landmark
from watchnet.drills.models import Participant, Team

# Anyone may call these (they hold no district's data, or check their own secret).
PUBLIC_ENDPOINTS = {
    "static",
    "core.vendor",
    "core.healthz",
    "core.ping",
    "core.switch_language",
    "core.index",
    "auth.login",
    "auth.logout",
    "auth.supporter_signin",
    "api-docs.openapi_json",
    "core.healthz_delivery",
    # The installable app: its manifest, service worker and offline page name nobody.
    "webapp.manifest",
    "webapp.service_worker",
    "webapp.offline",
    # The SMS/voice gateway's callbacks: refused with 403 unless signed with the auth token.
    "twilio_hooks.voice_answer",
    "twilio_hooks.delivery_status",
}
# A signed-in supporter may use these (their own page); staff and anonymous visitors may not.
SUPPORTER_ENDPOINTS = {
    "people.supporter_home",
    "field.home",
    # The supporter's own channels (tests/people/test_channels_page.py: a test press, e-mail
    # and quiet hours change only the signed-in supporter; tests are theirs only).
    "people.my_channels",
    "people.set_my_email",
    "people.set_my_quiet_hours",
    "people.send_my_test",
    "people.add_my_phone",
    "people.save_push_subscription",
    "people.delete_push_subscription",
    # The supporter's own LINE link (a code to send, unlinking): their own channel only.
    "people.line_code",
    "people.line_unlink",
}

# URL variable -> the victim district's object whose id fills it.
VARIABLE_OBJECTS = {
    "district_id": "district",
    "drill_id": "drill",
    "checkpoint_id": "checkpoint",
    "supporter_id": "supporter",
    "landmark_id": "landmark",
    "team_id": "team",
    "participant_id": "participant",
    "token_id": "api_token",
    "user_id": "staff",
    "batch_id": "supporter_import",
    "help_call_id": "help_call",
    "kpt_item_id": "kpt_item",
    "action_item_id": "action_item",
    "person_id": "person",
    "photo_id": "photo",
    "alert_id": "alert",
    "sighting_id": "sighting",
    "practice_call_id": "practice_call",
    # Another supporter's test notification: the signed-in supporter must get 404.
    "test_id": "channel_test",
    "phone_id": "phone_channel",
    # A recipient's link is its own secret: everyone here gets a wrong one and must learn nothing.
    "token": "wrong_token",
}
# Registry and alert pages hold health and personal data: only coordinators of the district.
COORDINATOR_ONLY_BLUEPRINTS = {"registry", "alerts", "alert_exports"}
# ... except that organizers see that a search is on (no names, no details: MARKERS checks).
ORGANIZER_MAY_SEE = {"alerts.list_alerts"}
# For a bare <id>, the first of these words found in the endpoint or rule names the object.
ID_GUESSES = ["checkpoint", "landmark", "participant", "team", "supporter", "drill", "district"]

# Strings only the victim district's data contains: no response to an outsider may show them.
MARKERS = ["被害訓練VX", "VXポイント", "VX班", "VX公民館", "VX支援者", "VX見守り", "VX服装"]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _collect_rules() -> list[Rule]:
    app = make_test_app("sqlite://")
    rules = [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint not in PUBLIC_ENDPOINTS and not r.endpoint.startswith("api-docs.")
    ]
    return sorted(rules, key=lambda r: (r.rule, sorted(r.methods or ())))


RULES = _collect_rules()


def _rule_id(rule: Rule) -> str:
    methods = ",".join(m for m in METHODS if m in (rule.methods or ()))
    return f"{methods} {rule.rule} ({rule.endpoint})"


@dataclass
class World:
    ids: dict[str, int]
    district_id: int
    staff_ids: list[int]
    outsider_token: str
    organizer_id: int = 0
    outsider_id: int = 0
    supporter_id: int = 0
    other_district_id: int = 0
    other_coordinator_id: int = 0
    problems: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def _built_world() -> dict[str, Any]:
    """The module's victim world and the database's fingerprint right after building it."""
    return {}


@pytest.fixture()
def victim_world(app: Flask, _built_world: dict[str, Any]) -> World:
    """A district with one of each object, and the outsider's API token.

    Built once for the module (the tests are marked module_data, so the per-test wipe is
    skipped); built again, on empty tables, whenever the database is not exactly as it was
    right after building (a test changed something, or another module's test ran between).
    """
    from tests.conftest import _wipe, database_fingerprint

    fingerprint = database_fingerprint()
    if _built_world.get("fingerprint") != fingerprint:
        _wipe(app)
        db.session.remove()
        _built_world["world"] = _build_victim_world()
        db.session.remove()
        _built_world["fingerprint"] = database_fingerprint()
        _built_world["builds"] = _built_world.get("builds", 0) + 1
    from dataclasses import replace

    world: World = _built_world["world"]
    return replace(world, ids=dict(world.ids), staff_ids=list(world.staff_ids), problems=[])


def _build_victim_world() -> World:
    """The victim district with one of each object; an outsider (organizer of another
    district), a supporter of the victim district and a coordinator of the other district."""
    from datetime import UTC, datetime, timedelta

    from tests.conftest import PASSWORD
    from watchnet.districts.models import District
    from watchnet.drills.models import Checkpoint, Drill, RoutePoint
    from watchnet.people.models import StaffRole, StaffUser
    from watchnet.people.services import register_supporter

    def new_district(name: str, n: int) -> District:
        district = District(
            name=name, name_kana=f"てすとちく{n}", center_lat=36.3335, center_lon=138.9455
        )
        db.session.add(district)
        db.session.commit()
        return district

    def new_staff(district: District, role: str, email: str, n: int) -> StaffUser:
        user = StaffUser(email=email, name=f"職員 {n}", role=StaffRole(role), districts=[district])
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        return user

    def new_supporter(name: str, name_kana: str, n: int) -> Any:
        supporter = register_supporter(
            district,
            name=name,
            name_kana=name_kana,
            kind="community_supporter",
            email=f"supporter{n}@example.jp",
        )
        db.session.commit()
        return supporter

    district = new_district("八幡地区", 1)
    other_district = new_district("寺尾地区", 2)
    organizer = new_staff(district, "organizer", "organizer@example.jp", 1)
    coordinator = new_staff(district, "coordinator", "coordinator@example.jp", 2)
    outsider = new_staff(other_district, "organizer", "outsider@example.jp", 3)
    other_coordinator = new_staff(other_district, "coordinator", "coord-other@example.jp", 4)
    supporter = new_supporter("見守 花子", "みまもり はなこ", 1)

    drill = Drill(
        district_id=district.id,
        title="被害訓練VX",
        starts_at=datetime.now(UTC) + timedelta(days=7),
        meeting_place="公民館",
        purpose="見守り体制の強化",
        background="行方不明の経験から",
        route_points=[
            RoutePoint(seq=i, lat=a, lon=b)
            for i, (a, b) in enumerate(
                [(36.3330, 138.9450), (36.3340, 138.9460), (36.3350, 138.9470)]
            )
        ],
        checkpoints=[Checkpoint(seq=0, name="VXポイント", lat=36.334, lon=138.946)],
    )
    db.session.add(drill)
    db.session.commit()
    person = new_supporter("VX支援者", "ぶいえっくす", 2)
    team = Team(drill_id=drill.id, name="VX班")
    db.session.add(team)
    db.session.flush()
    participant = Participant(drill_id=drill.id, supporter_id=person.id, team_id=team.id)
    landmark = Landmark(district_id=district.id, name="VX公民館", lat=36.3338, lon=138.946)
    db.session.add_all([participant, landmark])
    from watchnet.tracking.models import HelpCall

    db.session.flush()
    help_call = HelpCall(
        drill_id=drill.id,
        supporter_id=person.id,
        client_id="vx-help-1",
        lat=36.334,
        lon=138.946,
        sentence="VX公民館の近く",
        called_at=drill.starts_at,
    )
    db.session.add(help_call)
    from watchnet.kpt.models import ActionItem, KptItem, KptKind

    kpt_item = KptItem(drill_id=drill.id, kind=KptKind.try_, text="VX班の課題")
    db.session.add(kpt_item)
    db.session.flush()
    action_item = ActionItem(
        district_id=district.id,
        drill_id=drill.id,
        kpt_item_id=kpt_item.id,
        title="VX班の課題",
        owner="VX支援者",
    )
    db.session.add(action_item)
    victim_token, _raw = issue_api_token(organizer, "victim")
    _outsider_token, outsider_raw = issue_api_token(outsider, "outsider")
    db.session.commit()
    ids = {
        "district": district.id,
        "drill": drill.id,
        "checkpoint": drill.checkpoints[0].id,
        "supporter": person.id,
        "landmark": landmark.id,
        "team": team.id,
        "participant": participant.id,
        "api_token": victim_token.id,
        "staff": organizer.id,
        "help_call": help_call.id,
        "kpt_item": kpt_item.id,
        "action_item": action_item.id,
    }
    try:  # the CSV import preview, where the people package has it
        from watchnet.people.models import SupporterImport
    except ImportError:
        pass
    else:
        batch = SupporterImport(
            district_id=district.id, created_by_id=organizer.id, filename="VX.csv"
        )
        db.session.add(batch)
        db.session.commit()
        ids["supporter_import"] = batch.id
    from watchnet.people.models import ChannelTest, PhoneChannel

    channel_test = ChannelTest(supporter_id=person.id, press_key="vx" * 11)
    phone_channel = PhoneChannel(supporter_id=person.id, number="+81273211234", voice=True)
    db.session.add_all([channel_test, phone_channel])
    db.session.commit()
    ids["channel_test"] = channel_test.id
    ids["phone_channel"] = phone_channel.id
    ids.update(_victim_alert_objects(district, coordinator, person))
    ids["practice_call"] = _victim_practice_call(drill, organizer, person)
    return World(
        ids,
        district.id,
        [organizer.id, coordinator.id],
        outsider_raw,
        organizer_id=organizer.id,
        outsider_id=outsider.id,
        supporter_id=supporter.id,
        other_district_id=other_district.id,
        other_coordinator_id=other_coordinator.id,
    )


def _victim_alert_objects(district: Any, coordinator: Any, supporter: Any) -> dict[str, Any]:
    """A registered person with a photo, an alert about them with a recipient and a sighting."""
    from datetime import UTC, datetime

    from watchnet.alerts.models import Alert, AlertRecipient, Sighting
    from watchnet.registry.demo_data import silhouette_jpeg
    from watchnet.registry.models import AtRiskPerson, PersonPhoto

    person = AtRiskPerson(
        district_id=district.id,
        name="VX見守り",
        name_kana="ぶいえっくす",
        usual_clothing="VX服装",
        home_lat=36.334,
        home_lon=138.946,
    )
    person.photos.append(PersonPhoto(data=silhouette_jpeg(0), width=360, height=480))
    db.session.add(person)
    db.session.flush()
    now = datetime.now(UTC)
    alert = Alert(
        district_id=district.id,
        person_id=person.id,
        display_name="VX見守り",
        clothing_today="VX服装",
        last_seen_at=now,
        last_seen_lat=36.334,
        last_seen_lon=138.946,
        contact_phone="027-000-0000",
        radius_m=1200,
        share_photo=True,
        started_by_id=coordinator.id,
    )
    db.session.add(alert)
    db.session.flush()
    recipient = AlertRecipient(
        alert_id=alert.id,
        supporter_id=supporter.id,
        token="vx-victim-token-" + "x" * 27,
        radius_m=1200,
        distance_m=10,
    )
    sighting = Sighting(
        alert_id=alert.id,
        client_id="vx-sighting-1",
        seen_at=now,
        lat=36.335,
        lon=138.946,
        description="VX服装の人",
        photo=silhouette_jpeg(1),
        reporter_supporter_id=supporter.id,
    )
    db.session.add_all([recipient, sighting])
    db.session.commit()
    return {
        "person": person.id,
        "photo": person.photos[0].id,
        "alert": alert.id,
        "sighting": sighting.id,
        "wrong_token": "not-a-recipient-token",
    }


def _victim_practice_call(drill: Any, organizer: Any, supporter: Any) -> int:
    """A practice call of the victim drill to its participant (its page shows their name)."""
    from watchnet.practice_calls.models import (
        PracticeAudience,
        PracticeCall,
        PracticeCallRecipient,
    )

    call = PracticeCall(
        district_id=drill.district_id,
        drill_id=drill.id,
        audience=PracticeAudience.participants,
        created_by_id=organizer.id,
    )
    db.session.add(call)
    db.session.flush()
    db.session.add(
        PracticeCallRecipient(
            practice_call_id=call.id, supporter_id=supporter.id, token="vx-practice-" + "y" * 31
        )
    )
    db.session.commit()
    return call.id


def victim_rows(world: World) -> list[tuple[str, str]]:
    """Every row belonging to the victim district, its drills, supporters or staff."""
    db.session.expire_all()
    district_id = world.district_id
    drill_ids = sa.text("SELECT id FROM drill WHERE district_id = :d")
    supporter_ids = sa.text("SELECT id FROM supporter WHERE district_id = :d")
    rows: list[tuple[str, str]] = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            if table.name in {"audit_event", "login_attempt"}:
                continue
            cols = table.c
            if table.name == "district":
                where = cols.id == district_id
            elif table.name == "staff_user":
                where = cols.id.in_(world.staff_ids)
            elif "district_id" in cols:
                where = cols.district_id == district_id
            elif "person_id" in cols:
                where = cols.person_id.in_(
                    [
                        r[0]
                        for r in conn.execute(
                            sa.text("SELECT id FROM at_risk_person WHERE district_id = :d"),
                            {"d": district_id},
                        )
                    ]
                )
            elif "alert_id" in cols:
                where = cols.alert_id.in_(
                    [
                        r[0]
                        for r in conn.execute(
                            sa.text("SELECT id FROM alert WHERE district_id = :d"),
                            {"d": district_id},
                        )
                    ]
                )
            elif "drill_id" in cols:
                where = cols.drill_id.in_(
                    [r[0] for r in conn.execute(drill_ids, {"d": district_id})]
                )
            elif "supporter_id" in cols:
                where = cols.supporter_id.in_(
                    [r[0] for r in conn.execute(supporter_ids, {"d": district_id})]
                )
            elif "staff_id" in cols:
                where = cols.staff_id.in_(world.staff_ids)
            else:
                continue
            for row in conn.execute(sa.select(table).where(where)):
                rows.append((table.name, repr(tuple(row))))
    return sorted(rows)


def fill_url(rule: Rule, world: World) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        kind = VARIABLE_OBJECTS.get(name)
        if name == "id":
            text = f"{rule.endpoint} {rule.rule}".lower()
            kind = next((k for k in ID_GUESSES if k in text), None)
        if kind is None or kind not in world.ids:
            pytest.fail(
                f"{rule.rule} ({rule.endpoint}) has the URL variable <{name}> that "
                f"tests/test_access.py cannot fill: add it to VARIABLE_OBJECTS and create the "
                f"object in victim_world, or list the endpoint in PUBLIC_ENDPOINTS."
            )
        return str(world.ids[kind])

    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", value, rule.rule)


def form_payload(world: World) -> dict[str, str]:
    """Plausible form fields, aimed at the victim district where a form lets one choose."""
    d = str(world.district_id)
    return {
        "district_id": d,
        "district": d,
        "districts": d,
        "title": "侵入VX",
        "name": "侵入VX",
        "name_kana": "しんにゅう",
        "kind": "other",
        "lat": "36.3",
        "lon": "138.9",
        "starts_at": "2026-04-01T09:00",
        "start_date": "2026-04-01",
        "start_time": "09:00",
        "email": "intruder@example.jp",
        "supporter_ids": str(world.ids["supporter"]),
    }


def json_payload(url: str, method: str, world: World) -> dict[str, Any]:
    """A valid body for the API resource, so the request gets past validation to the check."""
    if url.endswith("/route"):
        return {"route": [[36.3, 138.9], [36.31, 138.91]]}
    if "/checkpoints" in url:
        return {"name": "侵入VX", "lat": 36.3, "lon": 138.9}
    if "/landmarks" in url:
        return {"name": "侵入VX", "kind": "other", "lat": 36.3, "lon": 138.9}
    if "/supporters" in url:
        body = {"name": "侵入VX", "kind": "other"}
        return body if method == "PATCH" else {**body, "district_id": world.district_id}
    body = {"title": "侵入VX", "starts_at": "2026-04-01T09:00:00"}
    return body if method == "PATCH" else {**body, "district_id": world.district_id}


def call(client: Any, method: str, url: str, world: World, headers: dict[str, str]) -> Any:
    # A fresh app context per request: the test's own context would otherwise share `g` (and
    # flask-login's cached user in it) between the clients of different personas.
    with client.application.app_context():
        if url.startswith("/api/"):
            body = json_payload(url, method, world) if method in {"POST", "PUT", "PATCH"} else None
            return client.open(url, method=method, json=body, headers=headers)
        data = form_payload(world) if method in {"POST", "PUT", "PATCH"} else None
        return client.open(url, method=method, data=data, headers=headers)


def redirects_to_login(response: Any) -> bool:
    return response.status_code == 302 and "/login" in response.headers.get("Location", "")


def check(
    world: World,
    who: str,
    method: str,
    url: str,
    response: Any,
    allowed: set[int],
    login_redirect: bool,
) -> None:
    status = response.status_code
    ok = status in allowed or (login_redirect and redirects_to_login(response))
    if not ok:
        where = response.headers.get("Location", "")
        world.problems.append(f"{who}: {method} {url} -> {status} {where}".rstrip())
    body = response.get_data(as_text=True)
    leaked = [m for m in MARKERS if m in body]
    if leaked:
        world.problems.append(f"{who}: {method} {url} shows the victim's data {leaked}")


@pytest.mark.module_data
@pytest.mark.parametrize("rule", RULES, ids=_rule_id)
def test_nobody_outside_the_district_can_use_its_pages_or_api(
    app: Flask, rule: Rule, victim_world: World
) -> None:
    from watchnet.people.models import StaffUser, Supporter

    world = victim_world
    outsider = db.session.get(StaffUser, world.outsider_id)
    supporter = db.session.get(Supporter, world.supporter_id)
    before = victim_rows(world)
    url = fill_url(rule, world)
    has_object = url != rule.rule
    is_api = rule.rule.startswith("/api/")
    methods = [m for m in METHODS if m in (rule.methods or ())]

    anonymous = app.test_client()
    coordinator_only = rule.endpoint.split(".")[0] in COORDINATOR_ONLY_BLUEPRINTS
    if coordinator_only:
        other_id = world.other_coordinator_id
        with app.app_context():
            same_district_organizer = login(
                app.test_client(), db.session.get(StaffUser, world.organizer_id)
            )
        with app.app_context():
            other_coordinator = login(app.test_client(), db.session.get(StaffUser, other_id))
    with app.app_context():
        supporter_client = signin_supporter(app.test_client(), supporter)
    with app.app_context():
        outsider_client = login(app.test_client(), outsider)
    outsider_auth = {"Authorization": f"Bearer {world.outsider_token}"}

    for method in methods:
        # An anonymous visitor: the login page, or 401 on the API.
        response = call(anonymous, method, url, world, {})
        if is_api:
            check(world, "anonymous", method, url, response, {401}, False)
        else:
            check(world, "anonymous", method, url, response, {401, 403, 404}, True)

        # A supporter of this very district, signed in on a phone: no staff page, no API.
        if rule.endpoint not in SUPPORTER_ENDPOINTS:
            response = call(supporter_client, method, url, world, {})
            allowed = {401} if is_api else {401, 403, 404}
            check(world, "supporter", method, url, response, allowed, not is_api)

        # An organizer of another district, with the browser session or an API token.
        client, headers = (anonymous, outsider_auth) if is_api else (outsider_client, {})
        if has_object:
            response = call(client, method, url, world, headers)
            check(world, "outsider", method, url, response, {403, 404}, False)
        else:
            # A page of one's own districts: fine to use, but it must not show the victim's
            # data, also when asked for the victim district by query string.
            for target in (url, f"{url}?district_id={world.district_id}"):
                response = call(client, method, target, world, headers)
                if response.status_code >= 500:
                    world.problems.append(f"outsider: {method} {target} -> {response.status_code}")
                check(world, "outsider", method, target, response, set(range(200, 500)), False)

        if coordinator_only:
            # Organizers of the very district do not see the registry or alerts; neither do
            # coordinators of other districts.
            response = call(same_district_organizer, method, url, world, {})
            limited = not has_object or rule.endpoint in ORGANIZER_MAY_SEE
            check(
                world,
                "organizer of the district",
                method,
                url,
                response,
                {403, 404} | set(range(200, 400)) if limited else {403, 404},
                False,
            )
            response = call(other_coordinator, method, url, world, {})
            check(
                world,
                "coordinator of another district",
                method,
                url,
                response,
                {403, 404} if has_object else set(range(200, 500)),
                False,
            )

    after = victim_rows(world)
    if after != before:
        gone = sorted(set(before) - set(after))
        new = sorted(set(after) - set(before))
        world.problems.append(
            f"the victim district changed: removed/changed {gone}, added/changed to {new}"
        )
    assert not world.problems, f"{_rule_id(rule)}:\n  " + "\n  ".join(world.problems)
