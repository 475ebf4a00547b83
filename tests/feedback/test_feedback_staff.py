"""Staff pages: add feedback (own or typed in from paper), the list and its CSV, and the
viewpoints page with themes and quotes chosen for the newsletter."""

from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa

from watchnet.core.extensions import db
from watchnet.drills.models import DrillStatus, Participant, ParticipantRole, Team
from watchnet.feedback.models import Feedback, FeedbackTheme, GaveNameFirst, Viewpoint


@pytest.fixture(autouse=True)
def _english(organizer):
    organizer.locale = "en"
    db.session.commit()


@pytest.fixture()
def drill(make_drill, district):
    return make_drill(district, title="八幡 第2回", status=DrillStatus.ended)


@pytest.fixture()
def team(drill):
    team = Team(drill_id=drill.id, name="赤班")
    db.session.add(team)
    db.session.commit()
    return team


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


def give(drill, viewpoint, text="", supporter=None, team=None, client_id=None, **scales):
    feedback = Feedback(
        drill_id=drill.id,
        viewpoint=viewpoint,
        text=text,
        supporter_id=supporter.id if supporter else None,
        team_id=team.id if team else None,
        client_id=client_id or f"c{_count()}",
        **scales,
    )
    db.session.add(feedback)
    db.session.commit()
    return feedback


def found(pattern: str, text: str) -> str:
    """The first group of a pattern that must match."""
    match = re.search(pattern, text, re.S)
    assert match is not None, pattern
    return match.group(1)


def quoted(feedback_id: int) -> bool:
    db.session.expire_all()
    feedback = db.session.get(Feedback, feedback_id)
    assert feedback is not None
    return feedback.is_quote_chosen


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Feedback.id))) or 0


def all_feedback():
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Feedback).order_by(Feedback.id)))


def test_an_organizer_gives_feedback_from_the_organizer_viewpoint(
    organizer_client, organizer, drill
):
    page = organizer_client.get(f"/drills/{drill.id}/feedback/new")
    assert page.status_code == 200
    assert "Did the approaches look calm and safe?" in page.get_data(as_text=True)

    response = organizer_client.post(
        f"/drills/{drill.id}/feedback/new",
        data={
            "client_id": "staff-1",
            "supporter_id": "0",
            "team_id": "0",
            "safe_approach": "4",
            "location_ease": "2",
            "text": "現在地を伝える練習が必要",
        },
        follow_redirects=True,
    )

    assert response.status_code == 200
    assert "The feedback was saved." in response.get_data(as_text=True)
    [saved] = all_feedback()
    assert (saved.viewpoint, saved.staff_id, saved.supporter_id) == (
        Viewpoint.organizer,
        organizer.id,
        None,
    )
    assert (saved.safe_approach, saved.location_ease) == (4, 2)


def test_an_organizer_types_in_a_role_players_paper_form(
    organizer_client, organizer, drill, team, make_supporter, district
):
    role_player = make_supporter(district, name="元協議体 一郎", name_kana="もときょうぎたい")
    join(drill, role_player, role=ParticipantRole.role_player)
    url = f"/drills/{drill.id}/feedback/new?viewpoint=called"
    form = {
        "client_id": "paper-1",
        "supporter_id": str(role_player.id),
        "team_id": str(team.id),
        "gave_name_first": "yes",
        "text": "正面から来てくれて安心した",
    }

    organizer_client.post(url, data=form)
    organizer_client.post(url, data=form)  # a double click stores it once

    [saved] = all_feedback()
    assert (saved.viewpoint, saved.supporter_id, saved.staff_id, saved.team_id) == (
        Viewpoint.called,
        role_player.id,
        organizer.id,
        team.id,
    )
    assert saved.gave_name_first == GaveNameFirst.yes
    listing = organizer_client.get(f"/drills/{drill.id}/feedback").get_data(as_text=True)
    assert "元協議体 一郎" in listing and "正面から来てくれて安心した" in listing


