"""Notes saved on the phone with 「メモを保存」 (POST /field/drills/<id>/notes): stored once per
client id, with the supporter's team and checkpoint, taken while and after the drill runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import signin_supporter
from watchnet.core.extensions import db
from watchnet.drills.models import Drill, DrillStatus, Participant, Team
from watchnet.tracking.models import EncounterNote, LiveEvent

NEAR_CHECKPOINT = (36.33405, 138.94615)  # about 7 m from ポイント1


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture()
def drill(district: Any, make_drill: Callable[..., Any], supporter: Any) -> Drill:
    drill = make_drill(district, status=DrillStatus.live, started_at=now() - timedelta(hours=1))
    team = Team(drill_id=drill.id, name="1班", color="#d62728")
    db.session.add(team)
    db.session.flush()
    db.session.add(Participant(drill_id=drill.id, supporter_id=supporter.id, team_id=team.id))
    db.session.commit()
    return drill


def post_note(client: FlaskClient, drill: Drill, **body: Any) -> Any:
    values: dict[str, Any] = {
        "client_id": "note-client-01",
        "text": "ご本人は駅の方へ向かっていた",
        "written_at": now().isoformat(),
    }
    values.update(body)
    return client.post(f"/field/drills/{drill.id}/notes", json=values)


def notes() -> list[EncounterNote]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(EncounterNote).order_by(EncounterNote.id)))


def test_a_note_is_stored_once_with_team_and_nearest_checkpoint(
    supporter_client: FlaskClient, drill: Drill, supporter: Any
) -> None:
    lat, lon = NEAR_CHECKPOINT
    first = post_note(supporter_client, drill, lat=lat, lon=lon)
    assert first.status_code == 201
    body = first.get_json()
    assert body["text"] == "ご本人は駅の方へ向かっていた"
    assert body["checkpoint_name"] == "ポイント1"

    again = post_note(supporter_client, drill, lat=lat, lon=lon)  # the queue's retry
    assert again.status_code == 200
    assert again.get_json()["id"] == body["id"]
    (note,) = notes()
    assert note.supporter_id == supporter.id
    assert note.team_id == drill.teams[0].id
    assert note.checkpoint_id == drill.checkpoints[0].id
    (event,) = db.session.scalars(sa.select(LiveEvent).where(LiveEvent.kind == "note")).all()
    assert event.audience == ""  # the live view's feed
    assert event.payload["name"] == supporter.name and event.payload["team_name"] == "1班"

    log = supporter_client.get(f"/field/drills/{drill.id}/steps").get_json()
    assert [n["text"] for n in log["notes"]] == ["ご本人は駅の方へ向かっていた"]
    assert log["steps"] == []


def test_notes_are_taken_after_the_drill_ended_but_not_before_it_starts(
    supporter_client: FlaskClient, drill: Drill
) -> None:
    drill.status = DrillStatus.ended
    db.session.commit()
    assert post_note(supporter_client, drill).status_code == 201
    drill.status = DrillStatus.planned
    db.session.commit()
    refused = post_note(supporter_client, drill, client_id="note-client-02")
    assert refused.status_code == 409
    assert len(notes()) == 1


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"text": "   "}, {"text"}),
        ({"text": "あ" * 501}, {"text"}),
        ({"client_id": "x"}, {"client_id"}),
        ({"written_at": "2026-12-06T10:00:00"}, {"written_at"}),  # no offset
        ({"checkpoint_id": 999999}, {"checkpoint_id"}),
        ({"lat": 91, "lon": 0}, {"lat"}),
        ({"text": 5, "checkpoint_id": "1"}, {"text", "checkpoint_id"}),
    ],
)
def test_a_note_with_bad_values_is_refused_field_by_field(
    supporter_client: FlaskClient, drill: Drill, body: dict[str, Any], fields: set[str]
) -> None:
    response = post_note(supporter_client, drill, **body)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == fields
    assert notes() == []


def test_a_note_far_in_the_future_is_refused(supporter_client: FlaskClient, drill: Drill) -> None:
    response = post_note(
        supporter_client, drill, written_at=(now() + timedelta(hours=1)).isoformat()
    )
    assert response.status_code == 422 and set(response.get_json()["errors"]) == {"written_at"}


def test_a_supporter_outside_the_drill_gets_404(
    app: Flask, drill: Drill, make_supporter: Callable[..., Any], other_district: Any
) -> None:
    stranger = signin_supporter(app.test_client(), make_supporter(other_district))
    response = post_note(stranger, drill)
    assert response.status_code == 404 and response.is_json
    assert stranger.get(f"/field/drills/{drill.id}/steps").status_code == 404
    assert notes() == []


def test_a_body_that_is_not_json_is_refused(supporter_client: FlaskClient, drill: Drill) -> None:
    response = supporter_client.post(
        f"/field/drills/{drill.id}/notes", data="not json", content_type="text/plain"
    )
    assert response.status_code == 400
