"""Ending a help call: the caller's 「もう大丈夫」, the organizer's 「対応済み」 and the end of the
drill. Each ending is recorded once (who, when, how), is an event every open page of the
drill hears, and is refused to anyone outside the drill or the district."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import LiveServer, login, signin_supporter
from tests.tracking import test_tracking_help as help_calls
from tests.tracking.test_tracking_help import Scene, Stream
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.drills.models import Drill, DrillStatus, Participant
from watchnet.tracking.lifecycle import end_drill
from watchnet.tracking.models import HelpCall, HelpCallResolution, LiveEvent
from watchnet.tracking.services import resolve_help_call

# The help call tests' fixtures: a live drill with a caller and supporters near and far, and
# phones' event streams over real HTTP.
scene = help_calls.scene
streams = help_calls.streams


def ended_events(drill_id: int) -> list[LiveEvent]:
    return list(
        db.session.scalars(
            sa.select(LiveEvent)
            .where(LiveEvent.drill_id == drill_id, LiveEvent.kind == "help_resolved")
            .order_by(LiveEvent.id)
        )
    )


def resolve_own(client: FlaskClient, drill_id: int, client_id: str = "help-call-0001") -> Any:
    return client.post(f"/field/drills/{drill_id}/help/resolve", json={"help_client_id": client_id})


def stored(call_id: int) -> HelpCall:
    db.session.expire_all()
    call = db.session.get(HelpCall, call_id)
    assert call is not None
    return call


def field_config(client: FlaskClient, drill_id: int) -> dict[str, Any]:
    html = client.get(f"/field/drills/{drill_id}").get_data(as_text=True)
    match = re.search(
        r'<script type="application/json" id="field-config">(.*?)</script>', html, re.S
    )
    assert match, "no field config"
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def test_the_caller_ends_their_own_call_once_and_every_open_page_hears_it(
    scene: Scene, live_server: LiveServer, streams: list[Stream]
) -> None:
    call_id = scene.call_for_help().get_json()["id"]
    near1 = Stream(live_server, scene.people["near1"], scene.drill_id)
    streams.append(near1)
    assert near1.next_event("help_call")["data"]["id"] == call_id
    caller = scene.phone("caller")

    response = resolve_own(caller, scene.drill_id)

    assert response.status_code == 200
    answer = response.get_json()
    assert answer["help_call_id"] == call_id
    assert answer["resolution"] == "caller_ok"
    call = stored(call_id)
    assert call.resolution == HelpCallResolution.caller_ok
    assert call.resolved_by == f"supporter:{scene.ids['caller']}"
    assert call.resolved_by_name == scene.names["caller"]
    assert call.resolved_at is not None
    heard = near1.next_event("help_resolved")["data"]
    assert heard == answer
    (event,) = ended_events(scene.drill_id)
    assert event.audience == "drill"  # every phone of the drill and its staff

    # A retry (the phone never saw the answer) changes nothing and tells the same.
    again = resolve_own(caller, scene.drill_id)
    assert again.status_code == 200 and again.get_json() == answer
    assert stored(call_id).resolved_at == call.resolved_at
    assert len(ended_events(scene.drill_id)) == 1


def test_the_organizer_marks_a_call_handled_and_a_later_im_all_right_changes_nothing(
    scene: Scene, app: Flask, organizer: Any
) -> None:
    call_id = scene.call_for_help().get_json()["id"]
    staff = login(app.test_client(), organizer)

    response = staff.post(f"/drills/{scene.drill_id}/help/{call_id}/resolve", json={})

    assert response.status_code == 200
    assert response.get_json()["resolution"] == "staff_handled"
    assert response.get_json()["resolved_by_name"] == organizer.name
    call = stored(call_id)
    assert (call.resolution, call.resolved_by) == (
        HelpCallResolution.staff_handled,
        f"staff:{organizer.id}",
    )
    late = resolve_own(scene.phone("caller"), scene.drill_id)
    assert late.status_code == 200
    assert late.get_json()["resolution"] == "staff_handled"  # how it really ended
    assert stored(call_id).resolved_by == f"staff:{organizer.id}"
    assert len(ended_events(scene.drill_id)) == 1

    # The live view's snapshot shows it ended, and no longer counts it as open.
    snapshot = staff.get(f"/drills/{scene.drill_id}/live/state").get_json()
    item = next(f for f in snapshot["feed"] if f["kind"] == "help_call")
    assert item["payload"]["resolved"] is True
    assert item["payload"]["ended"]["resolution"] == "staff_handled"
    assert snapshot["counts"]["open_help"] == 0


def test_two_endings_at_once_record_only_the_first(
    scene: Scene, app: Flask, organizer: Any
) -> None:
    call_id = scene.call_for_help().get_json()["id"]
    stale = db.session.get(HelpCall, call_id)
    assert stale is not None and stale.resolved_at is None  # loaded before the other ending
    login(app.test_client(), organizer).post(
        f"/drills/{scene.drill_id}/help/{call_id}/resolve", json={}
    )

    assert resolve_help_call(stale, HelpCallResolution.caller_ok) is False
    db.session.commit()

    assert stored(call_id).resolution == HelpCallResolution.staff_handled
    assert len(ended_events(scene.drill_id)) == 1


def test_nobody_outside_the_drill_or_district_can_end_a_call(
    scene: Scene,
    app: Flask,
    outsider: Any,
    make_supporter: Any,
    make_drill: Any,
    district: Any,
    other_district: Any,
) -> None:
    call_id = scene.call_for_help().get_json()["id"]
    other_drill = make_drill(district, status=DrillStatus.live)
    in_other_drill = make_supporter(district, name="別訓練 六郎")
    db.session.add(Participant(drill_id=other_drill.id, supporter_id=in_other_drill.id))
    db.session.commit()
    stranger = make_supporter(other_district, name="他地区 五郎")

    outsider_client = login(app.test_client(), outsider)
    assert (
        outsider_client.post(f"/drills/{scene.drill_id}/help/{call_id}/resolve").status_code == 404
    )
    # The call under another drill's id (one the outsider may not see either): 404.
    assert (
        outsider_client.post(f"/drills/{other_drill.id}/help/{call_id}/resolve").status_code == 404
    )
    for person in (stranger, in_other_drill):
        phone = signin_supporter(app.test_client(), person)
        assert resolve_own(phone, scene.drill_id).status_code == 404
        assert resolve_own(phone, other_drill.id).status_code == 404
    # Another participant cannot end the caller's call: it is not theirs to name.
    near1 = scene.phone("near1")
    assert resolve_own(near1, scene.drill_id).status_code == 404
    bad = resolve_own(near1, scene.drill_id, "not a client id!")
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"help_client_id"}
    # A phone is not staff: the organizer's 「対応済み」 is refused.
    assert near1.post(f"/drills/{scene.drill_id}/help/{call_id}/resolve").status_code == 403
    assert stored(call_id).resolved_at is None
    assert ended_events(scene.drill_id) == []


def test_on_my_way_to_an_ended_call_is_refused_but_a_repeat_is_answered(scene: Scene) -> None:
    call_id = scene.call_for_help().get_json()["id"]
    near1, near2 = scene.phone("near1"), scene.phone("near2")
    first = near1.post(f"/field/help/{call_id}/respond", json={}).get_json()
    resolve_own(scene.phone("caller"), scene.drill_id)

    late = near2.post(f"/field/help/{call_id}/respond", json={})
    assert late.status_code == 409
    assert late.get_json()["message"] == "この応援の依頼はもう終わっています。"
    assert near1.post(f"/field/help/{call_id}/respond", json={}).get_json() == first


def test_ending_the_drill_closes_the_calls_still_open(
    scene: Scene, organizer_client: FlaskClient
) -> None:
    first = scene.call_for_help().get_json()["id"]
    resolve_own(scene.phone("caller"), scene.drill_id)
    second = scene.call_for_help(client_id="help-call-0002").get_json()["id"]
    near1_call = scene.call_for_help(scene.phone("near1"), client_id="help-call-0003").get_json()

    response = organizer_client.post(f"/drills/{scene.drill_id}/end", data={})

    assert response.status_code == 302
    db.session.expire_all()
    drill = db.session.get(Drill, scene.drill_id)
    assert drill is not None and drill.status == DrillStatus.ended
    for call_id in (second, near1_call["id"]):
        call = stored(call_id)
        assert call.resolution == HelpCallResolution.drill_ended
        assert call.resolved_at == drill.finished_at
        assert (call.resolved_by, call.resolved_by_name) == (None, "")
    assert stored(first).resolution == HelpCallResolution.caller_ok  # ended before: kept
    events = ended_events(scene.drill_id)
    assert [e.payload["help_call_id"] for e in events] == [first, second, near1_call["id"]]
    status = db.session.scalars(
        sa.select(LiveEvent).where(LiveEvent.kind == "drill_status").order_by(LiveEvent.id)
    ).all()[-1]
    assert status.payload["status"] == "ended"
    assert status.id > events[-1].id  # the phones hear the calls end, then the drill
    # Ending again is refused and ends nothing more.
    with pytest.raises(UserInputError):
        end_drill(drill)
    db.session.rollback()
    assert len(ended_events(scene.drill_id)) == 3


def test_a_page_opened_later_shows_only_the_calls_still_open(scene: Scene) -> None:
    call_id = scene.call_for_help().get_json()["id"]
    near1, caller = scene.phone("near1"), scene.phone("caller")
    near1.post(f"/field/help/{call_id}/respond", json={})

    incoming = field_config(near1, scene.drill_id)["help"]["incoming"]
    assert [c["id"] for c in incoming] == [call_id]
    assert incoming[0]["name"] == scene.names["caller"]
    assert incoming[0]["sentence"] == "現在地は八幡公民館の北東 約120mです。"
    assert incoming[0]["answered"] is True
    assert incoming[0]["responders"] == [scene.names["near1"]]
    own = field_config(caller, scene.drill_id)["help"]["own"]
    assert (own["id"], own["client_id"]) == (call_id, "help-call-0001")
    assert own["responders"] == [scene.names["near1"]]
    # The far supporter was not told: their page shows nothing.
    assert field_config(scene.phone("far"), scene.drill_id)["help"]["incoming"] == []

    resolve_own(caller, scene.drill_id)

    assert field_config(near1, scene.drill_id)["help"] == {"own": None, "incoming": []}
    assert field_config(caller, scene.drill_id)["help"]["own"] is None