def test_feedback_cannot_be_typed_in_for_someone_outside_the_drill(
    organizer_client, drill, make_supporter, district
):
    stranger = make_supporter(district, name="不参加 次郎", name_kana="ふさんか")

    response = organizer_client.post(
        f"/drills/{drill.id}/feedback/new",
        data={"client_id": "paper-2", "supporter_id": str(stranger.id), "text": "参加していない"},
    )

    assert response.status_code == 422
    assert "This supporter does not take part in the drill." in response.get_data(as_text=True)
    assert all_feedback() == []


def test_too_long_text_and_scripts_are_handled(organizer_client, drill):
    too_long = organizer_client.post(
        f"/drills/{drill.id}/feedback/new", data={"client_id": "long-1", "text": "あ" * 2001}
    )
    assert too_long.status_code == 422
    assert "Nothing has been saved yet." in too_long.get_data(as_text=True)
    assert all_feedback() == []

    organizer_client.post(
        f"/drills/{drill.id}/feedback/new",
        data={"client_id": "xss-1", "text": "<script>alert(1)</script>"},
    )
    for url in (f"/drills/{drill.id}/feedback", f"/drills/{drill.id}/viewpoints"):
        html = organizer_client.get(url).get_data(as_text=True)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<script>alert(1)" not in html


def test_the_list_shows_averages_per_viewpoint(organizer_client, drill):
    give(drill, Viewpoint.caller, safe_approach=4, location_ease=2)
    give(
        drill,
        Viewpoint.caller,
        safe_approach=5,
        location_ease=None,
        gave_name_first=GaveNameFirst.no,
    )
    give(drill, Viewpoint.called, safe_approach=2, gave_name_first=GaveNameFirst.yes)

    html = organizer_client.get(f"/drills/{drill.id}/feedback").get_data(as_text=True)

    caller = found(r'<tr data-viewpoint="caller">(.*?)</tr>', html)
    cells = re.findall(r"<td>([^<]*)</td>", caller)
    assert cells == ["2", "4.5", "0 / 1", "2.0", "—"]
    called = found(r'<tr data-viewpoint="called">(.*?)</tr>', html)
    assert re.findall(r"<td>([^<]*)</td>", called) == ["1", "2.0", "1 / 1", "—", "—"]


def test_feedback_exports_as_csv_for_excel(organizer_client, drill, team, supporter):
    join(drill, supporter, team=team)
    give(
        drill,
        Viewpoint.caller,
        text='=HYPERLINK("x")',
        supporter=supporter,
        team=team,
        safe_approach=3,
        gave_name_first=GaveNameFirst.unsure,
    )

    response = organizer_client.get(f"/drills/{drill.id}/feedback.csv")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Date and time", "Viewpoint", "Name", "Team"]
    assert rows[1][1:6] == ["The one who called out", "見守 花子", "赤班", "3", "Not sure"]
    assert rows[1][10] == '\'=HYPERLINK("x")', "a formula is kept as text"


def test_the_viewpoints_page_puts_both_sides_of_each_theme_side_by_side(organizer_client, drill):
    caller = give(
        drill, Viewpoint.caller, text="名乗るのを忘れた", gave_name_first=GaveNameFirst.no
    )
    called = give(
        drill, Viewpoint.called, text="名乗ってほしかった", gave_name_first=GaveNameFirst.no
    )
    give(drill, Viewpoint.observer, text="まだ分類していない")

    html = organizer_client.get(f"/drills/{drill.id}/viewpoints").get_data(as_text=True)
    themes = {str(t.preset): t for t in db.session.scalars(sa.select(FeedbackTheme))}
    assert set(themes) == {"location", "confidence_alone", "own_name", "approach"}
    for title in (
        "Telling the location",
        "Coping alone",
        "Giving one's own name first",
        "How to approach",
    ):
        assert title.replace("'", "&#39;") in html
    unsorted = found(r'id="theme-unsorted">(.*?)</section>', html)
    assert "まだ分類していない" in unsorted

    own_name = themes["own_name"].id
    for f in (caller, called):
        response = organizer_client.post(
            f"/drills/{drill.id}/viewpoints/curate",
            data={"feedback_id": str(f.id), "theme_ids": [str(own_name)], "is_quote_chosen": "y"},
        )
        assert response.status_code == 302

    html = organizer_client.get(f"/drills/{drill.id}/viewpoints").get_data(as_text=True)
    section = found(rf'id="theme-{own_name}">(.*?)</section>', html)
    parts = re.split(r'data-column="(\w+)"', section)
    columns = dict(zip(parts[1::2], parts[2::2], strict=True))
    assert "名乗るのを忘れた" in columns["caller"] and "名乗ってほしかった" not in columns["caller"]
    assert "名乗ってほしかった" in columns["called"]
    assert "Name given first: 0 of 1" in columns["caller"]
    quotes = html.split("Quotes chosen for the newsletter")[1]
    assert "名乗るのを忘れた" in quotes and "名乗ってほしかった" in quotes


