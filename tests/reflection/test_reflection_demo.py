"""The demo's ended drills give the reflection page, replay and comparison something to show."""

from __future__ import annotations

import sqlalchemy as sa

from watchnet.core.extensions import db
from watchnet.demo import DEMO_LOGINS, load_demo_data
from watchnet.drills.models import Drill
from watchnet.feedback.services import chosen_quotes
from watchnet.people.models import StaffUser
from watchnet.reflection.demo_data import PAST_TITLE, TRIAL_TITLE, load_demo_reflection
from watchnet.reflection.facts import drill_facts


def _load() -> Drill:
    load_demo_data()
    assert load_demo_reflection() is True
    db.session.commit()
    drill = db.session.scalar(sa.select(Drill).where(Drill.title == PAST_TITLE))
    assert drill is not None
    return drill


def test_the_demo_reflection_loads_once_and_compares_with_the_trial():
    drill = _load()
    assert load_demo_reflection() is False
    facts = drill_facts(drill)
    assert facts.counts["encounters"] == 6
    assert facts.counts["positions"] > 100
    assert facts.counts["help_calls"] == 1 and facts.help_wait_s == 95
    assert facts.summary.missing == {"to_approach_s": 0, "to_contact_s": 1, "to_handover_s": 1}
    # Team A at checkpoint 1: approached after 40 s, contacted after 150 s, handed over 330 s.
    first = facts.encounters[0]
    assert (first.to_approach_s, first.to_contact_s, first.to_handover_s) == (40, 150, 330)
    assert facts.previous is not None and facts.previous.drill.title == TRIAL_TITLE
    assert facts.previous.summary.to_handover_s == 570  # (540 + 600) / 2
    quotes = chosen_quotes(drill)
    assert all(quotes[v] for v in ("caller", "called", "observer", "organizer"))


def test_the_demo_reflection_and_replay_pages_open_for_the_demo_organizer(app):
    drill = _load()
    organizer = db.session.scalar(
        sa.select(StaffUser).where(StaffUser.email == DEMO_LOGINS["organizer"][0])
    )
    client = app.test_client()
    response = client.post(
        "/login", data={"email": organizer.email, "password": DEMO_LOGINS["organizer"][1]}
    )
    assert response.status_code == 302
    assert client.get(f"/drills/{drill.id}/reflection").status_code == 200
    replay = client.get(f"/drills/{drill.id}/replay")
    assert replay.status_code == 200
    assert "replay-data" in replay.get_data(as_text=True)
