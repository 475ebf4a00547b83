"""Drill planning pages: list, create/edit, the drill page, route save API, checkpoints, GPX."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from watchnet.core.extensions import db
from watchnet.drills.models import Checkpoint, Drill, DrillStatus, RoutePoint


@pytest.fixture()
def english(organizer):
    organizer.locale = "en"
    db.session.commit()
    return organizer


def drill_form(district, **overrides):
    data = {
        "title": "第2回 まち歩き見守り声掛け訓練",
        "district_id": str(district.id),
        "date": "2026-03-13",
        "start_time": "09:30",
        "end_time": "12:00",
        "meeting_place": "八幡公民館",
        "purpose": "見守り体制の強化",
        "background": "経緯",
        "status": "planned",
    }
    data.update(overrides)
    return data


def stored(drill_id):
    db.session.expire_all()
    drill = db.session.get(Drill, drill_id)
    return drill.route_latlons, [(cp.id, cp.name, cp.lat, cp.lon) for cp in drill.checkpoints]


# ---------------------------------------------------------------------------------------------
# List, create, edit, delete


def test_staff_home_lists_upcoming_drills_before_past_ones(
    organizer_client, district, make_drill, english
):
    now = datetime.now(UTC)
    make_drill(
        district, title="Past walk", starts_at=now - timedelta(days=30), status=DrillStatus.ended
    )
    make_drill(district, title="Soon walk", starts_at=now + timedelta(days=3))
    make_drill(district, title="Later walk", starts_at=now + timedelta(days=40), checkpoints=[])
    html = organizer_client.get("/drills/").get_data(as_text=True)
    assert html.index("Soon walk") < html.index("Later walk") < html.index("Past walk")
    assert "New drill" in html
    assert "Planned" in html and "Ended" in html
    assert "km" in html


def test_staff_home_shows_no_drill_of_another_district(
    organizer_client, other_district, make_drill
):
    make_drill(other_district, title="よその訓練")
    assert "よその訓練" not in organizer_client.get("/drills/").get_data(as_text=True)


def test_organizer_plans_a_drill_in_japan_time_stored_in_utc(organizer_client, district):
    response = organizer_client.post("/drills/new", data=drill_form(district))
    assert response.status_code == 302
    drill = db.session.scalar(sa.select(Drill))
    assert drill.starts_at == datetime(2026, 3, 13, 0, 30, tzinfo=UTC)
    assert drill.ends_at == datetime(2026, 3, 13, 3, 0, tzinfo=UTC)
    assert drill.status == DrillStatus.planned
    page = organizer_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "第2回 まち歩き見守り声掛け訓練" in page
    assert "09:30" in page and "12:00" in page


def test_an_end_time_before_the_start_is_refused_and_nothing_is_saved(
    organizer_client, district, english
):
    # 08:00 after a 09:30 start is the next morning: 22.5 hours, more than a drill lasts.
    # (23:30 to 00:30 is accepted: tests/drills/test_drill_midnight.py.)
    response = organizer_client.post("/drills/new", data=drill_form(district, end_time="08:00"))
    assert response.status_code == 400
    assert "A drill lasts at most 12 hours." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Drill.id))) == 0


def test_the_number_to_call_on_the_day_is_stored_dialable_and_shown_as_a_call_link(
    organizer_client, district
):
    response = organizer_client.post(
        "/drills/new",
        data=drill_form(
            district,
            contact_phone="０９０ー１２３４ー５６７８",
            contact_label="主催者 八幡（携帯）",
        ),
    )
    assert response.status_code == 302
    drill = db.session.scalar(sa.select(Drill))
    assert (drill.contact_phone, drill.contact_label) == ("090-1234-5678", "主催者 八幡（携帯）")
    page = organizer_client.get(response.headers["Location"]).get_data(as_text=True)
    assert (
        '<a href="tel:09012345678">090-1234-5678</a> '
        '(<span class="user-text">主催者 八幡（携帯）</span>)'
    ) in page


def test_a_number_nobody_can_call_is_refused_in_japanese_and_nothing_is_saved(
    organizer_client, district
):
    response = organizer_client.post(
        "/drills/new", data=drill_form(district, contact_phone="12-34")
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="contact_phone-err"' in html
    assert "当日サポーターが電話できる番号を入れてください" in html
    assert 'value="12-34"' in html  # what was typed stays in the form
    assert db.session.scalar(sa.select(sa.func.count(Drill.id))) == 0


def test_a_title_of_10000_characters_is_refused_with_a_field_error(
    organizer_client, district, english
):
    response = organizer_client.post("/drills/new", data=drill_form(district, title="長" * 10_000))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="title-err"' in html
    assert db.session.scalar(sa.select(sa.func.count(Drill.id))) == 0


def test_script_in_a_title_is_stored_and_shown_as_text(organizer_client, district):
    title = "<script>alert(1)</script>"
    response = organizer_client.post("/drills/new", data=drill_form(district, title=title))
    drill = db.session.scalar(sa.select(Drill))
    assert drill.title == title
    page = organizer_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert title not in page
    assert title not in organizer_client.get("/drills/").get_data(as_text=True)


def test_a_district_not_the_organizers_cannot_be_chosen(organizer_client, other_district):
    response = organizer_client.post("/drills/new", data=drill_form(other_district))
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(Drill.id))) == 0


def test_editing_a_drill_shows_local_times_and_saves_changes(
    organizer_client, district, make_drill
):
    drill = make_drill(district, starts_at=datetime(2026, 3, 13, 0, 30, tzinfo=UTC))
    form = organizer_client.get(f"/drills/{drill.id}/edit").get_data(as_text=True)
    assert 'value="09:30"' in form and 'value="2026-03-13"' in form
    response = organizer_client.post(
        f"/drills/{drill.id}/edit",
        data=drill_form(
            district, title="改名", start_time="10:00", end_time="11:30", status="live"
        ),
    )
    assert response.status_code == 302
    db.session.expire_all()
    drill = db.session.get(Drill, drill.id)
    assert (drill.title, drill.status) == ("改名", DrillStatus.live)
    assert drill.starts_at == datetime(2026, 3, 13, 1, 0, tzinfo=UTC)


def test_a_planned_drill_is_deleted_after_confirmation(organizer_client, district, make_drill):
    drill = make_drill(district)
    assert organizer_client.get(f"/drills/{drill.id}/delete").status_code == 200
    assert organizer_client.post(f"/drills/{drill.id}/delete").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(Drill.id))) == 0


def test_a_live_drill_cannot_be_deleted(organizer_client, district, make_drill):
    drill = make_drill(district, status=DrillStatus.live)
    organizer_client.post(f"/drills/{drill.id}/delete")
    assert db.session.get(Drill, drill.id) is not None


# ---------------------------------------------------------------------------------------------
# The drill page


def test_drill_page_shows_length_walking_time_and_every_checkpoint_field(
    organizer_client, district, make_drill, english
):
    # Two points 0.018 degrees of latitude apart: about 2.0 km, 33 minutes at 1.0 m/s.
    drill = make_drill(
        district,
        route=[(36.3300, 138.9450), (36.3480, 138.9450)],
        checkpoints=[
            {
                "name": "赤い屋根の家",
                "lat": 36.331,
                "lon": 138.945,
                "role_player": "元協議体委員 A",
                "scenario_wear": "帽子",
                "scenario_say": "家はどこだっけ",
                "scenario_do": "立ち止まる",
                "expected_contact_note": "0270-00-0000",
                "checklist": ["正面から声をかけた"],
            },
        ],
    )
    html = organizer_client.get(f"/drills/{drill.id}").get_data(as_text=True)
    assert "2.0 km · 33 min (1.0 m/s)" in html
    for text in (
        "赤い屋根の家",
        "元協議体委員 A",
        "帽子",
        "家はどこだっけ",
        "立ち止まる",
        "0270-00-0000",
        "正面から声をかけた",
        "Anshin center",
    ):
        assert text in html
    assert f"/drills/{drill.id}/route" in html and f"/drills/{drill.id}.gpx" in html
    assert "leaflet" in html and "cdn" not in html.lower()


def test_a_hostile_checkpoint_name_is_escaped_in_the_map(organizer_client, district, make_drill):
    name = "<img src=x onerror=alert(1)>`${x}`"
    drill = make_drill(district, checkpoints=[{"name": name, "lat": 36.334, "lon": 138.946}])
    html = organizer_client.get(f"/drills/{drill.id}").get_data(as_text=True)
    assert "<img src=x" not in html
    assert "&#36;{x}" in html  # inside folium's template literal, `${` must not survive
    assert "`${x}`" not in html.split('id="map-h"')[1].split("</section>")[0]


# ---------------------------------------------------------------------------------------------
# Route save API


def test_saving_the_route_replaces_points_and_keeps_checkpoint_scenarios(
    organizer_client, district, make_drill
):
    drill = make_drill(
        district,
        checkpoints=[
            {
                "name": "A",
                "lat": 36.334,
                "lon": 138.946,
                "role_player": "役 A",
                "scenario_say": "台詞",
            },
            {"name": "B", "lat": 36.335, "lon": 138.947},
        ],
    )
    keep, drop = drill.checkpoints
    keep_id, drop_id = keep.id, drop.id
    payload = {
        "route": [{"lat": 36.1, "lon": 138.1}, {"lat": 36.2, "lon": 138.2}],
        "checkpoints": [
            {"name": "新しい", "lat": 36.15, "lon": 138.15, "order": 0},
            {"id": keep_id, "name": "A改", "lat": 36.12, "lon": 138.12, "order": 1},
        ],
    }
    response = organizer_client.post(f"/drills/{drill.id}/route", json=payload)
    assert response.status_code == 200, response.json
    assert [c["name"] for c in response.json["checkpoints"]] == ["新しい", "A改"]
    route, cps = stored(drill.id)
    assert route == [(36.1, 138.1), (36.2, 138.2)]
    assert [c[1:] for c in cps] == [("新しい", 36.15, 138.15), ("A改", 36.12, 138.12)]
    kept = db.session.get(Checkpoint, keep_id)
    assert (kept.role_player, kept.scenario_say) == ("役 A", "台詞")
    assert db.session.get(Checkpoint, drop_id) is None


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (
            {"route": [{"lat": 36.1, "lon": 138.1}, {"lat": 91, "lon": 138.1}], "checkpoints": []},
            "route[1].lat",
        ),
        ({"route": [{"lat": 36.1, "lon": 181}], "checkpoints": []}, "route[0].lon"),
        ({"route": [{"lat": "NaN", "lon": 1}], "checkpoints": []}, "route[0].lat"),
        ({"route": [], "checkpoints": [{"name": "x", "lat": -91, "lon": 0}]}, "checkpoints[0].lat"),
        (
            {"route": [], "checkpoints": [{"name": "x" * 101, "lat": 1, "lon": 1}]},
            "checkpoints[0].name",
        ),
        ({"route": [], "checkpoints": [{"name": "  ", "lat": 1, "lon": 1}]}, "checkpoints[0].name"),
        (
            {"route": [], "checkpoints": [{"id": 999999, "name": "x", "lat": 1, "lon": 1}]},
            "checkpoints[0].id",
        ),
        ({"route": [{"lat": 1, "lon": 1}] * 2001, "checkpoints": []}, "route"),
        ({"route": [], "checkpoints": [{"name": "x", "lat": 1, "lon": 1}] * 51}, "checkpoints"),
        ([1, 2], ""),
    ],
)
def test_bad_geometry_gets_422_with_field_paths_and_nothing_changes(
    organizer_client, district, make_drill, payload, path
):
    drill = make_drill(district)
    before = stored(drill.id)
    response = organizer_client.post(f"/drills/{drill.id}/route", json=payload)
    assert response.status_code == 422
    assert path in response.json["errors"]
    assert stored(drill.id) == before


def test_the_route_editor_page_embeds_the_saved_geometry_as_json(
    organizer_client, district, make_drill
):
    drill = make_drill(district, checkpoints=[{"name": "</script><b>x", "lat": 36.3, "lon": 138.9}])
    html = organizer_client.get(f"/drills/{drill.id}/route").get_data(as_text=True)
    assert 'id="route-editor-data"' in html
    assert "</script><b>x" not in html
    assert "/static/js/route_editor.js" in html
    assert 'aria-pressed="false"' in html


# ---------------------------------------------------------------------------------------------
# Checkpoint edit


def test_checkpoint_scenario_and_checklist_are_saved(organizer_client, district, make_drill):
    drill = make_drill(district)
    cp = drill.checkpoints[0]
    response = organizer_client.post(
        f"/drills/{drill.id}/checkpoints/{cp.id}/edit",
        data={
            "name": "公園の入口",
            "role_player": "田中さん",
            "scenario_wear": "灰色の上着",
            "scenario_say": "駅はどっち？",
            "scenario_do": "ベンチに座る",
            "expected_contact": "police",
            "expected_contact_note": "110",
            "checklist": "名乗った\n\n正面から声をかけた\n",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    cp = db.session.get(Checkpoint, cp.id)
    assert cp.name == "公園の入口" and cp.expected_contact == "police"
    assert cp.checklist == ["名乗った", "正面から声をかけた"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "長" * 10_000),
        ("checklist", "\n".join(f"item {i}" for i in range(21))),
        ("checklist", "x" * 101),
        ("expected_contact", "ghostbusters"),
    ],
)
def test_bad_checkpoint_input_gets_a_field_error_and_nothing_is_saved(
    organizer_client, district, make_drill, english, field, value
):
    drill = make_drill(district)
    cp = drill.checkpoints[0]
    data = {"name": "ok", "expected_contact": "family", "checklist": ""}
    data[field] = value
    response = organizer_client.post(f"/drills/{drill.id}/checkpoints/{cp.id}/edit", data=data)
    assert response.status_code == 400
    assert f'id="{field}-err"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Checkpoint, cp.id).name == "ポイント1"


def test_a_checkpoint_of_another_drill_is_not_found(organizer_client, district, make_drill):
    drill, other = make_drill(district), make_drill(district)
    url = f"/drills/{drill.id}/checkpoints/{other.checkpoints[0].id}/edit"
    assert organizer_client.get(url).status_code == 404


# ---------------------------------------------------------------------------------------------
# GPX


def upload(client, drill, content, name="route.gpx", replace=True):
    data = {"file": (io.BytesIO(content), name)}
    if replace:
        data["replace"] = "y"
    return client.post(f"/drills/{drill.id}/gpx", data=data, content_type="multipart/form-data")


def test_gpx_export_then_import_gives_the_same_points(organizer_client, district, make_drill):
    route = [(36.3330123, 138.9450456), (36.3340789, 138.9460123), (36.3351234, 138.9470987)]
    source = make_drill(
        district,
        route=route,
        checkpoints=[
            {"name": "ポイント<1>", "lat": 36.3341111, "lon": 138.9461222, "scenario_do": "座る"},
            {"name": "ポイント2", "lat": 36.3349999, "lon": 138.9469999},
        ],
    )
    response = organizer_client.get(f"/drills/{source.id}.gpx")
    assert response.status_code == 200
    assert response.mimetype == "application/gpx+xml"
    exported = response.data
    assert b"<rte>" in exported and b"<wpt" in exported and b"<desc>" in exported

    target = make_drill(district, title="別の訓練", route=[(1.0, 1.0)], checkpoints=[])
    assert upload(organizer_client, target, exported).status_code == 302
    got_route, got_cps = stored(target.id)
    assert len(got_route) == 3
    for (a, b), (c, d) in zip(got_route, route, strict=True):
        assert abs(a - c) < 1e-6 and abs(b - d) < 1e-6
    assert [c[1] for c in got_cps] == ["ポイント<1>", "ポイント2"]
    assert abs(got_cps[0][2] - 36.3341111) < 1e-6 and abs(got_cps[0][3] - 138.9461222) < 1e-6
    assert db.session.get(Drill, target.id).checkpoints[0].scenario_do == "座る"


def test_a_gpx_round_trip_keeps_each_role_play_scenario_contact_and_checklist(
    organizer_client, district, make_drill
):
    scenario = {
        "role_player": "田中 ハナ",
        "scenario_wear": "赤いカーディガン、杖",
        "scenario_say": "「バス停はどこかしら」",
        "scenario_do": "ベンチに座っている\n時々立ち上がる",
        "expected_contact": "police",
        "expected_contact_note": "高崎警察署 <生活安全課>",
        "checklist": ["正面から声を掛けた", "名乗った"],
    }
    source = make_drill(
        district,
        route=[(36.333, 138.945), (36.334, 138.946)],
        checkpoints=[{"name": "バス停", "lat": 36.3335, "lon": 138.9455, **scenario}],
    )
    exported = organizer_client.get(f"/drills/{source.id}.gpx").data
    assert b"https://watchnet.jp/xmlns/gpx-scenario/1" in exported
    target = make_drill(district, title="別の訓練", route=[(1.0, 1.0)], checkpoints=[])
    imported = upload(organizer_client, target, exported)
    assert imported.status_code == 302, imported.get_data(as_text=True)[-3000:]
    db.session.expire_all()
    [cp] = db.session.get(Drill, target.id).checkpoints
    got = {key: getattr(cp, key) for key in scenario}
    got["expected_contact"] = cp.expected_contact.value
    assert got == scenario


def test_a_gpx_track_is_imported_as_the_route(organizer_client, district, make_drill):
    gpx = b"""<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">