def test_an_organizer_adds_a_theme_once(organizer_client, drill):
    first = organizer_client.post(
        f"/drills/{drill.id}/viewpoints/themes",
        data={"name": "連絡先の確認"},
        follow_redirects=True,
    )
    again = organizer_client.post(
        f"/drills/{drill.id}/viewpoints/themes", data={"name": " 連絡先の確認 "}
    )
    preset = organizer_client.post(
        f"/drills/{drill.id}/viewpoints/themes", data={"name": "coping alone"}
    )
    empty = organizer_client.post(f"/drills/{drill.id}/viewpoints/themes", data={"name": ""})

    assert first.status_code == 200 and "連絡先の確認" in first.get_data(as_text=True)
    assert again.status_code == preset.status_code == empty.status_code == 422
    assert "already has a theme with this name" in again.get_data(as_text=True)
    names = [
        t.name
        for t in db.session.scalars(sa.select(FeedbackTheme).where(FeedbackTheme.preset.is_(None)))
    ]
    assert names == ["連絡先の確認"]


def test_only_feedback_with_words_can_be_quoted(organizer_client, drill):
    silent = give(drill, Viewpoint.caller, safe_approach=3)

    response = organizer_client.post(
        f"/drills/{drill.id}/viewpoints/curate",
        data={"feedback_id": str(silent.id), "is_quote_chosen": "y"},
    )

    assert response.status_code == 422
    assert "Only feedback with words can be quoted." in response.get_data(as_text=True)
    assert quoted(silent.id) is False


def test_feedback_of_another_drill_cannot_be_sorted_from_this_one(
    organizer_client, drill, make_drill, other_district
):
    elsewhere = make_drill(other_district, title="よその訓練")
    foreign = give(elsewhere, Viewpoint.caller, text="よその声")

    response = organizer_client.post(
        f"/drills/{drill.id}/viewpoints/curate",
        data={"feedback_id": str(foreign.id), "is_quote_chosen": "y"},
    )

    assert response.status_code == 404
    assert quoted(foreign.id) is False


def test_staff_of_another_district_see_nothing(outsider_client, drill):
    give(drill, Viewpoint.caller, text="内緒の感想")

    for url in (
        f"/drills/{drill.id}/feedback",
        f"/drills/{drill.id}/feedback.csv",
        f"/drills/{drill.id}/viewpoints",
        f"/drills/{drill.id}/feedback/new",
    ):
        response = outsider_client.get(url)
        assert response.status_code == 404, url
        assert "内緒の感想" not in response.get_data(as_text=True)


def test_the_role_players_view_of_each_team_is_listed_team_by_team(organizer_client, drill, team):
    blue = Team(drill_id=drill.id, name="青班")
    db.session.add(blue)
    db.session.commit()
    give(
        drill,
        Viewpoint.called,
        text="後ろから急に声を掛けられた",
        team=team,
        safe_approach=2,
        gave_name_first=GaveNameFirst.no,
    )

    html = organizer_client.get(f"/drills/{drill.id}/viewpoints").get_data(as_text=True)

    rows = found(r'id="by-team">(.*?)</section>', html)
    red_row = found(r"(赤班</th>.*?</tr>)", rows)
    assert "後ろから急に声を掛けられた" in red_row and "<td>2</td>" in red_row
    assert "<td>No</td>" in red_row
    blue_row = found(r"(青班</th>.*?</tr>)", rows)
    assert "No feedback from a role-player yet." in blue_row
