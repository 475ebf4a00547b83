"""The teams page: organizers form teams, invite supporters and place them, with bad input
refused field by field and nothing saved half-way."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from watchnet.audit.models import AuditEvent
from watchnet.core.extensions import db
from watchnet.drills.models import Participant, ParticipantRole, Team
from watchnet.teams import services


def teams_url(drill: Any, suffix: str = "") -> str:
    return f"/drills/{drill.id}/teams/{suffix}"


def team_rows(drill: Any) -> list[Team]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Team).where(Team.drill_id == drill.id)))


def participants_of(drill: Any) -> list[Participant]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(Participant).where(Participant.drill_id == drill.id).order_by(Participant.id)
        )
    )


@pytest.fixture()
def client_en(app: Any, english_organizer: Any, log_in: Any) -> Any:
    return log_in(app.test_client(), english_organizer)


def test_organizer_creates_a_team_and_sees_it_with_its_colour(client_en, yawata_drill):
    response = client_en.post(
        teams_url(yawata_drill, "new"), data={"new-team-name": "A班", "new-team-color": "#1d6b35"}
    )
    assert response.status_code == 302
    assert team_rows(yawata_drill)[0].name == "A班"

    html = client_en.get(response.headers["Location"]).get_data(as_text=True)
    assert "The team was created." in html
    assert "A班" in html
    assert "background: #1d6b35" in html


def test_the_teams_page_counts_participants_by_kind(client_en, yawata_drill, six_supporters):
    services.invite_supporters(yawata_drill, [s.id for s in six_supporters])
    db.session.commit()
    html = client_en.get(teams_url(yawata_drill)).get_data(as_text=True)
    counts = dict(re.findall(r'data-kind="(\w+)"><strong>(\d+)</strong>', html))
    assert counts == {
        "community_supporter": "2",
        "care_prevention_supporter": "1",
        "dementia_supporter": "2",
        "care_manager": "1",
    }
    assert "Orange (dementia) supporter" in html


def test_a_second_team_with_the_same_name_is_refused_with_a_message(client_en, yawata_drill):
    services.create_team(yawata_drill, "A班", "#0b5cad")
    db.session.commit()
    response = client_en.post(
        teams_url(yawata_drill, "new"), data={"new-team-name": " A班 ", "new-team-color": "#b3261e"}
    )
    assert response.status_code == 422
    assert "already has a team with that name" in response.get_data(as_text=True)
    assert len(team_rows(yawata_drill)) == 1


def test_the_same_team_name_is_fine_in_another_drill(client_en, yawata_drill, district, make_drill):
    services.create_team(yawata_drill, "A班", "#0b5cad")
    other = make_drill(district, title="第3回")
    db.session.commit()
    response = client_en.post(
        teams_url(other, "new"), data={"new-team-name": "A班", "new-team-color": "#0b5cad"}
    )
    assert response.status_code == 302


def test_a_team_name_of_ten_thousand_characters_is_refused(client_en, yawata_drill):
    response = client_en.post(
        teams_url(yawata_drill, "new"),
        data={"new-team-name": "班" * 10_000, "new-team-color": "#0b5cad"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing has been saved yet." in html
    assert 'aria-invalid="true"' in html
    assert team_rows(yawata_drill) == []


def test_an_empty_team_name_and_a_colour_outside_the_palette_are_refused(client_en, yawata_drill):
    response = client_en.post(
        teams_url(yawata_drill, "new"), data={"new-team-name": "   ", "new-team-color": "red;}"}
    )
    assert response.status_code == 422
    assert team_rows(yawata_drill) == []


def test_script_in_a_team_name_is_stored_and_shown_as_text(client_en, yawata_drill):
    name = "<script>alert(1)</script>"
    response = client_en.post(
        teams_url(yawata_drill, "new"), data={"new-team-name": name, "new-team-color": "#0b5cad"}
    )
    assert response.status_code == 302
    team = team_rows(yawata_drill)[0]
    assert team.name == name
    for url in (
        teams_url(yawata_drill),
        teams_url(yawata_drill, f"{team.id}/handout"),
        teams_url(yawata_drill, "handouts"),
    ):
        html = client_en.get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_renaming_and_recolouring_a_team(client_en, yawata_drill):
    team = services.create_team(yawata_drill, "A班", "#0b5cad")
    db.session.commit()
    response = client_en.post(
        teams_url(yawata_drill, f"{team.id}/edit"),
        data={f"team{team.id}-name": "あおぞら班", f"team{team.id}-color": "#6a3d9a"},
    )
    assert response.status_code == 302
    assert (team_rows(yawata_drill)[0].name, team_rows(yawata_drill)[0].color) == (
        "あおぞら班",
        "#6a3d9a",
    )


def test_renaming_a_team_to_the_name_of_another_is_refused(client_en, yawata_drill):
    services.create_team(yawata_drill, "A班", "#0b5cad")
    b = services.create_team(yawata_drill, "B班", "#b3261e")
    db.session.commit()
    response = client_en.post(
        teams_url(yawata_drill, f"{b.id}/edit"),
        data={f"team{b.id}-name": "A班", f"team{b.id}-color": "#b3261e"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "already has a team with that name" in html
    assert re.search(r"<details class=\"team-edit\" open>", html)
    assert sorted(t.name for t in team_rows(yawata_drill)) == ["A班", "B班"]


def test_a_team_keeps_a_colour_from_before_the_palette(client_en, yawata_drill):
    team = Team(drill_id=yawata_drill.id, name="A班", color="#d62728")
    db.session.add(team)
    db.session.commit()
    response = client_en.post(
        teams_url(yawata_drill, f"{team.id}/edit"),
        data={f"team{team.id}-name": "A班改", f"team{team.id}-color": "#d62728"},
    )
    assert response.status_code == 302
    assert team_rows(yawata_drill)[0].color == "#d62728"


def test_inviting_supporters_makes_them_participants_without_a_team(
    client_en, yawata_drill, six_supporters
):
    chosen = six_supporters[:3]
    response = client_en.post(
        teams_url(yawata_drill, "invite"), data={"supporter_ids": [str(s.id) for s in chosen]}
    )
    assert response.status_code == 302
    rows = participants_of(yawata_drill)
    assert sorted(p.supporter_id for p in rows) == sorted(s.id for s in chosen)
    assert all(p.team_id is None and p.role == ParticipantRole.walker for p in rows)

    html = client_en.get(teams_url(yawata_drill)).get_data(as_text=True)
    unassigned = html.split('id="unassigned"')[1].split('id="invite"')[0]
    invite = html.split('id="invite"')[1]
    for s in chosen:
        assert s.name in unassigned and s.name not in invite
    for s in six_supporters[3:]:
        assert s.name in invite


def test_inviting_someone_twice_adds_nobody_twice(client_en, yawata_drill, six_supporters):
    ids = [str(six_supporters[0].id)]
    client_en.post(teams_url(yawata_drill, "invite"), data={"supporter_ids": ids})
    response = client_en.post(teams_url(yawata_drill, "invite"), data={"supporter_ids": ids})
    assert response.status_code == 302
    assert len(participants_of(yawata_drill)) == 1


def test_a_supporter_of_another_district_is_refused_and_nothing_changes(
    client_en, yawata_drill, six_supporters, other_district, make_supporter
):
    stranger = make_supporter(other_district, name="寺尾 次郎", name_kana="てらお じろう")
    response = client_en.post(
        teams_url(yawata_drill, "invite"),
        data={"supporter_ids": [str(six_supporters[0].id), str(stranger.id)]},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "cannot be invited to this drill" in html
    assert "寺尾 次郎" not in html
    assert participants_of(yawata_drill) == []


def test_the_invite_list_shows_only_active_supporters_of_the_drills_district(
    client_en, yawata_drill, district, other_district, make_supporter
):
    make_supporter(district, name="八幡 一子", name_kana="やわた いちこ")
    resting = make_supporter(district, name="休止 中子", name_kana="きゅうし なかこ")
    resting.is_active = False
    make_supporter(other_district, name="寺尾 次郎", name_kana="てらお じろう")
    db.session.commit()
    html = client_en.get(teams_url(yawata_drill)).get_data(as_text=True)
    assert "八幡 一子" in html
    assert "休止 中子" not in html
    assert "寺尾 次郎" not in html

    response = client_en.post(
        teams_url(yawata_drill, "invite"), data={"supporter_ids": [str(resting.id)]}
    )
    assert response.status_code == 422
    assert participants_of(yawata_drill) == []


def test_an_invitation_with_nobody_chosen_or_a_bad_id_is_refused(client_en, yawata_drill):
    assert client_en.post(teams_url(yawata_drill, "invite"), data={}).status_code == 422
    response = client_en.post(teams_url(yawata_drill, "invite"), data={"supporter_ids": "x"})
    assert response.status_code == 422


def test_placing_a_participant_in_a_team_with_a_role(client_en, yawata_drill, six_supporters):
    team = services.create_team(yawata_drill, "A班", "#0b5cad")
    [p] = services.invite_supporters(yawata_drill, [six_supporters[0].id])
    db.session.commit()
    response = client_en.post(
        teams_url(yawata_drill, f"participants/{p.id}"),
        data={f"p{p.id}-team_id": str(team.id), f"p{p.id}-role": "observer"},
    )
    assert response.status_code == 302
    [row] = participants_of(yawata_drill)
    assert (row.team_id, row.role) == (team.id, ParticipantRole.observer)

    html = client_en.get(teams_url(yawata_drill)).get_data(as_text=True)
    card = html.split(f'id="team-{team.id}"')[1].split("</section>")[0]
    assert six_supporters[0].name in card and "Observer" in card

    response = client_en.post(
        teams_url(yawata_drill, f"participants/{p.id}"),
        data={f"p{p.id}-team_id": "0", f"p{p.id}-role": "walker"},
    )
    assert response.status_code == 302
    assert participants_of(yawata_drill)[0].team_id is None


def test_an_unknown_role_is_refused(client_en, yawata_drill, six_supporters):
    [p] = services.invite_supporters(yawata_drill, [six_supporters[0].id])
    db.session.commit()
    response = client_en.post(
        teams_url(yawata_drill, f"participants/{p.id}"),
        data={f"p{p.id}-team_id": "0", f"p{p.id}-role": "captain"},
    )
    assert response.status_code == 422
    assert participants_of(yawata_drill)[0].role == ParticipantRole.walker


def test_a_team_of_another_drill_cannot_be_chosen(
    client_en, yawata_drill, district, make_drill, six_supporters
):
    other_team = services.create_team(make_drill(district, title="別の訓練"), "X班", "#0b5cad")
    [p] = services.invite_supporters(yawata_drill, [six_supporters[0].id])
    db.session.commit()
    response = client_en.post(
        teams_url(yawata_drill, f"participants/{p.id}"),
        data={f"p{p.id}-team_id": str(other_team.id), f"p{p.id}-role": "walker"},
    )
    assert response.status_code == 404
    assert participants_of(yawata_drill)[0].team_id is None


def test_deleting_a_team_leaves_its_members_invited_without_a_team(
    client_en, yawata_drill, six_supporters
):
    team = services.create_team(yawata_drill, "A班", "#0b5cad")
    added = services.invite_supporters(yawata_drill, [s.id for s in six_supporters[:2]])
    for p in added:
        services.assign_participant(p, team, "walker")
    db.session.commit()
    response = client_en.post(teams_url(yawata_drill, f"{team.id}/delete"))
    assert response.status_code == 302
    assert team_rows(yawata_drill) == []
    rows = participants_of(yawata_drill)
    assert len(rows) == 2 and all(p.team_id is None for p in rows)


def test_removing_a_participant_takes_them_off_the_drill_only(
    client_en, yawata_drill, six_supporters
):
    [p] = services.invite_supporters(yawata_drill, [six_supporters[0].id])
    db.session.commit()
    response = client_en.post(teams_url(yawata_drill, f"participants/{p.id}/remove"))
    assert response.status_code == 302
    assert participants_of(yawata_drill) == []
    html = client_en.get(teams_url(yawata_drill)).get_data(as_text=True)
    assert six_supporters[0].name in html.split('id="invite"')[1]


def test_balancing_mixes_the_kinds_of_supporter_in_every_team(
    client_en, yawata_drill, six_supporters
):
    a = services.create_team(yawata_drill, "A班", "#0b5cad")
    b = services.create_team(yawata_drill, "B班", "#b3261e")
    added = services.invite_supporters(yawata_drill, [s.id for s in six_supporters])
    observer = added[-1]
    services.assign_participant(observer, None, "observer")
    db.session.commit()

    response = client_en.post(teams_url(yawata_drill, "balance"))
    assert response.status_code == 302
    rows = participants_of(yawata_drill)
    walkers = [p for p in rows if p.role == ParticipantRole.walker]
    by_team = {
        a.id: [p for p in walkers if p.team_id == a.id],
        b.id: [p for p in walkers if p.team_id == b.id],
    }
    assert sorted(len(v) for v in by_team.values()) == [2, 3]
    for members in by_team.values():
        kinds = [p.supporter.kind for p in members]
        assert len(set(kinds)) == len(kinds)  # 2 + 2 + 1 walkers of three kinds: no repeats
    assert next(p for p in rows if p.id == observer.id).team_id is None


def test_balancing_without_teams_says_so(client_en, yawata_drill):
    response = client_en.post(teams_url(yawata_drill, "balance"), follow_redirects=True)
    assert "Create a team first." in response.get_data(as_text=True)


def test_every_change_is_recorded_in_the_audit(client_en, yawata_drill, six_supporters):
    team = services.create_team(yawata_drill, "A班", "#0b5cad")
    [p] = services.invite_supporters(yawata_drill, [six_supporters[0].id])
    services.assign_participant(p, team, "walker")
    services.remove_participant(p)
    services.delete_team(team)
    db.session.commit()
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {
        "team.created",
        "drill.supporters_invited",
        "participant.assigned",
        "participant.removed",
        "team.deleted",
    } <= actions


def test_the_forms_carry_a_working_csrf_token(csrf_app, organizer, root_conftest, yawata_drill):
    client = csrf_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post(
        "/login",
        data={"email": organizer.email, "csrf_token": token, "password": root_conftest.PASSWORD},
    )
    assert response.status_code == 302

    refused = client.post(
        teams_url(yawata_drill, "new"), data={"new-team-name": "A班", "new-team-color": "#0b5cad"}
    )
    assert refused.status_code == 400
    assert team_rows(yawata_drill) == []

    html = client.get(teams_url(yawata_drill)).get_data(as_text=True)
    token = re.search(r'name="new-team-csrf_token"[^>]*value="([^"]+)"', html).group(1)
    response = client.post(
        teams_url(yawata_drill, "new"),
        data={"new-team-name": "A班", "new-team-color": "#0b5cad", "new-team-csrf_token": token},
    )
    assert response.status_code == 302
    assert [t.name for t in team_rows(yawata_drill)] == ["A班"]
