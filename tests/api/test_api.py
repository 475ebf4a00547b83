"""The JSON API over real HTTP through the test client: bearer tokens, district limits, errors."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from watchnet.audit.models import AuditEvent
from watchnet.auth.services import issue_api_token
from watchnet.core.extensions import db
from watchnet.districts.models import Landmark
from watchnet.drills.models import Checkpoint, Drill
from watchnet.people.models import Supporter


def bearer(staff: Any) -> dict[str, str]:
    _token, raw = issue_api_token(staff, "test")
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture()
def auth(organizer: Any) -> dict[str, str]:
    return bearer(organizer)


@pytest.fixture()
def outsider_auth(outsider: Any) -> dict[str, str]:
    return bearer(outsider)


@pytest.fixture()
def drill(district: Any, make_drill: Any) -> Drill:
    return make_drill(district, title="八幡まち歩き訓練")


@pytest.fixture()
def landmark(district: Any) -> Landmark:
    lm = Landmark(district_id=district.id, name="八幡公民館", lat=36.3338, lon=138.946)
    db.session.add(lm)
    db.session.commit()
    return lm


def test_a_drill_round_trip_with_route_and_checkpoints(client, auth, district):
    created = client.post(
        "/api/v1/drills",
        headers=auth,
        json={
            "district_id": district.id,
            "title": "八幡まち歩き訓練",
            "starts_at": "2026-03-13T09:30:00",
            "meeting_place": "八幡公民館",
            "purpose": "見守り",
            "background": "経緯",
        },
    )
    assert created.status_code == 201, created.json
    drill = created.json
    assert drill["starts_at"] == "2026-03-13T00:30:00+00:00"  # Japan time in, UTC out
    assert drill["status"] == "planned" and drill["route"] == [] and drill["checkpoints"] == []

    route = [[36.333, 138.945], [36.334, 138.946], [36.335, 138.947]]
    put = client.put(f"/api/v1/drills/{drill['id']}/route", headers=auth, json={"route": route})
    assert put.status_code == 200 and put.json["route"] == route

    cp = client.post(
        f"/api/v1/drills/{drill['id']}/checkpoints",
        headers=auth,
        json={
            "name": "ポイント1",
            "lat": 36.334,
            "lon": 138.9461,
            "role_player": "元協議体メンバー",
            "scenario_wear": "帽子",
            "scenario_say": "家に帰りたい",
            "scenario_do": "立ち止まる",
            "expected_contact": "anshin_center",
            "expected_contact_note": "あんしんセンター八幡",
            "checklist": ["前から声をかけた", "ゆっくり話した"],
        },
    )
    assert cp.status_code == 201, cp.json
    assert cp.json["checklist"] == ["前から声をかけた", "ゆっくり話した"]

    patched = client.patch(
        f"/api/v1/checkpoints/{cp.json['id']}",
        headers=auth,
        json={"lat": 36.3345, "expected_contact": "police"},
    )
    assert patched.status_code == 200
    assert (patched.json["lat"], patched.json["expected_contact"], patched.json["name"]) == (
        36.3345,
        "police",
        "ポイント1",
    )

    # Replacing the route keeps the checkpoints.
    client.put(f"/api/v1/drills/{drill['id']}/route", headers=auth, json={"route": route[:2]})
    got = client.get(f"/api/v1/drills/{drill['id']}", headers=auth).json
    assert got["route"] == route[:2]
    assert [c["name"] for c in got["checkpoints"]] == ["ポイント1"]
    assert got["checkpoints"][0]["scenario_say"] == "家に帰りたい"

    listed = client.get(f"/api/v1/drills?district_id={district.id}", headers=auth).json
    assert [d["id"] for d in listed] == [drill["id"]]

    assert (
        client.patch(f"/api/v1/drills/{drill['id']}", headers=auth, json={"title": "改題"}).json[
            "title"
        ]
        == "改題"
    )
    assert client.delete(f"/api/v1/checkpoints/{cp.json['id']}", headers=auth).status_code == 204
    assert client.delete(f"/api/v1/drills/{drill['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/drills/{drill['id']}", headers=auth).status_code == 404
    actions = set(
        db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.actor.like("staff:%")))
    )
    assert {
        "drill.planned",
        "drill.route_saved",
        "checkpoint.added",
        "checkpoint.updated",
        "checkpoint.removed",
        "drill.deleted",
    } <= actions


def test_landmarks_can_be_listed_added_changed_and_deleted(client, auth, district, landmark):
    listed = client.get(f"/api/v1/districts/{district.id}/landmarks", headers=auth)
    assert [lm["name"] for lm in listed.json] == ["八幡公民館"]
    added = client.post(
        f"/api/v1/districts/{district.id}/landmarks",
        headers=auth,
        json={"name": "八幡小学校", "kind": "school", "lat": 36.3364, "lon": 138.9433},
    )
    assert added.status_code == 201 and added.json["kind"] == "school"
    dup = client.post(
        f"/api/v1/districts/{district.id}/landmarks",
        headers=auth,
        json={"name": "八幡小学校", "lat": 36.3, "lon": 138.9},
    )
    assert dup.status_code == 422 and "name" in dup.json["errors"]["json"]
    moved = client.patch(
        f"/api/v1/landmarks/{added.json['id']}", headers=auth, json={"lat": 36.337}
    )
    assert moved.status_code == 200 and moved.json["lat"] == 36.337
    assert client.delete(f"/api/v1/landmarks/{landmark.id}", headers=auth).status_code == 204
    assert [lm.name for lm in db.session.scalars(sa.select(Landmark))] == ["八幡小学校"]


def test_supporters_are_registered_filtered_and_changed_without_their_token(
    client, auth, district, supporter
):
    created = client.post(
        "/api/v1/supporters/",
        headers=auth,
        json={
            "district_id": district.id,
            "name": "区長 一郎",
            "name_kana": "くちょう いちろう",
            "kind": "ward_head",
            "email": "kucho@example.jp",
            "home_lat": 36.334567,
            "home_lon": 138.945678,
            "notification_urls": ["json://127.0.0.1:9/hook"],
        },
    )
    assert created.status_code == 201, created.json
    body = created.json
    assert (body["home_lat"], body["home_lon"]) == (36.335, 138.946)  # stored rounded
    assert body["notification_urls"] == ["json://127.0.0.1:9/hook"]
    assert "token_version" not in body and "token" not in str(body).lower()

    wards = client.get("/api/v1/supporters/?kind=ward_head", headers=auth).json
    assert [s["name"] for s in wards] == ["区長 一郎"]
    found = client.get("/api/v1/supporters/?q=みまもり", headers=auth).json
    assert [s["name"] for s in found] == ["見守 花子"]

    one = client.get(f"/api/v1/supporters/{supporter.id}", headers=auth)
    assert one.status_code == 200 and "token_version" not in one.json
    patched = client.patch(
        f"/api/v1/supporters/{supporter.id}",
        headers=auth,
        json={"phone": "0270-00-0000", "is_active": False},
    )
    assert patched.status_code == 200
    assert (patched.json["phone"], patched.json["is_active"]) == ("0270-00-0000", False)
    db.session.expire_all()
    # Deactivating ended the personal link (a new version); nothing else may change it.
    version = db.session.get(Supporter, supporter.id).token_version
    assert version == 2
    sneaky = client.patch(
        f"/api/v1/supporters/{supporter.id}", headers=auth, json={"token_version": 99}
    )
    assert sneaky.status_code == 422
    assert "token_version" in sneaky.json["errors"]["json"]
    db.session.expire_all()
    assert db.session.get(Supporter, supporter.id).token_version == version


def test_the_districts_list_shows_only_the_tokens_districts(client, auth, district, other_district):
    assert [d["name"] for d in client.get("/api/v1/districts/", headers=auth).json] == ["八幡地区"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wn_not-a-real-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
    ],
)
def test_a_request_without_a_valid_token_gets_401_json_with_the_bearer_challenge(
    client, drill, headers
):
    response = client.get(f"/api/v1/drills/{drill.id}", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["code"] == 401


def test_a_revoked_token_no_longer_works(client, organizer, drill):
    from watchnet.auth.services import revoke_api_token

    token, raw = issue_api_token(organizer, "old")
    revoke_api_token(token)
    db.session.commit()
    response = client.get("/api/v1/drills", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401


def test_the_browser_session_cookie_is_not_accepted_by_the_api(organizer_client, drill):
    assert organizer_client.get(f"/api/v1/drills/{drill.id}").status_code == 401
    response = organizer_client.post(
        "/api/v1/drills",
        json={"district_id": drill.district_id, "title": "x", "starts_at": "2026-01-01T00:00:00"},
    )
    assert response.status_code == 401


def test_the_api_needs_no_csrf_token_with_a_bearer_token(csrf_app, organizer, district):
    headers = bearer(organizer)
    response = csrf_app.test_client().post(
        f"/api/v1/districts/{district.id}/landmarks",
        headers=headers,
        json={"name": "八幡駐在所", "kind": "police_box", "lat": 36.3319, "lon": 138.9493},
    )
    assert response.status_code == 201


def test_another_districts_objects_answer_404_like_unknown_ones(
    client, outsider_auth, district, drill, landmark, supporter
):
    cp = drill.checkpoints[0]
    for method, url, body in [
        ("get", f"/api/v1/drills/{drill.id}", None),
        ("patch", f"/api/v1/drills/{drill.id}", {"title": "乗っ取り"}),
        ("delete", f"/api/v1/drills/{drill.id}", None),
        ("put", f"/api/v1/drills/{drill.id}/route", {"route": [[1, 1], [2, 2]]}),
        ("get", f"/api/v1/drills/{drill.id}/checkpoints", None),
        ("post", f"/api/v1/drills/{drill.id}/checkpoints", {"name": "x", "lat": 1, "lon": 1}),
        ("get", f"/api/v1/checkpoints/{cp.id}", None),
        ("patch", f"/api/v1/checkpoints/{cp.id}", {"name": "乗っ取り"}),
        ("delete", f"/api/v1/checkpoints/{cp.id}", None),
        ("get", f"/api/v1/districts/{district.id}/landmarks", None),
        ("post", f"/api/v1/districts/{district.id}/landmarks", {"name": "x", "lat": 1, "lon": 1}),
        ("get", f"/api/v1/landmarks/{landmark.id}", None),
        ("patch", f"/api/v1/landmarks/{landmark.id}", {"name": "乗っ取り"}),
        ("delete", f"/api/v1/landmarks/{landmark.id}", None),
        ("get", f"/api/v1/supporters/{supporter.id}", None),
        ("patch", f"/api/v1/supporters/{supporter.id}", {"name": "乗っ取り"}),
        ("get", f"/api/v1/drills?district_id={district.id}", None),
        ("get", f"/api/v1/supporters/?district_id={district.id}", None),
        ("get", "/api/v1/drills/999999", None),
        ("get", "/api/v1/drills/99999999999999999999999999", None),
    ]:
        response = getattr(client, method)(url, headers=outsider_auth, json=body)
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.json["code"] == 404
    assert client.get("/api/v1/drills", headers=outsider_auth).json == []
    assert client.get("/api/v1/supporters/", headers=outsider_auth).json == []
    db.session.expire_all()
    assert db.session.get(Drill, drill.id).title == "八幡まち歩き訓練"
    assert db.session.get(Landmark, landmark.id).name == "八幡公民館"
    assert len(db.session.get(Drill, drill.id).checkpoints) == 1


def test_creating_in_another_district_is_refused_at_the_field(client, outsider_auth, district):
    drill = client.post(
        "/api/v1/drills",
        headers=outsider_auth,
        json={"district_id": district.id, "title": "x", "starts_at": "2026-01-01T09:00:00"},
    )
    assert drill.status_code == 422 and "district_id" in drill.json["errors"]["json"]
    person = client.post(
        "/api/v1/supporters/",
        headers=outsider_auth,
        json={"district_id": district.id, "name": "x", "kind": "other"},
    )
    assert person.status_code == 422 and "district_id" in person.json["errors"]["json"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Drill)) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "ポイント", "lat": 91, "lon": 138.9}, "lat"),
        ({"name": "ポイント", "lat": 36.3, "lon": -180.5}, "lon"),
        ({"name": "x" * 10_000, "lat": 36.3, "lon": 138.9}, "name"),
        (
            {"name": "ポイント", "lat": 36.3, "lon": 138.9, "expected_contact": "ghostbusters"},
            "expected_contact",
        ),
        ({"name": "ポイント", "lat": 36.3, "lon": 138.9, "checklist": ["x"] * 21}, "checklist"),
        (
            {"name": "ポイント", "lat": 36.3, "lon": 138.9, "scenario_say": "あ" * 1001},
            "scenario_say",
        ),
        ({"name": "ポイント", "lat": "north", "lon": 138.9}, "lat"),
        ({"name": "ポイント", "lon": 138.9}, "lat"),
        ({"name": "ポイント\x00", "lat": 36.3, "lon": 138.9}, "name"),
    ],
)
def test_bad_checkpoint_input_gets_422_naming_the_field(client, auth, drill, body, field):
    response = client.post(f"/api/v1/drills/{drill.id}/checkpoints", headers=auth, json=body)
    assert response.status_code == 422
    assert response.json["code"] == 422
    assert field in response.json["errors"]["json"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Checkpoint)) == 1


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_coordinates_are_refused(client, auth, district, raw):
    response = client.post(
        f"/api/v1/districts/{district.id}/landmarks",
        headers=auth,
        data=f'{{"name": "x", "lat": {raw}, "lon": 138.9}}',
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "lat" in response.json["errors"]["json"]


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/drills", {"title": "x" * 201, "starts_at": "2026-01-01T09:00:00"}, "title"),
        ("/api/v1/drills", {"title": "x", "starts_at": "yesterday"}, "starts_at"),
        (
            "/api/v1/drills",
            {"title": "x", "starts_at": "2026-01-01T09:00:00", "status": "paused"},
            "status",
        ),
        (
            "/api/v1/drills",
            {"title": "x", "starts_at": "2026-01-01T09:00:00", "contact_phone": "12-34"},
            "contact_phone",
        ),
        ("/api/v1/supporters/", {"name": "x", "kind": "superhero"}, "kind"),
        (
            "/api/v1/supporters/",
            {"name": "x", "kind": "other", "home_lat": 91, "home_lon": 1},
            "home_lat",
        ),
        ("/api/v1/supporters/", {"name": "x", "kind": "other", "email": "not-an-email"}, "email"),
    ],
)
def test_bad_drill_and_supporter_input_gets_422_naming_the_field(
    client, auth, district, url, body, field
):
    response = client.post(url, headers=auth, json={"district_id": district.id, **body})
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["json"]


def test_a_route_with_a_point_out_of_range_is_refused_and_the_old_route_stays(client, auth, drill):
    response = client.put(
        f"/api/v1/drills/{drill.id}/route",
        headers=auth,
        json={"route": [[36.3, 138.9], [95, 138.9]]},
    )
    assert response.status_code == 422 and "route" in response.json["errors"]["json"]
    db.session.expire_all()
    assert len(db.session.get(Drill, drill.id).route_points) == 3


@pytest.mark.parametrize("data", ['{"name": ', "not json at all", '{"name": "x",}'])
def test_broken_json_gets_400(client, auth, district, data):
    response = client.post(
        f"/api/v1/districts/{district.id}/landmarks",
        headers=auth,
        data=data,
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json["code"] == 400


def test_a_json_list_instead_of_an_object_gets_422(client, auth, district):
    response = client.post(
        f"/api/v1/districts/{district.id}/landmarks", headers=auth, json=[1, 2, 3]
    )
    assert response.status_code == 422


def test_deleting_a_live_drill_is_refused(client, auth, drill):
    client.patch(f"/api/v1/drills/{drill.id}", headers=auth, json={"status": "live"})
    response = client.delete(f"/api/v1/drills/{drill.id}", headers=auth)
    assert response.status_code == 409
    assert client.get(f"/api/v1/drills/{drill.id}", headers=auth).status_code == 200


def test_the_openapi_document_describes_the_routes_and_the_bearer_scheme(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.json
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in [
        "/api/v1/districts/",
        "/api/v1/drills",
        "/api/v1/drills/{drill_id}",
        "/api/v1/drills/{drill_id}/route",
        "/api/v1/drills/{drill_id}/checkpoints",
        "/api/v1/checkpoints/{checkpoint_id}",
        "/api/v1/districts/{district_id}/landmarks",
        "/api/v1/landmarks/{landmark_id}",
        "/api/v1/supporters/",
        "/api/v1/supporters/{supporter_id}",
    ]:
        assert path in paths, path
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        **spec["components"]["securitySchemes"]["bearerAuth"],
        "type": "http",
        "scheme": "bearer",
    }
    operations = [
        op
        for item in paths.values()
        for m, op in item.items()
        if m in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) >= 17
    assert all(op["security"] == [{"bearerAuth": []}] for op in operations)
    assert "token_version" not in str(spec["components"]["schemas"]["Supporter"])
    assert set(spec["components"]["schemas"]["Checkpoint"]["properties"]) >= {
        "name",
        "lat",
        "lon",
        "role_player",
        "scenario_wear",
        "scenario_say",
        "scenario_do",
        "expected_contact",
        "expected_contact_note",
        "checklist",
    }


def test_the_openapi_document_passes_the_openapi_validator(client):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(client.get("/api/openapi.json").json)
