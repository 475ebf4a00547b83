"""Calling for help: the nearest supporters and the organizers hear of it by e-mail (a real SMTP
server on 127.0.0.1) and on their open field pages (the phone's event stream over real HTTP);
"on my way" reaches the one who called."""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import LiveServer, SmtpSink, signin_supporter
from watchnet.auth.services import make_signin_token
from watchnet.core.extensions import db
from watchnet.drills.models import DrillStatus, Participant
from watchnet.jobs.deliveries import deliver_due_notifications
from watchnet.notifications.models import Delivery
from watchnet.tracking.events import emit
from watchnet.tracking.models import HelpResponse, LatestPosition, LiveEvent

HERE = (36.3340, 138.9460)


def now() -> datetime:
    return datetime.now(UTC)


class Scene:
    """A live drill: the caller, two supporters nearby, one far away, one without a position."""

    def __init__(self, app: Flask, drill: Any, people: dict[str, Any]) -> None:
        self.app = app
        self.drill = drill
        self.drill_id = drill.id
        self.people = people
        self.ids = {key: person.id for key, person in people.items()}
        self.names = {key: person.name for key, person in people.items()}
        self.emails = {key: person.email for key, person in people.items()}

    def phone(self, key: str) -> FlaskClient:
        return signin_supporter(self.app.test_client(), self.people[key])

    def call_for_help(
        self, client: FlaskClient | None = None, client_id: str = "help-call-0001"
    ) -> Any:
        return (client or self.phone("caller")).post(
            f"/field/drills/{self.drill_id}/help",
            json={
                "client_id": client_id,
                "lat": HERE[0],
                "lon": HERE[1],
                "accuracy_m": 12,
                "called_at": now().isoformat(),
                "sentence": "現在地は八幡公民館の北東 約120mです。",
            },
        )


@pytest.fixture()
def scene(
    app: Flask,
    make_drill: Callable[..., Any],
    make_supporter: Callable[..., Any],
    district: Any,
    organizer: Any,
    coordinator: Any,
    outsider: Any,
) -> Scene:
    drill = make_drill(
        district,
        status=DrillStatus.live,
        started_at=now() - timedelta(hours=1),
        created_by_id=organizer.id,
    )
    people = {
        "caller": make_supporter(district, name="呼出 花子"),
        "near1": make_supporter(district, name="近所 一郎"),
        "near2": make_supporter(district, name="近所 二郎"),
        "far": make_supporter(district, name="遠方 三郎"),
        "silent": make_supporter(district, name="無位置 四郎"),
    }
    positions = {
        "caller": HERE,
        "near1": (36.3349, 138.9460),  # ~100 m
        "near2": (36.3340, 138.9493),  # ~300 m
        "far": (36.3520, 138.9460),
    }  # ~2 km
    for key, person in people.items():
        db.session.add(
            Participant(drill_id=drill.id, supporter_id=person.id, position_consent_at=now())
        )
        if key in positions:
            lat, lon = positions[key]
            db.session.add(
                LatestPosition(
                    drill_id=drill.id,
                    supporter_id=person.id,
                    lat=lat,
                    lon=lon,
                    accuracy_m=10,
                    recorded_at=now(),
                )
            )
    db.session.commit()
    return Scene(app, drill, people)


def body_of(message: Any) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())


def test_a_help_call_reaches_the_two_nearest_supporters_and_the_organizers_by_email(
    scene: Scene, smtp_sink: SmtpSink, organizer: Any, coordinator: Any, outsider: Any
) -> None:
    response = scene.call_for_help()
    assert response.status_code == 201
    answer = response.get_json()
    notified = [(n["name"], n["distance_m"]) for n in answer["notified"]]
    assert [name for name, _ in notified] == [
        scene.names["near1"],
        scene.names["near2"],
        organizer.name,
        coordinator.name,
    ]
    assert 90 <= notified[0][1] <= 110
    assert 280 <= notified[1][1] <= 320
    assert notified[2][1] is None

    assert deliver_due_notifications() == 4
    for key in ("near1", "near2"):
        (message,) = smtp_sink.to(scene.emails[key])
        text = body_of(message)
        assert scene.names["caller"] in text
        assert "現在地は八幡公民館の北東 約120mです。" in text
        assert "36.33400, 138.94600" in text
        assert f"/field/drills/{scene.drill_id}" in text
    assert smtp_sink.to(scene.emails["far"]) == []
    assert smtp_sink.to(scene.emails["caller"]) == []
    assert len(smtp_sink.to("organizer@example.jp")) == 1
    assert f"/drills/{scene.drill_id}/live" in body_of(smtp_sink.to("organizer@example.jp")[0])
    assert len(smtp_sink.to("coordinator@example.jp")) == 1
    assert smtp_sink.to("outsider@example.jp") == []

    audiences = db.session.scalars(
        sa.select(LiveEvent.audience).where(LiveEvent.kind == "help_call").order_by(LiveEvent.id)
    ).all()
    assert sorted(audiences) == sorted(
        ["", f"supporter:{scene.ids['near1']}", f"supporter:{scene.ids['near2']}"]
    )

    # The phone retries (it never saw the answer): same call, nobody is told twice.
    again = scene.call_for_help()
    assert again.status_code == 200
    assert again.get_json() == answer
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 4


