"""Board, action item and newsletter services: validation, versions, district scoping."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.kpt import services
from watchnet.kpt.models import ActionItem, ActionStatus, KptKind


def test_adding_a_note_bumps_the_board_version_and_appends_to_its_column(
    district: Any, make_drill: Any
) -> None:
    drill = make_drill(district)
    assert services.board_version(drill) == 0
    first = services.add_kpt_item(drill, "keep", "  名乗りができた ")
    second = services.add_kpt_item(drill, "keep", "笑顔で近づけた")
    db.session.commit()
    assert services.board_version(drill) == 2
    assert first.text == "名乗りができた"
    assert [i.id for i in services.list_kpt_items(drill)] == [first.id, second.id]
    assert second.position == first.position + 1


def test_state_since_the_current_version_says_nothing_changed(
    district: Any, make_drill: Any
) -> None:
    drill = make_drill(district)
    services.add_kpt_item(drill, "try", "住所を伝える練習")
    db.session.commit()
    version = services.board_version(drill)
    assert services.board_state(drill, since=version) == {"version": version, "changed": False}
    state = services.board_state(drill, since=version - 1)
    assert state["changed"] is True
    assert [i["text"] for i in state["items"]] == ["住所を伝える練習"]


@pytest.mark.parametrize(
    ("kind", "text", "field"),
    [
        ("keep", "   ", "text"),
        ("keep", "あ" * 501, "text"),
        ("wish", "text", "kind"),
    ],
)
def test_a_blank_too_long_or_unknown_note_is_refused(
    district: Any, make_drill: Any, kind: str, text: str, field: str
) -> None:
    drill = make_drill(district)
    with pytest.raises(UserInputError) as caught:
        services.add_kpt_item(drill, kind, text)
    assert caught.value.field == field


def test_only_a_try_becomes_an_action_item_of_the_drills_district(
    district: Any, make_drill: Any
) -> None:
    drill = make_drill(district)
    keep = services.add_kpt_item(drill, "keep", "よかった")
    try_ = services.add_kpt_item(drill, "try", "地図を配る")
    with pytest.raises(UserInputError):
        services.create_action_item(drill, keep.id, "山田", "2026-05-31")
    action = services.create_action_item(drill, try_.id, "山田", "2026-05-31")
    db.session.commit()
    assert (action.district_id, action.drill_id, action.kpt_item_id) == (
        district.id,
        drill.id,
        try_.id,
    )
    assert action.title == "地図を配る"
    assert action.due_date == date(2026, 5, 31)
    assert action.status == ActionStatus.open


def test_a_bad_due_date_or_missing_owner_is_refused(district: Any, make_drill: Any) -> None:
    drill = make_drill(district)
    try_ = services.add_kpt_item(drill, "try", "地図を配る")
    with pytest.raises(UserInputError) as caught:
        services.create_action_item(drill, try_.id, "山田", "31/05/2026")
    assert caught.value.field == "due_date"
    with pytest.raises(UserInputError) as caught:
        services.create_action_item(drill, try_.id, "", "2026-05-31")
    assert caught.value.field == "owner"


def test_a_note_of_another_drill_cannot_be_edited_through_this_one(
    district: Any, make_drill: Any
) -> None:
    drill, other = make_drill(district), make_drill(district, title="別の訓練")
    item = services.add_kpt_item(other, "keep", "x")
    with pytest.raises(LookupError):
        services.edit_kpt_item(drill, item.id, "y")
    with pytest.raises(LookupError):
        services.delete_kpt_item(drill, item.id)


def test_deleting_a_try_keeps_its_action_item(district: Any, make_drill: Any) -> None:
    drill = make_drill(district)
    try_ = services.add_kpt_item(drill, "try", "地図を配る")
    action = services.create_action_item(drill, try_.id, "山田", "")
    services.delete_kpt_item(drill, try_.id)
    db.session.commit()
    db.session.expire_all()
    kept = db.session.get(ActionItem, action.id)
    assert kept is not None and kept.kpt_item_id is None and kept.due_date is None


def test_open_items_are_the_districts_not_yet_done_ones_and_closing_notes_the_drill(
    district: Any, other_district: Any, make_drill: Any
) -> None:
    drill = make_drill(district)
    next_drill = make_drill(district, title="次の訓練")
    foreign = make_drill(other_district)
    a = services.create_action_item(drill, services.add_kpt_item(drill, "try", "A").id, "X", "")
    b = services.create_action_item(drill, services.add_kpt_item(drill, "try", "B").id, "Y", "")
    services.create_action_item(foreign, services.add_kpt_item(foreign, "try", "C").id, "Z", "")
    db.session.commit()
    assert {x.title for x in services.open_action_items(district.id)} == {"A", "B"}
    with pytest.raises(LookupError):
        services.close_action_item(other_district.id, a.id)
    with pytest.raises(LookupError):
        services.close_action_item(district.id, a.id, closed_in=foreign)
    services.close_action_item(district.id, a.id, closed_in=next_drill)
    db.session.commit()
    assert [x.title for x in services.open_action_items(district.id)] == [b.title]
    assert a.status == ActionStatus.done and a.closed_in_drill_id == next_drill.id
    assert a.closed_at is not None


def test_kinds_cover_keep_problem_and_try() -> None:
    assert [k.value for k in KptKind] == ["keep", "problem", "try"]


def test_a_saved_newsletter_replaces_the_draft_and_reads_back_as_plain_text(
    district: Any, make_drill: Any
) -> None:
    drill = make_drill(district)
    sections, saved = services.get_newsletter(drill)
    assert saved is False and sections["purpose"] == drill.purpose
    services.save_newsletter(
        drill,
        {
            "purpose": "目的です",
            "background": "経緯です",
            "happenings": "様子です",
            "future": "今後です",
        },
    )
    db.session.commit()
    sections, saved = services.get_newsletter(drill)
    assert saved is True
    assert services.newsletter_text(sections) == (
        "【目的】\n目的です\n\n【経緯】\n経緯です\n\n【様子】\n様子です\n\n【今後】\n今後です\n"
    )
