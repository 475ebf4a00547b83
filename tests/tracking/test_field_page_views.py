"""The field page's HTML routes: /field/ picks the drill, /field/drills/<id> shows it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from watchnet.core.extensions import db
from watchnet.core.timefmt import to_local
from watchnet.drills.models import DrillStatus, Participant, Team


def join(drill, supporter, team=None, **values):
    participant = Participant(
        drill_id=drill.id, supporter_id=supporter.id, team_id=team.id if team else None, **values
    )
    db.session.add(participant)
    db.session.commit()
    return participant


def field_config(html: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="field-config">(.*?)</script>', html, re.S
    )
    assert match, "the page carries its settings for field.js"
    return json.loads(match.group(1))


def today_noon_utc() -> datetime:
    """A time later today in Japan time, whatever the hour the test runs."""
    now = datetime.now(UTC)
    local = to_local(now)
    end_of_day = local.replace(hour=23, minute=59, second=0, microsecond=0)
    return now + (end_of_day - local) / 2


def test_the_field_home_goes_to_the_live_drill_first(
    supporter_client, district, supporter, make_drill
):
    planned = make_drill(district, title="今日の予定", starts_at=today_noon_utc())
    live = make_drill(
        district,
        title="実施中の訓練",
        status=DrillStatus.live,
        starts_at=datetime.now(UTC) - timedelta(hours=1),
    )
    join(planned, supporter)
    join(live, supporter)

    response = supporter_client.get("/field/")

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/field/drills/{live.id}")


def test_the_field_home_goes_to_todays_planned_drill(
    supporter_client, district, supporter, make_drill
):
    drill = make_drill(district, starts_at=today_noon_utc())
    join(drill, supporter)

    response = supporter_client.get("/field/")

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/field/drills/{drill.id}")


def test_without_a_drill_today_the_field_home_lists_the_upcoming_ones(
    supporter_client, district, supporter, make_drill
):
    drill = make_drill(district, title="来週の<まち歩き>", meeting_place="八幡公民館")
    join(drill, supporter)
    make_drill(district, title="招かれていない訓練")

    response = supporter_client.get("/field/")

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/me")
    html = supporter_client.get("/me").get_data(as_text=True)
    assert "来週の&lt;まち歩き&gt;" in html
    assert "八幡公民館" in html
    assert f"/field/drills/{drill.id}" in html
    assert "招かれていない訓練" not in html


def test_the_field_page_shows_the_drill_map_and_the_actions(
    supporter_client, district, supporter, make_drill
):
    drill = make_drill(
        district,
        title="八幡 まち歩き",
        status=DrillStatus.live,
        checkpoints=[{"name": "<b>公民館前</b>", "lat": 36.334, "lon": 138.9461}],
        contact_phone="090-1234-5678",
        contact_label="主催者 八幡",
    )
    team = Team(drill_id=drill.id, name="1班", color="#d62728")
    db.session.add(team)
    db.session.commit()
    join(drill, supporter, team)

    response = supporter_client.get(f"/field/drills/{drill.id}")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "八幡 まち歩き" in html
    assert "1班" in html
    assert 'name="csrf-token"' in html
    assert "window.watchnetMaps" in html
    for element in (
        "share-toggle",
        "where-btn",
        "encounter-btn",
        "guide-btn",
        "help-btn",
        "queue-status",
    ):
        assert f'id="{element}"' in html
    assert html.count('class="step-btn"') == 6
    # One tap phones the organizer: on the page, and again after calling for help.
    assert html.count('href="tel:09012345678"') == 2
    # (the organizer's label is user data, marked inside the sentence)
    assert "主催者 八幡に電話" in re.sub(r"<[^>]+>", "", html) and "090-1234-5678" in html
    assert "<b>公民館前</b>" not in html  # checkpoint names are escaped everywhere
    config = field_config(html)
    assert config["drill"] == {"id": drill.id, "status": "live"}
    assert config["supporter_id"] == supporter.id
    assert config["consent"] is False
    assert config["urls"]["steps"] == f"/field/drills/{drill.id}/steps"
    # url_for with id 0; the page puts the help call's id in (urlWithId, static/js/lib/dom.js).
    assert config["urls"]["respond"] == "/field/help/0/respond"
    assert config["checkpoints"][0]["name"] == "<b>公民館前</b>"
    assert set(config["strings"]) >= {"all_sent", "waiting", "on_my_way"}


def test_the_page_knows_when_the_supporter_already_agreed_to_share(
    supporter_client, district, supporter, make_drill
):
    drill = make_drill(district, status=DrillStatus.live)
    join(drill, supporter, position_consent_at=datetime.now(UTC))

    html = supporter_client.get(f"/field/drills/{drill.id}").get_data(as_text=True)

    assert field_config(html)["consent"] is True


def test_a_drill_the_supporter_is_not_invited_to_is_a_404_page(
    supporter_client, district, make_drill
):
    drill = make_drill(district, status=DrillStatus.live)

    response = supporter_client.get(f"/field/drills/{drill.id}")

    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_staff_and_strangers_cannot_open_the_field_pages(
    organizer_client, client, district, supporter, make_drill
):
    drill = make_drill(district, status=DrillStatus.live)
    join(drill, supporter)

    for c in (organizer_client, client):
        for url in ("/field/", f"/field/drills/{drill.id}"):
            assert c.get(url).status_code in (401, 403, 404)