def test_more_helpers_are_asked_when_configured(
    scene: Scene, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "HELP_CALL_NEAREST", 3)
    names = [n["name"] for n in scene.call_for_help().get_json()["notified"]]
    assert names[:3] == [scene.names["near1"], scene.names["near2"], scene.names["far"]]


def test_on_my_way_is_counted_once_per_person_and_reaches_the_caller(scene: Scene) -> None:
    call_id = scene.call_for_help().get_json()["id"]
    near1, near2 = scene.phone("near1"), scene.phone("near2")
    first = near1.post(f"/field/help/{call_id}/respond", json={})
    assert first.status_code == 200
    assert first.get_json() == {"responders": [scene.names["near1"]]}
    assert near1.post(f"/field/help/{call_id}/respond", json={}).get_json() == first.get_json()
    both = near2.post(f"/field/help/{call_id}/respond", json={}).get_json()
    assert both == {"responders": [scene.names["near1"], scene.names["near2"]]}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HelpResponse)) == 2

    to_caller = db.session.scalars(
        sa.select(LiveEvent)
        .where(
            LiveEvent.kind == "help_response",
            LiveEvent.audience == f"supporter:{scene.ids['caller']}",
        )
        .order_by(LiveEvent.id)
    ).all()
    assert [e.payload["responders"] for e in to_caller] == [
        [scene.names["near1"]],
        [scene.names["near1"], scene.names["near2"]],
    ]
    assert to_caller[0].payload["help_call_id"] == call_id
    staff_events = db.session.scalars(
        sa.select(LiveEvent).where(LiveEvent.kind == "help_response", LiveEvent.audience == "")
    ).all()
    assert len(staff_events) == 2

    own = scene.phone("caller").post(f"/field/help/{call_id}/respond", json={})
    assert own.status_code == 422


def test_supporters_outside_the_drill_get_404(
    scene: Scene,
    app: Flask,
    make_supporter: Callable[..., Any],
    other_district: Any,
    make_drill: Callable[..., Any],
    district: Any,
) -> None:
    call_id = scene.call_for_help().get_json()["id"]
    stranger = make_supporter(other_district, name="他地区 五郎")
    other_drill = make_drill(district, status=DrillStatus.live)
    in_other_drill = make_supporter(district, name="別訓練 六郎")
    db.session.add(Participant(drill_id=other_drill.id, supporter_id=in_other_drill.id))
    db.session.commit()
    for person in (stranger, in_other_drill):
        client = signin_supporter(app.test_client(), person)
        assert client.post(f"/field/help/{call_id}/respond", json={}).status_code == 404
        response = scene.call_for_help(client, client_id=f"stranger-{person.id:04d}")
        assert response.status_code == 404 and response.is_json
    assert scene.phone("near1").post("/field/help/999999/respond", json={}).status_code == 404


def test_help_calls_are_refused_when_the_drill_is_not_live(scene: Scene) -> None:
    scene.drill.status = DrillStatus.ended
    db.session.commit()
    assert scene.call_for_help().status_code == 409


def test_a_help_call_with_impossible_values_is_refused(scene: Scene) -> None:
    response = scene.phone("caller").post(
        f"/field/drills/{scene.drill_id}/help",
        json={
            "client_id": "help-bad-01",
            "lat": -91,
            "lon": 138.9,
            "called_at": (now() + timedelta(hours=1)).isoformat(),
            "sentence": "x" * 501,
        },
    )
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"lat", "called_at", "sentence"}


