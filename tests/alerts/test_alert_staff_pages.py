"""The coordinator's alert pages over HTTP: starting an alert (from a registered person or a
description, validation, double submit, consent and photos, the geocoder), the dashboard
(who was told / opened / answered, failures, live state), its actions and who may see it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alert_core_support import place_supporter, point_at
from alert_staff_support import (
    CENTRE,
    PERSON_NAME,
    PHONE,
    USUAL_CLOTHING,
    fake_nominatim,
    make_person,
    start_fields,
)
from flask import Flask
from flask.testing import FlaskClient
from support import login

from watchnet.alerts.models import (
    Acknowledgement,
    Alert,
    AlertRecipient,
    AlertStatus,
    Sighting,
    SightingStatus,
)
from watchnet.alerts.services import acknowledge_alert
from watchnet.audit.models import AuditEvent
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.timefmt import to_local
from watchnet.jobs.alerts import widen_due_alerts
from watchnet.notifications.models import Delivery, DeliveryStatus


@pytest.fixture()
def coordinator_client(app: Flask, coordinator: Any) -> FlaskClient:
    return login(app.test_client(), coordinator)


@pytest.fixture()
def near(make_supporter: Callable[..., Any], district: Any) -> Any:
    """A supporter living 500 m from the last-seen point (inside the first ring)."""
    return place_supporter(
        make_supporter, district, 500, name="近所 太郎", name_kana="きんじょ たろう"
    )


@pytest.fixture()
def far(make_supporter: Callable[..., Any], district: Any) -> Any:
    """A supporter 1.4 km away: outside 1.2 km, inside the next ring (1.6 km)."""
    return place_supporter(
        make_supporter, district, 1400, name="遠方 次郎", name_kana="えんぽう じろう"
    )


def as_json(response: Any) -> dict[str, Any]:
    body = response.get_json()
    assert isinstance(body, dict)
    return body


def alerts() -> list[Alert]:
    return list(db.session.scalars(sa.select(Alert).order_by(Alert.id)))


def start(client: FlaskClient, district: Any, **values: Any) -> Any:
    return client.post(f"/districts/{district.id}/alerts/new", data=start_fields(**values))


def started(client: FlaskClient, district: Any, **values: Any) -> Alert:
    response = start(client, district, **values)
    assert response.status_code == 303, response.get_data(as_text=True)
    alert = alerts()[-1]
    assert response.headers["Location"].endswith(f"/alerts/{alert.id}")
    return alert


# ---------------------------------------------------------------------------------------------
# Starting


def test_start_form_is_prefilled_from_a_registered_person(
    coordinator_client: FlaskClient, district: Any
) -> None:
    person = make_person(district)
    page = coordinator_client.get(f"/districts/{district.id}/alerts/new?person_id={person.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'value="{PERSON_NAME}"' in html
    assert USUAL_CLOTHING in html  # usual clothing as the start for today's clothing
    assert "いっちゃん" in html
    assert 'value="82"' in html  # age from the birth date
    now = to_local(utcnow()).strftime("%Y-%m-%dT%H:")
    assert f'value="{now}' in html  # last seen: now, Japan time
    assert 'name="share_photo"' in html  # the valid consent covers photos
    assert (
        db.session.scalar(
            sa.select(AuditEvent).where(
                AuditEvent.action == "view_person", AuditEvent.subject_id == person.id
            )
        )
        is not None
    )


def test_coordinator_starts_an_alert_for_a_registered_person(
    coordinator_client: FlaskClient, district: Any, near: Any, far: Any
) -> None:
    person = make_person(district)
    alert = started(
        coordinator_client,
        district,
        person_id=person.id,
        display_name=PERSON_NAME,
        clothing_today="赤い帽子",
        share_photo="y",
        police_informed="y",
        police_station="高崎警察署",
        police_case_number="R8-123",
    )
    assert alert.person_id == person.id
    assert alert.display_name == PERSON_NAME
    assert alert.clothing_today == "赤い帽子"
    assert alert.share_photo is True
    assert alert.police_station == "高崎警察署" and alert.police_case_number == "R8-123"
    assert alert.contact_phone == PHONE
    assert (alert.last_seen_lat, alert.last_seen_lon) == pytest.approx(CENTRE)
    told = set(
        db.session.scalars(
            sa.select(AlertRecipient.supporter_id).where(AlertRecipient.alert_id == alert.id)
        )
    )
    assert told == {near.id}
    dashboard = coordinator_client.get(f"/alerts/{alert.id}")
    assert dashboard.status_code == 200
    assert "近所 太郎" in dashboard.get_data(as_text=True)


def test_coordinator_starts_an_alert_from_a_description_alone(
    coordinator_client: FlaskClient, district: Any, near: Any
) -> None:
    alert = started(
        coordinator_client,
        district,
        display_name="",
        clothing_today="緑のカーディガン",
        alert_mode="exercise",
        age="79",
    )
    assert alert.person_id is None
    assert alert.clothing_today == "緑のカーディガン"
    assert alert.age == 79
    assert alert.is_exercise is True
    html = coordinator_client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "訓練" in html and 'id="exercise-banner"' in html


def test_start_form_remembers_the_number_used_last_time(
    coordinator_client: FlaskClient, district: Any
) -> None:
    started(coordinator_client, district, contact_phone="0270-99-8888", contact_label="本部")
    html = coordinator_client.get(f"/districts/{district.id}/alerts/new").get_data(as_text=True)
    assert 'value="0270-99-8888"' in html and 'value="本部"' in html


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"contact_phone": ""}, "contact_phone", "このフィールドは必須です"),
        ({"contact_phone": "12345"}, "contact_phone", "電話番号"),
        (
            {"last_seen_lat": "", "last_seen_lon": "", "last_seen_place": ""},
            "last_seen_place",
            "地図",
        ),
        (
            {"clothing_today": "", "display_name": "", "features": "", "hair": ""},
            "clothing_today",
            "服装",
        ),
        ({"last_seen_at": ""}, "last_seen_at", ""),
        ({"police_case_number": "R8-1"}, "police_station", "警察"),
        # 訓練 or 本番 has no default: not choosing (or sending something else) is refused.
        ({"alert_mode": None}, "alert_mode", "最初に「訓練」か「本番」かを選んでください。"),
        ({"alert_mode": ""}, "alert_mode", "最初に「訓練」か「本番」かを選んでください。"),
        ({"alert_mode": "y"}, "alert_mode", "最初に「訓練」か「本番」かを選んでください。"),
        ({"alert_mode": None, "is_exercise": "y"}, "alert_mode", "「訓練」か「本番」か"),
    ],
)
def test_invalid_start_is_refused_field_by_field_and_nothing_is_written(
    coordinator_client: FlaskClient,
    district: Any,
    near: Any,
    values: dict[str, Any],
    field: str,
    message: str,
) -> None:
    response = start(coordinator_client, district, **values)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-err"' in html
    assert message in html
    assert "まだ何も保存されていません" in html or "Nothing has been saved" in html
    assert alerts() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0


def test_a_refused_choice_keeps_what_was_typed(
    coordinator_client: FlaskClient, district: Any
) -> None:
    html = start(
        coordinator_client,
        district,
        alert_mode=None,
        clothing_today="黄色い雨がっぱ",
        last_seen_place="八幡神社の鳥居",
    ).get_data(as_text=True)
    assert "黄色い雨がっぱ" in html and 'value="八幡神社の鳥居"' in html
    assert 'name="alert_mode" id="alert_mode-exercise" value="exercise" required>' in html
    assert 'name="alert_mode" id="alert_mode-real" value="real" required>' in html  # unticked


@pytest.mark.parametrize(
    ("mode", "heading", "button"),
    [
        ("exercise", "訓練の捜索依頼を2名に送ります", "訓練として送る"),
        ("real", "本番の捜索依頼を2名に送ります", "本番の捜索依頼を送る"),
    ],
)
def test_the_confirmation_names_the_choice_and_how_many_before_anything_is_sent(
    coordinator_client: FlaskClient,
    district: Any,
    near: Any,
    make_supporter: Any,
    mode: str,
    heading: str,
    button: str,
) -> None:
    place_supporter(make_supporter, district, 900)
    place_supporter(make_supporter, district, 1400)  # outside the first ring: not counted
    response = start(
        coordinator_client, district, alert_mode=mode, confirmed=None, client_key="k-confirm"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert heading in html and button in html
    assert 'id="confirm-place">八幡公民館の前<' in html and "1.2 km" in html
    assert (
        alerts() == [] and db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0
    )
    # Every value travels on as hidden fields; "send" starts exactly that alert.
    assert '<input type="hidden" name="client_key" value="k-confirm">' in html
    assert f'<input type="hidden" name="alert_mode" value="{mode}">' in html
    alert = started(coordinator_client, district, alert_mode=mode, client_key="k-confirm")
    assert alert.is_exercise is (mode == "exercise")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AlertRecipient)) == 2


def test_back_from_the_confirmation_keeps_the_form_and_sends_nothing(
    coordinator_client: FlaskClient, district: Any, near: Any
) -> None:
    response = start(
        coordinator_client,
        district,
        alert_mode="real",
        confirmed=None,
        back="1",
        clothing_today="黄色い雨がっぱ",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="start-form"' in html
    assert 'id="alert_mode-real" value="real" required checked>' in html
    assert "黄色い雨がっぱ" in html
    assert alerts() == []


def test_a_last_seen_time_in_the_future_is_refused(
    coordinator_client: FlaskClient, district: Any
) -> None:
    later = (to_local(utcnow()) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = start(coordinator_client, district, last_seen_at=later)
    assert response.status_code == 422
    assert 'id="last_seen_at-err"' in response.get_data(as_text=True)
    assert alerts() == []


def test_full_width_phone_numbers_are_accepted(
    coordinator_client: FlaskClient, district: Any
) -> None:
    alert = started(coordinator_client, district, contact_phone="０９０ー１２３４ー５６７８")
    assert alert.contact_phone == "090-1234-5678"


def test_a_double_submit_starts_one_alert(
    coordinator_client: FlaskClient, district: Any, near: Any
) -> None:
    first = start(coordinator_client, district, client_key="k-123")
    second = start(coordinator_client, district, client_key="k-123")
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(alerts()) == 1
    recipients = db.session.scalar(sa.select(sa.func.count()).select_from(AlertRecipient))
    assert recipients == 1


def test_an_expired_consent_warns_but_the_alert_starts_without_photos(
    coordinator_client: FlaskClient, district: Any
) -> None:
    person = make_person(district, consent="expired")
    html = coordinator_client.get(
        f"/districts/{district.id}/alerts/new?person_id={person.id}"
    ).get_data(as_text=True)
    assert 'id="consent-warning"' in html
    assert 'name="share_photo"' not in html
    alert = started(coordinator_client, district, person_id=person.id, share_photo="y")
    assert alert.share_photo is False


def test_a_consent_without_the_photo_scope_shares_no_photo(
    coordinator_client: FlaskClient, district: Any
) -> None:
    person = make_person(district, scopes=("share_with_supporters",))
    alert = started(coordinator_client, district, person_id=person.id, share_photo="y")
    assert alert.share_photo is False


def test_a_person_of_another_district_cannot_be_used(
    coordinator_client: FlaskClient, district: Any, other_district: Any
) -> None:
    stranger = make_person(other_district)
    assert (
        coordinator_client.get(
            f"/districts/{district.id}/alerts/new?person_id={stranger.id}"
        ).status_code
        == 404
    )
    assert start(coordinator_client, district, person_id=stranger.id).status_code == 404
    assert alerts() == []


def test_an_address_is_found_through_the_geocoder(
    app: Flask, coordinator_client: FlaskClient, district: Any
) -> None:
    spot = point_at(300, 45)
    with fake_nominatim({"八幡町2丁目": spot}) as geocoder:
        app.config["GEOCODER_URL"] = geocoder.url
        try:
            found = coordinator_client.get(f"/districts/{district.id}/alerts/geocode?q=八幡町2丁目")
            assert found.status_code == 200
            assert (as_json(found)["lat"], as_json(found)["lon"]) == pytest.approx(spot)
            missing = coordinator_client.get(f"/districts/{district.id}/alerts/geocode?q=月面")
            assert missing.status_code == 404
            assert "見つかりません" in as_json(missing)["errors"]["last_seen_place"][0]
            # Without a map click the typed address is looked up when the form is sent.
            alert = started(
                coordinator_client,
                district,
                last_seen_lat="",
                last_seen_lon="",
                last_seen_place="八幡町2丁目",
            )
            assert (alert.last_seen_lat, alert.last_seen_lon) == pytest.approx(spot)
        finally:
            app.config["GEOCODER_URL"] = None


def test_an_unreachable_geocoder_says_so_and_nothing_starts(
    app: Flask, coordinator_client: FlaskClient, district: Any
) -> None:
    from support import free_port

    app.config.update(GEOCODER_URL=f"http://127.0.0.1:{free_port()}", GEOCODER_TIMEOUT_S=1.0)
    try:
        answer = coordinator_client.get(f"/districts/{district.id}/alerts/geocode?q=八幡町")
        assert answer.status_code == 503
        assert "地図" in as_json(answer)["errors"]["last_seen_place"][0]
        response = start(
            coordinator_client,
            district,
            last_seen_lat="",
            last_seen_lon="",
            last_seen_place="八幡町",
        )
        assert response.status_code == 422
        assert 'id="last_seen_place-err"' in response.get_data(as_text=True)
        assert alerts() == []
    finally:
        app.config.update(GEOCODER_URL=None, GEOCODER_TIMEOUT_S=2.0)


# ---------------------------------------------------------------------------------------------
# The dashboard


def test_dashboard_shows_rings_with_their_statistics_and_records_the_view(
    coordinator_client: FlaskClient, district: Any, coordinator: Any
) -> None:
    alert = started(coordinator_client, district)
    html = coordinator_client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "1.2 km：グランピアン警察の調査" in html and "9.5 km" in html
    assert 'id="ring-list"' in html and 'class="current"' in html
    assert "wn-ring-current" in html  # the current ring drawn bold on the map
    assert "/vendor/leaflet/leaflet.js" in html and "unpkg" not in html
    views = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "view_alert", AuditEvent.subject_id == alert.id
        )
    ).all()
    assert [v.actor for v in views] == [f"staff:{coordinator.id}"]


def test_dashboard_shows_who_opened_and_who_answered(
    coordinator_client: FlaskClient, district: Any, near: Any, make_supporter: Callable[..., Any]
) -> None:
    other = place_supporter(
        make_supporter, district, 800, 180, name="南 三郎", name_kana="みなみ さぶろう"
    )
    alert = started(coordinator_client, district)
    state = as_json(coordinator_client.get(f"/alerts/{alert.id}/state"))
    assert state["summary"]["told"] == 2 and state["summary"]["searching"] == 0
    version = state["version"]
    assert as_json(coordinator_client.get(f"/alerts/{alert.id}/state?v={version}")) == {
        "version": version,
        "unchanged": True,
    }

    recipient = db.session.scalars(
        sa.select(AlertRecipient).where(AlertRecipient.supporter_id == near.id)
    ).one()
    acknowledge_alert(recipient, Acknowledgement.searching)
    db.session.commit()

    state = as_json(coordinator_client.get(f"/alerts/{alert.id}/state?v={version}"))
    assert state["version"] != version
    assert state["summary"]["searching"] == 1 and state["summary"]["opened"] == 1
    rows = {r["name"]: r for r in state["recipients"]}
    assert rows["近所 太郎"]["answer"] == "searching" and rows["近所 太郎"]["opened_at"]
    assert rows[other.name]["answer"] is None
    html = coordinator_client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    row = html[html.index(f'data-supporter-id="{near.id}"') :]
    row = row[: row.index("</tr>")]
    assert "捜索に参加" in row
    assert "近所 太郎: 捜索に参加します" in html or "近所 太郎" in html


def test_dashboard_lists_failed_deliveries_with_their_reason(
    coordinator_client: FlaskClient, district: Any, near: Any
) -> None:
    alert = started(coordinator_client, district)
    delivery = db.session.scalars(
        sa.select(Delivery).where(Delivery.topic == "alert", Delivery.topic_id == alert.id)
    ).first()
    assert delivery is not None
    delivery.status = DeliveryStatus.failed
    delivery.last_error = "550 5.1.1 mailbox unavailable"
    db.session.commit()
    html = coordinator_client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "550 5.1.1 mailbox unavailable" in html
    assert 'id="count-failed">1<' in html


def test_widen_now_reaches_the_next_ring_only(
    coordinator_client: FlaskClient,
    district: Any,
    near: Any,
    far: Any,
    make_supporter: Callable[..., Any],
) -> None:
    outer = place_supporter(
        make_supporter, district, 3000, 270, name="外 四郎", name_kana="そと しろう"
    )
    alert = started(coordinator_client, district)
    response = coordinator_client.post(f"/alerts/{alert.id}/widen")
    assert response.status_code == 303
    db.session.refresh(alert)
    assert alert.radius_m == 1600
    told = set(
        db.session.scalars(
            sa.select(AlertRecipient.supporter_id).where(AlertRecipient.alert_id == alert.id)
        )
    )
    assert told == {near.id, far.id}
    assert outer.id not in told
    # The schedule is not paused: the page names the next ring, not the one already reached,
    # and the scheduler still brings it at its time.
    assert alert.radius_override_m is None
    page = coordinator_client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "次の拡大：最終目撃から 90 分後に 5.0 km" in page
    assert "今すぐ 5.0 km に広げる" in page
    alert.last_seen_at -= timedelta(minutes=95)
    db.session.commit()
    assert widen_due_alerts() == 1
    assert outer.id in set(
        db.session.scalars(
            sa.select(AlertRecipient.supporter_id).where(AlertRecipient.alert_id == alert.id)
        )
    )


def test_override_radius_and_clear_it(
    coordinator_client: FlaskClient, district: Any, near: Any, far: Any
) -> None:
    alert = started(coordinator_client, district)
    bad = coordinator_client.post(f"/alerts/{alert.id}/radius", data={"radius_km": "900"})
    assert bad.status_code == 422
    assert 'id="radius_km-err"' in bad.get_data(as_text=True)
    ok = coordinator_client.post(f"/alerts/{alert.id}/radius", data={"radius_km": "2.5"})
    assert ok.status_code == 303
    db.session.refresh(alert)
    assert alert.radius_override_m == 2500 and alert.radius_m == 2500
    cleared = coordinator_client.post(f"/alerts/{alert.id}/radius", data={"clear": "1"})
    assert cleared.status_code == 303
    db.session.refresh(alert)
    assert alert.radius_override_m is None


def test_remind_now_reminds_those_who_have_not_answered(
    coordinator_client: FlaskClient, district: Any, near: Any
) -> None:
    alert = started(coordinator_client, district)
    response = coordinator_client.post(f"/alerts/{alert.id}/remind", follow_redirects=True)
    assert "1" in response.get_data(as_text=True)
    reminded = db.session.scalar(
        sa.select(AlertRecipient.reminded_at).where(AlertRecipient.supporter_id == near.id)
    )
    assert reminded is not None


def _sighting(alert: Alert, supporter: Any, distance_m: float = 900) -> Sighting:
    lat, lon = point_at(distance_m, 0)
    sighting = Sighting(
        alert_id=alert.id,
        client_id=f"c-{distance_m}",
        seen_at=utcnow(),
        lat=lat,
        lon=lon,
        description="公園のベンチに座っていた",
        reporter_supporter_id=supporter.id,
    )
    db.session.add(sighting)
    db.session.commit()
    return sighting


def test_review_a_sighting_and_make_it_the_new_last_seen_point(
    coordinator_client: FlaskClient, district: Any, near: Any
) -> None:
    alert = started(coordinator_client, district)
    doubtful = _sighting(alert, near, 300)
    confirmed = _sighting(alert, near, 900)
    html = coordinator_client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "公園のベンチに座っていた" in html
    refused = coordinator_client.post(
        f"/alerts/{alert.id}/sightings/{doubtful.id}/review",
        data={"status": "doubtful", "recentre": "y"},
    )
    assert refused.status_code == 422
    db.session.refresh(doubtful)
    assert doubtful.status == SightingStatus.new
    assert (
        coordinator_client.post(
            f"/alerts/{alert.id}/sightings/{doubtful.id}/review", data={"status": "doubtful"}
        ).status_code
        == 303
    )
    assert (
        coordinator_client.post(
            f"/alerts/{alert.id}/sightings/{confirmed.id}/review",
            data={"status": "confirmed", "recentre": "y"},
        ).status_code
        == 303
    )
    db.session.refresh(alert)
    db.session.refresh(doubtful)
    db.session.refresh(confirmed)
    assert doubtful.status == SightingStatus.doubtful
    assert confirmed.status == SightingStatus.confirmed and confirmed.recentred
    assert (alert.last_seen_lat, alert.last_seen_lon) == pytest.approx(point_at(900, 0))
    assert alert.revision == 2


def test_close_needs_a_confirmation_then_ends_the_search(
    coordinator_client: FlaskClient, district: Any, near: Any
) -> None:
    alert = started(coordinator_client, district)
    page = coordinator_client.get(f"/alerts/{alert.id}/close")
    assert page.status_code == 200 and 'name="confirm"' in page.get_data(as_text=True)
    unconfirmed = coordinator_client.post(
        f"/alerts/{alert.id}/close",
        data={"outcome": "found", "found_place": "八幡神社の境内", "found_condition": "けがなし"},
    )
    assert unconfirmed.status_code == 422
    assert 'id="confirm-err"' in unconfirmed.get_data(as_text=True)
    db.session.refresh(alert)
    assert alert.status == AlertStatus.active
    nowhere = coordinator_client.post(
        f"/alerts/{alert.id}/close", data={"outcome": "found", "confirm": "y"}
    )
    assert nowhere.status_code == 422
    assert 'id="found_place-err"' in nowhere.get_data(as_text=True)

    lat, lon = point_at(600, 0)
    done = coordinator_client.post(
        f"/alerts/{alert.id}/close",
        data={
            "outcome": "found",
            "found_place": "八幡神社の境内",
            "found_condition": "けがなし",
            "found_lat": f"{lat:.6f}",
            "found_lon": f"{lon:.6f}",
            "confirm": "y",
        },
    )
    assert done.status_code == 303
    db.session.refresh(alert)
    assert alert.status == AlertStatus.found
    assert alert.found_place == "八幡神社の境内" and alert.found_condition == "けがなし"
    all_clear = db.session.scalars(
        sa.select(Delivery.dedupe_key).where(
            Delivery.topic == "alert", Delivery.topic_id == alert.id
        )
    ).all()
    assert any("closed" in key for key in all_clear)
    html = coordinator_client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert 'id="closed-note"' in html and 'id="actions"' not in html
    # Actions on a closed alert change nothing.
    assert coordinator_client.post(f"/alerts/{alert.id}/widen").status_code == 303
    db.session.refresh(alert)
    assert alert.radius_override_m is None


def test_an_alert_can_be_cancelled(coordinator_client: FlaskClient, district: Any) -> None:
    alert = started(coordinator_client, district)
    done = coordinator_client.post(
        f"/alerts/{alert.id}/close",
        data={"outcome": "cancelled", "confirm": "y", "note": "家族が自宅で見つけた"},
    )
    assert done.status_code == 303
    db.session.refresh(alert)
    assert alert.status == AlertStatus.cancelled and alert.close_note == "家族が自宅で見つけた"


# ---------------------------------------------------------------------------------------------
# The list and access


def test_list_shows_active_alerts_first_and_names_only_to_coordinators(
    app: Flask, coordinator_client: FlaskClient, organizer: Any, district: Any
) -> None:
    closed = started(coordinator_client, district, display_name="古い 件")
    coordinator_client.post(
        f"/alerts/{closed.id}/close", data={"outcome": "cancelled", "confirm": "y"}
    )
    active = started(coordinator_client, district, display_name="新しい 件")
    html = coordinator_client.get(f"/districts/{district.id}/alerts").get_data(as_text=True)
    assert html.index(f'data-alert-id="{active.id}"') < html.index(f'data-alert-id="{closed.id}"')
    assert "新しい 件" in html and "古い 件" in html
    organizer_view = login(app.test_client(), organizer).get(f"/districts/{district.id}/alerts")
    assert organizer_view.status_code == 200
    text = organizer_view.get_data(as_text=True)
    assert f'data-alert-id="{active.id}"' in text
    assert "新しい 件" not in text and f"/alerts/{active.id}" not in text


def test_the_menu_links_coordinators_to_their_alerts(
    coordinator_client: FlaskClient, district: Any, app: Flask, organizer: Any
) -> None:
    html = coordinator_client.get(f"/districts/{district.id}/alerts").get_data(as_text=True)
    assert 'id="nav-alerts"' in html and "捜索依頼 (SOS)" in html
    assert (
        coordinator_client.get("/alerts")
        .headers["Location"]
        .endswith(f"/districts/{district.id}/alerts")
    )
    organizer_html = login(app.test_client(), organizer).get("/drills/").get_data(as_text=True)
    assert 'id="nav-alerts"' not in organizer_html


ROUTES = [
    ("get", "/districts/{district}/alerts/new"),
    ("post", "/districts/{district}/alerts/new"),
    ("get", "/districts/{district}/alerts/geocode?q=x"),
    ("get", "/alerts/{alert}"),
    ("get", "/alerts/{alert}/state"),
    ("post", "/alerts/{alert}/widen"),
    ("post", "/alerts/{alert}/radius"),
    ("post", "/alerts/{alert}/remind"),
    ("post", "/alerts/{alert}/sightings/{sighting}/review"),
    ("get", "/alerts/{alert}/sightings/{sighting}/photo"),
    ("get", "/alerts/{alert}/close"),
    ("post", "/alerts/{alert}/close"),
]


@pytest.mark.parametrize("who", ["organizer", "other_coordinator", "supporter", "anonymous"])
def test_nobody_but_the_districts_coordinators_reaches_an_alert(
    app: Flask,
    coordinator_client: FlaskClient,
    district: Any,
    other_district: Any,
    organizer: Any,
    supporter: Any,
    make_staff: Callable[..., Any],
    near: Any,
    who: str,
) -> None:
    from support import signin_supporter

    alert = started(coordinator_client, district, display_name=PERSON_NAME)
    sighting = _sighting(alert, near)
    sighting.photo = b"\xff\xd8\xff\xe0 not really"
    db.session.commit()
    client = app.test_client()
    if who == "organizer":
        login(client, organizer)
    elif who == "other_coordinator":
        login(client, make_staff([other_district], role="coordinator"))
    elif who == "supporter":
        signin_supporter(client, supporter)
    expected = {"organizer": 403, "other_coordinator": 404, "supporter": 403, "anonymous": 302}[who]
    for method, template in ROUTES:
        url = template.format(district=district.id, alert=alert.id, sighting=sighting.id)
        response = getattr(client, method)(
            url, data={"confirm": "y", "outcome": "found", "radius_km": "5", "status": "doubtful"}
        )
        assert response.status_code == expected, (who, method, url)
        assert PERSON_NAME not in response.get_data(as_text=True)
    list_response = client.get(f"/districts/{district.id}/alerts")
    if who == "organizer":
        assert list_response.status_code == 200
    else:
        assert list_response.status_code == expected
    assert PERSON_NAME not in list_response.get_data(as_text=True)
    db.session.refresh(alert)
    db.session.refresh(sighting)
    assert alert.status == AlertStatus.active and alert.radius_override_m is None
    assert sighting.status == SightingStatus.new
    assert len(alerts()) == 1
