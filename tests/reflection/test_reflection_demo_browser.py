"""The issue's walk through the reflection hour with the demo data, in Chromium: the reflection
page of the demo's ended drill, the replay slider, a Keep, a Problem and a Try on the board, the
Try as an action item, and that item on the page of the district's next drill. Screenshots of
the page at projector size and of the printed report (A4) land in test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import answer_tiles_offline

from watchnet.core.extensions import db
from watchnet.demo import DEMO_LOGINS, load_demo_data
from watchnet.drills.models import Drill
from watchnet.kpt.models import ActionItem
from watchnet.reflection.demo_data import PAST_TITLE, load_demo_reflection

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _login(page: Any, base: str) -> None:
    email, password = DEMO_LOGINS["organizer"]
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")


def test_the_reflection_hour_with_the_demo_drill(live_server: Any, page: Any) -> None:
    load_demo_data()
    load_demo_reflection()
    db.session.commit()
    past = db.session.scalar(sa.select(Drill).where(Drill.title == PAST_TITLE))
    base = live_server.url
    answer_tiles_offline(page)
    page.set_viewport_size({"width": 1920, "height": 1080})
    _login(page, base)

    # The reflection page, as shown on the projector.
    page.goto(f"{base}/drills/{past.id}/reflection")
    assert page.locator("#encounters-table tbody tr").count() >= 3
    assert page.locator("svg").count() >= 1  # the timings chart, drawn by the app
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "reflection_page.png"), full_page=True)

    # The replay: moving the slider back hides steps that had not happened yet.
    page.goto(f"{base}/drills/{past.id}/replay")
    steps = page.locator("path.replay-step")
    steps.first.wait_for()
    at_end = steps.count()
    page.locator("#replay-slider").fill("0")
    page.locator("#replay-slider").dispatch_event("input")
    assert steps.count() < at_end

    # Keep, Problem, Try on the board; the Try becomes an action item.
    page.goto(f"{base}/drills/{past.id}/kpt")
    for kind, text in (
        ("keep", "自分から名乗ることができた"),
        ("problem", "電話で現在地を伝えるのが難しかった"),
        ("try", "目印になる建物を事前に確認する"),
    ):
        page.fill(f"#kpt-new-{kind}", text)
        page.click(f"form.kpt-add[data-kind={kind}] button[type=submit]")
        page.locator(f"#kpt-items-{kind} .kpt-text", has_text=text).wait_for(timeout=5000)
    item = page.locator("#kpt-items-try .kpt-item", has_text="目印になる建物")
    item.locator("button[data-act=action]").click()
    item.locator("input[name=owner]").fill("八幡 主催者")
    item.locator("input[name=due_date]").fill("2026-12-31")
    item.locator("form.kpt-make-action button[type=submit]").click()
    page.locator("#kpt-items-try .kpt-action", has_text="八幡 主催者").wait_for(timeout=5000)

    # The printed report, A4.
    page.goto(f"{base}/drills/{past.id}/report")
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=True)
    (ARTIFACTS / "reflection_report.pdf").write_bytes(pdf)
    page.emulate_media(media="screen")
    assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") >= 1

    # Planning the next drill of the district shows the open action item.
    page.goto(f"{base}/drills/new")
    page.fill("input[name=title]", "第3回 まち歩き見守り声掛け訓練")
    page.select_option("select[name=district_id]", str(past.district_id))
    page.fill("input[name=date]", "2027-03-13")
    page.fill("input[name=start_time]", "09:30")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    db.session.expire_all()
    new = db.session.scalar(sa.select(Drill).where(Drill.title == "第3回 まち歩き見守り声掛け訓練"))
    page.goto(f"{base}/drills/{new.id}")
    row = page.locator("#open-actions li", has_text="目印になる建物を事前に確認する")
    row.wait_for()
    assert "八幡 主催者" in row.inner_text()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ActionItem)) == 1
