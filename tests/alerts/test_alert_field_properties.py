"""Property-based tests (Hypothesis) of the alert phone's JSON and form routes: any time, any
number, any text → never a 5xx, and a refused sighting leaves no row."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alert_field_support import start_field_alert
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchnet.alerts.models import Sighting
from watchnet.core.extensions import db
from watchnet.core.validation import BIDI, INVISIBLE

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
texts = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"), st.sampled_from("\x00\x1f" + INVISIBLE + BIDI)
    ),
    max_size=200,
)
times = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda d: d.isoformat() + "+09:00"
    ),
    st.dates(min_value=date(1, 1, 1)).map(date.isoformat),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"]),
    texts,
)
numbers = st.one_of(
    st.floats(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "36.3", ""]),
    st.booleans(),
    st.none(),
)


_ids = iter(range(10**8))


@pytest.fixture()
def fa(district: Any, coordinator: Any, make_supporter: Any) -> Any:
    return start_field_alert(district, coordinator, make_supporter)


@SETTINGS
@given(lat=numbers, lon=numbers, accuracy=numbers, at=st.one_of(times, numbers))
def test_alert_positions_never_fail(client, fa, lat, lon, accuracy, at):
    body = json.dumps(
        {
            "positions": [
                {
                    "client_id": "abcdefgh1234",
                    "lat": lat,
                    "lon": lon,
                    "accuracy_m": accuracy,
                    "recorded_at": at,
                }
            ]
        },
        allow_nan=True,
    )
    response = client.post(f"/a/{fa.token}/positions", data=body, content_type="application/json")
    assert response.status_code < 500, response.get_data(as_text=True)[:1000]


@SETTINGS
@given(
    lat=st.one_of(st.just(36.3335), numbers),
    lon=st.one_of(st.just(138.9455), numbers),
    seen=st.one_of(st.just(""), times),
    description=st.one_of(st.just("a\x00b"), texts),
    direction=st.one_of(st.just("n"), texts),
)
def test_alert_sightings_never_fail(client, fa, lat, lon, seen, description, direction):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Sighting))
    response = client.post(
        f"/a/{fa.token}/sightings",
        data={
            "client_id": f"sight-{next(_ids):08d}",
            "lat": str(lat),
            "lon": str(lon),
            "seen_at": seen,
            "description": description,
            "direction": direction,
            "certainty": "likely",
            "place_source": "map",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code < 500, response.get_data(as_text=True)[:1000]
    if response.status_code >= 400:
        db.session.expire_all()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Sighting)) == before


def test_a_sighting_description_is_cleaned(client, fa):
    response = client.post(
        f"/a/{fa.token}/sightings",
        data={
            "client_id": "sight-nul-0001",
            "lat": "36.3335",
            "lon": "138.9455",
            "description": "\u202e赤い\x00帽子\u200b",
            "place_source": "map",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_data(as_text=True)[:500]
    assert db.session.scalars(sa.select(Sighting.description)).one() == "赤い帽子"
