"""The organizer's live view: the page, its JSON snapshot and its server-sent-event stream, fed
by supporters' phones through the real field endpoints."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.conftest import make_test_app, signin_supporter
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.drills.models import Drill, DrillStatus, Participant, Team
from watchnet.tracking.events import emit, supporter_audience
from watchnet.tracking.models import HelpResponse


@pytest.fixture()
def short_streams(app: Flask) -> Iterator[None]:
    saved = {k: app.config.get(k) for k in ("LIVE_STREAM_MAX_S", "LIVE_STREAM_HEARTBEAT_S")}
    app.config.update(LIVE_STREAM_MAX_S=1.2, LIVE_STREAM_HEARTBEAT_S=0.4)
    yield
    for key, value in saved.items():
        if value is None:
            app.config.pop(key, None)
        else:
            app.config[key] = value


@pytest.fixture()
def world(app: Flask, district: Any, make_drill: Any, make_supporter: Any) -> dict[str, Any]:
    """A live drill with two teams, three participants signed in on their phones."""
    drill = make_drill(
        district,
        title="八幡 見守り訓練",
        checkpoints=[
            {"name": "ポイント1 小学校の角", "lat": 36.3340, "lon": 138.9461},
            {"name": "ポイント2 神社", "lat": 36.3350, "lon": 138.9470},
        ],
    )
    red = Team(drill_id=drill.id, name="1班", color="#b3261e")
    blue = Team(drill_id=drill.id, name="2班", color="#0b5cad")
    db.session.add_all([red, blue])
    db.session.flush()
    hanako = make_supporter(district, name="山田 花子", name_kana="やまだ はなこ")
    ichiro = make_supporter(district, name="佐藤 一郎", name_kana="さとう いちろう")
    susumu = make_supporter(district, name="高橋 進", name_kana="たかはし すすむ")
    db.session.add_all(
        [
            Participant(drill_id=drill.id, supporter_id=hanako.id, team_id=red.id),
            Participant(drill_id=drill.id, supporter_id=ichiro.id, team_id=blue.id),
            Participant(drill_id=drill.id, supporter_id=susumu.id, team_id=None),
        ]
    )
    drill.status = DrillStatus.live
    drill.started_at = utcnow()
    db.session.commit()
    phones = {s.name: signin_supporter(app.test_client(), s) for s in (hanako, ichiro, susumu)}
    return {
        "drill": drill,
        "red": red,
        "blue": blue,
        "hanako": hanako,
        "ichiro": ichiro,
        "susumu": susumu,
        "phones": phones,
    }


_counter = iter(range(1, 1_000_000))


def _cid(prefix: str) -> str:
    return f"{prefix}-{next(_counter):08d}"


def share_position(
    phone: Any, drill: Drill, lat: float, lon: float, seconds_ago: float = 0
) -> None:
    assert phone.post(f"/field/drills/{drill.id}/consent", json={"share": True}).status_code == 200
    at = (utcnow() - timedelta(seconds=seconds_ago)).isoformat()
    answer = phone.post(
        f"/field/drills/{drill.id}/positions",
        json={
            "positions": [
                {
                    "client_id": _cid("pos"),
                    "lat": lat,
                    "lon": lon,
                    "accuracy_m": 8,
                    "recorded_at": at,
                }
            ]
        },
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)


def log_step(
    phone: Any, drill: Drill, step: str, checkpoint_id: int | None, **extra: Any
) -> dict[str, Any]:
    answer = phone.post(
        f"/field/drills/{drill.id}/steps",
        json={
            "client_id": _cid("step"),
            "step": step,
            "checkpoint_id": checkpoint_id,
            "done_at": utcnow().isoformat(),
            "lat": 36.3340,
            "lon": 138.9461,
            **extra,
        },
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()  # type: ignore[no-any-return]


def call_help(phone: Any, drill: Drill) -> dict[str, Any]:
    answer = phone.post(
        f"/field/drills/{drill.id}/help",
        json={
            "client_id": _cid("help"),
            "lat": 36.3345,
            "lon": 138.9465,
            "called_at": utcnow().isoformat(),
        },
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()  # type: ignore[no-any-return]


def parse_sse(raw: str) -> list[dict[str, Any]]:
    """Messages of an event stream: {"id", "event", "data"} (comments kept as {"comment"})."""
    messages = []
    for block in raw.split("\n\n"):
        message: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":"):
                message["comment"] = line[1:].strip()
            field, _, value = line.partition(": ")
            if field in ("id", "event", "retry"):
                message[field] = value
            elif field == "data":
                message["data"] = json.loads(value)
        if message:
            messages.append(message)
    return messages


def read_stream(client: Any, drill: Drill, **headers: str) -> list[dict[str, Any]]:
    query = headers.pop("query", "")
    response = client.get(f"/drills/{drill.id}/live/events{query}", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    return parse_sse(response.get_data(as_text=True))


# ---------------------------------------------------------------------------------------------


def test_the_live_view_page_has_the_map_legend_and_the_live_script(organizer_client, world):
    drill = world["drill"]
    page = organizer_client.get(f"/drills/{drill.id}/live")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "八幡 見守り訓練" in html
    assert 'class="live-map"' in html and "window.watchnetMaps" in html
    assert "1班" in html and "#b3261e" in html and "2班" in html  # the legend
    assert "js/live.js" in html and 'name="csrf-token"' in html
    assert f"/drills/{drill.id}/live/state" in html and f"/drills/{drill.id}/live/events" in html


def test_the_snapshot_shows_positions_by_team_tracks_checkpoints_feed_and_counts(
    organizer_client, world
):
    drill, phones = world["drill"], world["phones"]
    share_position(phones["山田 花子"], drill, 36.3331, 138.9451, seconds_ago=60)
    share_position(phones["山田 花子"], drill, 36.3335, 138.9455, seconds_ago=30)
    share_position(phones["佐藤 一郎"], drill, 36.3345, 138.9465)
    cp1, cp2 = drill.checkpoints
    log_step(phones["山田 花子"], drill, "noticed", cp1.id)
    log_step(phones["山田 花子"], drill, "contacted", cp1.id, contact_whom="anshin_center")
    call_help(phones["佐藤 一郎"], drill)

    state = organizer_client.get(f"/drills/{drill.id}/live/state").get_json()
    assert state["drill"]["status"] == "live"
    people = {p["name"]: p for p in state["participants"]}
    assert set(people) == {"山田 花子", "佐藤 一郎", "高橋 進"}
    hanako = people["山田 花子"]
    assert (hanako["lat"], hanako["lon"]) == (36.3335, 138.9455)
    assert (hanako["team_name"], hanako["color"]) == ("1班", "#b3261e")
    assert people["佐藤 一郎"]["color"] == "#0b5cad"
    assert people["高橋 進"]["lat"] is None and people["高橋 進"]["team_id"] is None
    track = state["tracks"][str(world["hanako"].id)]
    assert [p[:2] for p in track] == [[36.3331, 138.9451], [36.3335, 138.9455]]
    through = {cp["name"]: cp["teams_through"] for cp in state["checkpoints"]}
    assert through == {"ポイント1 小学校の角": [world["red"].id], "ポイント2 神社": []}
    kinds = [(e["kind"], e["payload"].get("step")) for e in state["feed"]]
    assert kinds == [("help_call", None), ("step", "contacted"), ("step", "noticed")]
    assert state["feed"][0]["payload"]["responders"] == []
    assert state["counts"] == {"sharing": 2, "steps": 2, "open_help": 1}
    assert state["last_event_id"] >= max(e["event_id"] for e in state["feed"])


def test_the_stream_sends_what_happened_after_the_snapshot_and_moved_positions(
    organizer_client, world, short_streams
):
    drill, phones = world["drill"], world["phones"]
    log_step(phones["山田 花子"], drill, "noticed", drill.checkpoints[0].id)
    state = organizer_client.get(f"/drills/{drill.id}/live/state").get_json()
    log_step(phones["山田 花子"], drill, "approached_front", drill.checkpoints[0].id)
    share_position(phones["佐藤 一郎"], drill, 36.3345, 138.9465)
    # A message for one phone only is not for the organizers' stream.
    emit(drill.id, "help_call", {"id": 999}, audience=supporter_audience(world["hanako"].id))
    db.session.commit()

    messages = read_stream(
        organizer_client,
        drill,
        query=f"?after={state['last_event_id']}&since={state['server_time']}",
    )
    assert messages[0] == {"retry": "1000"}  # STREAM_RETRY_MS
    events = [m for m in messages if "event" in m]
    steps = [m for m in events if m["event"] == "step"]
    assert [m["data"]["step"] for m in steps] == ["approached_front"]
    assert steps[0]["data"]["name"] == "山田 花子" and steps[0]["data"]["team_name"] == "1班"
    assert int(steps[0]["id"]) > state["last_event_id"]
    [moved] = [m for m in events if m["event"] == "position"]
    assert "id" not in moved  # positions do not move Last-Event-ID
    assert moved["data"]["name"] == "佐藤 一郎" and moved["data"]["color"] == "#0b5cad"
    assert (moved["data"]["lat"], moved["data"]["lon"]) == (36.3345, 138.9465)
    assert not [m for m in events if m["event"] == "help_call"]
    assert any(m.get("comment") == "heartbeat" for m in messages)


def test_a_reconnecting_browser_gets_only_what_came_after_its_last_event_id(
    organizer_client, world, short_streams
):
    drill, phones = world["drill"], world["phones"]
    first = log_step(phones["山田 花子"], drill, "noticed", None)
    log_step(phones["山田 花子"], drill, "gave_own_name", None)
    everything = [m for m in read_stream(organizer_client, drill) if m.get("event") == "step"]
    assert [m["data"]["id"] for m in everything][0] == first["id"]
    later = read_stream(organizer_client, drill, **{"Last-Event-ID": everything[0]["id"]})
    assert [m["data"]["step"] for m in later if m.get("event") == "step"] == ["gave_own_name"]


def test_the_drill_status_reaches_the_stream_when_the_organizer_ends_the_drill(
    organizer_client, world, short_streams
):
    drill = world["drill"]
    state = organizer_client.get(f"/drills/{drill.id}/live/state").get_json()
    organizer_client.post(f"/drills/{drill.id}/end")
    messages = read_stream(organizer_client, drill, query=f"?after={state['last_event_id']}")
    [status] = [m for m in messages if m.get("event") == "drill_status"]
    assert status["data"]["status"] == "ended"
    # Ending stops position intake.
    phone = world["phones"]["山田 花子"]
    refused = phone.post(
        f"/field/drills/{drill.id}/positions",
        json={
            "positions": [
                {
                    "client_id": _cid("pos"),
                    "lat": 36.3,
                    "lon": 138.9,
                    "accuracy_m": 5,
                    "recorded_at": utcnow().isoformat(),
                }
            ]
        },
    )
    assert refused.status_code == 409


def test_updates_written_by_another_app_process_reach_an_open_stream(
    app, organizer_client, world, database_url, instance_path
):
    """Two app objects with their own engines stand for two workers or processes: the step is
    posted to one and streamed by the other, through the database alone."""
    drill = world["drill"]
    other = make_test_app(database_url)
    app.config.update(LIVE_STREAM_MAX_S=15)
    try:
        state = organizer_client.get(f"/drills/{drill.id}/live/state").get_json()
        response = organizer_client.get(
            f"/drills/{drill.id}/live/events?after={state['last_event_id']}", buffered=False
        )
        chunks = iter(response.response)
        next(chunks)  # retry: the stream is open

        def post_elsewhere() -> None:
            time.sleep(0.3)
            with other.app_context():
                phone = signin_supporter(other.test_client(), world["ichiro"])
                log_step(phone, drill, "handed_over", drill.checkpoints[1].id)
                db.session.remove()

        writer = threading.Thread(target=post_elsewhere)
        started = time.monotonic()
        writer.start()
        seen: list[dict[str, Any]] = []
        for chunk in chunks:
            seen += parse_sse(chunk.decode() if isinstance(chunk, bytes) else chunk)
            if any(m.get("event") == "step" for m in seen):
                break
        elapsed = time.monotonic() - started
        writer.join(10)
        response.close()
        [step] = [m for m in seen if m.get("event") == "step"]
        assert step["data"]["name"] == "佐藤 一郎" and step["data"]["step"] == "handed_over"
        assert elapsed < 3
    finally:
        app.config.pop("LIVE_STREAM_MAX_S", None)
        with other.app_context():
            db.engine.dispose()


def test_the_organizer_answers_a_help_call_on_my_way(
    organizer_client, organizer, world, short_streams
):
    drill = world["drill"]
    call = call_help(world["phones"]["佐藤 一郎"], drill)
    state = organizer_client.get(f"/drills/{drill.id}/live/state").get_json()
    answer = organizer_client.post(f"/drills/{drill.id}/help/{call['id']}/respond", json={})
    assert answer.status_code == 200
    assert answer.get_json()["responders"] == [organizer.name]
    again = organizer_client.post(f"/drills/{drill.id}/help/{call['id']}/respond", json={})
    assert again.get_json()["responders"] == [organizer.name]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HelpResponse)) == 1
    messages = read_stream(organizer_client, drill, query=f"?after={state['last_event_id']}")
    [response] = [m for m in messages if m.get("event") == "help_response"]
    assert response["data"]["responders"] == [organizer.name]
    snapshot = organizer_client.get(f"/drills/{drill.id}/live/state").get_json()
    assert snapshot["feed"][0]["payload"]["responders"] == [organizer.name]


def test_help_calls_of_another_drill_or_district_are_not_answerable(
    organizer_client, outsider_client, world, district, make_drill
):
    drill = world["drill"]
    call = call_help(world["phones"]["佐藤 一郎"], drill)
    other = make_drill(district, title="別の訓練")
    assert (
        organizer_client.post(f"/drills/{other.id}/help/{call['id']}/respond", json={}).status_code
        == 404
    )
    assert (
        organizer_client.post(f"/drills/{drill.id}/help/999999/respond", json={}).status_code == 404
    )
    assert (
        outsider_client.post(f"/drills/{drill.id}/help/{call['id']}/respond", json={}).status_code
        == 404
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HelpResponse)) == 0


def test_names_with_markup_stay_text_in_the_page(organizer_client, world):
    team = world["red"]
    team.name = "<script>alert(1)</script>"
    db.session.commit()
    html = organizer_client.get(f"/drills/{world['drill'].id}/live").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
