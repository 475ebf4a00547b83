"""The supporter's phone: choose a viewpoint, answer big radio questions, send once."""

from __future__ import annotations

import re

import sqlalchemy as sa

from watchnet.core.extensions import db
from watchnet.drills.models import DrillStatus, Participant, ParticipantRole, Team
from watchnet.feedback.models import Feedback, GaveNameFirst, Viewpoint


def join(drill, supporter, team=None, role=ParticipantRole.walker):
    db.session.add(
        Participant(
            drill_id=drill.id,
            supporter_id=supporter.id,
            team_id=team.id if team else None,
            role=role,
        )
    )
    db.session.commit()


def english(person):
    person.locale = "en"
    db.session.commit()


def ended_drill(make_drill, district, **values):
    return make_drill(district, status=DrillStatus.ended, **values)


def client_id_of(html: str) -> str:
    match = (
        re.search(r'name="client_id" type="hidden" value="([^"]+)"', html)
        or re.search(r'name="client_id" value="([^"]+)"', html)
        or re.search(r'value="([^"]+)" name="client_id"', html)
    )
    assert match, "the form carries its client id"
    return match.group(1)


def all_feedback():
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Feedback).order_by(Feedback.id)))


def test_a_walker_is_offered_the_caller_viewpoint_first(
    supporter_client, supporter, district, make_drill
):
    english(supporter)
    drill = ended_drill(make_drill, district)
    join(drill, supporter)

    html = supporter_client.get(f"/field/drills/{drill.id}/feedback").get_data(as_text=True)

    suggested = re.search(r'class="fb-choice suggested" href="([^"]+)">([^<]+)<', html)
    assert suggested and "viewpoint=caller" in suggested.group(1)
    assert suggested.group(2) == "I called out to someone"
    assert "I played the person walking alone" in html
    assert "I watched as an observer" in html


def test_the_caller_form_asks_on_five_point_scales_labelled_at_both_ends(
    supporter_client, supporter, district, make_drill
):
    english(supporter)
    drill = ended_drill(make_drill, district)
    join(drill, supporter)

    response = supporter_client.get(f"/field/drills/{drill.id}/feedback?viewpoint=caller")
    html = response.get_data(as_text=True)

    assert response.status_code == 200
    for name in ("safe_approach", "location_ease", "confidence_alone"):
        values = re.findall(rf'type="radio" name="{name}" value="(\d)"', html)
        assert values == ["1", "2", "3", "4", "5"]
    assert "Did you give your own name first?" in html
    assert "How easy was it to tell your location by phone?" in html
    assert "1 = Very hard" in html and "5 = Very easy" in html
    assert 'name="viewport" content="width=device-width' in html


def test_a_caller_sends_feedback_and_sees_thanks(supporter_client, supporter, district, make_drill):
    english(supporter)
    drill = ended_drill(make_drill, district)
    join(drill, supporter)
    url = f"/field/drills/{drill.id}/feedback?viewpoint=caller"
    cid = client_id_of(supporter_client.get(url).get_data(as_text=True))

    response = supporter_client.post(
        url,
        data={
            "client_id": cid,
            "safe_approach": "4",
            "gave_name_first": "yes",
            "location_ease": "2",
            "confidence_alone": "3",
            "text": "電話で現在地を伝えるのが難しかった",
        },
        follow_redirects=True,
    )

    assert response.status_code == 200
    assert "Thank you. Your feedback was saved." in response.get_data(as_text=True)
    [saved] = all_feedback()
    assert (saved.viewpoint, saved.supporter_id, saved.drill_id) == (
        Viewpoint.caller,
        supporter.id,
        drill.id,
    )
    assert (
        saved.safe_approach,
        saved.gave_name_first,
        saved.location_ease,
        saved.confidence_alone,
    ) == (4, GaveNameFirst.yes, 2, 3)
    assert saved.text == "電話で現在地を伝えるのが難しかった"


def test_sending_the_same_form_twice_stores_it_once(
    supporter_client, supporter, district, make_drill
):
    drill = ended_drill(make_drill, district)
    join(drill, supporter)
    url = f"/field/drills/{drill.id}/feedback?viewpoint=caller"
    form = {"client_id": "phone-form-1", "safe_approach": "5", "text": "名乗るのを忘れた"}

    first = supporter_client.post(url, data=form)
    second = supporter_client.post(url, data=form)

    assert first.status_code == second.status_code == 302
    assert len(all_feedback()) == 1
    # A new form (a new client id) is a new feedback.
    supporter_client.post(url, data={**form, "client_id": "phone-form-2"})
    assert len(all_feedback()) == 2


def test_unanswered_questions_are_stored_as_not_answered(
    supporter_client, supporter, district, make_drill
):
    drill = ended_drill(make_drill, district)
    join(drill, supporter)

    supporter_client.post(
        f"/field/drills/{drill.id}/feedback?viewpoint=observer",
        data={"client_id": "obs-1", "text": "落ち着いていた"},
    )

    [saved] = all_feedback()
    assert saved.viewpoint == Viewpoint.observer
    assert (
        saved.safe_approach,
        saved.gave_name_first,
        saved.location_ease,
        saved.confidence_alone,
    ) == (None, None, None, None)


