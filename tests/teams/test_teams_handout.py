"""The printed team handout: the drill, the map, the checkpoints, and one QR code per member
that signs exactly that member's phone in."""

from __future__ import annotations

import html as htmlmod
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from watchnet.audit.models import AuditEvent
from watchnet.core.extensions import db
from watchnet.teams import services

MEMBER_RE = re.compile(r'<li class="member" data-participant-id="(\d+)">(.*?)</li>', re.S)


@pytest.fixture()
def team_of_six(yawata_drill: Any, six_supporters: list[Any]) -> Any:
    team = services.create_team(yawata_drill, "A班", "#0b5cad")
    for p in services.invite_supporters(yawata_drill, [s.id for s in six_supporters]):
        services.assign_participant(p, team, "walker")
    db.session.commit()
    return team


@pytest.fixture()
def client_en(app: Any, english_organizer: Any, log_in: Any) -> Any:
    return log_in(app.test_client(), english_organizer)


def handout_url(drill: Any, team: Any) -> str:
    return f"/drills/{drill.id}/teams/{team.id}/handout"


def test_each_member_has_one_qr_code_whose_link_signs_that_member_in(
    app, client_en, yawata_drill, team_of_six, six_supporters
):
    page = client_en.get(handout_url(yawata_drill, team_of_six)).get_data(as_text=True)
    members = MEMBER_RE.findall(page)
    assert len(members) == 6
    assert page.count('<svg viewBox="0 0') == 6  # one QR code per member, nothing else
    names = {s.name: s for s in six_supporters}
    for _pid, block in members:
        assert block.count("<svg") == 1
        assert "Scan to sign in" in block
        name = re.search(r'<p class="member-name[^"]*">(.*?)</p>', block).group(1)
        link = htmlmod.unescape(re.search(r'<a href="([^"]+)"', block).group(1))
        assert link.startswith("http://localhost/s/")

        phone = app.test_client()  # a fresh phone, nobody signed in
        response = phone.get(link.removeprefix("http://localhost"))
        assert response.status_code == 302
        assert response.headers["Location"] == "/field/"  # today's drill, else /me
        with phone.session_transaction() as session:
            assert session["_user_id"] == names[name].get_id()


def test_the_handout_shows_the_drill_the_team_and_the_checkpoints_with_their_contacts(
    client_en, yawata_drill, team_of_six
):
    yawata_drill.starts_at = datetime(2026, 3, 13, 9, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
    yawata_drill.contact_phone, yawata_drill.contact_label = "090-1234-5678", "Organizer"
    db.session.commit()
    page = client_en.get(handout_url(yawata_drill, team_of_six)).get_data(as_text=True)
    assert "第2回 まち歩き見守り声掛け訓練" in page
    assert "13 March 2026" in page and "09:30" in page
    assert "八幡公民館 集会室" in page
    assert '<span class="team-tag-name user-text">A班</span>' in page
    checkpoints = re.findall(
        r'<span class="cp-name user-text">(.*?)</span>\s*'
        r'<span class="cp-contact">Contact: (.*?)</span>\s*</li>',
        page,
    )
    note = '<span class="user-text">{}</span>'.format
    assert checkpoints == [
        ("ポイント1 小学校の角", f"Anshin center ({note('あんしんセンター八幡')})"),
        ("ポイント2 八幡宮の鳥居前", f"Family ({note('ご家族 (連絡先カード)')})"),
        ("ポイント3 公園の入口", f"Police ({note('110番 / 八幡駐在所')})"),
    ]
    assert "Give your own name first." in page
    assert "<strong>110</strong>" in page and "<strong>119</strong>" in page
    contact = re.search(r'id="handout-contact">(.*?)</p>', page, re.S)
    assert contact is not None
    assert (
        " ".join(re.sub(r"<[^>]+>", " ", contact.group(1)).split())
        == "Number to call on the day: Organizer 090-1234-5678"
    )
    assert 'id="print-button"' in page


def test_the_handout_map_has_the_route_numbered_checkpoints_and_landmarks_without_zoom_buttons(
    client_en, yawata_drill, team_of_six
):
    page = client_en.get(handout_url(yawata_drill, team_of_six)).get_data(as_text=True)
    assert 'class="handout-map"' in page
    assert "L.polyline" in page
    for n in (1, 2, 3):
        assert f'wn-cp-badge\\"\\u003e{n}\\u003c/div' in page
    assert "八幡小学校" in page  # a landmark label
    assert '"zoomControl": false' in page
    assert "cdn" not in page.lower()


def test_viewing_a_handout_is_recorded_because_it_carries_sign_in_links(
    client_en, yawata_drill, team_of_six, english_organizer
):
    response = client_en.get(handout_url(yawata_drill, team_of_six))
    assert response.headers["Cache-Control"] == "no-store"
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "team.handout_viewed")
    )
    assert event is not None
    assert (event.subject_id, event.actor) == (team_of_six.id, f"staff:{english_organizer.id}")
    assert event.detail["signin_links"] == 6


def test_all_handouts_give_one_sheet_per_team(client_en, yawata_drill, team_of_six):
    services.create_team(yawata_drill, "B班", "#b3261e")
    db.session.commit()
    page = client_en.get(f"/drills/{yawata_drill.id}/teams/handouts").get_data(as_text=True)
    assert page.count('<article class="sheet ') == 2
    assert page.count('<span class="team-tag-name user-text">') == 2
    assert "No members in this team yet." in page
    assert page.count('<script src="/vendor/leaflet/leaflet.js">') == 1
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.action == "team.handout_viewed")
    ).all()
    assert len(actions) == 2


def test_links_use_the_public_base_url_when_it_is_configured(
    app, client_en, yawata_drill, team_of_six, monkeypatch
):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://watch.example.jp/")
    page = client_en.get(handout_url(yawata_drill, team_of_six)).get_data(as_text=True)
    links = re.findall(r'<p class="signin-url"><a href="([^"]+)"', page)
    assert len(links) == 6
    assert all(link.startswith("https://watch.example.jp/s/") for link in links)


def test_a_revoked_link_on_an_old_handout_no_longer_signs_in(
    app, client_en, yawata_drill, team_of_six, six_supporters
):
    from watchnet.auth.services import revoke_signin_token

    page = client_en.get(handout_url(yawata_drill, team_of_six)).get_data(as_text=True)
    block = next(b for _pid, b in MEMBER_RE.findall(page) if six_supporters[0].name in b)
    link = re.search(r'<a href="http://localhost([^"]+)"', block).group(1)
    revoke_signin_token(six_supporters[0])
    db.session.commit()
    assert app.test_client().get(link).status_code == 404


def test_a_team_of_another_drill_has_no_handout_here(client_en, yawata_drill, district, make_drill):
    other_team = services.create_team(make_drill(district, title="別の訓練"), "X班", "#0b5cad")
    db.session.commit()
    assert client_en.get(handout_url(yawata_drill, other_team)).status_code == 404
