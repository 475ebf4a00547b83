"""Board JSON endpoints, the district's action items, the drill page's open items and the
report, as an organizer of the district and as an outsider."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient

from watchnet.core.extensions import db
from watchnet.kpt import services
from watchnet.kpt.models import ActionItem, ActionStatus, KptItem


def test_the_board_is_added_to_edited_and_polled_as_json(
    organizer_client: FlaskClient, district: Any, make_drill: Any
) -> None:
    drill = make_drill(district)
    base = f"/drills/{drill.id}/kpt/items"
    response = organizer_client.post(base, json={"kind": "problem", "text": "現在地が言えない"})
    assert response.status_code == 201
    state = response.get_json()
    item_id = state["items"][0]["id"]
    assert state["version"] == 1

    assert organizer_client.get(f"{base}?since=1").get_json() == {"version": 1, "changed": False}
    organizer_client.post(f"{base}/{item_id}", json={"text": "電話で現在地が言えない"})
    state = organizer_client.get(f"{base}?since=1").get_json()
    assert state["changed"] is True
    assert state["items"][0]["text"] == "電話で現在地が言えない"

    response = organizer_client.post(f"{base}/{item_id}/delete")
    assert response.get_json()["items"] == []


def test_bad_board_input_gets_422_with_the_field_and_saves_nothing(
    organizer_client: FlaskClient, district: Any, make_drill: Any
) -> None:
    drill = make_drill(district)
    base = f"/drills/{drill.id}/kpt/items"
    for body in (
        {"kind": "keep", "text": "x" * 501},
        {"kind": "nope", "text": "x"},
        {"kind": "keep"},
        None,
    ):
        response = organizer_client.post(base, json=body)
        assert response.status_code == 422
        assert response.get_json()["errors"]
    assert db.session.scalar(sa.select(sa.func.count(KptItem.id))) == 0
    assert organizer_client.post(f"{base}/99999", json={"text": "x"}).status_code == 404


def test_the_board_page_shows_notes_as_text_in_three_columns(
    organizer_client: FlaskClient, district: Any, make_drill: Any
) -> None:
    drill = make_drill(district)
    services.add_kpt_item(drill, "keep", "<script>alert(1)</script>")
    db.session.commit()
    page = organizer_client.get(f"/drills/{drill.id}/kpt").get_data(as_text=True)
    for kind in ("keep", "problem", "try"):
        assert f'id="kpt-items-{kind}"' in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_try_becomes_an_action_item_shown_and_closed_on_the_next_drills_page(
    organizer_client: FlaskClient, district: Any, make_drill: Any
) -> None:
    drill = make_drill(district, title="第1回")
    try_ = services.add_kpt_item(drill, "try", "地図を事前に配る")
    db.session.commit()
    response = organizer_client.post(
        f"/drills/{drill.id}/kpt/items/{try_.id}/action",
        json={"owner": "山田", "due_date": "2026-05-31"},
    )
    assert response.status_code == 201
    assert response.get_json()["actions"][0]["owner"] == "山田"

    next_drill = make_drill(district, title="第2回")
    page = organizer_client.get(f"/drills/{next_drill.id}").get_data(as_text=True)
    assert "地図を事前に配る" in page and "山田" in page
    action = db.session.scalar(sa.select(ActionItem))
    assert action is not None
    response = organizer_client.post(
        f"/districts/{district.id}/actions/{action.id}/close",
        data={"closed_in_drill_id": str(next_drill.id)},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/drills/{next_drill.id}#open-actions")
    db.session.expire_all()
    closed = db.session.get(ActionItem, action.id)
    assert closed is not None
    assert closed.status == ActionStatus.done and closed.closed_in_drill_id == next_drill.id
    page = organizer_client.get(f"/drills/{next_drill.id}").get_data(as_text=True)
    assert "地図を事前に配る" not in page
    listing = organizer_client.get(f"/districts/{district.id}/actions").get_data(as_text=True)
    assert "地図を事前に配る" in listing


def test_an_action_item_without_owner_is_refused(
    organizer_client: FlaskClient, district: Any, make_drill: Any
) -> None:
    drill = make_drill(district)
    try_ = services.add_kpt_item(drill, "try", "x")
    db.session.commit()
    response = organizer_client.post(
        f"/drills/{drill.id}/kpt/items/{try_.id}/action",
        json={"owner": " ", "due_date": "2026-05-31"},
    )
    assert response.status_code == 422
    assert "owner" in response.get_json()["errors"]


def test_an_outsider_gets_404_on_the_board_actions_report_and_close(
    outsider_client: FlaskClient, district: Any, make_drill: Any
) -> None:
    drill = make_drill(district)
    action = services.create_action_item(
        drill, services.add_kpt_item(drill, "try", "秘密の取り組み").id, "山田", ""
    )
    db.session.commit()
    for url in (
        f"/drills/{drill.id}/kpt",
        f"/drills/{drill.id}/kpt/items",
        f"/districts/{district.id}/actions",
        f"/drills/{drill.id}/report",
        f"/drills/{drill.id}/newsletter",
    ):
        assert outsider_client.get(url).status_code == 404, url
    response = outsider_client.post(f"/districts/{district.id}/actions/{action.id}/close")
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.scalar(sa.select(ActionItem.status)) == ActionStatus.open


def test_the_report_shows_facts_notes_and_action_items_in_english(
    organizer: Any, organizer_client: FlaskClient, district: Any, make_drill: Any
) -> None:
    organizer.locale = "en"
    drill = make_drill(district, title="報告の訓練")
    services.add_kpt_item(drill, "keep", "笑顔で声掛けできた")
    services.create_action_item(
        drill, services.add_kpt_item(drill, "try", "名札を作る").id, "佐藤", "2026-06-01"
    )
    db.session.commit()
    page = organizer_client.get(f"/drills/{drill.id}/report").get_data(as_text=True)
    for text in (
        "報告の訓練",
        drill.purpose,
        "笑顔で声掛けできた",
        "名札を作る",
        "佐藤",
        "Timings per checkpoint",
        "ポイント1",
        "—/missing",
        "<svg",
    ):
        assert text in page, text
