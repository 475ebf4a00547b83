"""Long unbroken names (no spaces, no CJK break points) wrap on a 360 px phone: the alert
phone page and the drill field page never become wider than the screen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alert_field_support import start_field_alert
from support import answer_tiles_offline

from watchnet.auth.services import make_signin_token
from watchnet.core.extensions import db
from watchnet.drills.models import DrillStatus, Participant, Team

pytestmark = pytest.mark.browser

LONG = "W" * 200  # a pasted identifier, a name in Latin letters without spaces


@pytest.fixture()
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
        geolocation={"latitude": 36.3335, "longitude": 138.9455, "accuracy": 10},
        permissions=["geolocation"],
    )
    answer_tiles_offline(context)
    yield context.new_page()
    context.close()


def page_width(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def test_the_alert_phone_page_wraps_long_names(
    live_server, phone, district, coordinator, make_supporter
):
    fa = start_field_alert(
        district,
        coordinator,
        make_supporter,
        display_name=LONG[:100],
        name_kana="",
        hair=LONG,
        last_seen_place=LONG,
        contact_label=LONG[:100],
        belongings=LONG,
        features=LONG,
    )
    phone.goto(live_server.url + fa.url)
    phone.wait_for_selector("body[data-alert-ready='1']")
    assert LONG[:100] in phone.locator(".alert-name").inner_text()
    assert page_width(phone) <= 360


def test_the_drill_field_page_wraps_long_names(
    live_server, phone, district, make_drill, make_supporter
):
    drill = make_drill(
        district,
        title=LONG,
        status=DrillStatus.live,
        starts_at=datetime.now(UTC) - timedelta(minutes=30),
        started_at=datetime.now(UTC) - timedelta(minutes=30),
        meeting_place=LONG,
        contact_label=LONG[:100],
        contact_phone="090-1234-5678",
        checkpoints=[{"name": LONG[:100], "lat": 36.3340, "lon": 138.9461}],
    )
    supporter = make_supporter(district, name=LONG[:100])
    team = Team(drill_id=drill.id, name=LONG[:100], color="#d62728")
    db.session.add(team)
    db.session.flush()
    db.session.add(Participant(drill_id=drill.id, supporter_id=supporter.id, team_id=team.id))
    db.session.commit()
    phone.goto(f"{live_server.url}/s/{make_signin_token(supporter)}")
    phone.goto(f"{live_server.url}/field/drills/{drill.id}")
    phone.wait_for_selector("body[data-field-ready='1']")
    assert LONG in phone.locator("h1").inner_text()
    wide = phone.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > 362 && !e.closest('.leaflet-container'))
        .map(e => e.parentElement.tagName + '.' + e.parentElement.className + ' > ' + e.tagName
             + '.' + e.className + ': ' + (e.textContent || '').slice(0, 20)).slice(0, 8)""")
    assert page_width(phone) <= 360, wide
