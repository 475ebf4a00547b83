"""The last-seen place as searchers are told it (issue 12, point 1): a landmark with direction
and distance proposed from the point, an address when no landmark is near, and never
「自宅付近」 (whose home?), coordinates or the person's home address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from alert_core_support import alert_input, place_supporter, point_at
from alert_staff_support import (
    CENTRE,
    HALL,
    add_landmarks,
    fake_nominatim,
    make_person,
    start_fields,
)
from flask import Flask
from flask.testing import FlaskClient
from support import login

from watchnet.alerts import places
from watchnet.alerts.models import Alert
from watchnet.alerts.services import start_alert
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.geocoding import forget_failures
from watchnet.notifications.models import Delivery

HOME_ONLY = "誰の家か分からない"  # in the Japanese field message


@pytest.fixture()
def coordinator_client(app: Flask, coordinator: Any) -> FlaskClient:
    return login(app.test_client(), coordinator)


@pytest.fixture()
def near(make_supporter: Callable[..., Any], district: Any) -> Any:
    return place_supporter(make_supporter, district, 500, name="近所 太郎")


def alerts() -> list[Alert]:
    return list(db.session.scalars(sa.select(Alert).order_by(Alert.id)))


def start(client: FlaskClient, district: Any, **values: Any) -> Any:
    return client.post(f"/districts/{district.id}/alerts/new", data=start_fields(**values))


def describe(client: FlaskClient, district: Any, point: tuple[float, float], **args: Any) -> Any:
    query = {"lat": f"{point[0]:.6f}", "lon": f"{point[1]:.6f}", **args}
    return client.get(f"/districts/{district.id}/alerts/describe-place", query_string=query)


# ---------------------------------------------------------------------------------------------
# What a description must not be


@pytest.mark.parametrize(
    "text",
    [
        "自宅付近",
        "自宅",
        " 自宅 付近 ",
        "自宅前",
        "ご自宅の近く",
        "本人宅周辺",
        "家の前",
        "自宅を出てから",
        "（自宅付近）",
        "自宅の周り",
        "near home",
        "Near the house",
        "At home",
    ],
)
def test_home_alone_is_refused_because_a_finder_does_not_know_whose_home(text: str) -> None:
    assert places.place_problem(text) is places.HOME_ONLY_MESSAGE


@pytest.mark.parametrize(
    "text", ["36.3335, 138.9455", "北緯36.3335 東経138.9455", "36.3335/138.9455"]
)
def test_coordinates_alone_are_refused(text: str) -> None:
    assert places.place_problem(text) is places.COORDINATES_MESSAGE


@pytest.mark.parametrize(
    "text",
    [
        "",
        "八幡公民館の北東 約200m",
        "自宅付近（八幡公民館の北東 約200m）",
        "八幡町2丁目の交差点",
        "八幡駅から西へ1.2km",
        "200 m north-east of the community hall",
    ],
)
def test_descriptions_a_finder_can_use_pass(text: str) -> None:
    assert places.place_problem(text, home_address="八幡町1-2-3") is None


@pytest.mark.parametrize("text", ["八幡町1-2-3", "八幡町１－２－３の前", "八幡町 1-2-3 付近"])
def test_the_persons_home_address_is_refused(text: str) -> None:
    assert places.place_problem(text, home_address="八幡町1-2-3") is places.HOME_ADDRESS_MESSAGE


# ---------------------------------------------------------------------------------------------
# Proposing a description


def test_the_proposal_is_the_nearest_landmark_with_direction_and_distance(
    coordinator_client: FlaskClient, district: Any
) -> None:
    add_landmarks(district)
    answer = describe(coordinator_client, district, point_at(300, 45))
    assert answer.status_code == 200
    assert answer.get_json() == {
        "place": "八幡公民館の北東 約310m",
        "source": "landmark",
        "landmark": "八幡公民館",
        "message": "",
    }


def test_near_the_registered_home_the_distance_is_rounded_and_no_address_is_asked(
    app: Flask, coordinator_client: FlaskClient, district: Any
) -> None:
    """At the home itself (61 m from the hall) the proposal says 約100m, not 約60m, so the
    house cannot be picked out from the text, and the geocoder (which would give the home's
    street address) is not asked."""
    add_landmarks(district)
    person = make_person(district)
    with fake_nominatim({}) as geocoder:
        geocoder.reverse_address = {"city": "高崎市", "suburb": "八幡町", "house_number": "1-2-3"}
        app.config["GEOCODER_URL"] = geocoder.url
        forget_failures()
        try:
            answer = describe(coordinator_client, district, CENTRE, person_id=person.id)
            plain = describe(coordinator_client, district, CENTRE)
        finally:
            app.config["GEOCODER_URL"] = None
    assert answer.get_json()["place"] == "八幡公民館の南東 約100m"
    assert plain.get_json()["place"] == "八幡公民館の南東 約60m"
    assert geocoder.reverse_queries == []


def test_far_from_every_landmark_the_street_address_is_proposed(
    app: Flask, coordinator_client: FlaskClient, district: Any
) -> None:
    add_landmarks(district, HALL)
    spot = point_at(1500, 200)
    with fake_nominatim({}) as geocoder:
        geocoder.reverse_address = {"city": "高崎市", "suburb": "八幡町", "neighbourhood": "3丁目"}
        app.config["GEOCODER_URL"] = geocoder.url
        forget_failures()
        try:
            answer = describe(coordinator_client, district, spot)
        finally:
            app.config["GEOCODER_URL"] = None
    assert answer.get_json()["place"] == "高崎市八幡町3丁目"
    assert answer.get_json()["source"] == "address"
    assert len(geocoder.reverse_queries) == 1
    # Without a geocoder (and a point not in its cache), the landmark 1.5 km away is still
    # better than nothing.
    again = describe(coordinator_client, district, point_at(1500, 210)).get_json()
    assert again["place"].startswith("八幡公民館の南西 約1.") and again["source"] == "landmark"


def test_without_landmark_or_address_nothing_is_proposed_and_the_form_says_why(
    coordinator_client: FlaskClient, district: Any
) -> None:
    body = describe(coordinator_client, district, CENTRE).get_json()
    assert body["place"] == "" and body["source"] == "none"
    assert "目印" in body["message"]


def test_a_bad_point_is_refused_field_by_field(
    coordinator_client: FlaskClient, district: Any
) -> None:
    answer = coordinator_client.get(
        f"/districts/{district.id}/alerts/describe-place?lat=nan&lon=139"
    )
    assert answer.status_code == 422
    assert set(answer.get_json()["errors"]) == {"lat", "lon"}


def test_only_the_districts_coordinators_may_ask(
    app: Flask, district: Any, organizer: Any, outsider: Any
) -> None:
    for user in (organizer, outsider):
        client = login(app.test_client(), user)
        assert describe(client, district, CENTRE).status_code in (403, 404)


# ---------------------------------------------------------------------------------------------
# The start form


def test_a_point_without_a_description_gets_the_landmark_description(
    coordinator_client: FlaskClient, district: Any, near: Any
) -> None:
    add_landmarks(district)
    spot = point_at(300, 45)
    fields = {"last_seen_lat": f"{spot[0]:.6f}", "last_seen_lon": f"{spot[1]:.6f}"}
    confirm = start(coordinator_client, district, confirmed="", last_seen_place="", **fields)
    assert confirm.status_code == 200
    assert "八幡公民館の北東 約310m" in confirm.get_data(as_text=True)  # what will be sent
    response = start(coordinator_client, district, last_seen_place="", **fields)
    assert response.status_code == 303
    assert alerts()[-1].last_seen_place == "八幡公民館の北東 約310m"


@pytest.mark.parametrize("text", ["自宅付近", "自宅", "自宅前"])
def test_the_start_form_refuses_home_alone_with_a_field_error(
    coordinator_client: FlaskClient, district: Any, near: Any, text: str
) -> None:
    add_landmarks(district)
    response = start(coordinator_client, district, last_seen_place=text)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="last_seen_place-err"' in html and HOME_ONLY in html
    assert 'aria-describedby="last_seen_place-err"' in html
    assert alerts() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0


def test_the_start_form_refuses_the_home_address(
    coordinator_client: FlaskClient, district: Any, near: Any
) -> None:
    person = make_person(district)
    response = start(
        coordinator_client, district, person_id=person.id, last_seen_place="八幡町1-2-3の前"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="last_seen_place-err"' in html and "自宅の住所" in html
    assert alerts() == []


def test_without_anything_to_propose_the_coordinator_is_asked_to_describe_the_place(
    coordinator_client: FlaskClient, district: Any, near: Any
) -> None:
    response = start(coordinator_client, district, last_seen_place="")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="last_seen_place-err"' in html and "探す人に伝える場所を書いてください" in html
    assert alerts() == []


def test_the_start_form_offers_the_registered_places_but_not_near_home_as_text(
    coordinator_client: FlaskClient, district: Any
) -> None:
    person = make_person(district)
    html = coordinator_client.get(
        f"/districts/{district.id}/alerts/new?person_id={person.id}"
    ).get_data(as_text=True)
    assert 'id="use-home"' in html and "自宅の位置" in html
    assert "八幡神社" in html  # the usual place, as a button
    assert "自宅付近" not in html.replace("「自宅付近」", "")  # only in the hint, as a don't


def test_start_alert_itself_refuses_home_alone_and_fills_an_empty_place(
    district: Any, coordinator: Any
) -> None:
    with pytest.raises(UserInputError) as refused:
        start_alert(district, coordinator, alert_input(last_seen_place="自宅付近"))
    assert refused.value.field == "last_seen"
    add_landmarks(district)
    alert = start_alert(district, coordinator, alert_input(last_seen_place=""))
    assert alert.last_seen_place == "八幡公民館の南東 約60m"
