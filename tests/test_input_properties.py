"""Property-based tests (Hypothesis): no input to a form or a JSON route gives a 5xx, and a
refused input leaves no row.

The generated values are what an outside tester tries: dates of any year (1 to 9999), NaN,
±Infinity and huge numbers, numbers sent as strings, text with NUL, control, bidirectional and
invisible characters. Runs are kept small (see SETTINGS) so the module stays under ~40 s.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchnet.alerts.models import Alert
from watchnet.auth.services import issue_api_token
from watchnet.core.extensions import db
from watchnet.core.validation import BIDI, INVISIBLE
from watchnet.districts.models import Landmark
from watchnet.drills.models import Checkpoint, Drill
from watchnet.people.models import Supporter
from watchnet.registry.models import AtRiskPerson, Consent

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NASTY = "\x00\x01\x1f\x7f\u0085\t\n\r" + INVISIBLE + BIDI
texts = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(NASTY)), max_size=300
)
any_dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
date_strings = st.one_of(
    any_dates.map(date.isoformat),
    texts,
    st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", ""]),
)
any_datetimes = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
datetime_strings = st.one_of(
    any_datetimes.map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
    any_datetimes.map(lambda d: d.isoformat() + "+09:00"),
    st.sampled_from(
        [
            "0001-01-01T00:00",
            "9999-12-31T23:59",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-12:00",
        ]
    ),
    texts,
)
special_numbers = st.sampled_from(
    [
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "1e400",
        "-1e400",
        "1e308",
        "99999999999999999999",
        "-0",
        "0x10",
        "1,5",
        "",
    ]
)
number_strings = st.one_of(special_numbers, st.floats().map(repr), st.integers().map(str), texts)
# JSON values where a number is due: NaN and ±Infinity are sent as the non-standard JSON
# tokens some clients write (Python's json does), huge numbers, numbers as strings, booleans.
json_numbers = st.one_of(
    st.floats(),
    st.integers(min_value=-(10**30), max_value=10**30),
    special_numbers,
    st.booleans(),
    st.none(),
)
json_scalars = st.one_of(json_numbers, texts, st.lists(st.integers(), max_size=3))


def count(model: Any) -> int:
    db.session.expire_all()
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def check(
    response: Any, model: Any, before: int, ok: tuple[int, ...] = (200, 201, 302, 303)
) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:2000]
    if response.status_code not in ok:
        assert count(model) == before, "a refused input left a row"


def post_json(
    client: Any, url: str, body: Any, headers: dict[str, str] | None = None, method: str = "post"
) -> Any:
    import json

    raw = json.dumps(body, allow_nan=True)  # NaN/Infinity as clients that allow them write
    return client.open(
        url, method=method.upper(), data=raw, headers=headers or {}, content_type="application/json"
    )


@pytest.fixture()
def api_auth(organizer: Any) -> dict[str, str]:
    _token, raw = issue_api_token(organizer, "hypothesis")
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


# ---------------------------------------------------------------------------------------------
# Forms


@pytest.fixture()
def coordinator_client(app: Any, coordinator: Any) -> Any:
    from support import login

    return login(app.test_client(), coordinator)


@SETTINGS
@given(
    title=texts,
    day=date_strings,
    start=st.one_of(st.sampled_from(["09:30", "23:30", ""]), texts),
    end=st.one_of(st.sampled_from(["10:30", "00:30", ""]), texts),
    phone=texts,
    place=texts,
)
def test_drill_plan_form_never_fails(
    organizer_client, district, title, day, start, end, phone, place
):
    before = count(Drill)
    response = organizer_client.post(
        "/drills/new",
        data={
            "title": title,
            "district_id": district.id,
            "date": day,
            "start_time": start,
            "end_time": end,
            "meeting_place": place,
            "contact_phone": phone,
            "purpose": title,
            "background": place,
            "status": "planned",
        },
    )
    check(response, Drill, before)


@SETTINGS
@given(
    name=texts,
    kana=texts,
    phone=texts,
    lat=number_strings,
    lon=number_strings,
    email=st.one_of(st.just(""), texts),
    note=texts,
)
def test_supporter_form_never_fails(
    organizer_client, district, name, kana, phone, lat, lon, email, note
):
    before = count(Supporter)
    response = organizer_client.post(
        "/supporters/new",
        data={
            "name": name,
            "name_kana": kana,
            "kind": "community_supporter",
            "district_id": district.id,
            "email": email,
            "phone": phone,
            "home_lat": lat,
            "home_lon": lon,
            "note": note,
        },
    )
    check(response, Supporter, before)


@SETTINGS
@given(
    name=texts,
    kana=texts,
    birth=date_strings,
    height=number_strings,
    lat=number_strings,
    lon=number_strings,
    given_on=date_strings,
    renew_by=date_strings,
    phone=texts,
    place_lat=number_strings,
)
def test_at_risk_person_form_never_fails(
    coordinator_client,
    district,
    name,
    kana,
    birth,
    height,
    lat,
    lon,
    given_on,
    renew_by,
    phone,
    place_lat,
):
    before = count(AtRiskPerson)
    response = coordinator_client.post(
        f"/districts/{district.id}/registry/new",
        data={
            "name": name,
            "name_kana": kana,
            "birth_date": birth,
            "sex": "unknown",
            "height_cm": height,
            "build": "unknown",
            "walking_ability": "independent",
            "home_lat": lat,
            "home_lon": lon,
            "care_manager_phone": phone,
            "contacts-0-name": name,
            "contacts-0-phone": phone,
            "contacts-0-relation": kana,
            "places-0-name": name,
            "places-0-lat": place_lat,
            "places-0-lon": "138.9",
            "consent-given_by_name": name,
            "consent-given_on": given_on,
            "consent-renew_by": renew_by,
            "consent-scopes": ["share_with_supporters"],
        },
    )
    check(response, AtRiskPerson, before)


@pytest.fixture()
def person(district: Any, organizer: Any) -> AtRiskPerson:
    from watchnet.registry.services import ConsentFields, PersonFields, register_person

    person = register_person(
        district,
        PersonFields(name="見守 一郎", name_kana="みまもり いちろう"),
        contacts=[],
        places=[],
        consent=ConsentFields(
            given_by_name="家族",
            given_by_relation="長男",
            given_on=date(2026, 1, 5),
            renew_by=date(2027, 1, 5),
            scopes=(),
            note="",
        ),
        photos=[],
        actor=organizer,
    )
    db.session.commit()
    return person


@SETTINGS
@given(given_by=texts, given_on=date_strings, renew_by=date_strings, note=texts)
def test_consent_form_never_fails(coordinator_client, person, given_by, given_on, renew_by, note):
    before = count(Consent)
    response = coordinator_client.post(
        f"/registry/{person.id}/consents/new",
        data={
            "consent-given_by_name": given_by,
            "consent-given_on": given_on,
            "consent-renew_by": renew_by,
            "consent-scopes": ["share_with_supporters"],
            "consent-note": note,
        },
    )
    check(response, Consent, before)


@SETTINGS
@given(
    seen=datetime_strings,
    lat=number_strings,
    lon=number_strings,
    name=texts,
    clothing=texts,
    phone=st.one_of(st.just("0270-20-1234"), texts),
    age=number_strings,
    person_id=st.one_of(st.just(""), number_strings),
    exercise=st.sampled_from(["y", "", "drill", "real", "exercise"]),
)
def test_alert_start_form_never_fails(
    coordinator_client, district, seen, lat, lon, name, clothing, phone, age, person_id, exercise
):
    before = count(Alert)
    response = coordinator_client.post(
        f"/districts/{district.id}/alerts/new",
        data={
            "person_id": person_id,
            "display_name": name,
            "clothing_today": clothing,
            "last_seen_at": seen,
            "last_seen_lat": lat,
            "last_seen_lon": lon,
            "last_seen_place": name,
            "contact_phone": phone,
            "age": age,
            "is_exercise": exercise,
            "exercise": exercise,
            "sex": "unknown",
            "build": "unknown",
        },
    )
    check(response, Alert, before)


@SETTINGS
@given(name=texts, lat=number_strings, lon=number_strings)
def test_landmark_form_never_fails(organizer_client, district, name, lat, lon):
    before = count(Landmark)
    response = organizer_client.post(
        f"/districts/{district.id}/landmarks",
        data={"name": name, "kind": "other", "lat": lat, "lon": lon},
    )
    check(response, Landmark, before)


# ---------------------------------------------------------------------------------------------
# The JSON API


@SETTINGS
@given(
    title=st.one_of(texts, json_scalars),
    starts=st.one_of(datetime_strings, json_scalars),
    ends=st.one_of(datetime_strings, json_scalars, st.none()),
    district_id=st.one_of(st.just("own"), json_numbers),
    phone=st.one_of(texts, json_scalars),
)
def test_api_drill_create_never_fails(
    client, api_auth, district, title, starts, ends, district_id, phone
):
    before = count(Drill)
    body = {
        "district_id": district.id if district_id == "own" else district_id,
        "title": title,
        "starts_at": starts,
        "ends_at": ends,
        "contact_phone": phone,
    }
    response = post_json(client, "/api/v1/drills", body, api_auth)
    check(response, Drill, before)
    if response.status_code == 422:
        assert response.json["errors"], response.json


@SETTINGS
@given(starts=st.one_of(datetime_strings, json_scalars), title=st.one_of(texts, json_scalars))
def test_api_drill_patch_never_fails(client, api_auth, district, make_drill, starts, title):
    drill = db.session.scalar(sa.select(Drill)) or make_drill(district)
    response = post_json(
        client,
        f"/api/v1/drills/{drill.id}",
        {"starts_at": starts, "title": title},
        api_auth,
        method="patch",
    )
    assert response.status_code < 500, response.get_data(as_text=True)[:2000]


@SETTINGS
@given(name=st.one_of(texts, json_scalars), lat=json_numbers, lon=json_numbers)
def test_api_landmark_and_checkpoint_never_fail(
    client, api_auth, district, make_drill, name, lat, lon
):
    before = count(Landmark)
    response = post_json(
        client,
        f"/api/v1/districts/{district.id}/landmarks",
        {"name": name, "lat": lat, "lon": lon},
        api_auth,
    )
    check(response, Landmark, before)
    drill = db.session.scalar(sa.select(Drill)) or make_drill(district)
    before = count(Checkpoint)
    response = post_json(
        client,
        f"/api/v1/drills/{drill.id}/checkpoints",
        {"name": name, "lat": lat, "lon": lon},
        api_auth,
    )
    check(response, Checkpoint, before)
    response = post_json(
        client,
        f"/api/v1/drills/{drill.id}/route",
        {"route": [[lat, lon], [36.3, 138.9]]},
        api_auth,
        method="put",
    )
    assert response.status_code < 500


@SETTINGS
@given(
    name=st.one_of(texts, json_scalars),
    kana=st.one_of(texts, json_scalars),
    phone=st.one_of(texts, json_scalars),
    lat=json_numbers,
    lon=json_numbers,
)
def test_api_supporter_create_never_fails(client, api_auth, district, name, kana, phone, lat, lon):
    before = count(Supporter)
    response = post_json(
        client,
        "/api/v1/supporters/",
        {
            "district_id": district.id,
            "name": name,
            "name_kana": kana,
            "kind": "community_supporter",
            "phone": phone,
            "home_lat": lat,
            "home_lon": lon,
        },
        api_auth,
    )
    check(response, Supporter, before)


@SETTINGS
@given(ids=st.lists(st.integers(min_value=-(10**20), max_value=10**20), min_size=1, max_size=1))
def test_api_huge_ids_are_unknown_not_errors(client, api_auth, ids):
    for url in (
        f"/api/v1/drills/{ids[0]}",
        f"/api/v1/landmarks/{ids[0]}",
        f"/api/v1/supporters/{ids[0]}",
        f"/api/v1/checkpoints/{ids[0]}",
        f"/api/v1/drills?district_id={ids[0]}",
    ):
        response = client.get(url, headers=api_auth)
        assert response.status_code < 500, (url, response.get_data(as_text=True)[:500])


# ---------------------------------------------------------------------------------------------
# JSON parsed by hand: the drill phone's reports


@pytest.fixture()
def field_client(app: Any, district: Any, supporter: Any, make_drill: Any) -> tuple[Any, Drill]:
    from support import signin_supporter

    from watchnet.drills.models import DrillStatus, Participant

    drill = make_drill(
        district, status=DrillStatus.live, starts_at=datetime.now(UTC) - timedelta(minutes=10)
    )
    db.session.add(
        Participant(
            drill_id=drill.id, supporter_id=supporter.id, position_consent_at=datetime.now(UTC)
        )
    )
    db.session.commit()
    return signin_supporter(app.test_client(), supporter), drill


@SETTINGS
@given(
    lat=json_numbers,
    lon=json_numbers,
    accuracy=json_numbers,
    at=st.one_of(datetime_strings, json_scalars),
    checkpoint=json_numbers,
    note=texts,
)
def test_phone_reports_never_fail(field_client, lat, lon, accuracy, at, checkpoint, note):
    client, drill = field_client
    base = f"/field/drills/{drill.id}"
    item = {
        "client_id": "abcdefgh1234",
        "lat": lat,
        "lon": lon,
        "accuracy_m": accuracy,
        "recorded_at": at,
    }
    response = post_json(client, f"{base}/positions", {"positions": [item]})
    assert response.status_code < 500, response.get_data(as_text=True)[:1000]
    response = post_json(
        client,
        f"{base}/steps",
        {
            "client_id": "abcdefgh1235",
            "step": "noticed",
            "done_at": at,
            "lat": lat,
            "lon": lon,
            "checkpoint_id": checkpoint,
            "note": note,
        },
    )
    assert response.status_code < 500, response.get_data(as_text=True)[:1000]
    response = post_json(
        client,
        f"{base}/help",
        {"client_id": "abcdefgh1236", "lat": lat, "lon": lon, "called_at": at, "sentence": note},
    )
    assert response.status_code < 500, response.get_data(as_text=True)[:1000]


@SETTINGS
@given(
    lat=json_numbers,
    lon=json_numbers,
    name=st.one_of(texts, json_scalars),
    order=json_numbers,
    cp_id=json_numbers,
)
def test_route_editor_json_never_fails(
    organizer_client, district, make_drill, lat, lon, name, order, cp_id
):
    drill = db.session.scalar(sa.select(Drill)) or make_drill(district)
    response = post_json(
        organizer_client,
        f"/drills/{drill.id}/route",
        {
            "route": [[lat, lon], {"lat": lat, "lon": lon}],
            "checkpoints": [{"id": cp_id, "name": name, "lat": lat, "lon": lon, "order": order}],
        },
    )
    assert response.status_code < 500, response.get_data(as_text=True)[:1000]