def test_a_role_player_gives_feedback_on_each_team_they_met(
    supporter_client, supporter, district, make_drill
):
    english(supporter)
    drill = ended_drill(make_drill, district)
    red, blue = Team(drill_id=drill.id, name="赤班"), Team(drill_id=drill.id, name="青班")
    db.session.add_all([red, blue])
    db.session.commit()
    join(drill, supporter, role=ParticipantRole.role_player)
    url = f"/field/drills/{drill.id}/feedback?viewpoint=called"

    chooser = supporter_client.get(f"/field/drills/{drill.id}/feedback").get_data(as_text=True)
    assert re.search(r'class="fb-choice suggested" href="[^"]*viewpoint=called"', chooser)
    html = supporter_client.get(url).get_data(as_text=True)
    assert "Which team called out to you?" in html
    assert "Did they give their own name first?" in html
    # The role-player is not asked how easy it was to tell the location: they did not call.
    assert 'name="location_ease"' not in html

    supporter_client.post(
        url,
        data={
            "client_id": "rp-red",
            "team_id": str(red.id),
            "safe_approach": "5",
            "gave_name_first": "no",
            "text": "後ろから声を掛けられて驚いた",
        },
    )
    html = supporter_client.get(url).get_data(as_text=True)
    red_option = re.search(rf'value="{red.id}">\s*<span class="fb-box">(.*?)</label>', html, re.S)
    blue_option = re.search(rf'value="{blue.id}">\s*<span class="fb-box">(.*?)</label>', html, re.S)
    assert red_option and "Sent" in red_option.group(1)
    assert blue_option and "Sent" not in blue_option.group(1)
    supporter_client.post(
        url, data={"client_id": "rp-blue", "team_id": str(blue.id), "gave_name_first": "yes"}
    )

    saved = all_feedback()
    assert [(f.viewpoint, f.team_id) for f in saved] == [
        (Viewpoint.called, red.id),
        (Viewpoint.called, blue.id),
    ]


def test_bad_input_gets_the_form_back_with_messages_and_saves_nothing(
    supporter_client, supporter, district, make_drill
):
    english(supporter)
    drill = ended_drill(make_drill, district)
    other = ended_drill(make_drill, district, title="別の訓練")
    stranger_team = Team(drill_id=other.id, name="よその班")
    db.session.add(stranger_team)
    db.session.commit()
    join(drill, supporter)
    url = f"/field/drills/{drill.id}/feedback?viewpoint=caller"

    response = supporter_client.post(
        url,
        data={
            "client_id": "bad-1",
            "safe_approach": "9",
            "gave_name_first": "maybe",
            "location_ease": "abc",
            "text": "長" * 2001,
        },
    )
    html = response.get_data(as_text=True)

    assert response.status_code == 422
    assert "Nothing has been saved yet." in html
    for name in ("safe_approach", "gave_name_first", "location_ease", "text"):
        assert re.search(rf'<ul class="errors" id="{name}-err"><li>[^<]+</li>', html), name
    assert html.count("Choose one of the buttons.") == 3
    assert 'value="bad-1"' in html, "the same form id is kept for the next try"
    assert all_feedback() == []

    called = supporter_client.post(
        f"/field/drills/{drill.id}/feedback?viewpoint=called",
        data={"client_id": "bad-2", "team_id": str(stranger_team.id)},
    )
    assert called.status_code == 422
    assert "Choose one of this drill&#39;s teams." in called.get_data(as_text=True)
    assert all_feedback() == []


def test_a_role_player_must_name_the_team(supporter_client, supporter, district, make_drill):
    english(supporter)
    drill = ended_drill(make_drill, district)
    db.session.add(Team(drill_id=drill.id, name="赤班"))
    db.session.commit()
    join(drill, supporter, role=ParticipantRole.role_player)

    response = supporter_client.post(
        f"/field/drills/{drill.id}/feedback?viewpoint=called",
        data={"client_id": "rp-1", "safe_approach": "3"},
    )

    assert response.status_code == 422
    assert "Choose the team that called out to you." in response.get_data(as_text=True)
    assert all_feedback() == []


def test_a_supporter_who_did_not_take_part_gets_not_found(
    supporter_client, supporter, district, make_drill
):
    drill = ended_drill(make_drill, district)

    assert supporter_client.get(f"/field/drills/{drill.id}/feedback").status_code == 404
    response = supporter_client.post(
        f"/field/drills/{drill.id}/feedback?viewpoint=caller",
        data={"client_id": "x-1", "text": "入れない"},
    )
    assert response.status_code == 404
    assert all_feedback() == []


def test_feedback_opens_when_the_drill_starts(supporter_client, supporter, district, make_drill):
    english(supporter)
    drill = make_drill(district)  # planned
    join(drill, supporter)

    page = supporter_client.get(f"/field/drills/{drill.id}/feedback?viewpoint=caller")
    sent = supporter_client.post(
        f"/field/drills/{drill.id}/feedback?viewpoint=caller",
        data={"client_id": "early-1", "text": "早すぎる"},
    )

    assert "Feedback opens when the drill starts." in page.get_data(as_text=True)
    assert sent.status_code == 409
    assert all_feedback() == []


def test_a_supporter_cannot_choose_the_organizer_viewpoint(
    supporter_client, supporter, district, make_drill
):
    drill = ended_drill(make_drill, district)
    join(drill, supporter)

    response = supporter_client.post(
        f"/field/drills/{drill.id}/feedback?viewpoint=organizer",
        data={"client_id": "org-1", "text": "なりすまし"},
    )

    assert response.status_code == 422
    assert all_feedback() == []


def test_the_form_needs_its_csrf_token(csrf_app, supporter, district, make_drill):
    from support import signin_supporter

    drill = ended_drill(make_drill, district)
    join(drill, supporter)
    client = signin_supporter(csrf_app.test_client(), supporter)

    response = client.post(
        f"/field/drills/{drill.id}/feedback?viewpoint=caller",
        data={"client_id": "csrf-1", "text": "トークンなし"},
    )

    assert response.status_code in (400, 422)
    assert all_feedback() == []
