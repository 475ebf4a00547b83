"""The supporter's alert page by personal link (/a/<token>) over HTTP with a real database:
what it shows while active, answers, sectors, positions, sightings, access, and that nothing
personal is left once the alert is closed."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import h3
import pytest
import sqlalchemy as sa
from alert_core_support import PHONE
from alert_field_support import PERSONAL, USUAL_PLACE, jpeg_bytes, start_field_alert
from flask.testing import FlaskClient
from PIL import Image
from support import signin_supporter

from watchnet.alerts import sectors
from watchnet.alerts.models import (
    Acknowledgement,
    AlertEvent,
    AlertRecipient,
    AlertStatus,
    SearchPosition,
    SearchSectorClaim,
    Sighting,
)
from watchnet.alerts.services import alert_summary, close_alert, override_radius, recentre_alert
from watchnet.audit.models import AuditEvent
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db


@pytest.fixture()
def fa(district: Any, coordinator: Any, make_supporter: Any) -> Any:
    return start_field_alert(district, coordinator, make_supporter)


def _ack(client: FlaskClient, token: str, answer: str) -> Any:
    return client.post(f"/a/{token}/ack", json={"answer": answer})


def _positions(n: int, prefix: str = "pos", lat: float = 36.3340) -> list[dict[str, Any]]:
    at = utcnow() - timedelta(minutes=5)
    return [
        {
            "client_id": f"{prefix}-{i:04d}",
            "lat": lat + i * 0.0004,
            "lon": 138.9460,
            "accuracy_m": 8,
            "recorded_at": (at + timedelta(seconds=15 * i)).isoformat(),
        }
        for i in range(n)
    ]


# ---------------------------------------------------------------------------------------------
# The page while active


def test_page_shows_description_photo_last_seen_and_what_to_do(
    client: FlaskClient, fa: Any
) -> None:
    response = client.get(fa.url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("no-store")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    html = response.get_data(as_text=True)
    for text in [
        "82歳",
        "男性",
        "約160",
        "紺色のジャンパー、灰色のズボン",
        "白髪、短め",
        "右足を少し引きずる",
        "黒い杖",
        "八幡公民館の前",
    ]:
        assert text in html, text
    # What to do, in the words supporters know, and a big tel: link.
    for text in ["追いかけない", "前から", "名乗", "捜索に参加する", "今は参加できない"]:
        assert text in html, text
    assert 'href="tel:0270000000"' in html
    assert PHONE in html
    photo_url = f"/a/{fa.token}/photos/{fa.photo.id}"
    assert photo_url in html
    assert "訓練" not in html
    photo = client.get(photo_url)
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert photo.headers["Cache-Control"].startswith("no-store")


def test_opening_marks_opened_and_records_the_view(client: FlaskClient, fa: Any) -> None:
    """The GET only reads (and audits the view); the page's script posts /opened, which
    notes the first opening once however often it comes."""
    recipient = fa.recipients[0]
    assert recipient.opened_at is None
    client.get(fa.url)
    client.get(fa.url)
    db.session.expire_all()
    assert db.session.get_one(AlertRecipient, recipient.id).opened_at is None
    assert client.post(f"{fa.url}/opened", json={"via": "email"}).status_code == 200
    first = client.post(f"{fa.url}/opened", json={"via": None}).get_json()
    db.session.expire_all()
    opened = db.session.get_one(AlertRecipient, recipient.id)
    assert opened.opened_at is not None and opened.opened_via == "email"
    assert first == {"opened_at": opened.opened_at.isoformat(), "via": "email"}
    views = list(
        db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "view_alert_link"))
    )
    assert len(views) == 2
    assert views[0].actor == f"supporter:{recipient.supporter_id}"
    assert views[0].subject_id == fa.alert.id and views[0].district_id == fa.alert.district_id
    assert alert_summary(fa.alert).opened == 1


def test_exercise_says_so_plainly(
    district: Any, coordinator: Any, make_supporter: Any, client: FlaskClient
) -> None:
    fa = start_field_alert(district, coordinator, make_supporter, supporters=1, is_exercise=True)
    html = client.get(fa.url).get_data(as_text=True)
    assert html.count("訓練") >= 2
    assert "<title>訓練" in html


def test_photo_is_not_served_unless_shared(
    district: Any, coordinator: Any, make_supporter: Any, client: FlaskClient
) -> None:
    fa = start_field_alert(district, coordinator, make_supporter, supporters=1, share_photo=False)
    html = client.get(fa.url).get_data(as_text=True)
    assert "/photos/" not in html
    assert client.get(f"/a/{fa.token}/photos/{fa.photo.id}").status_code == 404


def test_unknown_token_is_a_japanese_404(client: FlaskClient, fa: Any) -> None:
    response = client.get("/a/" + "x" * 43)
    assert response.status_code == 404
    assert "このページは存在しない" in response.get_data(as_text=True)
    assert "紺色" not in response.get_data(as_text=True)
    assert client.post("/a/" + "x" * 43 + "/ack", json={"answer": "searching"}).status_code == 404
    assert client.get("/a/short").status_code == 404


# ---------------------------------------------------------------------------------------------
# Answers


def test_answer_is_one_tap_and_changeable(client: FlaskClient, fa: Any) -> None:
    response = _ack(client, fa.token, "searching")
    assert response.status_code == 200 and response.get_json() == {"answer": "searching"}
    summary = alert_summary(fa.alert)
    assert (summary.searching, summary.cannot, summary.unanswered) == (1, 0, 1)
    assert _ack(client, fa.token, "cannot").status_code == 200
    db.session.expire_all()
    summary = alert_summary(fa.alert)
    assert (summary.searching, summary.cannot, summary.unanswered) == (0, 1, 1)
    assert client.get(f"/a/{fa.token}/state").get_json()["answer"] == "cannot"


def test_bad_answer_is_422_with_field_errors(client: FlaskClient, fa: Any) -> None:
    response = _ack(client, fa.token, "maybe")
    assert response.status_code == 422
    assert "answer" in response.get_json()["errors"]
    response = client.post(f"/a/{fa.token}/ack", data="not json", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["errors"]


def test_a_token_answers_only_for_its_own_recipient(app: Any, fa: Any) -> None:
    first, second = fa.recipients
    # The second supporter, signed in on their phone, uses the first one's link: the answer is
    # the first recipient's, never the signed-in supporter's.
    phone = signin_supporter(app.test_client(), second.supporter)
    assert _ack(phone, first.token, "cannot").status_code == 200
    db.session.expire_all()
    assert db.session.get_one(AlertRecipient, first.id).answer == Acknowledgement.cannot
    assert db.session.get_one(AlertRecipient, second.id).answer is None


def test_a_supporter_who_was_not_told_sees_nothing(
    app: Any, fa: Any, district: Any, make_supporter: Any
) -> None:
    stranger = make_supporter(district, name="遠方 三郎", email="far@example.jp")
    phone = signin_supporter(app.test_client(), stranger)
    me = phone.get("/me").get_data(as_text=True)
    assert "/a/" not in me and "紺色" not in me
    for url in [
        "/a/",
        f"/a/{fa.alert.id}",
        f"/a/{fa.alert.id}/state",
        f"/a/{'A' * 43}/photos/{fa.photo.id}",
    ]:
        response = phone.get(url)
        assert response.status_code == 404, url
        assert "紺色" not in response.get_data(as_text=True)


def test_a_deactivated_supporters_link_stops_working(client: FlaskClient, fa: Any) -> None:
    supporter = fa.recipients[0].supporter
    supporter.is_active = False
    db.session.commit()
    # Refused (403: the link no longer works), not merely unknown.
    assert client.get(fa.url).status_code == 403
    assert client.get(f"/a/{fa.token}/state").status_code == 403


def test_me_lists_the_supporters_active_alerts_with_their_links(app: Any, fa: Any) -> None:
    first = fa.recipients[0]
    phone = signin_supporter(app.test_client(), first.supporter)
    html = phone.get("/me").get_data(as_text=True)
    assert f"/a/{first.token}" in html
    assert fa.recipients[1].token not in html
    assert "紺色" not in html  # the details stay behind the (audited) link
    close_alert(fa.alert, outcome=AlertStatus.found, actor="test")
    db.session.commit()
    assert f"/a/{first.token}" not in phone.get("/me").get_data(as_text=True)


# ---------------------------------------------------------------------------------------------
# Sectors


def _cells(fa: Any) -> list[str]:
    return sectors.alert_cells(fa.alert)


def test_state_lists_sectors_and_marks_usual_places_as_priority(
    client: FlaskClient, fa: Any
) -> None:
    state = client.get(f"/a/{fa.token}/state").get_json()
    cells = {c["cell"] for c in state["sectors"]}
    assert cells == set(_cells(fa)) and len(cells) > 7
    assert all(len(c["boundary"]) == 6 for c in state["sectors"])
    usual = sectors.cell_of(*USUAL_PLACE)
    assert state["priority"] == [usual]
    assert state["radius_m"] == 1200
    # Shapes are sent again only when the area changed.
    again = client.get(f"/a/{fa.token}/state?have={state['sectors_key']}").get_json()
    assert "sectors" not in again and again["sectors_key"] == state["sectors_key"]


def test_sector_claim_conflicts_switch_and_release(app: Any, fa: Any) -> None:
    a, b = fa.recipients
    phone_a, phone_b = app.test_client(), app.test_client()
    for token in (a.token, b.token):
        _ack(phone_a, token, "searching")
    cell, other = _cells(fa)[0], _cells(fa)[1]
    response = phone_a.post(f"/a/{a.token}/sector", json={"action": "take", "cell": cell})
    assert response.status_code == 201 and response.get_json()["my_sector"] == cell
    # Taking it again changes nothing.
    assert phone_a.post(f"/a/{a.token}/sector", json={"cell": cell}).status_code == 200
    # Someone else cannot take it.
    response = phone_b.post(f"/a/{b.token}/sector", json={"cell": cell})
    assert response.status_code == 409 and "cell" in response.get_json()["errors"]
    # A cell outside the search area is refused with a field error.
    far = h3.latlng_to_cell(35.0, 135.0, 8)
    response = phone_b.post(f"/a/{b.token}/sector", json={"cell": far})
    assert response.status_code == 422 and "cell" in response.get_json()["errors"]
    assert phone_b.post(f"/a/{b.token}/sector", json={"cell": "zzz"}).status_code == 422
    # One open claim per supporter: taking another releases the first.
    assert phone_a.post(f"/a/{a.token}/sector", json={"cell": other}).status_code == 201
    open_claims = list(
        db.session.scalars(
            sa.select(SearchSectorClaim).where(SearchSectorClaim.released_at.is_(None))
        )
    )
    assert [(c.supporter_id, c.cell) for c in open_claims] == [(a.supporter_id, other)]
    assert phone_b.post(f"/a/{b.token}/sector", json={"cell": cell}).status_code == 201
    # Who holds what, as each phone sees it: the other's short name, or "mine".
    state_b = phone_b.get(f"/a/{b.token}/state").get_json()
    assert state_b["my_sector"] == cell
    assert state_b["taken"][other] == {"name": "捜索", "mine": False}
    assert state_b["taken"][cell]["mine"] is True
    # Release.
    response = phone_a.post(f"/a/{a.token}/sector", json={"action": "release"})
    assert response.get_json() == {"my_sector": None, "released": other}
    state_b = phone_b.get(f"/a/{b.token}/state").get_json()
    assert other not in state_b["taken"]
    kinds = list(
        db.session.scalars(
            sa.select(AlertEvent.kind)
            .where(AlertEvent.kind.like("sector_%"))
            .order_by(AlertEvent.id)
        )
    )
    assert kinds == [
        "sector_taken",
        "sector_released",
        "sector_taken",
        "sector_taken",
        "sector_released",
    ]


def test_sector_states_walked_taken_untouched(client: FlaskClient, fa: Any) -> None:
    a = fa.recipients[0]
    _ack(client, a.token, "searching")
    cells = _cells(fa)
    client.post(f"/a/{a.token}/sector", json={"cell": cells[2]})
    lat, lon = h3.cell_to_latlng(cells[3])
    position = _positions(1)[0] | {"lat": lat, "lon": lon}
    assert client.post(f"/a/{a.token}/positions", json={"positions": [position]}).status_code == 200
    states = sectors.sector_states(fa.alert)
    assert states[cells[2]].state == "taken" and states[cells[2]].taken_by_name == "捜索"
    assert states[cells[3]].state == "walked"
    assert states[cells[4]].state == "untouched"


def test_widening_and_recentring_reach_the_page_state(client: FlaskClient, fa: Any) -> None:
    url = f"/a/{fa.token}/state"
    first = client.get(url).get_json()
    key = first["sectors_key"]
    override_radius(fa.alert, 3000, "test")
    db.session.commit()
    wider = client.get(f"{url}?have={key}").get_json()
    assert wider["radius_m"] == 3000 and wider["sectors_key"] != key
    assert len(wider["sectors"]) > len(first["sectors"])
    assert {c["cell"] for c in first["sectors"]} < {c["cell"] for c in wider["sectors"]}
    form = _sighting_form(lat="36.3400", lon="138.9500")
    client.post(f"/a/{fa.token}/sightings", data=form, content_type="multipart/form-data")
    sighting = db.session.scalars(sa.select(Sighting)).one()
    recentre_alert(fa.alert, sighting, "test")
    db.session.commit()
    moved = client.get(f"{url}?have={wider['sectors_key']}").get_json()
    assert (moved["last_seen"]["lat"], moved["last_seen"]["lon"]) == (36.34, 138.95)
    assert moved["revision"] > first["revision"] and "sectors" in moved
    assert sectors.cell_of(36.34, 138.95) in {c["cell"] for c in moved["sectors"]}


# ---------------------------------------------------------------------------------------------
# Positions


def test_positions_batch_with_duplicates_is_stored_once(client: FlaskClient, fa: Any) -> None:
    token = fa.token
    batch = _positions(5)
    # Sharing starts with "I'll search".
    assert client.post(f"/a/{token}/positions", json={"positions": batch}).status_code == 409
    _ack(client, token, "searching")
    response = client.post(f"/a/{token}/positions", json={"positions": batch})
    assert response.get_json() == {"accepted": 5, "duplicates": 0}
    response = client.post(
        f"/a/{token}/positions", json={"positions": batch[3:] + _positions(2, prefix="new")}
    )
    assert response.get_json() == {"accepted": 2, "duplicates": 2}
    rows = list(db.session.scalars(sa.select(SearchPosition)))
    assert len(rows) == 7
    assert all(r.cell and h3.get_resolution(r.cell) == 8 for r in rows)
    assert {r.alert_id for r in rows} == {fa.alert.id}


def test_positions_are_validated_like_the_drill_api(client: FlaskClient, fa: Any) -> None:
    _ack(client, fa.token, "searching")
    bad = _positions(2)
    bad[0]["lat"] = 123
    bad[1]["client_id"] = "x"
    response = client.post(f"/a/{fa.token}/positions", json={"positions": bad})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert "positions.0.lat" in errors and "positions.1.client_id" in errors
    assert client.post(f"/a/{fa.token}/positions", json={"positions": []}).status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchPosition)) == 0


# ---------------------------------------------------------------------------------------------
# Sightings


def _sighting_form(**values: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "client_id": "sighting-0001",
        "lat": "36.3341",
        "lon": "138.9470",
        "place_source": "phone",
        "direction": "ne",
        "description": "紺色の上着の男性が北東へ",
        "certainty": "likely",
    }
    form.update(values)
    return form


def test_sighting_with_an_exif_gps_photo_is_stored_without_it(client: FlaskClient, fa: Any) -> None:
    original = jpeg_bytes((80, 60), gps=True)
    assert b"PhoneMakerXYZ" in original
    form = _sighting_form(photo=(io.BytesIO(original), "IMG_0001.jpg"))
    response = client.post(
        f"/a/{fa.token}/sightings", data=form, content_type="multipart/form-data"
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["has_photo"] is True and body["status"] == "new"
    sighting = db.session.scalars(sa.select(Sighting)).one()
    assert sighting.photo is not None and b"PhoneMakerXYZ" not in sighting.photo
    stored = Image.open(io.BytesIO(sighting.photo))
    assert stored.format == "JPEG" and stored.size == (80, 60)
    assert not stored.getexif() and not stored.getexif().get_ifd(0x8825)
    assert sighting.direction.value == "ne" and sighting.certainty.value == "likely"
    assert sighting.reporter_supporter_id == fa.recipients[0].supporter_id
    assert abs((sighting.seen_at - utcnow()).total_seconds()) < 60  # time defaults to now
    # The phone retries the same report: stored once.
    form = _sighting_form(photo=(io.BytesIO(original), "IMG_0001.jpg"))
    again = client.post(f"/a/{fa.token}/sightings", data=form, content_type="multipart/form-data")
    assert again.status_code == 200 and again.get_json()["id"] == body["id"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Sighting)) == 1
    assert (
        db.session.scalar(sa.select(AlertEvent.kind).where(AlertEvent.kind == "sighting"))
        == "sighting"
    )


def test_bad_sighting_gets_field_errors_and_stores_nothing(client: FlaskClient, fa: Any) -> None:
    form = _sighting_form(
        lat="",
        lon="",
        certainty="perhaps",
        direction="up",
        seen_at=(utcnow() + timedelta(hours=2)).isoformat(),
        photo=(io.BytesIO(b"not a photo at all"), "x.jpg"),
    )
    response = client.post(
        f"/a/{fa.token}/sightings", data=form, content_type="multipart/form-data"
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {"place", "certainty", "direction", "seen_at", "photo"} <= set(errors)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Sighting)) == 0


# ---------------------------------------------------------------------------------------------
# After the all-clear


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        (AlertStatus.found, "見つかりました。ご協力ありがとうございました。"),
        (AlertStatus.cancelled, "捜索は終了しました。"),
    ],
)
def test_after_close_nothing_personal_is_left(
    client: FlaskClient, fa: Any, outcome: AlertStatus, message: str
) -> None:
    token = fa.token
    photo_url = f"/a/{token}/photos/{fa.photo.id}"
    _ack(client, token, "searching")
    client.post(f"/a/{token}/sector", json={"cell": _cells(fa)[0]})
    close_alert(fa.alert, outcome=outcome, actor="test")
    db.session.commit()
    page = client.get(f"/a/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and message in html
    for text in [
        *PERSONAL,
        "82歳",
        PHONE,
        photo_url,
        "/photos/",
        "tel:",
        "alert-config",
        str(round(fa.alert.last_seen_lat, 4)),
    ]:
        assert text not in html, text
    assert client.get(photo_url).status_code == 410
    state = client.get(f"/a/{token}/state").get_json()
    assert state == {
        "status": outcome.value,
        "closed": True,
        "message": message,
        "is_exercise": False,
    }
    posts = [
        ("ack", {"answer": "cannot"}),
        ("sector", {"cell": _cells(fa)[1]}),
        ("positions", {"positions": _positions(1)}),
    ]
    for path, body in posts:
        response = client.post(f"/a/{token}/{path}", json=body)
        assert response.status_code == 410, path
        text = response.get_data(as_text=True)
        assert message in response.get_json()["message"]
        assert not any(p in text for p in PERSONAL)
    response = client.post(
        f"/a/{token}/sightings", data=_sighting_form(), content_type="multipart/form-data"
    )
    assert response.status_code == 410
    # Opening the closed link is not a view of personal details.
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "view_alert_link")
        )
        == 0
    )


def test_two_searchers_tapping_the_same_sector_at_once_one_gets_it(
    live_server: Any, district: Any, coordinator: Any, make_supporter: Any
) -> None:
    """Real HTTP, requests in parallel threads: the claim check and insert do not interleave."""
    import json
    import threading
    import urllib.error
    import urllib.request

    fa = start_field_alert(district, coordinator, make_supporter, supporters=4)
    for r in fa.recipients:
        r.answer = Acknowledgement.searching
    db.session.commit()

    def post(token: str, cell: str, results: list[int]) -> None:
        request = urllib.request.Request(
            f"{live_server.url}/a/{token}/sector",
            method="POST",
            data=json.dumps({"action": "take", "cell": cell}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                results.append(response.status)
        except urllib.error.HTTPError as exc:
            results.append(exc.code)

    for cell in _cells(fa)[:4]:
        results: list[int] = []
        threads = [
            threading.Thread(target=post, args=(r.token, cell, results)) for r in fa.recipients
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [201, 409, 409, 409], (cell, results)
        db.session.expire_all()
        holders = db.session.scalars(
            sa.select(SearchSectorClaim.supporter_id).where(
                SearchSectorClaim.cell == cell, SearchSectorClaim.released_at.is_(None)
            )
        ).all()
        assert len(holders) == 1
        # Everyone gives back before the next round, so all four may claim again.
        for r in fa.recipients:
            sectors.release_sector(r)
        db.session.commit()
