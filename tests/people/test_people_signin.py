"""The personal sign-in link on the supporter's page, its revocation, and the phone's page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from watchnet.audit.models import AuditEvent
from watchnet.core.extensions import db
from watchnet.drills.models import DrillStatus, Participant, ParticipantRole, Team


def _link(html: str) -> str:
    return re.search(r'<code id="signin-url">([^<]+)</code>', html).group(1)


def test_detail_page_shows_an_absolute_link_and_a_qr_code(organizer_client, supporter):
    html = organizer_client.get(f"/supporters/{supporter.id}").get_data(as_text=True)
    link = _link(html)
    assert link.startswith("http://localhost/s/")
    assert "<svg" in html and "<path" in html
    assert "見守 花子" in html


def test_viewing_the_link_is_audited(organizer_client, organizer, supporter):
    organizer_client.get(f"/supporters/{supporter.id}")
    organizer_client.get(f"/supporters/{supporter.id}/card")
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "supporter.signin_link_viewed")
    ).all()
    assert len(events) == 2
    assert {e.actor for e in events} == {f"staff:{organizer.id}"}
    assert {e.subject_id for e in events} == {supporter.id}


def test_public_base_url_is_used_when_configured(app, organizer_client, supporter):
    app.config["PUBLIC_BASE_URL"] = "https://watch.example.jp/"
    try:
        html = organizer_client.get(f"/supporters/{supporter.id}").get_data(as_text=True)
    finally:
        app.config["PUBLIC_BASE_URL"] = None
    assert _link(html).startswith("https://watch.example.jp/s/")


def test_the_printable_card_carries_the_qr_code(organizer_client, supporter):
    html = organizer_client.get(f"/supporters/{supporter.id}/card").get_data(as_text=True)
    assert "<svg" in html and "見守 花子" in html and "/s/" in html


def test_the_link_signs_a_phone_in(app, organizer_client, supporter):
    link = _link(organizer_client.get(f"/supporters/{supporter.id}").get_data(as_text=True))
    phone = app.test_client()
    response = phone.get(link.replace("http://localhost", ""))
    assert response.status_code == 302
    assert phone.get("/me").status_code == 200


def test_revoking_logs_the_phone_out_and_kills_the_old_link(
    app, organizer_client, supporter, phone, english
):
    old_link = _link(organizer_client.get(f"/supporters/{supporter.id}").get_data(as_text=True))
    signed_in = phone(supporter)
    assert signed_in.get("/me").status_code == 200

    response = organizer_client.post(
        f"/supporters/{supporter.id}/revoke-link", data={"confirm": "y"}
    )
    assert response.status_code == 302

    assert signed_in.get("/me").status_code == 403
    stranger = app.test_client()
    stranger.post("/lang/en")
    old = stranger.get(old_link.replace("http://localhost", ""))
    assert old.status_code == 404
    assert "This link no longer works" in old.get_data(as_text=True)
    html = organizer_client.get(f"/supporters/{supporter.id}").get_data(as_text=True)
    new_link = _link(html)
    assert new_link != old_link
    assert app.test_client().get(new_link.replace("http://localhost", "")).status_code == 302


def test_revoking_needs_the_confirmation_box(organizer_client, supporter, phone, english):
    signed_in = phone(supporter)
    response = organizer_client.post(f"/supporters/{supporter.id}/revoke-link", data={})
    assert response.status_code == 400
    assert "Please tick the box to confirm." in response.get_data(as_text=True)
    assert signed_in.get("/me").status_code == 200


def test_my_page_greets_the_supporter_and_lists_their_drills(
    district, supporter, phone, make_drill
):
    soon = datetime(2031, 3, 13, 0, 30, tzinfo=UTC)  # 09:30 in Tokyo
    planned = make_drill(
        district,
        title="第2回 まち歩き見守り声掛け訓練",
        starts_at=soon,
        meeting_place="八幡公民館 集会室",
    )
    live = make_drill(
        district,
        title="今日の訓練",
        status=DrillStatus.live,
        starts_at=datetime.now(UTC) - timedelta(hours=1),
    )
    ended = make_drill(district, title="終わった訓練", status=DrillStatus.ended)
    past = make_drill(
        district, title="去年の訓練", starts_at=datetime.now(UTC) - timedelta(days=300)
    )
    elsewhere = make_drill(district, title="呼ばれていない訓練")
    team = Team(drill_id=planned.id, name="1班", color="#d62728")
    db.session.add(team)
    db.session.flush()
    db.session.add_all(
        [
            Participant(
                drill_id=planned.id,
                supporter_id=supporter.id,
                team_id=team.id,
                role=ParticipantRole.walker,
            ),
            Participant(
                drill_id=live.id, supporter_id=supporter.id, role=ParticipantRole.role_player
            ),
            Participant(drill_id=ended.id, supporter_id=supporter.id),
            Participant(drill_id=past.id, supporter_id=supporter.id),
        ]
    )
    db.session.commit()
    assert elsewhere.id

    html = phone(supporter).get("/me").get_data(as_text=True)
    assert "見守 花子" in html
    assert "令和13年 (2031年) 3月13日" in html and "09:30" in html
    assert "八幡公民館 集会室" in html
    assert "1班" in html and "#d62728" in html
    assert html.index("今日の訓練") < html.index("第2回 まち歩き見守り声掛け訓練")
    upcoming, _sep, took_part = html.partition('id="ended-drills"')
    assert "終わった訓練" not in upcoming
    # A recently ended drill is listed below, with a link to give feedback.
    assert "終わった訓練" in took_part and f"/field/drills/{ended.id}/feedback" in took_part
    for absent in ("去年の訓練", "呼ばれていない訓練"):
        assert absent not in html
    assert 'name="viewport"' in html


def test_my_page_reminds_how_to_approach_in_english_too(district, supporter, phone):
    client = phone(supporter)
    client.post("/lang/en", data={"next": "/me"})
    html = client.get("/me").get_data(as_text=True)
    assert "Give your own name first" in html
    assert "You have no upcoming drills." in html


def test_a_team_colour_that_is_not_a_colour_is_not_put_into_the_style(
    district, supporter, phone, make_drill
):
    drill = make_drill(district)
    team = Team(drill_id=drill.id, name="<b>班</b>", color="red;x")
    db.session.add(team)
    db.session.flush()
    db.session.add(Participant(drill_id=drill.id, supporter_id=supporter.id, team_id=team.id))
    db.session.commit()
    html = phone(supporter).get("/me").get_data(as_text=True)
    assert "red;x" not in html
    assert "&lt;b&gt;班&lt;/b&gt;" in html
