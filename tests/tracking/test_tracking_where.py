""" "Where am I?": the nearest landmark or checkpoint, the address from a real HTTP geocoder stub
on 127.0.0.1 (cached), and a sentence that still comes when the geocoder is unreachable."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import free_port, signin_supporter
from tests.tracking.geocoder_support import GeocoderStub
from watchnet.core import geocoding
from watchnet.core.extensions import db
from watchnet.core.models import GeocodeCache
from watchnet.districts.models import Landmark, LandmarkKind
from watchnet.drills.models import DrillStatus, Participant

HALL = (36.3330, 138.9450)  # 八幡公民館
HERE = (36.33376, 138.94594)  # about 120 m north-east of the hall


@pytest.fixture(autouse=True)
def _geocoder_failures_forgotten() -> Iterator[None]:
    geocoding.forget_failures()
    yield
    geocoding.forget_failures()


@pytest.fixture()
def geocoder(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[GeocoderStub]:
    stub = GeocoderStub()
    stub.thread.start()
    monkeypatch.setitem(app.config, "GEOCODER_URL", stub.url)
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


@pytest.fixture()
def phone(
    app: Flask, make_drill: Callable[..., Any], district: Any, supporter: Any
) -> tuple[FlaskClient, Any]:
    db.session.add(
        Landmark(
            district_id=district.id,
            name="八幡公民館",
            kind=LandmarkKind.community_hall,
            lat=HALL[0],
            lon=HALL[1],
        )
    )
    drill = make_drill(
        district,
        status=DrillStatus.live,
        started_at=datetime.now(UTC) - timedelta(hours=1),
        checkpoints=[{"name": "ポイント1", "lat": 36.3400, "lon": 138.9500}],
    )
    db.session.add(Participant(drill_id=drill.id, supporter_id=supporter.id))
    db.session.commit()
    return signin_supporter(app.test_client(), supporter), drill


def where(client: FlaskClient, drill: Any, lat: float = HERE[0], lon: float = HERE[1]) -> Any:
    response = client.get(f"/field/drills/{drill.id}/where?lat={lat}&lon={lon}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_where_am_i_names_the_nearest_landmark_the_address_and_the_coordinates(
    phone: tuple[FlaskClient, Any], geocoder: GeocoderStub
) -> None:
    client, drill = phone
    answer = where(client, drill)
    assert answer["relative"] == "八幡公民館の北東 約120m"
    assert answer["address"] == "本庄市八幡町3"
    assert answer["coords"] == "36.33376, 138.94594"
    assert (answer["lat"], answer["lon"]) == HERE
    assert answer["address_source"] == "geocoder"
    # The address first, then the landmark; the coordinates apart, for small type.
    assert answer["sentence"] == "ここは本庄市八幡町3付近です。八幡公民館の北東 約120mです。"
    assert answer["coords_sentence"] == "緯度・経度は 36.33376, 138.94594 です。"
    assert geocoder.requests[0]["lat"] == ["36.33376"]
    assert geocoder.requests[0]["accept-language"] == ["ja"]


def test_the_address_is_cached_so_a_second_tap_asks_the_geocoder_nothing(
    phone: tuple[FlaskClient, Any], geocoder: GeocoderStub
) -> None:
    client, drill = phone
    first = where(client, drill)
    # A few metres away rounds to the same spot.
    second = where(client, drill, lat=HERE[0] + 0.00002, lon=HERE[1] - 0.00002)
    assert first["address"] == second["address"] == "本庄市八幡町3"
    assert len(geocoder.requests) == 1
    assert db.session.scalars(sa.select(GeocodeCache.key)).all() == ["36.3338,138.9459:ja"]


def test_the_sentence_is_in_english_for_an_english_speaking_supporter(
    phone: tuple[FlaskClient, Any], geocoder: GeocoderStub, supporter: Any
) -> None:
    client, drill = phone
    supporter.locale = "en"
    db.session.commit()
    answer = where(client, drill)
    assert answer["relative"] == "about 120 m northeast of 八幡公民館"
    assert answer["address"]  # the display name, as the geocoder gave it
    assert answer["sentence"] == (
        f"You are around {answer['address']}. That is about 120 m northeast of 八幡公民館."
    )
    assert answer["coords_sentence"] == "Latitude and longitude: 36.33376, 138.94594."


def test_without_a_reachable_geocoder_the_sentence_still_comes_quickly(
    app: Flask, phone: tuple[FlaskClient, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, drill = phone
    monkeypatch.setitem(app.config, "GEOCODER_URL", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    answer = where(client, drill)
    assert time.monotonic() - started < 2.5
    assert answer["address"] is None
    assert answer["sentence"] == "現在地は八幡公民館の北東 約120mです。"
    assert answer["coords"] == "36.33376, 138.94594"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(GeocodeCache)) == 0


def test_a_slow_geocoder_is_given_up_on_after_the_timeout(
    app: Flask, phone: tuple[FlaskClient, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, drill = phone
    stub = GeocoderStub(delay_s=3.0)
    stub.thread.start()
    try:
        monkeypatch.setitem(app.config, "GEOCODER_URL", stub.url)
        monkeypatch.setitem(app.config, "GEOCODER_TIMEOUT_S", 0.5)
        started = time.monotonic()
        answer = where(client, drill)
        assert time.monotonic() - started < 2.0
        assert answer["address"] is None
        # During the outage the next tap does not wait for the geocoder again.
        started = time.monotonic()
        where(client, drill, lat=36.3390)
        assert time.monotonic() - started < 0.5
        assert len(stub.requests) == 1
    finally:
        stub.server.shutdown()
        stub.server.server_close()


def test_without_a_configured_geocoder_there_is_no_address(phone: tuple[FlaskClient, Any]) -> None:
    client, drill = phone
    answer = where(client, drill)
    assert answer["address"] is None
    assert answer["relative"] == "八幡公民館の北東 約120m"


def test_a_checkpoint_nearer_than_any_landmark_is_named(phone: tuple[FlaskClient, Any]) -> None:
    client, drill = phone
    answer = where(client, drill, lat=36.3401, lon=138.9500)
    assert answer["relative"].startswith("ポイント1")


def test_where_refuses_impossible_coordinates(phone: tuple[FlaskClient, Any]) -> None:
    client, drill = phone
    response = client.get(f"/field/drills/{drill.id}/where?lat=91&lon=nan")
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"lat", "lon"}