<trk><trkseg><trkpt lat="36.1" lon="138.1"/><trkpt lat="36.2" lon="138.2"/></trkseg></trk>
</gpx>"""
    drill = make_drill(district)
    assert upload(organizer_client, drill, gpx).status_code == 302
    assert stored(drill.id) == ([(36.1, 138.1), (36.2, 138.2)], [])


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (PNG, "This file is not a GPX file."),
        (b"just some words", "This file is not a GPX file."),
        (b"<html><body>hi</body></html>", "This file is XML but not GPX."),
        (
            b'<gpx version="1.1"><wpt lat="95" lon="1"><name>x</name></wpt></gpx>',
            "The file has coordinates out of range.",
        ),
        (
            b'<gpx version="1.1"><rte>' + b'<rtept lat="1" lon="1"/>' * 2001 + b"</rte></gpx>",
            "The route has too many points",
        ),
        (b'<gpx version="1.1"></gpx>', "The GPX file has no route, track or waypoints."),
    ],
)
def test_an_unusable_upload_is_refused_in_the_users_language_and_nothing_changes(
    organizer_client, district, make_drill, english, content, message
):
    drill = make_drill(district)
    before = stored(drill.id)
    response = upload(organizer_client, drill, content)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert stored(drill.id) == before


def test_a_non_gpx_upload_is_refused_in_japanese_by_default(organizer_client, district, make_drill):
    drill = make_drill(district)
    response = upload(organizer_client, drill, PNG)
    assert response.status_code == 400
    assert 'id="file-err"' in response.get_data(as_text=True)


def test_an_oversized_upload_is_refused_before_it_is_read(
    app, organizer_client, district, make_drill
):
    drill = make_drill(district)
    before = stored(drill.id)
    padding = b" " * (app.config["MAX_CONTENT_LENGTH"] + 1024)
    response = upload(organizer_client, drill, b"<gpx>" + padding + b"</gpx>")
    assert response.status_code == 413
    assert stored(drill.id) == before


def test_gpx_import_needs_the_replace_confirmation(organizer_client, district, make_drill):
    drill = make_drill(district)
    before = stored(drill.id)
    response = upload(organizer_client, drill, b'<gpx><wpt lat="1" lon="1"/></gpx>', replace=False)
    assert response.status_code == 400
    assert 'id="replace-err"' in response.get_data(as_text=True)
    assert stored(drill.id) == before


# ---------------------------------------------------------------------------------------------
# Access


def drill_urls(drill):
    cp = drill.checkpoints[0]
    return [
        ("get", f"/drills/{drill.id}"),
        ("get", f"/drills/{drill.id}/edit"),
        ("post", f"/drills/{drill.id}/edit"),
        ("get", f"/drills/{drill.id}/delete"),
        ("post", f"/drills/{drill.id}/delete"),
        ("get", f"/drills/{drill.id}/route"),
        ("post", f"/drills/{drill.id}/route"),
        ("get", f"/drills/{drill.id}/checkpoints/{cp.id}/edit"),
        ("post", f"/drills/{drill.id}/checkpoints/{cp.id}/edit"),
        ("get", f"/drills/{drill.id}.gpx"),
        ("post", f"/drills/{drill.id}/gpx"),
    ]


def test_an_organizer_of_another_district_gets_404_on_every_drill_route(
    outsider_client, district, make_drill
):
    drill = make_drill(district)
    before = stored(drill.id)
    for method, url in drill_urls(drill):
        response = (
            getattr(outsider_client, method)(url, json={"route": []})
            if url.endswith("/route") and method == "post"
            else getattr(outsider_client, method)(url)
        )
        assert response.status_code == 404, (method, url)
    assert stored(drill.id) == before
    assert db.session.get(Drill, drill.id) is not None


# Supporter and anonymous visitor are separate tests: the test app context is shared by every
# client of one test, and Flask-Login caches the request's user on it.
def test_a_supporter_gets_403_on_every_drill_page(supporter_client, district, make_drill):
    drill = make_drill(district)
    for method, url in [("get", "/drills/"), ("get", "/drills/new"), *drill_urls(drill)]:
        assert getattr(supporter_client, method)(url).status_code == 403, (method, url)
    assert db.session.scalar(sa.select(sa.func.count(RoutePoint.id))) == 3


def test_an_anonymous_visitor_is_sent_to_the_login_from_every_drill_page(
    client, district, make_drill
):
    drill = make_drill(district)
    for method, url in [("get", "/drills/"), ("get", "/drills/new"), *drill_urls(drill)]:
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url, response.status_code)
        assert "/login" in response.headers["Location"]
    assert db.session.scalar(sa.select(sa.func.count(RoutePoint.id))) == 3