def test_without_a_sentence_the_server_writes_where_the_caller_is(scene: Scene) -> None:
    response = scene.phone("caller").post(
        f"/field/drills/{scene.drill_id}/help",
        json={
            "client_id": "help-nosent1",
            "lat": HERE[0],
            "lon": HERE[1],
            "called_at": now().isoformat(),
        },
    )
    assert response.status_code == 201
    event = db.session.scalars(sa.select(LiveEvent).where(LiveEvent.audience == "")).one()
    # A place to find in words; the coordinates travel beside it, not as the sentence.
    assert event.payload["sentence"] == "現在地はポイント1のすぐそばです。"
    assert event.payload["coords"] == "36.33400, 138.94600"


# ---------------------------------------------------------------------------------------------
# The phone's event stream, over real HTTP


class Stream:
    """A supporter's open field page listening to /field/drills/<id>/events."""

    def __init__(
        self, server: LiveServer, supporter: Any, drill_id: int, last_event_id: int | None = None
    ) -> None:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        # The landing page is not this test's business; the cookie is set either way.
        with contextlib.suppress(urllib.error.HTTPError):
            opener.open(f"{server.url}/s/{make_signin_token(supporter)}", timeout=10).close()
        request = urllib.request.Request(f"{server.url}/field/drills/{drill_id}/events")
        if last_event_id is not None:
            request.add_header("Last-Event-ID", str(last_event_id))
        self.response = opener.open(request, timeout=10)
        assert self.response.headers["Content-Type"].startswith("text/event-stream")

    def next_event(self, kind: str, timeout_s: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        event: dict[str, Any] = {}
        while time.monotonic() < deadline:
            line = self.response.readline().decode().rstrip("\n")
            if line.startswith("id: "):
                event["id"] = int(line[4:])
            elif line.startswith("event: "):
                event["event"] = line[7:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
            elif line == "" and event:
                if event.get("event") == kind:
                    return event
                event = {}
        raise AssertionError(f"no {kind} event within {timeout_s} s")

    def close(self) -> None:
        self.response.close()


@pytest.fixture()
def streams(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Stream]]:
    # Short-lived streams with frequent heartbeats, so closed ones end soon on the server.
    monkeypatch.setitem(live_server.app.config, "FIELD_SSE_HEARTBEAT_S", 1.0)
    monkeypatch.setitem(live_server.app.config, "FIELD_SSE_LIFETIME_S", 30.0)
    opened: list[Stream] = []
    yield opened
    for stream in opened:
        stream.close()


def test_an_open_field_page_hears_the_help_call_and_the_caller_hears_who_is_coming(
    scene: Scene, live_server: LiveServer, streams: list[Stream]
) -> None:
    near1 = Stream(live_server, scene.people["near1"], scene.drill_id)
    streams.append(near1)
    started = time.monotonic()
    call_id = scene.call_for_help().get_json()["id"]
    event = near1.next_event("help_call")
    assert time.monotonic() - started < 3.0
    assert event["data"]["id"] == call_id
    assert event["data"]["name"] == scene.names["caller"]
    assert event["data"]["sentence"] == "現在地は八幡公民館の北東 約120mです。"
    assert (event["data"]["lat"], event["data"]["lon"]) == HERE
    assert 90 <= event["data"]["distance_m"] <= 110

    # The caller's page reconnects after the call went out: Last-Event-ID skips what it saw.
    seen = db.session.scalar(sa.select(sa.func.max(LiveEvent.id)))
    caller = Stream(live_server, scene.people["caller"], scene.drill_id, last_event_id=seen)
    streams.append(caller)
    scene.phone("near1").post(f"/field/help/{call_id}/respond", json={})
    answer = caller.next_event("help_response")
    assert answer["data"]["responders"] == [scene.names["near1"]]
    assert answer["id"] > seen

    # Drill-wide news reaches every phone.
    emit(
        scene.drill_id,
        "drill_status",
        {"status": "ended", "at": now().isoformat()},
        audience="drill",
    )
    db.session.commit()
    assert near1.next_event("drill_status")["data"]["status"] == "ended"


def test_a_page_opened_just_after_a_help_call_still_hears_it(
    scene: Scene, live_server: LiveServer, streams: list[Stream]
) -> None:
    call_id = scene.call_for_help().get_json()["id"]
    near2 = Stream(live_server, scene.people["near2"], scene.drill_id)
    streams.append(near2)
    assert near2.next_event("help_call")["data"]["id"] == call_id


def test_the_far_supporters_page_does_not_hear_the_help_call(
    scene: Scene, live_server: LiveServer, streams: list[Stream]
) -> None:
    far = Stream(live_server, scene.people["far"], scene.drill_id)
    streams.append(far)
    scene.call_for_help()
    with pytest.raises(AssertionError, match="no help_call event"):
        far.next_event("help_call", timeout_s=2.0)
