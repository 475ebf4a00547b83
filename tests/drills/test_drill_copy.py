"""Planning from a past drill: the demo drill copied in a few clicks keeps its route,
checkpoints, role-play scenarios, expected contacts and checklists (and its teams when
asked); the copy is planned on the chosen day and the source is unchanged."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from support import browser_login

from watchnet.core.extensions import db
from watchnet.demo import DEMO_LOGINS, DRILL_TITLE, load_demo_data
from watchnet.drills.models import Drill, DrillStatus
from watchnet.people.models import StaffUser


def _plan(drill: Drill) -> list[tuple[Any, ...]]:
    return [
        (
            cp.seq,
            cp.name,
            round(cp.lat, 6),
            round(cp.lon, 6),
            cp.role_player,
            cp.scenario_wear,
            cp.scenario_say,
            cp.scenario_do,
            cp.expected_contact,
            cp.expected_contact_note,
            list(cp.checklist),
        )
        for cp in sorted(drill.checkpoints, key=lambda c: (c.seq, c.id))
    ]


def _route(drill: Drill) -> list[tuple[float, float]]:
    return [(p.lat, p.lon) for p in sorted(drill.route_points, key=lambda p: p.seq)]


def _demo_drill() -> Drill:
    load_demo_data()
    db.session.commit()
    drill = db.session.scalar(sa.select(Drill).where(Drill.title == DRILL_TITLE))
    assert drill is not None
    return drill


def _organizer() -> StaffUser:
    staff = db.session.scalar(
        sa.select(StaffUser).where(StaffUser.email == DEMO_LOGINS["organizer"][0])
    )
    assert staff is not None
    return staff


def _copies(source: Drill) -> list[Drill]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Drill).where(Drill.id != source.id)))


def test_a_copy_without_a_date_is_refused_and_nothing_is_written(app):
    source = _demo_drill()
    client = app.test_client()
    email, password = DEMO_LOGINS["organizer"]
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302
    form = client.get(f"/drills/{source.id}/copy").get_data(as_text=True)
    assert 'id="copy-source"' in form and 'name="copy_teams"' in form
    response = client.post(
        f"/drills/{source.id}/copy",
        data={"title": "コピー", "district_id": source.district_id, "start_time": "13:30"},
    )
    assert response.status_code == 400
    assert _copies(source) == []


@pytest.mark.browser
def test_the_demo_drill_is_copied_in_a_few_clicks_with_every_scenario(live_server, page):
    source = _demo_drill()
    organizer = _organizer()
    plan, route = _plan(source), _route(source)
    teams = sorted((t.name, t.color, len(t.members)) for t in source.teams)
    browser_login(page, live_server, organizer)
    actions = 0
    page.goto(f"{live_server.url}/drills/{source.id}")
    actions += 1
    with page.expect_navigation():
        page.click("#copy-drill")
    actions += 1
    assert str(len(plan)) in page.locator("#copy-source").inner_text()
    page.fill("input[name=title]", "八幡地区 見守り声掛け訓練（来年度）")
    page.fill("input[name=date]", "2027-10-17")
    page.check("input[name=copy_teams]")
    actions += 3
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    actions += 1
    print(f"\ncopying the demo drill took {actions} actions")
    assert "2027" in page.locator("main").inner_text()

    [copy] = _copies(source)
    assert copy.status == DrillStatus.planned and copy.started_at is None
    assert copy.title == "八幡地区 見守り声掛け訓練（来年度）"
    assert _plan(copy) == plan and _route(copy) == route
    assert sorted((t.name, t.color, len(t.members)) for t in copy.teams) == teams
    assert copy.purpose == source.purpose and copy.contact_phone == source.contact_phone
    # The source is untouched.
    db.session.expire_all()
    assert _plan(db.session.get(Drill, source.id)) == plan
