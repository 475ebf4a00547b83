"""Drills across midnight: one rule for the form and the API (an end time earlier than the start
time is on the next day; at most 12 hours), and the next-day mark on every page and in the
reminder wherever the drill's times are shown."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from support import login, signin_supporter

from watchnet.auth.services import issue_api_token
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.drills.models import Drill, DrillStatus, Participant, Team
from watchnet.jobs.drills import send_due_reminders
from watchnet.notifications.models import Delivery

# 2026-03-13 23:30 in Tokyo is 14:30 UTC; 00:30 the next morning is 15:30 UTC.
NIGHT_START = datetime(2026, 3, 13, 14, 30, tzinfo=UTC)
NIGHT_END = datetime(2026, 3, 13, 15, 30, tzinfo=UTC)
# The same hours next year, for the pages that list only drills still to come.
LATER_START = datetime(utcnow().year + 1, 3, 13, 14, 30, tzinfo=UTC)
TOO_LONG = "訓練は最長12時間です。開始時刻より前の終了時刻は翌日として扱います。"
NOT_AFTER = "終了時刻は開始時刻より後にしてください。"


def drill_form(district: Any, **overrides: str) -> dict[str, str]:
    data = {
        "title": "夜間の見守り訓練",
        "district_id": str(district.id),
        "date": "2026-03-13",
        "start_time": "23:30",
        "end_time": "00:30",
        "meeting_place": "八幡公民館",
        "status": "planned",
    }
    data.update(overrides)
    return data


def drill_count() -> int:
    return int(db.session.scalar(sa.select(sa.func.count(Drill.id))) or 0)


# ---------------------------------------------------------------------------------------------
# The form


def test_the_form_takes_an_end_before_the_start_as_the_next_day(organizer_client, district):
    response = organizer_client.post("/drills/new", data=drill_form(district))
    assert response.status_code == 302, response.get_data(as_text=True)
    drill = db.session.scalar(sa.select(Drill))
    assert (drill.starts_at, drill.ends_at) == (NIGHT_START, NIGHT_END)
    page = organizer_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "23:30–翌日 00:30" in page

    # The edit form shows the times as typed, with the mark, and saving keeps the next day.
    form = organizer_client.get(f"/drills/{drill.id}/edit").get_data(as_text=True)
    assert 'value="23:30"' in form and 'value="00:30"' in form
    assert '<p class="hint next-day" id="end-next-day"' in form and ">翌日 00:30</p>" in form
    response = organizer_client.post(
        f"/drills/{drill.id}/edit", data=drill_form(district, end_time="01:15")
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Drill, drill.id).ends_at == NIGHT_END + timedelta(minutes=45)


def test_twelve_hours_is_the_longest_drill(organizer_client, district):
    response = organizer_client.post(
        "/drills/new", data=drill_form(district, start_time="12:00", end_time="00:00")
    )
    assert response.status_code == 302
    assert drill_count() == 1


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("10:00", "09:00", TOO_LONG),  # 23 hours, not a drill that ended before it began
        ("12:00", "00:01", TOO_LONG),
        ("09:30", "09:30", NOT_AFTER),
    ],
)
def test_the_form_refuses_a_drill_too_long_or_ending_as_it_starts(
    organizer_client, district, start, end, message
):
    response = organizer_client.post(
        "/drills/new", data=drill_form(district, start_time=start, end_time=end)
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'<ul class="errors" id="end_time-err"><li>{message}</li></ul>' in html
    assert drill_count() == 0


def test_the_form_speaks_english_to_an_english_reader(organizer_client, organizer, district):
    organizer.locale = "en"
    db.session.commit()
    response = organizer_client.post(
        "/drills/new", data=drill_form(district, start_time="10:00", end_time="09:00")
    )
    assert response.status_code == 400
    assert (
        "A drill lasts at most 12 hours. An end time earlier than the start time is on the "
        "next day." in response.get_data(as_text=True)
    )


# ---------------------------------------------------------------------------------------------
# The API: the same rule


@pytest.fixture()
def auth(organizer: Any) -> dict[str, str]:
    _token, raw = issue_api_token(organizer, "test")
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def test_the_api_accepts_a_drill_into_the_next_day(client, auth, district):
    response = client.post(
        "/api/v1/drills",
        headers=auth,
        json={
            "district_id": district.id,
            "title": "夜間の見守り訓練",
            "starts_at": "2026-03-13T23:30:00",
            "ends_at": "2026-03-14T00:30:00",
        },
    )
    assert response.status_code == 201, response.json
    drill = db.session.get(Drill, response.json["id"])
    assert (drill.starts_at, drill.ends_at) == (NIGHT_START, NIGHT_END)


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "message"),
    [
        # The same date for 00:30 is half a day before the start: the API says when, exactly.
        ("2026-03-13T23:30:00", "2026-03-13T00:30:00", NOT_AFTER),
        ("2026-03-13T10:00:00", "2026-03-14T09:00:00", TOO_LONG),
        ("2026-03-13T12:00:00+09:00", "2026-03-13T15:00:01Z", TOO_LONG),  # 12 h 1 s
        ("2026-03-13T09:30:00", "2026-03-13T09:30:00", NOT_AFTER),
    ],
)
def test_the_api_refuses_what_the_form_refuses(client, auth, district, starts_at, ends_at, message):
    response = client.post(
        "/api/v1/drills",
        headers={**auth, "Accept-Language": "ja"},
        json={"district_id": district.id, "title": "x", "starts_at": starts_at, "ends_at": ends_at},
    )
    assert response.status_code == 422, response.json
    assert response.json["errors"]["json"]["ends_at"] == [message]
    assert drill_count() == 0


def test_a_patch_of_only_the_end_is_checked_against_the_stored_start(
    client, auth, district, make_drill
):
    drill = make_drill(district, starts_at=NIGHT_START, ends_at=NIGHT_END)
    response = client.patch(
        f"/api/v1/drills/{drill.id}", headers=auth, json={"ends_at": "2026-03-14T13:00:00"}
    )
    assert response.status_code == 422, response.json
    assert list(response.json["errors"]["json"]) == ["ends_at"]
    db.session.expire_all()
    assert db.session.get(Drill, drill.id).ends_at == NIGHT_END
    response = client.patch(
        f"/api/v1/drills/{drill.id}", headers=auth, json={"ends_at": "2026-03-14T01:00:00"}
    )
    assert response.status_code == 200, response.json


# ---------------------------------------------------------------------------------------------
# Every page that shows the times, in Japanese and in English


@pytest.fixture()
def night_drill(district: Any, make_drill: Any, make_supporter: Any) -> Drill:
    drill = make_drill(
        district,
        title="夜間の見守り訓練",
        starts_at=LATER_START,
        ends_at=LATER_START + timedelta(hours=1),
        is_auto_scheduled=True,
    )
    team = Team(drill_id=drill.id, name="1班")
    db.session.add(team)
    db.session.flush()
    walker = make_supporter(district, name="山田 花子", email="hanako@example.jp")
    db.session.add(Participant(drill_id=drill.id, supporter_id=walker.id, team_id=team.id))
    db.session.commit()
    return drill


def staff_pages(drill: Drill) -> list[str]:
    team_id = drill.teams[0].id
    return [
        "/drills/",
        f"/drills/{drill.id}",
        f"/drills/{drill.id}/teams/",
        f"/drills/{drill.id}/teams/{team_id}/handout",
        f"/drills/{drill.id}/teams/handouts",
        f"/drills/{drill.id}/start",
        f"/drills/{drill.id}/reflection",
        f"/drills/{drill.id}/report",
    ]


@pytest.mark.parametrize(
    ("locale", "mark"), [("ja", "23:30–翌日 00:30"), ("en", "23:30–00:30 (next day)")]
)
def test_every_staff_page_marks_the_next_day(app, organizer, night_drill, locale, mark):
    organizer.locale = locale
    db.session.commit()
    client = login(app.test_client(), organizer)
    for url in staff_pages(night_drill):
        response = client.get(url)
        assert response.status_code == 200, url
        assert mark in response.get_data(as_text=True), url
    # The drill page's schedule: "... starts at 2027/03/13 (土) 23:30 and ends at 翌日 00:30."
    html = client.get(f"/drills/{night_drill.id}").get_data(as_text=True)
    schedule = re.search(r'<p id="schedule-state">(.*?)</p>', html)
    assert schedule is not None and mark.partition("–")[2] in schedule.group(1)


def test_the_supporters_pages_mark_the_next_day(app, night_drill):
    supporter = night_drill.participants[0].supporter
    client = signin_supporter(app.test_client(), supporter)
    for url in ("/me", f"/field/drills/{night_drill.id}"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "23:30–翌日 00:30" in response.get_data(as_text=True), url
    supporter.locale = "en"
    db.session.commit()
    assert "23:30–00:30 (next day)" in client.get("/me").get_data(as_text=True)


def test_the_reminder_marks_the_next_day(night_drill):
    night_drill.participants[0].supporter.locale = "ja"
    db.session.commit()
    assert send_due_reminders(now=LATER_START - timedelta(hours=20)) == 1
    [reminder] = db.session.scalars(sa.select(Delivery)).all()
    assert f"({LATER_START.year}年) 3月13日 23:30–翌日 00:30" in reminder.body


def test_a_drill_within_one_day_has_no_mark(organizer_client, district, make_drill):
    drill = make_drill(
        district,
        starts_at=datetime(2026, 3, 13, 0, 30, tzinfo=UTC),
        ends_at=datetime(2026, 3, 13, 3, 0, tzinfo=UTC),
        status=DrillStatus.planned,
    )
    html = organizer_client.get(f"/drills/{drill.id}").get_data(as_text=True)
    assert "09:30–12:00" in html and "翌日" not in html
