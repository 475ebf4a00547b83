"""The newsletter draft of the demo drill: the four headings in Japanese, the drill's purpose,
what happened (counts, timings), one chosen quote per viewpoint and the Try items; editable,
saved, and bad input refused without a 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from watchnet.core.extensions import db
from watchnet.demo import DEMO_LOGINS, DRILL_TITLE, load_demo_data
from watchnet.drills.models import Drill
from watchnet.feedback.models import Feedback, Viewpoint
from watchnet.kpt import services
from watchnet.kpt.models import NewsletterDraft
from watchnet.people.models import StaffUser
from watchnet.tracking.models import EncounterStep, EncounterStepKind

QUOTES = {
    Viewpoint.caller: "自分から名乗ると、相手の表情がやわらいだ。",
    Viewpoint.called: "正面から声を掛けてもらえて安心した。",
    Viewpoint.observer: "電話で現在地を伝えるのが難しそうだった。",
}


def _demo_drill_after_the_walk() -> Drill:
    """The demo drill, ended, with one team's steps at the first checkpoint and chosen quotes."""
    load_demo_data()
    drill = db.session.scalar(sa.select(Drill).where(Drill.title == DRILL_TITLE))
    assert drill is not None
    team = drill.teams[0]
    walker = team.members[0]
    t0 = drill.starts_at + timedelta(minutes=20)
    for n, (kind, offset_s) in enumerate(
        [
            (EncounterStepKind.noticed, 0),
            (EncounterStepKind.approached_front, 30),
            (EncounterStepKind.handed_over, 150),
        ]
    ):
        db.session.add(
            EncounterStep(
                drill_id=drill.id,
                supporter_id=walker.supporter_id,
                team_id=team.id,
                checkpoint_id=drill.checkpoints[0].id,
                client_id=f"step-{n}",
                step=kind,
                done_at=t0 + timedelta(seconds=offset_s),
            )
        )
    for n, (viewpoint, text) in enumerate(QUOTES.items()):
        db.session.add(
            Feedback(
                drill_id=drill.id,
                supporter_id=walker.supporter_id,
                viewpoint=viewpoint,
                text=text,
                is_quote_chosen=True,
                client_id=f"fb-{n}",
            )
        )
    db.session.add(
        Feedback(
            drill_id=drill.id,
            supporter_id=walker.supporter_id,
            viewpoint=Viewpoint.caller,
            text="選ばれていない感想",
            client_id="fb-x",
        )
    )
    services.add_kpt_item(drill, "try", "現在地を伝える練習をする")
    db.session.commit()
    return drill


def _organizer_client(app: Flask) -> Any:
    client = app.test_client()
    email, password = DEMO_LOGINS["organizer"]
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302
    return client


def test_the_demo_drills_newsletter_has_the_four_japanese_headings_purpose_and_every_viewpoint(
    app: Flask,
) -> None:
    drill = _demo_drill_after_the_walk()
    sections = services.draft_newsletter(drill)
    text = services.newsletter_text(sections)
    positions = [text.index(h) for h in ("【目的】", "【経緯】", "【様子】", "【今後】")]
    assert positions == sorted(positions)
    assert sections["purpose"] == drill.purpose
    assert sections["purpose"].startswith("地域の見守り体制の強化")
    assert "行方不明高齢者" in sections["background"]
    for quote in QUOTES.values():
        assert quote in sections["happenings"]
    assert "選ばれていない感想" not in text
    assert "現在地を伝える練習をする" in sections["future"]

    # The page shows the same draft, ready to copy.
    page = _organizer_client(app).get(f"/drills/{drill.id}/newsletter").get_data(as_text=True)
    for heading in ("【目的】", "【経緯】", "【様子】", "【今後】"):
        assert heading in page
    for quote in QUOTES.values():
        assert quote in page
    assert 'id="copy-newsletter"' in page


def test_the_draft_counts_participants_and_shows_the_mean_timings_in_english(app: Flask) -> None:
    drill = _demo_drill_after_the_walk()
    staff = db.session.scalar(
        sa.select(StaffUser).where(StaffUser.email == DEMO_LOGINS["organizer"][0])
    )
    assert staff is not None
    staff.locale = "en"
    db.session.commit()
    page = _organizer_client(app).get(f"/drills/{drill.id}/newsletter").get_data(as_text=True)
    walkers = sum(1 for p in drill.participants if p.role.value == "walker")
    assert f"{walkers} supporters walked the route in 2 teams" in page
    assert "approaching from the front took 30 s on average" in page
    assert "handing over took 2 min 30 s on average" in page
    for heading in ("[Purpose]", "[Background]", "[What happened]", "[From now on]"):
        assert heading in page
    assert "【目的】" not in page
    # The demo's role-players are named on its checkpoints, not registered as participants.
    role_players = {cp.role_player for cp in drill.checkpoints if cp.role_player}
    assert role_players
    assert f"met {len(role_players)} role-players at" in page


def test_the_english_draft_has_no_japanese_but_what_people_wrote(app: Flask) -> None:
    """The page's walk (tests/walk) leaves the draft out as the organizer's document: here its
    own sentences, headings and bullets are checked in English, the quoted user data taken out."""
    import re

    from flask_babel import force_locale

    drill = _demo_drill_after_the_walk()
    try_item = next(i for i in services.list_kpt_items(drill) if i.kind.value == "try")
    services.create_action_item(drill, try_item.id, "事務局", "2026-05-31")
    db.session.commit()
    with app.test_request_context("/"), force_locale("en"):
        text = services.newsletter_text(services.draft_newsletter(drill))
    for typed in [drill.purpose, drill.background, *QUOTES.values(), try_item.text, "事務局"]:
        assert typed in text
        text = text.replace(typed, "")
    japanese = re.findall(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff01-\uffef]+", text)
    assert japanese == [], text
    assert "• " in text and "(owner: , by 31 May 2026)" in text


def test_an_edited_newsletter_is_saved_and_shown_again(app: Flask) -> None:
    drill = _demo_drill_after_the_walk()
    client = _organizer_client(app)
    response = client.post(
        f"/drills/{drill.id}/newsletter",
        data={
            "purpose": "書き直した目的",
            "background": "<script>alert(1)</script>",
            "happenings": "様子",
            "future": "今後",
        },
    )
    assert response.status_code == 302
    draft = db.session.scalar(
        sa.select(NewsletterDraft).where(NewsletterDraft.drill_id == drill.id)
    )
    assert draft is not None and draft.purpose == "書き直した目的"
    page = client.get(f"/drills/{drill.id}/newsletter").get_data(as_text=True)
    assert "【目的】\n書き直した目的" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    # "Draft again" brings the generated text back without saving it.
    page = client.post(f"/drills/{drill.id}/newsletter", data={"redraft": "1"}).get_data(
        as_text=True
    )
    assert "地域の見守り体制の強化" in page
    db.session.expire_all()
    assert db.session.scalar(sa.select(NewsletterDraft.purpose)) == "書き直した目的"


def test_a_too_long_section_is_refused_with_the_form_and_nothing_saved(app: Flask) -> None:
    drill = _demo_drill_after_the_walk()
    response = _organizer_client(app).post(
        f"/drills/{drill.id}/newsletter",
        data={"purpose": "あ" * 5001, "background": "", "happenings": "", "future": ""},
    )
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(NewsletterDraft.id))) == 0
