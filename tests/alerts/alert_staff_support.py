"""Helpers for the coordinator's alert page tests: a registered person with consent, photo and
usual places; supporters at known distances; the start form's fields; a fake Nominatim."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from alert_core_support import point_at
from PIL import Image

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.timefmt import to_local
from watchnet.registry.models import (
    AtRiskPerson,
    Build,
    Consent,
    ConsentScope,
    PersonPhoto,
    Sex,
    UsualPlace,
)

CENTRE = (36.3335, 138.9455)  # the test district's centre
PHONE = "0270-20-1234"
PERSON_NAME = "見守 一郎"
USUAL_CLOTHING = "紺色のジャンパー、灰色のズボン"


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 60, 200)).save(buf, "JPEG")
    return buf.getvalue()


def make_person(
    district: Any,
    *,
    consent: str = "valid",
    photo: bool = True,
    scopes: tuple[str, ...] = ("share_with_supporters", "share_photo"),
    name: str = PERSON_NAME,
    archived: bool = False,
) -> AtRiskPerson:
    """A registered person; `consent` is "valid", "expired" or "none"."""
    today = to_local(utcnow()).date()
    person = AtRiskPerson(
        district_id=district.id,
        name=name,
        name_kana="みまもり いちろう",
        birth_date=date(today.year - 82, 1, 1),
        sex=Sex.male,
        height_cm=160,
        build=Build.slim,
        hair="白髪、短め",
        features="右足を少し引きずる",
        usual_clothing=USUAL_CLOTHING,
        handling_notes="「いっちゃん」と呼ぶと安心します",
        home_address="八幡町1-2-3",
        home_lat=CENTRE[0],
        home_lon=CENTRE[1],
        is_archived=archived,
    )
    person.places = [
        UsualPlace(
            name="八幡神社", lat=point_at(600, 0)[0], lon=point_at(600, 0)[1], note="毎朝お参り"
        )
    ]
    if photo:
        person.photos = [PersonPhoto(data=jpeg(), width=40, height=30)]
    if consent != "none":
        given = today - timedelta(days=400 if consent == "expired" else 30)
        person.consents = [
            Consent(
                given_by_name="見守 花子",
                given_by_relation="長女",
                given_on=given,
                renew_by=given + timedelta(days=365),
                scopes=[ConsentScope(s).value for s in scopes],
            )
        ]
    db.session.add(person)
    db.session.commit()
    return person


# Landmarks of the test district, as the demo's 八幡地区 has them: the hall 60 m north-west of
# the centre (the registered home), the shrine 600 m north (also the person's usual place).
HALL = ("八幡公民館", 36.33388, 138.94500)
SHRINE = ("八幡神社", *point_at(600, 0))


def add_landmarks(district: Any, *spots: tuple[str, float, float]) -> list[Any]:
    """Named landmarks of the district (the hall and the shrine unless others are given)."""
    from watchnet.districts.models import Landmark, LandmarkKind

    rows = [
        Landmark(district_id=district.id, name=name, kind=LandmarkKind.other, lat=lat, lon=lon)
        for name, lat, lon in (spots or (HALL, SHRINE))
    ]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def start_fields(**values: Any) -> dict[str, Any]:
    """The start form as a coordinator sends it: described, placed, a number to call."""
    now = to_local(utcnow())
    fields: dict[str, Any] = {
        "client_key": "",
        # The first, required choice, and the confirmation page's "send" button.
        "alert_mode": "real",
        "confirmed": "1",
        "display_name": "",
        "clothing_today": "青いシャツ、黒いズボン",
        "sex": "male",
        "build": "unknown",
        "last_seen_at": now.strftime("%Y-%m-%dT%H:%M"),
        "last_seen_lat": f"{CENTRE[0]:.6f}",
        "last_seen_lon": f"{CENTRE[1]:.6f}",
        "last_seen_place": "八幡公民館の前",
        "contact_phone": PHONE,
        "contact_label": "八幡地区 生活支援コーディネーター",
    }
    fields.update(values)
    return {k: v for k, v in fields.items() if v is not None}


class FakeNominatim:
    """A Nominatim server on 127.0.0.1: /search knows the addresses in `places`; /reverse
    answers `reverse_address` (Nominatim's address parts) for any point, or nothing."""

    def __init__(self, places: dict[str, tuple[float, float]]) -> None:
        import http.server

        fake = self
        self.places = places
        self.queries: list[str] = []
        self.reverse_address: dict[str, str] | None = None
        self.reverse_queries: list[tuple[float, float]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                args = parse_qs(parts.query)
                if parts.path.rstrip("/").endswith("/reverse"):
                    lat, lon = float(args["lat"][0]), float(args["lon"][0])
                    fake.reverse_queries.append((lat, lon))
                    if fake.reverse_address is None:
                        self._answer({"error": "Unable to geocode"})
                        return
                    self._answer(
                        {
                            "place_id": 2,
                            "lat": str(lat),
                            "lon": str(lon),
                            "display_name": ", ".join(reversed(fake.reverse_address.values())),
                            "address": fake.reverse_address,
                        }
                    )
                    return
                query = args.get("q", [""])[0]
                fake.queries.append(query)
                hits = [
                    {
                        "lat": str(lat),
                        "lon": str(lon),
                        "display_name": f"{name}, 日本",
                        "place_id": 1,
                        "osm_type": "node",
                        "osm_id": 1,
                        "boundingbox": [str(lat), str(lat), str(lon), str(lon)],
                    }
                    for name, (lat, lon) in fake.places.items()
                    if name in query
                ]
                body = json.dumps(hits[:1]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@contextmanager
def fake_nominatim(places: dict[str, tuple[float, float]]) -> Iterator[FakeNominatim]:
    fake = FakeNominatim(places)
    fake.thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
