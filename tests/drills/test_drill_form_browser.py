"""The drill form in headless Chromium: the next-day mark appears as the end time is typed,
and a drill across midnight is saved and shown with it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from support import browser_login

from watchnet.core.extensions import db
from watchnet.drills.models import Drill

pytestmark = pytest.mark.browser


def test_the_form_marks_the_next_day_as_the_end_time_is_typed(
    live_server, page, district, organizer
):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    browser_login(page, live_server, organizer)
    page.goto(f"{live_server.url}/drills/new")
    mark = page.locator("#end-next-day")
    page.fill("input[name=title]", "夜間の見守り訓練")
    page.fill("input[name=date]", "2026-03-13")
    page.fill("input[name=start_time]", "23:30")
    page.fill("input[name=end_time]", "23:45")
    assert mark.text_content() == ""
    page.fill("input[name=end_time]", "00:30")
    page.wait_for_function("document.getElementById('end-next-day').textContent === '翌日 00:30'")
    # A later start that puts the end back on the same day clears it again.
    page.fill("input[name=start_time]", "00:15")
    page.wait_for_function("document.getElementById('end-next-day').textContent === ''")
    page.fill("input[name=start_time]", "23:30")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "23:30–翌日 00:30" in page.locator("main").inner_text()
    db.session.expire_all()
    drill = db.session.scalar(sa.select(Drill))
    assert drill is not None
    assert (drill.starts_at, drill.ends_at) == (
        datetime(2026, 3, 13, 14, 30, tzinfo=UTC),
        datetime(2026, 3, 13, 15, 30, tzinfo=UTC),
    )
    assert errors == []
