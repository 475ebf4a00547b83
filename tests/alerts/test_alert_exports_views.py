"""The three export routes: who may fetch them, what they answer (CAP, GeoJSON, the flyer's
HTML), what an export withholds, and that every fetch is in the audit record."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import xmlschema
from alert_exports_support import (
    SECRET_FAMILY,
    SECRET_FAMILY_PHONE,
    SECRET_HANDLING,
    SECRET_HOME,
    SECRET_NAME,
    XSD,
    close,
    make_alert,
    make_person,
    parse,
    revise,
    text,
)
from support import login, signin_supporter

from watchnet.alerts.field.services import record_walked_cells
from watchnet.alerts.models import (
    AlertStatus,
    SearchPosition,
    SearchSectorClaim,
    Sighting,
    SightingCertainty,
    SightingStatus,
)
from watchnet.alerts.sectors import cell_of
from watchnet.audit.models import AuditEvent
from watchnet.core.extensions import db
from watchnet.core.geo import haversine_m

ROUTES = ["/alerts/{id}/cap.xml", "/alerts/{id}/search.geojson", "/alerts/{id}/flyer"]


@pytest.fixture()
def coordinator_client(app, coordinator):
    return login(app.test_client(), coordinator)


def _audits(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


# ---------------------------------------------------------------------------------------------
# Access


@pytest.mark.parametrize("route", ROUTES)
def test_anonymous_visitors_are_sent_to_the_login(client, district, route):
    alert = make_alert(district)
    response = client.get(route.format(id=alert.id))
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("route", ROUTES)
def test_organizers_supporters_and_other_districts_cannot_fetch_an_export(
    app, district, other_district, organizer, supporter, make_staff, route
):
    alert = make_alert(district, make_person(district))
    other_coordinator = make_staff([other_district], role="coordinator")
    url = route.format(id=alert.id)
    assert login(app.test_client(), organizer).get(url).status_code == 403
    assert signin_supporter(app.test_client(), supporter).get(url).status_code == 403
    # Another district's coordinator learns nothing, not even that the alert exists.
    assert login(app.test_client(), other_coordinator).get(url).status_code == 404
    assert (
        login(app.test_client(), other_coordinator).get(route.format(id=alert.id + 999)).status_code
        == 404
    )
    for action in ("export_alert_cap", "export_alert_geojson", "view_alert_flyer"):
        assert _audits(action) == []


@pytest.mark.parametrize("route", ROUTES)
def test_the_districts_coordinator_and_an_admin_can_fetch_an_export(
    app, district, coordinator_client, make_staff, route
):
    alert = make_alert(district)
    admin = make_staff([], role="admin")
    for client in (coordinator_client, login(app.test_client(), admin)):
        response = client.get(route.format(id=alert.id))
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"


# ---------------------------------------------------------------------------------------------
# CAP


def test_the_cap_route_answers_a_valid_cap_message_and_records_the_export(
    district, coordinator, coordinator_client
):
    alert = make_alert(district, make_person(district))
    response = coordinator_client.get(f"/alerts/{alert.id}/cap.xml")
    assert response.headers["Content-Type"] == "application/cap+xml; charset=utf-8"
    body = response.get_data()
    xmlschema.XMLSchema(str(XSD)).validate(body.decode("utf-8"))
    root = parse(body)
    # The sender is this installation's host (the test client's is "localhost").
    assert text(root, "cap:sender") == "watchnet@localhost"
    assert text(root, "cap:identifier") == f"watchnet-localhost-alert-{alert.id}-1"
    assert SECRET_NAME not in body.decode("utf-8")
    [audit] = _audits("export_alert_cap")
    assert (audit.subject_type, audit.subject_id, audit.district_id) == (
        "alert",
        alert.id,
        district.id,
    )
    assert audit.actor == f"staff:{coordinator.id}"


def test_the_cap_sender_follows_the_public_base_url(app, district, coordinator_client):
    alert = make_alert(district)
    app.config["PUBLIC_BASE_URL"] = "https://mimamori.city.example.jp"
    try:
        body = coordinator_client.get(f"/alerts/{alert.id}/cap.xml").get_data()
    finally:
        app.config["PUBLIC_BASE_URL"] = None
    assert text(parse(body), "cap:sender") == "watchnet@mimamori.city.example.jp"


def test_a_whole_search_through_the_services_gives_alert_update_and_cancel(
    district, coordinator, coordinator_client
):
    from watchnet.alerts.services import AlertInput, close_alert, start_alert, widen_alert
    from watchnet.core.dbtypes import utcnow

    schema = xmlschema.XMLSchema(str(XSD))
    data = AlertInput(
        last_seen_at=utcnow() - timedelta(minutes=5),
        last_seen_lat=36.3335,
        last_seen_lon=138.9455,
        last_seen_place="八幡公民館の前",
        contact_phone="027-123-4567",
        display_name=SECRET_NAME,
        age=82,
        sex="female",
        clothing_today="紺のカーディガン",
        is_exercise=True,
    )
    alert = start_alert(district, coordinator, data, client_key="e2e")
    url = f"/alerts/{alert.id}/cap.xml"
    messages = [coordinator_client.get(url).get_data()]
    widen_alert(alert, now=utcnow() + timedelta(minutes=40))
    db.session.commit()
    messages.append(coordinator_client.get(url).get_data())
    close_alert(alert, outcome=AlertStatus.found, found_place="駅前", actor=coordinator)
    db.session.commit()
    messages.append(coordinator_client.get(url).get_data())

    roots = [parse(m) for m in messages]
    for body in messages:
        schema.validate(body.decode("utf-8"))
    assert [text(r, "cap:msgType") for r in roots] == ["Alert", "Update", "Cancel"]
    assert {text(r, "cap:status") for r in roots} == {"Exercise"}
    assert len({text(r, "cap:identifier") for r in roots}) == 3
    triples = [
        ",".join(text(r, f"cap:{n}") for n in ("sender", "identifier", "sent")) for r in roots
    ]
    assert text(roots[1], "cap:references") == triples[0]
    assert text(roots[2], "cap:references") == " ".join(triples[:2])
    assert text(roots[1], "cap:info/cap:area/cap:circle").endswith(" 1.600")
    assert "カーディガン" not in messages[2].decode("utf-8")


# ---------------------------------------------------------------------------------------------
# GeoJSON


def _features(collection: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in collection["features"] if f["properties"]["kind"] == kind]


def _ring_area(ring: list[list[float]]) -> float:
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:], strict=False))


def test_the_geojson_holds_the_whole_search_in_lon_lat_order(
    district, make_supporter, coordinator_client
):
    alert = make_alert(district)
    revise(alert, 30, radius_m=1600.0)
    walker = make_supporter(district, name="歩行 一郎")
    holder = make_supporter(district, name="区域 花子")
    centre_cell = cell_of(36.3335, 138.9455, 8)
    start = alert.started_at
    track = [(36.3335, 138.9455), (36.3345, 138.9465), (36.3355, 138.9475)]
    for i, (lat, lon) in enumerate(reversed(track)):  # stored out of order on purpose
        position = SearchPosition(
            alert_id=alert.id,
            supporter_id=walker.id,
            client_id=f"p{i}",
            lat=lat,
            lon=lon,
            cell=cell_of(lat, lon, 8),
            recorded_at=start + timedelta(minutes=10 - i),
        )
        db.session.add(position)
        record_walked_cells(
            alert.id, [{"cell": position.cell, "recorded_at": position.recorded_at}]
        )
    far = (36.3400, 138.9300)
    far_cell = cell_of(*far, 8)
    db.session.add(SearchSectorClaim(alert_id=alert.id, cell=far_cell, supporter_id=holder.id))
    db.session.add(
        Sighting(
            alert_id=alert.id,
            client_id="s1",
            reporter_supporter_id=walker.id,
            seen_at=start + timedelta(minutes=20),
            lat=36.3360,
            lon=138.9500,
            certainty=SightingCertainty.likely,
            status=SightingStatus.confirmed,
            description="杖をついた方",
        )
    )
    db.session.commit()

    response = coordinator_client.get(f"/alerts/{alert.id}/search.geojson")
    assert response.headers["Content-Type"] == "application/geo+json"
    collection = response.get_json(force=True)
    assert collection["type"] == "FeatureCollection"
    assert collection["alert_id"] == alert.id

    [last_seen] = _features(collection, "last_seen")
    assert last_seen["geometry"] == {"type": "Point", "coordinates": [138.9455, 36.3335]}
    assert last_seen["properties"]["at"] == "2026-03-13T09:10:00+09:00"

    rings = _features(collection, "ring")
    assert [r["properties"]["radius_m"] for r in rings] == [1200.0, 1600.0, 5000.0, 9500.0]
    assert [r["properties"]["current"] for r in rings] == [False, True, False, False]
    assert [r["properties"]["reached"] for r in rings] == [True, True, False, False]
    assert "1.2 km" in rings[0]["properties"]["label"]
    for ring in rings:
        [coords] = ring["geometry"]["coordinates"]
        assert coords[0] == coords[-1] and len(coords) == 73
        assert _ring_area(coords) > 0, "exterior rings run counter-clockwise (RFC 7946)"
        for lon, lat in coords[:-1]:
            distance = haversine_m((36.3335, 138.9455), (lat, lon))
            assert math.isclose(distance, ring["properties"]["radius_m"], rel_tol=0.005)

    sectors = {f["properties"]["cell"]: f for f in _features(collection, "sector")}
    assert sectors[centre_cell]["properties"]["state"] == "walked"
    assert sectors[far_cell]["properties"]["state"] == "taken"
    assert sectors[far_cell]["properties"]["taken_by"] == "区域"
    assert "untouched" in {f["properties"]["state"] for f in sectors.values()}
    hexagon = sectors[centre_cell]["geometry"]["coordinates"][0]
    assert len(hexagon) == 7 and hexagon[0] == hexagon[-1] and _ring_area(hexagon) > 0
    assert all(138 < lon < 140 and 36 < lat < 37 for lon, lat in hexagon)

    [sighting] = _features(collection, "sighting")
    assert sighting["geometry"]["coordinates"] == [138.95, 36.336]
    assert sighting["properties"]["status"] == "confirmed"
    assert sighting["properties"]["certainty"] == "likely"
    assert sighting["properties"]["seen_at"] == "2026-03-13T09:50:15+09:00"

    [line] = _features(collection, "track")
    assert line["geometry"]["type"] == "LineString"
    assert line["geometry"]["coordinates"] == [[lon, lat] for lat, lon in track]
    assert line["properties"]["name"] == "歩行"
    assert _audits("export_alert_geojson")


def test_the_geojson_shows_where_the_person_was_found_and_withholds_the_description(
    district, coordinator_client
):
    alert = make_alert(district, make_person(district))
    close(alert, AlertStatus.found)
    body = coordinator_client.get(f"/alerts/{alert.id}/search.geojson").get_data(as_text=True)
    for secret in (SECRET_NAME, SECRET_HOME, SECRET_FAMILY, "カーディガン", "027-123-4567"):
        assert secret not in body
    collection = __import__("json").loads(body)
    [found] = _features(collection, "found")
    assert found["geometry"]["coordinates"] == [139.0125, 36.3225]
    assert collection["status"] == "found"


# ---------------------------------------------------------------------------------------------
# Flyer (HTML; the one-page print is in the browser test)


def test_the_flyer_shows_what_a_finder_needs_with_the_face_photo(
    district, coordinator, coordinator_client
):
    person = make_person(district)
    alert = make_alert(district, person)
    html = coordinator_client.get(f"/alerts/{alert.id}/flyer").get_data(as_text=True)
    assert "さがしています" in html
    for fact in (
        "82歳",
        "女性",
        "約148cm",
        "やせ型",
        "白髪のショート",
        "右手に杖",
        "紺のカーディガン",
        "茶色の手提げ袋",
        "八幡公民館の前",
        "027-123-4567",
        "八幡あんしんセンター",
        "追いかけないでください",
    ):
        assert fact in html, fact
    # The last-seen date in the Japanese style with the era, and the time.
    assert "令和8年 (2026年) 3月13日" in html
    assert "09:10 ごろ" in html
    # The face photo inline (not the full-body one), and no link that leads to personal data.
    [uri] = re.findall(r'src="(data:image/jpeg;base64,[^"]+)"', html)
    import base64

    face = next(p for p in person.photos if p.kind.value == "face")
    assert base64.b64decode(uri.split(",", 1)[1]) == face.data
    assert "/a/" not in html and "/registry/" not in html
    for secret in (
        SECRET_NAME,
        SECRET_HOME,
        SECRET_FAMILY,
        SECRET_FAMILY_PHONE,
        SECRET_HANDLING,
        "R8-0313-01",
    ):
        assert secret not in html, secret
    assert "訓練" not in html
    [audit] = _audits("view_alert_flyer")
    assert audit.subject_id == alert.id and audit.actor == f"staff:{coordinator.id}"


def test_the_flyer_has_no_photo_without_consent_and_says_exercise_plainly(
    district, coordinator_client
):
    alert = make_alert(district, make_person(district), share_photo=False, is_exercise=True)
    html = coordinator_client.get(f"/alerts/{alert.id}/flyer").get_data(as_text=True)
    assert "data:image" not in html and "<img" not in html
    assert 'class="exercise-banner"' in html
    assert "これは訓練です" in html


@pytest.mark.parametrize(
    "outcome, heading",
    [
        (AlertStatus.found, "発見されました"),
        (AlertStatus.cancelled, "捜索は終了しました"),
    ],
)
def test_a_closed_alerts_flyer_has_no_personal_detail(
    district, coordinator_client, outcome, heading
):
    alert = make_alert(district, make_person(district))
    close(alert, outcome)
    html = coordinator_client.get(f"/alerts/{alert.id}/flyer").get_data(as_text=True)
    assert heading in html
    assert "さがしています" not in html
    assert "<img" not in html and "data:image" not in html
    for detail in (
        "82歳",
        "女性",
        "148",
        "やせ型",
        "白髪",
        "杖",
        "カーディガン",
        "手提げ",
        "八幡公民館の前",
        "027-123-4567",
        "八幡あんしんセンター",
        SECRET_NAME,
        SECRET_HOME,
        SECRET_FAMILY,
        "高崎駅",
    ):
        assert detail not in html, detail
