"""Landmarks of a district: listed, drawn on the map, added, edited and deleted by its staff."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from watchnet.audit.models import AuditEvent
from watchnet.core.extensions import db
from watchnet.districts.models import Landmark, LandmarkKind
from watchnet.districts.services import add_landmark


@pytest.fixture()
def english_organizer(organizer: Any) -> Any:
    organizer.locale = "en"
    db.session.commit()
    return organizer


@pytest.fixture()
def hall(district: Any) -> Landmark:
    landmark = add_landmark(district, "八幡公民館", LandmarkKind.community_hall, 36.3338, 138.9460)
    db.session.commit()
    return landmark


def landmarks_of(district: Any) -> list[Landmark]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(Landmark).where(Landmark.district_id == district.id).order_by(Landmark.name)
        )
    )


def test_the_landmarks_menu_shows_the_first_district_with_its_landmarks_on_a_map(
    organizer_client, district, hall
):
    response = organizer_client.get("/districts/landmarks")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "八幡地区" in html
    assert "八幡公民館" in html
    assert "L.circleMarker" in html  # drawn on the folium map
    assert "js/landmark_picker.js" in html


def test_an_organizer_of_two_districts_can_switch_between_them(
    app, make_staff, district, other_district, hall
):
    from tests.conftest import login

    both = make_staff([district, other_district], email="both@example.jp")
    client = login(app.test_client(), both)
    html = client.get("/districts/landmarks").get_data(as_text=True)
    assert f"/districts/{other_district.id}/landmarks" in html
    other = client.get(f"/districts/{other_district.id}/landmarks").get_data(as_text=True)
    assert "寺尾地区" in other and "八幡公民館" not in other


def test_adding_a_landmark_saves_it_and_shows_it_in_the_table_with_its_kind(
    app, english_organizer, district
):
    from tests.conftest import login

    client = login(app.test_client(), english_organizer)
    response = client.post(
        f"/districts/{district.id}/landmarks",
        data={
            "name": "八幡小学校",
            "kind": "school",
            "lat": "36.3364",
            "lon": "138.9433",
        },
    )
    assert response.status_code == 302
    [saved] = landmarks_of(district)
    assert (saved.name, saved.kind, saved.lat, saved.lon) == (
        "八幡小学校",
        LandmarkKind.school,
        36.3364,
        138.9433,
    )
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "八幡小学校" in html and "School" in html and "36.33640" in html
    assert (
        db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.subject_type == "landmark"))
        == "landmark.added"
    )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "x" * 101, "kind": "school", "lat": "36.3", "lon": "138.9"}, "name"),
        ({"name": "", "kind": "school", "lat": "36.3", "lon": "138.9"}, "name"),
        ({"name": "駅", "kind": "castle", "lat": "36.3", "lon": "138.9"}, "kind"),
        ({"name": "駅", "kind": "station", "lat": "91", "lon": "138.9"}, "lat"),
        ({"name": "駅", "kind": "station", "lat": "36.3", "lon": "-181"}, "lon"),
        ({"name": "駅", "kind": "station", "lat": "nan", "lon": "138.9"}, "lat"),
        ({"name": "駅", "kind": "station", "lat": "36.3", "lon": "inf"}, "lon"),
        ({"name": "駅", "kind": "station", "lat": "north", "lon": "138.9"}, "lat"),
    ],
)
def test_bad_landmark_input_comes_back_with_a_message_at_the_field_and_saves_nothing(
    organizer_client, district, data, field
):
    response = organizer_client.post(f"/districts/{district.id}/landmarks", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-err"' in html
    assert landmarks_of(district) == []


def test_a_second_landmark_with_the_same_name_in_the_district_is_refused(
    organizer_client, district, hall
):
    response = organizer_client.post(
        f"/districts/{district.id}/landmarks",
        data={"name": "八幡公民館", "kind": "other", "lat": "36.3", "lon": "138.9"},
    )
    assert response.status_code == 422
    assert 'id="name-err"' in response.get_data(as_text=True)
    assert len(landmarks_of(district)) == 1


def test_script_in_a_landmark_name_is_shown_as_text(organizer_client, district):
    organizer_client.post(
        f"/districts/{district.id}/landmarks",
        data={
            "name": "<script>alert(1)</script>`${x}`",
            "kind": "other",
            "lat": "36.3",
            "lon": "138.9",
        },
    )
    html = organizer_client.get(f"/districts/{district.id}/landmarks").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#96;&#36;{x}&#96;" in html  # escaped inside the map's tooltip template literal


def test_editing_a_landmark_moves_and_renames_it(organizer_client, district, hall):
    page = organizer_client.get(f"/districts/landmarks/{hall.id}/edit")
    assert page.status_code == 200 and 'value="八幡公民館"' in page.get_data(as_text=True)
    response = organizer_client.post(
        f"/districts/landmarks/{hall.id}/edit",
        data={"name": "新八幡公民館", "kind": "community_hall", "lat": "36.335", "lon": "138.947"},
    )
    assert response.status_code == 302
    [saved] = landmarks_of(district)
    assert (saved.name, saved.lat, saved.lon) == ("新八幡公民館", 36.335, 138.947)


def test_an_edit_with_a_latitude_out_of_range_changes_nothing(organizer_client, district, hall):
    response = organizer_client.post(
        f"/districts/landmarks/{hall.id}/edit",
        data={"name": "別名", "kind": "park", "lat": "123", "lon": "138.947"},
    )
    assert response.status_code == 422
    assert 'id="lat-err"' in response.get_data(as_text=True)
    [saved] = landmarks_of(district)
    assert (saved.name, saved.kind, saved.lat) == (
        "八幡公民館",
        LandmarkKind.community_hall,
        36.3338,
    )


def test_deleting_a_landmark_removes_it(organizer_client, district, hall):
    response = organizer_client.post(f"/districts/landmarks/{hall.id}/delete")
    assert response.status_code == 302
    assert landmarks_of(district) == []


def test_an_organizer_of_another_district_cannot_see_or_change_its_landmarks(
    outsider_client, district, hall
):
    assert outsider_client.get(f"/districts/{district.id}/landmarks").status_code == 404
    assert (
        outsider_client.post(
            f"/districts/{district.id}/landmarks",
            data={"name": "侵入", "kind": "other", "lat": "36.3", "lon": "138.9"},
        ).status_code
        == 404
    )
    assert (
        outsider_client.post(
            f"/districts/landmarks/{hall.id}/edit",
            data={"name": "侵入", "kind": "other", "lat": "36.3", "lon": "138.9"},
        ).status_code
        == 404
    )
    assert outsider_client.post(f"/districts/landmarks/{hall.id}/delete").status_code == 404
    assert "八幡公民館" not in outsider_client.get("/districts/landmarks").get_data(as_text=True)
    assert [lm.name for lm in landmarks_of(district)] == ["八幡公民館"]


def test_an_anonymous_visitor_is_sent_to_the_login(client, district):
    response = client.get(f"/districts/{district.id}/landmarks")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
