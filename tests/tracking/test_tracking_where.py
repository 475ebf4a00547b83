""" "Where am I?": the nearest landmark or checkpoint, the address from a real HTTP geocoder stub
on 127.0.0.1 (cached), and a sentence that still comes when the geocoder is unreachable."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import free_port, signin_supporter
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


class GeocoderStub:
    """A Nominatim look-alike: GET /reverse answers JSON with display_name and address."""

    def __init__(self, delay_s: float = 0.0) -> None:
        stub = self
        self.requests: list[dict[str, list[str]]] = []
        self.delay_s = delay_s

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                stub.requests.append(query)
                if stub.delay_s:
                    time.sleep(stub.delay_s)
                if parts.path != "/reverse":
                    self.send_response(404)
                    self.end_headers()
                    return
                body = json.dumps(
                    {
                        "place_id": 1,
                        "lat": query["lat"][0],
                        "lon": query["lon"][0],
                        "display_name": "3, 八幡町, 本庄市, 埼玉県, 367-0000, 日本",
                        "address": {
                            "house_number": "3",
                            "neighbourhood": "八幡町",
                            "city": "本庄市",
                            "province": "埼玉県",
                            "postcode": "367-0000",
                            "country": "日本",
                            "country_code": "jp",
                        },
                    },
                    ensure_ascii=False,
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the app gave up on a slow answer and closed the connection

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


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
    for part in ("八幡公民館の北東 約120m", "本庄市八幡町3", "36.33376, 138.94594"):
        assert part in answer["sentence"]
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
    assert answer["sentence"].startswith("You are about 120 m northeast of 八幡公民館.")
    assert "Latitude and longitude: 36.33376, 138.94594." in answer["sentence"]
    assert answer["address"]  # the display name, as the geocoder gave it


def test_without_a_reachable_geocoder_the_sentence_still_comes_quickly(
    app: Flask, phone: tuple[FlaskClient, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, drill = phone
    monkeypatch.setitem(app.config, "GEOCODER_URL", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    answer = where(client, drill)
    assert time.monotonic() - started < 2.5
    assert answer["address"] is None
    assert "八幡公民館の北東 約120m" in answer["sentence"]
    assert "36.33376, 138.94594" in answer["sentence"]
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
