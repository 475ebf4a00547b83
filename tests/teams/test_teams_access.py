"""Only staff of the drill's district reach its teams: outsiders get 404 on every route,
supporters 403, anonymous visitors the login page; and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from watchnet.audit.models import AuditEvent
from watchnet.core.extensions import db
from watchnet.drills.models import Participant, Team
from watchnet.teams import services

# (method, path under /drills/<id>/teams/, form data); {team} and {participant} are filled in.
ROUTES = [
    ("GET", "", {}),
    ("POST", "new", {"new-team-name": "侵入班", "new-team-color": "#0b5cad"}),
    ("POST", "{team}/edit", {"team{team}-name": "改名", "team{team}-color": "#0b5cad"}),
    ("POST", "{team}/delete", {}),
    ("POST", "invite", {"supporter_ids": "{supporter}"}),
    (
        "POST",
        "participants/{participant}",
        {"p{participant}-team_id": "0", "p{participant}-role": "observer"},
    ),
    ("POST", "participants/{participant}/remove", {}),
    ("POST", "balance", {}),
    ("GET", "{team}/handout", {}),
    ("GET", "handouts", {}),
]


@pytest.fixture()
def setup(yawata_drill: Any, make_supporter: Any, district: Any) -> dict[str, Any]:
    team = services.create_team(yawata_drill, "A班", "#0b5cad")
    member = make_supporter(district, name="班員 一", name_kana="はんいん いち")
    extra = make_supporter(district, name="未招待 二", name_kana="みしょうたい に")
    [participant] = services.invite_supporters(yawata_drill, [member.id])
    services.assign_participant(participant, team, "walker")
    db.session.commit()
    return {
        "drill": yawata_drill.id,
        "team": team.id,
        "participant": participant.id,
        "supporter": extra.id,
    }


def fill(template: str, ids: dict[str, Any]) -> str:
    return template.format(**ids)


def request(client: Any, method: str, path: str, data: dict[str, str], ids: dict[str, Any]) -> Any:
    url = f"/drills/{ids['drill']}/teams/{fill(path, ids)}"
    form = {fill(k, ids): fill(v, ids) for k, v in data.items()}
    return client.get(url) if method == "GET" else client.post(url, data=form)


def snapshot() -> tuple[Any, ...]:
    db.session.expire_all()
    teams = db.session.execute(sa.select(Team.id, Team.name, Team.color)).all()
    parts = db.session.execute(
        sa.select(Participant.id, Participant.team_id, Participant.role)
    ).all()
    return tuple(teams), tuple(parts)


def handout_views() -> int:
    return len(
        db.session.scalars(
            sa.select(AuditEvent.id).where(AuditEvent.action == "team.handout_viewed")
        ).all()
    )


@pytest.mark.parametrize(("method", "path", "data"), ROUTES)
def test_an_organizer_of_another_district_gets_404_and_changes_nothing(
    outsider_client, setup, method, path, data
):
    before = snapshot()
    assert request(outsider_client, method, path, data, setup).status_code == 404
    assert snapshot() == before
    assert handout_views() == 0


@pytest.mark.parametrize(("method", "path", "data"), ROUTES)
def test_a_supporter_gets_403(supporter_client, setup, method, path, data):
    before = snapshot()
    assert request(supporter_client, method, path, data, setup).status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "data"), ROUTES)
def test_an_anonymous_visitor_is_sent_to_the_login(client, setup, method, path, data):
    before = snapshot()
    response = request(client, method, path, data, setup)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "data"), [r for r in ROUTES if "{" in r[1]])
def test_team_and_participant_ids_of_another_drill_are_404(
    organizer_client, setup, district, make_drill, method, path, data
):
    other = make_drill(district, title="別の訓練")
    before = snapshot()
    ids = dict(setup, drill=other.id)
    assert request(organizer_client, method, path, data, ids).status_code == 404
    assert snapshot() == before


def test_an_unknown_drill_is_404(organizer_client):
    assert organizer_client.get("/drills/999999/teams/").status_code == 404
